//! Building the activities Gloss sends. Everything here is pure (no I/O, no clock
//! except the `now` passed in): it turns a change into JSON documents and the
//! [`OutgoingActivity`] rows that the store records in the same transaction as the
//! change. Sending is the delivery worker's job (`crate::delivery`).
//!
//! Audiences (see FEDERATION.md):
//!
//! | activity | actor | `to` | `cc` | delivered to followers of |
//! |---|---|---|---|---|
//! | Create(Note) | author | Public | author's followers | the author |
//! | Announce(Note) | blog | Public | blog's followers, the author | the blog |
//! | Update(Note) | author | Public | author's and blog's followers | the author and the blog |
//! | Delete(Tombstone) | author | Public | author's and blog's followers | the author and the blog |
//! | Accept/Reject(Follow) | the followed actor | the follower | | the follower's inbox only |
//!
//! Someone who follows both the blog and the author gets the Create and one Announce:
//! the store merges inboxes per activity, never across activities.

use crate::protocol::activities::{
    Accept, Activity, Announce, Create, Delete, EmbeddedObject, ObjectRef, PUBLIC, Reject, Update,
    default_context, follow_reference,
};
use crate::urls::Urls;
use activitypub_federation::kinds::activity::{
    AcceptType, AnnounceType, CreateType, DeleteType, RejectType, UpdateType,
};
use chrono::{DateTime, SecondsFormat, Utc};
use gloss_storage::{
    Author, BlogSettings, LocalActor, OutgoingActivity, Post, PostOrigin, PostStatus,
};
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

/// Why an activity could not be built: one of our own URLs did not parse, which only
/// a broken public URL setting can cause.
#[derive(Debug, thiserror::Error)]
#[error("invalid URL {url:?} while building an activity: {source}")]
pub struct OutboxError {
    url: String,
    source: url::ParseError,
}

/// One of our URLs, parsed (only a broken public URL setting makes it fail).
pub(crate) fn url(text: &str) -> Result<Url, OutboxError> {
    Url::parse(text).map_err(|source| OutboxError {
        url: text.to_owned(),
        source,
    })
}

fn public() -> Result<Url, OutboxError> {
    url(PUBLIC)
}

/// The JSON payload stored in the outbox.
pub(crate) fn payload<T: Serialize>(activity: &T) -> String {
    // Serializing our own structs of strings and maps cannot fail.
    serde_json::to_string(activity).unwrap_or_default()
}

/// An embedded object from a JSON document (a Note).
pub(crate) fn embedded(document: Value) -> ObjectRef {
    match ObjectRef::from_value(document) {
        Ok(object) => object,
        // Only a Note without an id could get here; embed nothing rather than panic.
        Err(_) => ObjectRef::Object(Box::default()),
    }
}

/// `Create(Note)` from the post's author, to the author's followers.
pub fn create_note(
    urls: &Urls,
    author: &Author,
    note: Value,
    now: DateTime<Utc>,
) -> Result<Create, OutboxError> {
    let actor = urls.author_actor(&author.username);
    Ok(Activity {
        context: Some(default_context()),
        id: url(&urls.new_activity())?,
        kind: CreateType::Create,
        actor: ObjectRef::Id(url(&actor)?),
        object: Some(embedded(note)),
        to: vec![public()?],
        cc: vec![url(&Urls::followers(&actor))?],
        published: Some(now),
    })
}

/// `Update(Note)` from the post's author, to the author's and the blog's followers
/// (blog followers hold the Note through the boost). The Note must carry `updated`,
/// or Mastodon ignores the Update.
pub fn update_note(
    urls: &Urls,
    author: &Author,
    note: Value,
    now: DateTime<Utc>,
) -> Result<Update, OutboxError> {
    let actor = urls.author_actor(&author.username);
    Ok(Activity {
        context: Some(default_context()),
        id: url(&urls.new_activity())?,
        kind: UpdateType::Update,
        actor: ObjectRef::Id(url(&actor)?),
        object: Some(embedded(note)),
        to: vec![public()?],
        cc: vec![
            url(&Urls::followers(&actor))?,
            url(&Urls::followers(&urls.blog_actor()))?,
        ],
        published: Some(now),
    })
}

