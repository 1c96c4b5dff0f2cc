//! Blog settings: title, description, avatar, default author, how the blog federates
//! (manual approval of followers, full text or excerpt in Notes), and the discussion's
//! disallowed keywords (checklist M5). Admins only.

use crate::admin::session::{AdminForm, AdminSession};
use crate::admin::{Chrome, render};
use crate::error::AppError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gloss_storage::{Author, AuthorId, BlogSettings, NoteContent};
use serde::Deserialize;

/// Longest blog title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest blog description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// Longest avatar URL, in bytes.
const MAX_URL_LEN: usize = 2000;
/// Disallowed keywords kept at most.
pub const MAX_KEYWORDS: usize = 1_000;
/// Longest disallowed keyword, in characters.
pub const MAX_KEYWORD_CHARS: usize = 200;

/// The settings form, exactly as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SettingsForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    avatar_url: String,
    /// An author id, or empty for none.
    #[serde(default)]
    default_author: String,
    /// The checkbox: present (any value) when checked, absent otherwise.
    #[serde(default)]
    manually_approves_followers: Option<String>,
    /// `full` or `excerpt`; empty keeps the current choice.
    #[serde(default)]
    note_content: String,
    /// A hidden field saying that the form carries the fediverse fields, so that an
    /// absent checkbox means "unchecked" and not "not on this form".
    #[serde(default)]
    fediverse_fields: String,
    /// Disallowed words and phrases, one per line.
    #[serde(default)]
    disallowed_keywords: String,
    /// A hidden field saying that the form carries the discussion fields (an absent
    /// field then keeps the current list).
    #[serde(default)]
    discussion_fields: String,
}

impl SettingsForm {
    fn from_settings(settings: &BlogSettings) -> SettingsForm {
        SettingsForm {
            title: settings.title.clone(),
            description: settings.description.clone(),
            avatar_url: settings.avatar_url.clone().unwrap_or_default(),
            default_author: settings
                .default_author_id
                .map(|id| id.to_string())
                .unwrap_or_default(),
            manually_approves_followers: settings
                .manually_approves_followers
                .then(|| "on".to_owned()),
            note_content: settings.note_content.as_str().to_owned(),
            fediverse_fields: "1".to_owned(),
            disallowed_keywords: settings.disallowed_keywords.join("\n"),
            discussion_fields: "1".to_owned(),
        }
    }
}

/// One entry of the default-author menu.
struct AuthorOption {
    id: i64,
    label: String,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    chrome: Option<Chrome>,
    form: SettingsForm,
    authors: Vec<AuthorOption>,
    error: Option<String>,
    notice: Option<&'static str>,
}

fn require_admin(session: &AdminSession) -> Result<(), AppError> {
    if session.author.is_admin {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only an admin may change the blog settings.".to_owned(),
        ))
    }
}

fn author_options(authors: &[Author], selected: &str) -> Vec<AuthorOption> {
    authors
        .iter()
        .map(|author| AuthorOption {
            id: author.id.0,
            label: format!("{} (@{})", author.display_name, author.username),
            selected: author.id.to_string() == selected,
        })
        .collect()
}

/// Checks the form against the rules and the list of authors, and returns `current`
/// with this page's fields replaced (settings edited elsewhere are kept as they are).
fn validate(
    form: &SettingsForm,
    authors: &[Author],
    current: &BlogSettings,
) -> Result<BlogSettings, String> {
    let title = form.title.trim();
    if title.is_empty() {
        return Err("The blog needs a title.".to_owned());
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return Err(format!(
            "The title must be at most {MAX_TITLE_CHARS} characters long."
        ));
    }
    let description = form.description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(format!(
            "The description must be at most {MAX_DESCRIPTION_CHARS} characters long."
        ));
    }
    let avatar_url = match form.avatar_url.trim() {
        "" => None,
        text => Some(check_avatar_url(text)?),
    };
    let default_author_id = match form.default_author.trim() {
        "" => None,
        text => {
            let id = text
                .parse::<i64>()
                .ok()
                .filter(|id| authors.iter().any(|author| author.id.0 == *id))
                .ok_or_else(|| "Choose the default author from the list.".to_owned())?;
            Some(AuthorId(id))
        }
    };
    let note_content = match form.note_content.trim() {
        "" => current.note_content,
        text => NoteContent::parse(text)
            .ok_or_else(|| "Choose whether posts are sent in full or as an excerpt.".to_owned())?,
    };
    Ok(BlogSettings {
        title: title.to_owned(),
        description: description.to_owned(),
        avatar_url,
        default_author_id,
        // A checkbox is absent from the form when unchecked.
        manually_approves_followers: if form.fediverse_fields.is_empty() {
            current.manually_approves_followers
        } else {
            form.manually_approves_followers.is_some()
        },
        note_content,
        disallowed_keywords: if form.discussion_fields.is_empty() {
            current.disallowed_keywords.clone()
        } else {
            check_keywords(&form.disallowed_keywords)?
        },
    })
}

