//! `gloss user add`: creates an author from the command line.

use crate::Failure;
use crate::settings::Settings;
use anyhow::Context;
use gloss_storage::NewAuthor;
use gloss_web::admin::auth::{check_password_rules, normalize_username};
use rand::Rng;
use std::io::BufRead;

/// Characters of generated passwords: letters and digits without the look-alikes
/// (0/O, 1/l/I), so a password read off a screen is typed right the first time.
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// Length of generated passwords (about 116 bits of entropy).
const GENERATED_PASSWORD_LEN: usize = 20;

/// Longest display name, in characters.
const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// What `gloss user add` was asked to do.
#[derive(Debug)]
pub struct AddUser {
    pub username: String,
    pub display_name: Option<String>,
    pub admin: bool,
    pub password_stdin: bool,
}

/// A random password from [`PASSWORD_ALPHABET`].
pub fn generate_password() -> String {
    let mut rng = rand::rng();
    (0..GENERATED_PASSWORD_LEN)
        .filter_map(|_| {
            PASSWORD_ALPHABET
                .get(rng.random_range(0..PASSWORD_ALPHABET.len()))
                .map(|b| char::from(*b))
        })
        .collect()
}

/// The first line of `input`, without its line ending.
fn read_password_line(input: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    input.read_line(&mut line)?;
    let trimmed = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(trimmed);
    Ok(line)
}

/// Creates the author and prints the generated password (if any) once.
pub async fn add(settings: &Settings, request: AddUser) -> Result<(), Failure> {
    // Everything that can be wrong with the request is checked before the database is
    // opened, so that a typo leaves nothing behind.
    // The admin UI's rules, so that both ways of creating an author agree.
    let username = normalize_username(&request.username).map_err(|why| {
        Failure::usage(format!(
            "username {:?}: {}",
            request.username,
            lower_first(&why)
        ))
    })?;
    let display_name = match request.display_name.as_deref().map(str::trim) {
        Some("") => {
            return Err(Failure::usage(
                "--display-name is empty; expected a name to show on posts",
            ));
        }
        Some(name) if name.chars().count() > MAX_DISPLAY_NAME_CHARS => {
            return Err(Failure::usage(format!(
                "--display-name is too long; expected at most {MAX_DISPLAY_NAME_CHARS} characters"
            )));
        }
        Some(name) => name.to_owned(),
        None => username.clone(),
    };
    let (password, shown_password) = if request.password_stdin {
        let password = read_password_line(&mut std::io::stdin().lock())
            .context("cannot read the password from standard input")?;
        check_password_rules(&password)
            .map_err(|why| Failure::usage(format!("--password-stdin: {}", lower_first(&why))))?;
        (password, None)
    } else {
        let password = generate_password();
        (password.clone(), Some(password))
    };

    let store = crate::posts::open_store(settings).await?;
    if store.author_by_username(&username).await?.is_some() {
        return Err(Failure::runtime(format!(
            "the username {username:?} is taken; choose another one"
        )));
    }
    // Someone must be able to manage the blog: while there is no admin (an empty blog,
    // or only authors imported without a login), the new author becomes one.
    let first = !store
        .list_authors()
        .await?
        .iter()
        .any(|author| author.is_admin);
    let is_admin = request.admin || first;

    // Argon2 takes tens of milliseconds of CPU: keep it off the async threads.
    let hash = tokio::task::spawn_blocking(move || gloss_web::admin::hash_password(&password))
        .await
        .context("password hashing stopped")?
        .map_err(|err| anyhow::anyhow!("cannot hash the password: {err}"))?;

    let author = store
        .create_author(NewAuthor {
            username: username.clone(),
            display_name,
            password_hash: Some(hash),
            is_admin,
            import_key: None,
        })
        .await
        .map_err(|err| match err {
            gloss_storage::Error::Conflict(_) => Failure::runtime(format!(
                "the username {username:?} is taken; choose another one"
            )),
            other => Failure::from(other),
        })?;

    if first {
        // As the setup page does: the first admin writes the posts that name no author.
        let mut blog = store.blog_settings().await?;
        if blog.default_author_id.is_none() {
            blog.default_author_id = Some(author.id);
            store.update_blog_settings(&blog).await?;
        }
    }

    let role = if author.is_admin { "admin" } else { "author" };
    println!(
        "Created {role} {} ({}).",
        author.username, author.display_name
    );
    if first && !request.admin {
        println!(
            "As the blog's first admin, {} can manage the blog.",
            author.username
        );
    }
    if let Some(password) = shown_password {
        println!("Password: {password}");
        println!(
            "It is shown only this once. Log in at {}/admin",
            settings.public_base()
        );
    }
    Ok(())
}

/// "The password must..." as "the password must...", to follow "error: ...: ".
fn lower_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn generated_passwords_use_the_unambiguous_alphabet() {
        let password = generate_password();
        assert_eq!(password.chars().count(), GENERATED_PASSWORD_LEN);
        assert!(password.bytes().all(|b| PASSWORD_ALPHABET.contains(&b)));
        assert_ne!(password, generate_password());
    }

    #[test]
    fn messages_start_lower_case() {
        assert_eq!(lower_first("The password"), "the password");
        assert_eq!(lower_first(""), "");
    }

    #[test]
    fn the_password_line_loses_its_line_ending_only() {
        let mut input = std::io::Cursor::new(" pass word 123 \r\nsecond line\n");
        assert_eq!(read_password_line(&mut input).unwrap(), " pass word 123 ");
    }
}