/// `Delete(Tombstone)` of a post from its author, to both audiences.
pub fn delete_post(
    urls: &Urls,
    author: &Author,
    slug: &str,
    now: DateTime<Utc>,
) -> Result<Delete, OutboxError> {
    let actor = urls.author_actor(&author.username);
    let mut rest = Map::new();
    rest.insert("formerType".to_owned(), Value::String("Note".to_owned()));
    rest.insert("deleted".to_owned(), Value::String(rfc3339(now)));
    Ok(Activity {
        context: Some(default_context()),
        id: url(&urls.new_activity())?,
        kind: DeleteType::Delete,
        actor: ObjectRef::Id(url(&actor)?),
        object: Some(ObjectRef::Object(Box::new(EmbeddedObject {
            id: Some(url(&urls.post(slug))?),
            kind: Some("Tombstone".to_owned()),
            actor: None,
            object: None,
            rest,
        }))),
        to: vec![public()?],
        cc: vec![
            url(&Urls::followers(&actor))?,
            url(&Urls::followers(&urls.blog_actor()))?,
        ],
        published: Some(now),
    })
}

/// `Announce(Note)` of a post by the blog actor, to the blog's followers. The object is
/// the Note's id: receivers fetch it (or already have it from the Create).
pub fn announce_note(
    urls: &Urls,
    author: &Author,
    slug: &str,
    now: DateTime<Utc>,
) -> Result<Announce, OutboxError> {
    let blog = urls.blog_actor();
    Ok(Activity {
        context: Some(default_context()),
        id: url(&urls.new_activity())?,
        kind: AnnounceType::Announce,
        actor: ObjectRef::Id(url(&blog)?),
        object: Some(ObjectRef::Id(url(&urls.post(slug))?)),
        to: vec![public()?],
        cc: vec![
            url(&Urls::followers(&blog))?,
            url(&urls.author_actor(&author.username))?,
        ],
        published: Some(now),
    })
}

/// A Follow as we received it: who follows whom, under which id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedFollow {
    /// The Follow activity's id.
    pub id: String,
    /// The follower's actor id.
    pub follower: String,
    /// Our actor's id (the Follow's object).
    pub followed: String,
}

/// `Accept(Follow)` from the followed actor. The Follow is embedded with its id, type,
/// actor and object: what Mastodon matches an Accept against.
pub fn accept_follow(
    urls: &Urls,
    follow: &ReceivedFollow,
    now: DateTime<Utc>,
) -> Result<Accept, OutboxError> {
    Ok(Activity {
        context: Some(default_context()),
        id: url(&urls.new_activity())?,
        kind: AcceptType::Accept,
        actor: ObjectRef::Id(url(&follow.followed)?),
        object: Some(follow_reference(
            url(&follow.id)?,
            url(&follow.follower)?,
            url(&follow.followed)?,
        )),
        to: vec![url(&follow.follower)?],
        cc: Vec::new(),
        published: Some(now),
    })
}

/// `Reject(Follow)` from the followed actor: a pending follow denied, or a follower
/// removed by the author (Mastodon then drops the follow on its side).
pub fn reject_follow(
    urls: &Urls,
    follow: &ReceivedFollow,
    now: DateTime<Utc>,
) -> Result<Reject, OutboxError> {
    Ok(Activity {
        context: Some(default_context()),
        id: url(&urls.new_activity())?,
        kind: RejectType::Reject,
        actor: ObjectRef::Id(url(&follow.followed)?),
        object: Some(follow_reference(
            url(&follow.id)?,
            url(&follow.follower)?,
            url(&follow.followed)?,
        )),
        to: vec![url(&follow.follower)?],
        cc: Vec::new(),
        published: Some(now),
    })
}