/// The keyword list from the text area: one entry per line, blank lines and repeats
/// dropped, bounded in number and length.
fn check_keywords(text: &str) -> Result<Vec<String>, String> {
    let keywords = gloss_storage::keyword_list(&text.replace('\0', ""));
    if keywords.len() > MAX_KEYWORDS {
        return Err(format!(
            "The keyword list may hold at most {MAX_KEYWORDS} entries."
        ));
    }
    if let Some(long) = keywords
        .iter()
        .find(|keyword| keyword.chars().count() > MAX_KEYWORD_CHARS)
    {
        let start: String = long.chars().take(30).collect();
        return Err(format!(
            "Each keyword must be at most {MAX_KEYWORD_CHARS} characters long (\"{start}…\" is \
             longer)."
        ));
    }
    Ok(keywords)
}

/// An avatar must be an absolute http(s) URL: it ends up in `<img src>` on every
/// page and in the feeds, where `javascript:` or relative URLs have no place.
fn check_avatar_url(text: &str) -> Result<String, String> {
    let refused =
        || "The avatar must be a full web address starting with https:// or http://.".to_owned();
    if text.len() > MAX_URL_LEN {
        return Err(format!(
            "The avatar address must be at most {MAX_URL_LEN} characters long."
        ));
    }
    let url = url::Url::parse(text).map_err(|_| refused())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(refused());
    }
    Ok(url.to_string())
}

