//! Passwords and usernames: argon2id hashing (PHC strings) and the rules a new
//! account must follow. Used by the setup page, the login form and `gloss user add`.

use crate::error::AppError;
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in characters: far above any real passphrase, low
/// enough that nobody can make the server hash megabytes.
pub const MAX_PASSWORD_CHARS: usize = 1000;
/// Longest username, in characters.
pub const MAX_USERNAME_CHARS: usize = 32;

/// A PHC string with the same (default) argon2id parameters as real hashes. Login
/// verifies against it when the username is unknown, so that an unknown user takes
/// as long to refuse as a wrong password (no username probing by timing).
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$3eFsJgeLe5Re5bIQ8hkmtw$NWxpvL4zgJJKx2GWFk3KClfXyCGWoYdFdDOrPDH6cJ8";

/// Hashes `password` with argon2id (default parameters, random salt) into a PHC
/// string. Refuses passwords shorter than [`MIN_PASSWORD_CHARS`].
///
/// Slow on purpose (tens of milliseconds): async callers run it in
/// `tokio::task::spawn_blocking`.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    check_password_rules(password).map_err(AppError::BadRequest)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| AppError::Internal(format!("hashing a password failed: {err}")))
}

/// Whether `password` matches the PHC string `phc`. A malformed `phc` never matches.
///
/// Slow on purpose, like [`hash_password`].
pub fn verify_password(password: &str, phc: &str) -> bool {
    if password.chars().count() > MAX_PASSWORD_CHARS {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the time of one password verification and returns `false`: what login
/// does for an unknown username.
pub(crate) fn verify_against_dummy(password: &str) -> bool {
    let _ = verify_password(password, DUMMY_PHC);
    false
}

/// Why `password` is not acceptable as a new password, in words for the form.
pub fn check_password_rules(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(format!(
            "The password must be at least {MIN_PASSWORD_CHARS} characters long."
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(format!(
            "The password must be at most {MAX_PASSWORD_CHARS} characters long."
        ));
    }
    Ok(())
}

/// Normalizes a username typed in a form (trimmed, lower-case) and checks it: 1-32
/// characters among `a-z`, `0-9` and `_`.
pub fn normalize_username(input: &str) -> Result<String, String> {
    let username = input.trim().to_lowercase();
    if username.is_empty() {
        return Err("Choose a username.".to_owned());
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(format!(
            "The username must be at most {MAX_USERNAME_CHARS} characters long."
        ));
    }
    if !username
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(
            "The username may only contain letters a-z, digits 0-9 and underscores (_).".to_owned(),
        );
    }
    Ok(username)
}

/// Compares two secrets in time that depends only on their lengths, so that a
/// mismatch does not tell an attacker how many leading bytes were right.
pub(crate) fn constant_time_eq(left: &str, right: &str) -> bool {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_hashed_password_verifies_and_a_wrong_one_does_not() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse batterY", &phc));
    }

    #[test]
    fn two_hashes_of_one_password_differ_by_their_salt() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_short_password_is_refused_with_a_clear_message() {
        let err = hash_password("short").unwrap_err();
        assert!(err.to_string().contains("at least 10 characters"), "{err}");
    }

    #[test]
    fn a_malformed_hash_never_matches() {
        assert!(!verify_password(
            "correct horse battery",
            "not a phc string"
        ));
        assert!(!verify_password("correct horse battery", ""));
    }

    #[test]
    fn the_dummy_hash_uses_the_default_parameters() {
        let parsed = PasswordHash::new(DUMMY_PHC).unwrap();
        let real = hash_password("correct horse battery").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(parsed.algorithm, real.algorithm);
        assert_eq!(parsed.params, real.params);
        assert!(!verify_against_dummy("anything at all"));
    }

    #[test]
    fn usernames_are_lower_cased_and_checked() {
        assert_eq!(normalize_username("  Ana_B2 ").unwrap(), "ana_b2");
        assert!(normalize_username("").is_err());
        assert!(normalize_username("ana-b").is_err());
        assert!(normalize_username("anaïs").is_err());
        assert!(normalize_username(&"a".repeat(33)).is_err());
        assert!(normalize_username(&"a".repeat(32)).is_ok());
    }

    #[test]
    fn constant_time_eq_compares_exactly() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(!constant_time_eq("", "a"));
    }
}