/// The outbox row of an Accept or Reject, delivered to the follower's inbox only.
pub fn follow_response_activity<K: Serialize>(
    local_actor: LocalActor,
    kind: &str,
    activity: &Activity<K>,
    follow_id: &str,
    follower_inbox: &str,
) -> OutgoingActivity {
    OutgoingActivity {
        ap_id: activity.id.to_string(),
        actor: local_actor,
        kind: kind.to_owned(),
        object_ap_id: Some(follow_id.to_owned()),
        post_id: None,
        payload: payload(activity),
        to_followers_of: Vec::new(),
        extra_inboxes: vec![follower_inbox.to_owned()],
    }
}

/// What happened to a post.
#[derive(Debug, Clone, Copy)]
pub enum PostChange<'a> {
    /// Created (`before` is `None`) or saved over `before`; `after` is the post as it
    /// is being stored.
    Saved {
        /// The post before this save; `None` for a new post.
        before: Option<&'a Post>,
        /// The post as it is being stored.
        after: &'a Post,
    },
    /// Deleted; the post as it was before deletion.
    Deleted(&'a Post),
}

/// The activities a change of a post sends:
///
/// - publishing (a new published post, or a draft becoming published): Create from the
///   author to the author's followers, and Announce from the blog to the blog's;
/// - saving a post that was already published: Update to both audiences;
/// - deleting a published post: Delete to both audiences;
/// - drafts (and a published post going back to draft, which federated copies do not
///   follow) send nothing, and neither do imported posts: they keep their old dates
///   and are never pushed as new.
///
/// `note` builds the Note of a post; it is called only when an activity needs it.
pub fn post_activities(
    urls: &Urls,
    author: &Author,
    change: PostChange<'_>,
    note: impl FnOnce(&Post) -> Value,
    now: DateTime<Utc>,
) -> Result<Vec<OutgoingActivity>, OutboxError> {
    match change {
        PostChange::Saved { before, after } => {
            if after.origin == PostOrigin::Imported || after.status != PostStatus::Published {
                return Ok(Vec::new());
            }
            let was_published = before.is_some_and(|post| post.status == PostStatus::Published);
            let object_id = urls.post(&after.slug);
            let post_id = before.map(|post| post.id);
            if was_published {
                let update = update_note(urls, author, note(after), now)?;
                return Ok(vec![OutgoingActivity {
                    ap_id: update.id.to_string(),
                    actor: LocalActor::Author(author.id),
                    kind: "Update".to_owned(),
                    object_ap_id: Some(object_id),
                    post_id,
                    payload: payload(&update),
                    to_followers_of: vec![LocalActor::Author(author.id), LocalActor::Blog],
                    extra_inboxes: Vec::new(),
                }]);
            }
            let create = create_note(urls, author, note(after), now)?;
            let announce = announce_note(urls, author, &after.slug, now)?;
            Ok(vec![
                OutgoingActivity {
                    ap_id: create.id.to_string(),
                    actor: LocalActor::Author(author.id),
                    kind: "Create".to_owned(),
                    object_ap_id: Some(object_id.clone()),
                    post_id,
                    payload: payload(&create),
                    to_followers_of: vec![LocalActor::Author(author.id)],
                    extra_inboxes: Vec::new(),
                },
                OutgoingActivity {
                    ap_id: announce.id.to_string(),
                    actor: LocalActor::Blog,
                    kind: "Announce".to_owned(),
                    object_ap_id: Some(object_id),
                    post_id,
                    payload: payload(&announce),
                    to_followers_of: vec![LocalActor::Blog],
                    extra_inboxes: Vec::new(),
                },
            ])
        }
        PostChange::Deleted(post) => {
            if post.origin == PostOrigin::Imported || post.status != PostStatus::Published {
                return Ok(Vec::new());
            }
            let delete = delete_post(urls, author, &post.slug, now)?;
            Ok(vec![OutgoingActivity {
                ap_id: delete.id.to_string(),
                actor: LocalActor::Author(author.id),
                kind: "Delete".to_owned(),
                object_ap_id: Some(urls.post(&post.slug)),
                post_id: Some(post.id),
                payload: payload(&delete),
                to_followers_of: vec![LocalActor::Author(author.id), LocalActor::Blog],
                extra_inboxes: Vec::new(),
            }])
        }
    }
}

