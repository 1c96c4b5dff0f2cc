//! Every URL Gloss gives out, in one place. Ids must never change once given out, so
//! these paths are part of the protocol: see FEDERATION.md.
//!
//! | what | path |
//! |---|---|
//! | blog actor | `/blog` (HTML: the home page) |
//! | instance (application) actor | `/instance` |
//! | author actor | `/authors/{username}` (HTML: the author page, by content negotiation) |
//! | actor collections | `{actor}/inbox`, `/outbox`, `/followers`, `/following`, `/featured` |
//! | shared inbox | `/inbox` |
//! | post (Note) | `/posts/{slug}` (HTML and JSON by content negotiation) |
//! | post collections | `/posts/{slug}/replies`, `/posts/{slug}/context` |
//! | author reply (Note) | `/notes/{uuid}` (JSON; HTML: redirect to its place on the post page) |
//! | author reply collections | `/notes/{uuid}/replies` |
//! | imported or reader comment (Note from the blog) | `/comments/{id}` (HTML: redirect) |
//! | its replies | `/comments/{id}/replies` |
//! | activity | `/activities/{uuid}` |
//! | tag page (Hashtag href) | `/tags/{slug}` |

use gloss_storage::{Author, LocalActor};
use url::Url;

/// The comment id a path segment of [`Urls::comment`] spells: digits only, no sign, at
/// most 18 of them (so that it fits an `i64`).
pub fn comment_id_segment(segment: &str) -> Option<i64> {
    if segment.is_empty() || segment.len() > 18 || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse().ok()
}

/// Builds absolute URLs under the public URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Urls {
    base: String,
    host: String,
}

impl Urls {
    /// `public_url` is the blog's origin, e.g. `https://blog.example.org`.
    pub fn new(public_url: &Url) -> Urls {
        let host = match (public_url.host_str(), public_url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => String::new(),
        };
        Urls {
            base: public_url.as_str().trim_end_matches('/').to_owned(),
            host,
        }
    }