/// `GET /admin/settings`.
pub(crate) async fn settings_page(
    State(state): State<AppState>,
    session: AdminSession,
    Query(query): Query<SavedQuery>,
) -> Result<Response, AppError> {
    require_admin(&session)?;
    let settings = state.store.blog_settings().await?;
    let authors = state.store.list_authors().await?;
    let form = SettingsForm::from_settings(&settings);
    let page = SettingsPage {
        chrome: Some(
            Chrome::new(&session, "settings")
                .with_moderation_count(&state)
                .await?,
        ),
        authors: author_options(&authors, &form.default_author),
        form,
        error: None,
        notice: (query.saved == "1").then_some("Saved."),
    };
    render(&page, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub(crate) struct SavedQuery {
    #[serde(default)]
    saved: String,
}

/// `POST /admin/settings`.
pub(crate) async fn save(
    State(state): State<AppState>,
    AdminForm { session, form }: AdminForm<SettingsForm>,
) -> Result<Response, AppError> {
    require_admin(&session)?;
    let authors = state.store.list_authors().await?;
    let current = state.store.blog_settings().await?;
    match validate(&form, &authors, &current) {
        Ok(settings) => {
            state.store.update_blog_settings(&settings).await?;
            Ok(Redirect::to("/admin/settings?saved=1").into_response())
        }
        Err(message) => {
            let page = SettingsPage {
                chrome: Some(
                    Chrome::new(&session, "settings")
                        .with_moderation_count(&state)
                        .await?,
                ),
                authors: author_options(&authors, &form.default_author),
                form,
                error: Some(message),
                notice: None,
            };
            render(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatar_urls_must_be_absolute_http() {
        assert_eq!(
            check_avatar_url("https://img.example/a.png"),
            Ok("https://img.example/a.png".to_owned())
        );
        assert!(check_avatar_url("http://img.example/a.png").is_ok());
        assert!(check_avatar_url("javascript:alert(1)").is_err());
        assert!(check_avatar_url("/static/a.png").is_err());
        assert!(check_avatar_url("ftp://img.example/a.png").is_err());
        assert!(check_avatar_url("not a url").is_err());
    }

    #[test]
    fn the_title_is_required_and_bounded() {
        let form = |title: &str| SettingsForm {
            title: title.to_owned(),
            ..SettingsForm::default()
        };
        let current = BlogSettings::default();
        assert!(validate(&form("  "), &[], &current).is_err());
        assert!(validate(&form(&"x".repeat(201)), &[], &current).is_err());
        assert!(validate(&form(&"x".repeat(200)), &[], &current).is_ok());
    }

    #[test]
    fn the_default_author_must_exist() {
        let form = SettingsForm {
            title: "Blog".into(),
            default_author: "7".into(),
            ..SettingsForm::default()
        };
        assert!(validate(&form, &[], &BlogSettings::default()).is_err());
    }

    #[test]
    fn the_federation_settings_are_read_from_the_form() {
        let current = BlogSettings::default();
        let form = SettingsForm {
            title: "Blog".into(),
            manually_approves_followers: Some("on".into()),
            note_content: "excerpt".into(),
            fediverse_fields: "1".into(),
            ..SettingsForm::default()
        };
        let settings = validate(&form, &[], &current).unwrap_or_else(|e| panic!("{e}"));
        assert!(settings.manually_approves_followers);
        assert_eq!(settings.note_content, NoteContent::Excerpt);
        let form = SettingsForm {
            title: "Blog".into(),
            note_content: "full".into(),
            fediverse_fields: "1".into(),
            ..SettingsForm::default()
        };
        let settings = validate(&form, &[], &current).unwrap_or_else(|e| panic!("{e}"));
        assert!(!settings.manually_approves_followers, "unchecked box");
        assert_eq!(settings.note_content, NoteContent::Full);
        let form = SettingsForm {
            title: "Blog".into(),
            note_content: "everything".into(),
            ..SettingsForm::default()
        };
        assert!(validate(&form, &[], &current).is_err());
    }

    #[test]
    fn saving_keeps_the_settings_edited_elsewhere() {
        let current = BlogSettings {
            manually_approves_followers: true,
            note_content: gloss_storage::NoteContent::Excerpt,
            ..BlogSettings::default()
        };
        let form = SettingsForm {
            title: "Blog".into(),
            ..SettingsForm::default()
        };
        let Ok(saved) = validate(&form, &[], &current) else {
            panic!("a valid form is refused");
        };
        assert_eq!(saved.title, "Blog");
        assert!(saved.manually_approves_followers);
        assert_eq!(saved.note_content, gloss_storage::NoteContent::Excerpt);
    }

    #[test]
    fn m5_the_keyword_list_is_read_one_entry_per_line_and_bounded() {
        let current = BlogSettings {
            disallowed_keywords: vec!["old".into()],
            ..BlogSettings::default()
        };
        let form = |keywords: &str| SettingsForm {
            title: "Blog".into(),
            disallowed_keywords: keywords.to_owned(),
            discussion_fields: "1".into(),
            ..SettingsForm::default()
        };
        let saved = validate(&form("casino\r\n\n  Cheap pills \nCASINO\n"), &[], &current)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(saved.disallowed_keywords, vec!["casino", "Cheap pills"]);
        let cleared = validate(&form(""), &[], &current).unwrap_or_else(|e| panic!("{e}"));
        assert!(cleared.disallowed_keywords.is_empty());
        assert!(validate(&form(&"x".repeat(MAX_KEYWORD_CHARS + 1)), &[], &current).is_err());
        let many: Vec<String> = (0..=MAX_KEYWORDS).map(|n| format!("word{n}")).collect();
        assert!(validate(&form(&many.join("\n")), &[], &current).is_err());
        // A form without the discussion fields keeps the list.
        let other = SettingsForm {
            title: "Blog".into(),
            ..SettingsForm::default()
        };
        let kept = validate(&other, &[], &current).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept.disallowed_keywords, vec!["old"]);
    }
}