/// The Note of a post, with the blog's settings (full text or excerpt).
pub fn note_of(urls: &Urls, author: &Author, settings: &BlogSettings, post: &Post) -> Value {
    crate::notes::post_to_note(post, author, settings, urls)
}

fn rfc3339(date: DateTime<Utc>) -> String {
    date.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gloss_storage::{AuthorId, PostId};
    use serde_json::json;

    fn urls() -> Urls {
        Urls::new(&Url::parse("https://blog.example").unwrap_or_else(|e| panic!("{e}")))
    }

    fn author() -> Author {
        Author {
            id: AuthorId(7),
            username: "ana".into(),
            display_name: "Ana".into(),
            bio: String::new(),
            avatar_url: None,
            is_admin: true,
            created_at: Utc::now(),
        }
    }

    fn post(status: PostStatus, origin: PostOrigin) -> Post {
        Post {
            id: PostId(3),
            author_id: AuthorId(7),
            title: "Hello".into(),
            slug: "hello".into(),
            source: "Hi".into(),
            content_html: "<p>Hi</p>".into(),
            summary: None,
            tags: vec![],
            status,
            origin,
            comments_open: true,
            published_at: Utc::now(),
            updated_at: None,
            created_at: Utc::now(),
        }
    }

    fn note(post: &Post) -> Value {
        json!({"id": format!("https://blog.example/posts/{}", post.slug), "type": "Note",
               "content": "<p>Hi</p>", "updated": post.updated_at.map(rfc3339)})
    }

    fn kinds(activities: &[OutgoingActivity]) -> Vec<(&str, LocalActor, Vec<LocalActor>)> {
        activities
            .iter()
            .map(|a| (a.kind.as_str(), a.actor, a.to_followers_of.clone()))
            .collect()
    }

    fn parse(activity: &OutgoingActivity) -> Value {
        serde_json::from_str(&activity.payload).unwrap_or_default()
    }

    #[test]
    fn publishing_creates_from_the_author_and_announces_from_the_blog() {
        let after = post(PostStatus::Published, PostOrigin::Local);
        let out = post_activities(
            &urls(),
            &author(),
            PostChange::Saved {
                before: None,
                after: &after,
            },
            note,
            Utc::now(),
        )
        .unwrap_or_default();
        let author = LocalActor::Author(AuthorId(7));
        assert_eq!(
            kinds(&out),
            [
                ("Create", author, vec![author]),
                ("Announce", LocalActor::Blog, vec![LocalActor::Blog])
            ]
        );
        let create = parse(&out[0]);
        assert_eq!(create["@context"], "https://www.w3.org/ns/activitystreams");
        assert_eq!(create["actor"], "https://blog.example/authors/ana");
        assert_eq!(create["object"]["type"], "Note");
        assert_eq!(create["to"], json!([PUBLIC]));
        assert_eq!(
            create["cc"],
            json!(["https://blog.example/authors/ana/followers"])
        );
        assert!(
            create["id"]
                .as_str()
                .unwrap_or_default()
                .starts_with("https://blog.example/activities/")
        );
        assert!(create["published"].is_string());
        let announce = parse(&out[1]);
        assert_eq!(announce["actor"], "https://blog.example/blog");
        assert_eq!(announce["object"], "https://blog.example/posts/hello");
        assert_eq!(
            announce["cc"],
            json!([
                "https://blog.example/blog/followers",
                "https://blog.example/authors/ana"
            ])
        );
        assert_ne!(out[0].ap_id, out[1].ap_id);
        assert_eq!(
            out[0].object_ap_id.as_deref(),
            Some("https://blog.example/posts/hello")
        );
    }

    #[test]
    fn a_draft_becoming_published_counts_as_publishing() {
        let before = post(PostStatus::Draft, PostOrigin::Local);
        let after = post(PostStatus::Published, PostOrigin::Local);
        let out = post_activities(
            &urls(),
            &author(),
            PostChange::Saved {
                before: Some(&before),
                after: &after,
            },
            note,
            Utc::now(),
        )
        .unwrap_or_default();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].kind, "Create");
        assert_eq!(out[0].post_id, Some(PostId(3)));
    }

    #[test]
    fn editing_a_published_post_updates_both_audiences() {
        let before = post(PostStatus::Published, PostOrigin::Local);
        let mut after = before.clone();
        after.updated_at = Some(Utc::now());
        let out = post_activities(
            &urls(),
            &author(),
            PostChange::Saved {
                before: Some(&before),
                after: &after,
            },
            note,
            Utc::now(),
        )
        .unwrap_or_default();
        let author = LocalActor::Author(AuthorId(7));
        assert_eq!(
            kinds(&out),
            [("Update", author, vec![author, LocalActor::Blog])]
        );
        let update = parse(&out[0]);
        assert_eq!(update["type"], "Update");
        assert!(update["object"]["updated"].is_string());
        assert_eq!(
            update["cc"],
            json!([
                "https://blog.example/authors/ana/followers",
                "https://blog.example/blog/followers"
            ])
        );
    }

    #[test]
    fn deleting_a_published_post_sends_a_tombstone_to_both_audiences() {
        let before = post(PostStatus::Published, PostOrigin::Local);
        let out = post_activities(
            &urls(),
            &author(),
            PostChange::Deleted(&before),
            note,
            Utc::now(),
        )
        .unwrap_or_default();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].kind, "Delete");
        assert_eq!(out[0].to_followers_of.len(), 2);
        let delete = parse(&out[0]);
        assert_eq!(delete["object"]["type"], "Tombstone");
        assert_eq!(delete["object"]["id"], "https://blog.example/posts/hello");
        assert_eq!(delete["object"]["formerType"], "Note");
    }

    #[test]
    fn drafts_and_imported_posts_send_nothing() {
        let draft = post(PostStatus::Draft, PostOrigin::Local);
        let imported = post(PostStatus::Published, PostOrigin::Imported);
        let published = post(PostStatus::Published, PostOrigin::Local);
        let cases = [
            PostChange::Saved {
                before: None,
                after: &draft,
            },
            PostChange::Saved {
                before: Some(&published),
                after: &draft,
            },
            PostChange::Saved {
                before: None,
                after: &imported,
            },
            PostChange::Saved {
                before: Some(&imported),
                after: &imported,
            },
            PostChange::Deleted(&draft),
            PostChange::Deleted(&imported),
        ];
        for change in cases {
            let out = post_activities(&urls(), &author(), change, note, Utc::now())
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(out.is_empty(), "{change:?}");
        }
    }

    #[test]
    fn accept_and_reject_embed_the_follow_and_go_to_the_follower_only() {
        let follow = ReceivedFollow {
            id: "https://m.example/f/1".into(),
            follower: "https://m.example/users/bo".into(),
            followed: "https://blog.example/blog".into(),
        };
        let accept = accept_follow(&urls(), &follow, Utc::now()).unwrap_or_else(|e| panic!("{e}"));
        let row = follow_response_activity(
            LocalActor::Blog,
            "Accept",
            &accept,
            &follow.id,
            "https://m.example/users/bo/inbox",
        );
        assert!(row.to_followers_of.is_empty());
        assert_eq!(row.extra_inboxes, ["https://m.example/users/bo/inbox"]);
        let json = parse(&row);
        assert_eq!(json["type"], "Accept");
        assert_eq!(json["actor"], "https://blog.example/blog");
        assert_eq!(json["object"]["id"], "https://m.example/f/1");
        assert_eq!(json["object"]["type"], "Follow");
        assert_eq!(json["object"]["actor"], "https://m.example/users/bo");
        assert_eq!(json["object"]["object"], "https://blog.example/blog");
        assert_eq!(json["to"], json!(["https://m.example/users/bo"]));
        let reject = reject_follow(&urls(), &follow, Utc::now()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            serde_json::to_value(&reject).unwrap_or_default()["type"],
            "Reject"
        );
        assert_ne!(reject.id, accept.id);
    }
}
