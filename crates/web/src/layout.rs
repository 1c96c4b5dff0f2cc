//! What every public page shows around its content: the blog's title, description
//! and feed link (see `templates/base.html`).

use crate::error::AppError;
use crate::state::AppState;

/// The page chrome of `base.html`. Plain text; templates escape it.
#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    pub description: String,
    /// Absolute URL of the Atom feed of posts.
    pub feed_url: String,
    /// Absolute URL of the home page.
    pub home_url: String,
    pub avatar_url: Option<String>,
}

impl Site {
    /// Reads the blog settings; called once per page render.
    pub async fn load(state: &AppState) -> Result<Site, AppError> {
        let settings = state.store.blog_settings().await?;
        Ok(Site {
            title: settings.title,
            description: settings.description,
            feed_url: state.config.absolute("/feed.atom"),
            home_url: state.config.absolute("/"),
            avatar_url: settings.avatar_url,
        })
    }
}
