//! The first-run setup link: while no author exists, `gloss serve` arms a one-time
//! token and logs `/admin/setup?token=...`; that page creates the first (admin)
//! author and logs them in. The link answers 404 for a wrong token, once used, and
//! as soon as any author exists (e.g. one made with `gloss user add`).

use crate::admin::auth::{
    check_password_rules, constant_time_eq, hash_password, normalize_username,
};
use crate::admin::session::{CookieCsrfForm, login_csrf_token, start_session};
use crate::admin::{Chrome, render};
use crate::error::AppError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gloss_storage::NewAuthor;
use serde::Deserialize;

/// Longest display name, in characters.
const MAX_DISPLAY_NAME_CHARS: usize = 100;

#[derive(Template)]
#[template(path = "admin/setup.html")]
struct SetupPage {
    chrome: Option<Chrome>,
    csrf_token: String,
    token: String,
    username: String,
    display_name: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SetupQuery {
    #[serde(default)]
    token: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_again: String,
}

/// Whether `token` is the armed setup token.
fn token_matches(state: &AppState, token: &str) -> bool {
    match state.setup_token.lock() {
        Ok(slot) => slot
            .as_deref()
            .is_some_and(|armed| !token.is_empty() && constant_time_eq(armed, token)),
        Err(_) => false,
    }
}

/// Takes the setup token out if it is `token`, so that two forms sent at once cannot
/// both create an admin: only the first finds it.
fn take_token(state: &AppState, token: &str) -> bool {
    match state.setup_token.lock() {
        Ok(mut slot) => {
            let matches = slot
                .as_deref()
                .is_some_and(|armed| !token.is_empty() && constant_time_eq(armed, token));
            if matches {
                *slot = None;
            }
            matches
        }
        Err(_) => false,
    }
}

/// Puts the token back after a failure that happened once it was taken.
fn restore_token(state: &AppState, token: String) {
    if let Ok(mut slot) = state.setup_token.lock()
        && slot.is_none()
    {
        *slot = Some(token);
    }
}

/// Whether the blog still needs its first admin: no author who can manage it exists
/// (there may be authors that came with a WordPress import; they cannot log in).
/// `gloss serve` arms the setup link when this holds.
pub async fn setup_needed(store: &dyn gloss_storage::Store) -> Result<bool, gloss_storage::Error> {
    Ok(!store
        .list_authors()
        .await?
        .iter()
        .any(|author| author.is_admin))
}

/// Whether the setup link works right now for `token`.
async fn setup_open(state: &AppState, token: &str) -> Result<bool, AppError> {
    Ok(token_matches(state, token) && setup_needed(state.store.as_ref()).await?)
}

fn setup_form(
    state: &AppState,
    headers: &HeaderMap,
    page: SetupPage,
    status: StatusCode,
) -> Result<Response, AppError> {
    let (csrf_token, set_cookie) = login_csrf_token(headers, &state.config);
    let page = SetupPage { csrf_token, ..page };
    let mut response = render(&page, status)?;
    if let Some(cookie) = set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `GET /admin/setup?token=T`: the form that creates the first author.
pub(crate) async fn setup_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SetupQuery>,
) -> Result<Response, AppError> {
    if !setup_open(&state, &query.token).await? {
        return Err(AppError::NotFound);
    }
    let page = SetupPage {
        chrome: None,
        csrf_token: String::new(),
        token: query.token,
        username: String::new(),
        display_name: String::new(),
        error: None,
    };
    setup_form(&state, &headers, page, StatusCode::OK)
}

/// Checks the form; returns the normalized username and display name.
fn validate(form: &SetupForm) -> Result<(String, String), String> {
    let username = normalize_username(&form.username)?;
    let display_name = match form.display_name.trim() {
        "" => username.clone(),
        name => name.to_owned(),
    };
    if display_name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(format!(
            "The display name must be at most {MAX_DISPLAY_NAME_CHARS} characters long."
        ));
    }
    check_password_rules(&form.password)?;
    if form.password != form.password_again {
        return Err("The two passwords differ.".to_owned());
    }
    Ok((username, display_name))
}

/// `POST /admin/setup`: creates the admin author, makes them the default author,
/// uses up the token and logs them in.
pub(crate) async fn setup(
    State(state): State<AppState>,
    CookieCsrfForm { headers, form }: CookieCsrfForm<SetupForm>,
) -> Result<Response, AppError> {
    if !setup_open(&state, &form.token).await? {
        return Err(AppError::NotFound);
    }
    let (username, display_name) = match validate(&form) {
        Ok(valid) => valid,
        Err(message) => {
            let page = SetupPage {
                chrome: None,
                csrf_token: String::new(),
                token: form.token,
                username: form.username,
                display_name: form.display_name,
                error: Some(message),
            };
            return setup_form(&state, &headers, page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let password = form.password;
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|err| AppError::Internal(format!("password hashing panicked: {err}")))??;

    if !take_token(&state, &form.token) {
        return Err(AppError::NotFound);
    }
    let created = state
        .store
        .create_author(NewAuthor {
            username,
            display_name,
            password_hash: Some(password_hash),
            is_admin: true,
            import_key: None,
        })
        .await;
    let author = match created {
        Ok(author) => author,
        Err(err) => {
            restore_token(&state, form.token);
            return Err(err.into());
        }
    };
    tracing::info!(author = %author.username, "first author created through the setup link");

    let mut settings = state.store.blog_settings().await?;
    if settings.default_author_id.is_none() {
        settings.default_author_id = Some(author.id);
        state.store.update_blog_settings(&settings).await?;
    }
    let cookie = start_session(&state, author.id).await?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/admin")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(username: &str, password: &str, again: &str) -> SetupForm {
        SetupForm {
            token: "t".into(),
            username: username.into(),
            display_name: String::new(),
            password: password.into(),
            password_again: again.into(),
        }
    }

    #[test]
    fn the_display_name_defaults_to_the_username() {
        let valid = validate(&form("Ana", "long enough pw", "long enough pw"));
        assert_eq!(valid, Ok(("ana".to_owned(), "ana".to_owned())));
    }

    #[test]
    fn differing_or_short_passwords_are_refused() {
        assert!(validate(&form("ana", "long enough pw", "long enough px")).is_err());
        assert!(validate(&form("ana", "short", "short")).is_err());
        assert!(validate(&form("ana b", "long enough pw", "long enough pw")).is_err());
    }
}
