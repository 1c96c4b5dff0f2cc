//! Our actor documents, built purely from stored data (no I/O): the blog, each author
//! and the instance actor. Served at the actors' ids by `crate::routes` and, for
//! authors, by the web layer's content negotiation on `/authors/{username}`.
//!
//! ## Which `type` each actor has, and why
//!
//! - **Authors are `Person`**: they are people; every server shows a Person best.
//! - **The blog is `Service`**: it never writes anything itself, it boosts (Announces)
//!   its authors' posts, which is what Mastodon's bot flag means. Mastodon shows a
//!   Service like a Person, with an "Automated" badge, and follows, boosts and search
//!   work the same. `Group` (one of the WordPress plugin's modes) was rejected: Mastodon
//!   and Lemmy present groups as places anyone can post to by mentioning them, which a
//!   blog is not. `Person` would claim a human where there is none.
//! - **The instance actor is `Application`** (as Mastodon's own instance actor), with
//!   `preferredUsername` = the host: it only signs our GET requests.
//!
//! Fedify's strict parse (../shared/interop/fedify/lookup.sh) accepts all three types as
//! actors; it needs `publicKey.owner` to equal the actor id.

use crate::content::plain_text_to_html;
use crate::protocol::actor::{Actor, ActorType, Endpoints, Image, PublicKey};
use crate::protocol::{actor_context, document};
use crate::urls::Urls;
use chrono::{DateTime, Utc};
use gloss_storage::{Author, BlogSettings};
use serde_json::Value;

/// The blog actor (`/blog`).
///
/// `handle` is the `blog_handle` setting; `published` is when the blog started (the
/// first author's creation), when known.
pub fn blog_actor(
    settings: &BlogSettings,
    handle: &str,
    public_key_pem: &str,
    published: Option<DateTime<Utc>>,
    urls: &Urls,
) -> Value {
    let id = urls.blog_actor();
    let actor = Actor {
        kind: ActorType::Service,
        preferred_username: Some(handle.to_owned()),
        name: Some(settings.title.clone()),
        summary: Some(bio_html(&settings.description)),
        url: Some(urls.home()),
        icon: settings
            .avatar_url
            .as_deref()
            .and_then(|avatar| image(avatar, urls)),
        image: None,
        manually_approves_followers: Some(settings.manually_approves_followers),
        published,
        ..common(&id, public_key_pem, urls)
    };
    document(actor_context(), &actor)
}

/// An author's actor (`/authors/{username}`). Follow approval follows the blog-wide
/// setting.
pub fn author_actor(
    author: &Author,
    settings: &BlogSettings,
    public_key_pem: &str,
    urls: &Urls,
) -> Value {
    let id = urls.author_actor(&author.username);
    let actor = Actor {
        kind: ActorType::Person,
        preferred_username: Some(author.username.clone()),
        name: Some(author.display_name.clone()),
        summary: Some(bio_html(&author.bio)),
        // The author page is the actor id itself: HTML or JSON by content negotiation.
        url: Some(id.clone()),
        icon: author
            .avatar_url
            .as_deref()
            .and_then(|avatar| image(avatar, urls)),
        image: None,
        manually_approves_followers: Some(settings.manually_approves_followers),
        published: Some(author.created_at),
        ..common(&id, public_key_pem, urls)
    };
    document(actor_context(), &actor)
}

/// The instance actor (`/instance`): signs our GETs, follows no one, is not listed.
pub fn instance_actor(public_key_pem: &str, urls: &Urls) -> Value {
    let id = urls.instance_actor();
    let actor = Actor {
        kind: ActorType::Application,
        preferred_username: Some(instance_username(urls)),
        name: Some(format!("{} (instance actor)", instance_username(urls))),
        url: Some(urls.home()),
        manually_approves_followers: Some(true),
        discoverable: Some(false),
        indexable: Some(false),
        following: None,
        followers: None,
        featured: None,
        attribution_domains: Vec::new(),
        ..common(&id, public_key_pem, urls)
    };
    document(actor_context(), &actor)
}

/// The instance actor's `preferredUsername`: the host name without a port, because a
/// port's `:` is not valid in a username (Mastodon's username pattern).
pub fn instance_username(urls: &Urls) -> String {
    let host = urls.host();
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.ends_with(']') => {
            name.to_owned()
        }
        _ => host.to_owned(),
    }
}

/// Fields every one of our actors has, derived from its id.
fn common(id: &str, public_key_pem: &str, urls: &Urls) -> Actor {
    Actor {
        id: id.to_owned(),
        kind: ActorType::Person,
        preferred_username: None,
        name: None,
        summary: None,
        url: None,
        icon: None,
        image: None,
        inbox: Urls::inbox(id),
        outbox: Some(Urls::outbox(id)),
        followers: Some(Urls::followers(id)),
        following: Some(Urls::following(id)),
        featured: Some(Urls::featured(id)),
        endpoints: Some(Endpoints {
            shared_inbox: Some(urls.shared_inbox()),
        }),
        public_key: Some(PublicKey {
            id: Urls::key_id(id),
            owner: id.to_owned(),
            public_key_pem: public_key_pem.to_owned(),
        }),
        manually_approves_followers: None,
        discoverable: Some(true),
        indexable: Some(true),
        published: None,
        // Lets Mastodon credit our authors on link previews of our pages
        // (`<meta name="fediverse:creator">`): the domain without a port.
        attribution_domains: vec![instance_username(urls)],
        tag: Vec::new(),
    }
}

/// A plain-text bio as the HTML `summary` wants: escaped, in paragraphs.
fn bio_html(text: &str) -> String {
    plain_text_to_html(text)
}