    /// The public URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Host (with port when not the default), as in `acct:` handles and `Host` headers.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// `path` (starting with `/`) made absolute.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn home(&self) -> String {
        self.absolute("/")
    }

    pub fn blog_actor(&self) -> String {
        self.absolute("/blog")
    }

    pub fn instance_actor(&self) -> String {
        self.absolute("/instance")
    }

    pub fn author_actor(&self, username: &str) -> String {
        self.absolute(&format!("/authors/{username}"))
    }

    /// The id of a local actor; authors need their username.
    pub fn actor(&self, actor: LocalActor, author: Option<&Author>) -> Option<String> {
        match actor {
            LocalActor::Blog => Some(self.blog_actor()),
            LocalActor::Instance => Some(self.instance_actor()),
            LocalActor::Author(_) => author.map(|a| self.author_actor(&a.username)),
        }
    }

    /// `{actor}#main-key`.
    pub fn key_id(actor_id: &str) -> String {
        format!("{actor_id}#main-key")
    }

    pub fn inbox(actor_id: &str) -> String {
        format!("{actor_id}/inbox")
    }

    pub fn outbox(actor_id: &str) -> String {
        format!("{actor_id}/outbox")
    }

    pub fn followers(actor_id: &str) -> String {
        format!("{actor_id}/followers")
    }

    pub fn following(actor_id: &str) -> String {
        format!("{actor_id}/following")
    }

    pub fn featured(actor_id: &str) -> String {
        format!("{actor_id}/featured")
    }

    pub fn shared_inbox(&self) -> String {
        self.absolute("/inbox")
    }

    pub fn post(&self, slug: &str) -> String {
        self.absolute(&format!("/posts/{slug}"))
    }

    pub fn post_replies(&self, slug: &str) -> String {
        self.absolute(&format!("/posts/{slug}/replies"))
    }

    pub fn post_context(&self, slug: &str) -> String {
        self.absolute(&format!("/posts/{slug}/context"))
    }

    pub fn tag(&self, slug: &str) -> String {
        self.absolute(&format!("/tags/{slug}"))
    }

    /// A fresh id for an author reply's Note.
    pub fn new_note(&self) -> String {
        self.absolute(&format!("/notes/{}", uuid::Uuid::now_v7()))
    }

    /// The `replies` collection of an author reply.
    pub fn note_replies(note_id: &str) -> String {
        format!("{note_id}/replies")
    }

    /// A fresh activity id.
    pub fn new_activity(&self) -> String {
        self.absolute(&format!("/activities/{}", uuid::Uuid::now_v7()))
    }

    /// The Note of a comment that has no fediverse id of its own (imported, or written
    /// through the form): the blog presents it.
    pub fn comment(&self, id: i64) -> String {
        self.absolute(&format!("/comments/{id}"))
    }

    /// The `replies` collection of such a comment.
    pub fn comment_replies(&self, id: i64) -> String {
        self.absolute(&format!("/comments/{id}/replies"))
    }

    /// The comment id named by one of our comment URLs ([`Urls::comment`]), with the
    /// same tolerance as [`Urls::post_slug_of`].
    pub fn comment_id_of(&self, url: &str) -> Option<i64> {
        let path = self.local_path(url)?;
        comment_id_segment(path.strip_prefix("/comments/")?.trim_end_matches('/'))
    }

    /// The path of one of our URLs (any scheme spelling, same host and port).
    fn local_path(&self, url: &str) -> Option<String> {
        let parsed = Url::parse(url).ok()?;
        let ours = Url::parse(&self.base).ok()?;
        if parsed.host_str()? != ours.host_str()? || parsed.port_or_known_default().is_none() {
            return None;
        }
        if parsed.port() != ours.port() && parsed.scheme() == ours.scheme() {
            return None;
        }
        Some(parsed.path().to_owned())
    }

    /// The post slug named by one of our post URLs, tolerating what other servers do
    /// to them: `http` for `https`, a trailing slash, a query or a fragment
    /// (security checklist P10).
    pub fn post_slug_of(&self, url: &str) -> Option<String> {
        let path = self.local_path(url)?;
        let slug = path.strip_prefix("/posts/")?.trim_end_matches('/');
        (!slug.is_empty() && !slug.contains('/')).then(|| slug.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls() -> Urls {
        Urls::new(&Url::parse("https://blog.example.org").unwrap_or_else(|_| unreachable!()))
    }

    #[test]
    fn comment_urls_round_trip_and_nothing_else_parses() {
        let u = urls();
        assert_eq!(u.comment(42), "https://blog.example.org/comments/42");
        assert_eq!(u.comment_id_of(&u.comment(42)), Some(42));
        assert_eq!(
            u.comment_id_of("http://blog.example.org/comments/42/?utm=x#f"),
            Some(42)
        );
        for bad in [
            "https://evil.example/comments/42",
            "https://blog.example.org/comments/",
            "https://blog.example.org/comments/4a",
            "https://blog.example.org/comments/-1",
            "https://blog.example.org/comments/99999999999999999999999",
            "https://blog.example.org/comments/1/replies",
            "not a url",
        ] {
            assert_eq!(u.comment_id_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn actor_and_post_urls_hang_off_the_public_url() {
        let u = urls();
        assert_eq!(u.blog_actor(), "https://blog.example.org/blog");
        assert_eq!(
            Urls::inbox(&u.blog_actor()),
            "https://blog.example.org/blog/inbox"
        );
        assert_eq!(u.post("a-b"), "https://blog.example.org/posts/a-b");
        assert_eq!(u.host(), "blog.example.org");
    }

    #[test]
    fn post_urls_are_recognised_in_their_usual_disguises() {
        let u = urls();
        for url in [
            "https://blog.example.org/posts/a-b",
            "http://blog.example.org/posts/a-b",
            "https://blog.example.org/posts/a-b/",
            "https://blog.example.org/posts/a-b?utm_source=x",
            "https://blog.example.org/posts/a-b#comment-3",
        ] {
            assert_eq!(u.post_slug_of(url).as_deref(), Some("a-b"), "{url}");
        }
        assert_eq!(u.post_slug_of("https://evil.example/posts/a-b"), None);
        assert_eq!(u.post_slug_of("https://blog.example.org/tags/a-b"), None);
    }
}