/// An avatar as an `Image`: made absolute when it is a path on the blog; dropped unless
/// it is http(s).
pub(crate) fn image(raw: &str, urls: &Urls) -> Option<Image> {
    let absolute = absolute_http_url(raw, urls)?;
    Some(Image {
        kind: Some("Image".to_owned()),
        media_type: media_type_of(&absolute).map(str::to_owned),
        url: absolute,
        name: None,
    })
}

/// `raw` as an absolute http(s) URL; paths (`/static/a.png`) are taken relative to the
/// public URL.
pub(crate) fn absolute_http_url(raw: &str, urls: &Urls) -> Option<String> {
    let raw = raw.trim();
    let parsed = if raw.starts_with('/') && !raw.starts_with("//") {
        url::Url::parse(&urls.absolute(raw)).ok()?
    } else {
        url::Url::parse(raw).ok()?
    };
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.to_string())
}

/// The media type of a picture, guessed from its URL's extension.
pub(crate) fn media_type_of(url: &str) -> Option<&'static str> {
    let path = url::Url::parse(url).ok()?.path().to_ascii_lowercase();
    let extension = path.rsplit_once('.')?.1.to_owned();
    Some(match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use gloss_storage::AuthorId;

    fn urls() -> Urls {
        Urls::new(&url::Url::parse("https://blog.example.org").unwrap_or_else(|_| unreachable!()))
    }

    fn author() -> Author {
        Author {
            id: AuthorId(3),
            username: "ann".to_owned(),
            display_name: "Ann <Author>".to_owned(),
            bio: "Writes & edits.\n\nSecond paragraph.".to_owned(),
            avatar_url: Some("/static/ann.PNG".to_owned()),
            is_admin: true,
            created_at: DateTime::parse_from_rfc3339("2024-01-02T03:04:05.678Z")
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default(),
        }
    }

    fn parse(value: &Value) -> Actor {
        serde_json::from_value(value.clone()).unwrap_or_else(|err| panic!("{err}: {value}"))
    }

    #[test]
    fn the_author_actor_carries_everything_mastodon_shows() {
        let value = author_actor(&author(), &BlogSettings::default(), "PEM", &urls());
        let actor = parse(&value);
        assert_eq!(actor.kind, ActorType::Person);
        assert_eq!(actor.id, "https://blog.example.org/authors/ann");
        assert_eq!(actor.preferred_username.as_deref(), Some("ann"));
        assert_eq!(actor.name.as_deref(), Some("Ann <Author>"));
        assert_eq!(
            actor.summary.as_deref(),
            Some("<p>Writes &amp; edits.</p><p>Second paragraph.</p>")
        );
        assert_eq!(
            actor.url.as_deref(),
            Some("https://blog.example.org/authors/ann")
        );
        let icon = actor.icon.unwrap_or_else(|| panic!("no icon"));
        assert_eq!(icon.url, "https://blog.example.org/static/ann.PNG");
        assert_eq!(icon.media_type.as_deref(), Some("image/png"));
        assert_eq!(actor.inbox, "https://blog.example.org/authors/ann/inbox");
        assert_eq!(
            actor.endpoints.and_then(|e| e.shared_inbox).as_deref(),
            Some("https://blog.example.org/inbox")
        );
        let key = actor.public_key.unwrap_or_else(|| panic!("no key"));
        assert_eq!(key.id, "https://blog.example.org/authors/ann#main-key");
        assert_eq!(key.owner, actor.id);
        assert_eq!(actor.discoverable, Some(true));
        assert_eq!(actor.indexable, Some(true));
        assert_eq!(actor.manually_approves_followers, Some(false));
        assert_eq!(
            actor.attribution_domains,
            vec!["blog.example.org".to_owned()]
        );
        assert_eq!(value["published"], "2024-01-02T03:04:05Z", "whole seconds");
        assert!(value.get("image").is_none(), "no header picture, no field");
        assert!(
            value["@context"]
                .to_string()
                .contains("w3id.org/security/v1")
        );
    }

    #[test]
    fn the_blog_actor_is_a_service_with_the_blog_settings() {
        let settings = BlogSettings {
            manually_approves_followers: true,
            avatar_url: Some("javascript:alert(1)".to_owned()),
            ..BlogSettings::default()
        };
        let value = blog_actor(&settings, "blog", "PEM", None, &urls());
        let actor = parse(&value);
        assert_eq!(actor.kind, ActorType::Service);
        assert_eq!(actor.preferred_username.as_deref(), Some("blog"));
        assert_eq!(actor.name.as_deref(), Some("Gloss"));
        assert_eq!(actor.url.as_deref(), Some("https://blog.example.org/"));
        assert_eq!(actor.icon, None, "a non-http avatar is dropped");
        assert_eq!(actor.manually_approves_followers, Some(true));
        assert_eq!(
            actor.featured.as_deref(),
            Some("https://blog.example.org/blog/featured")
        );
        assert!(value.get("published").is_none());
    }

    #[test]
    fn the_instance_actor_is_an_unlisted_application_named_after_the_host() {
        let urls =
            Urls::new(&url::Url::parse("http://127.0.0.1:8080").unwrap_or_else(|_| unreachable!()));
        let actor = parse(&instance_actor("PEM", &urls));
        assert_eq!(actor.kind, ActorType::Application);
        assert_eq!(actor.preferred_username.as_deref(), Some("127.0.0.1"));
        assert_eq!(actor.manually_approves_followers, Some(true));
        assert_eq!(actor.discoverable, Some(false));
        assert_eq!(actor.inbox, "http://127.0.0.1:8080/instance/inbox");
    }
}
