//! Reports the operator sends about a remote account (checklist P12): a `Flag` to the
//! account's server, from the instance actor rather than from an author, so that the
//! report does not say which person on the blog made it (as Mastodon and GoToSocial
//! do). The object lists the account and the comments reported; `content` carries the
//! operator's reason. Delivered through the durable outbox to the server's shared inbox
//! (else the account's inbox); never published (`/activities/{id}` serves only public
//! activities).

use crate::urls::Urls;
use chrono::{DateTime, SecondsFormat, Utc};
use gloss_storage::{Comment, LocalActor, OutgoingActivity, RemoteActor, Store};
use serde_json::{Value, json};

/// Longest reason sent, in characters.
pub const MAX_REASON_CHARS: usize = 1_000;

/// Why a report could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Storage(#[from] gloss_storage::Error),
}

/// The `Flag` about `account` and `comments` (their fediverse ids), as a complete
/// document, and the activity to record.
pub fn flag(
    urls: &Urls,
    account: &RemoteActor,
    comments: &[String],
    reason: &str,
    post: Option<gloss_storage::PostId>,
    now: DateTime<Utc>,
) -> OutgoingActivity {
    let id = urls.new_activity();
    let reason = crate::content::plain_text(reason, MAX_REASON_CHARS);
    let mut object = vec![Value::String(account.ap_id.clone())];
    object.extend(comments.iter().cloned().map(Value::String));
    let document = json!({
        "@context": crate::protocol::activities::ACTIVITY_STREAMS_CONTEXT,
        "id": id,
        "type": "Flag",
        "actor": urls.instance_actor(),
        "object": object,
        "content": reason,
        "to": [account.ap_id],
        "published": now.to_rfc3339_opts(SecondsFormat::Secs, true),
    });
    let inbox = account
        .shared_inbox
        .clone()
        .unwrap_or_else(|| account.inbox.clone());
    OutgoingActivity {
        ap_id: id,
        actor: LocalActor::Instance,
        kind: "Flag".to_owned(),
        object_ap_id: Some(account.ap_id.clone()),
        post_id: post,
        payload: document.to_string(),
        to_followers_of: Vec::new(),
        extra_inboxes: vec![inbox],
    }
}

/// Reports the author of `comment` (and the comment) to their server.
pub async fn report_comment_author(
    store: &dyn Store,
    urls: &Urls,
    comment: &Comment,
    reason: &str,
) -> Result<RemoteActor, ReportError> {
    let Some(actor) = comment.remote_actor_id else {
        return Err(ReportError::Invalid(
            "Only comments from the fediverse can be reported to their server.".to_owned(),
        ));
    };
    let actor = store
        .remote_actor_by_id(actor)
        .await?
        .filter(|actor| actor.deleted_at.is_none())
        .ok_or_else(|| ReportError::Invalid("The account is gone.".to_owned()))?;
    let comments: Vec<String> = comment.ap_id.clone().into_iter().collect();
    let activity = flag(
        urls,
        &actor,
        &comments,
        reason,
        Some(comment.post_id),
        Utc::now(),
    );
    store.enqueue_activities(vec![activity]).await?;
    Ok(actor)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use gloss_storage::RemoteActorId;
    use url::Url;

    #[test]
    fn a_flag_comes_from_the_instance_and_names_the_account_and_comments() {
        let urls = Urls::new(&Url::parse("https://blog.example").unwrap());
        let actor = RemoteActor {
            id: RemoteActorId(1),
            ap_id: "https://spam.example/users/x".to_owned(),
            kind: "Person".to_owned(),
            preferred_username: Some("x".to_owned()),
            name: None,
            url: None,
            icon_url: None,
            inbox: "https://spam.example/users/x/inbox".to_owned(),
            shared_inbox: Some("https://spam.example/inbox".to_owned()),
            public_key_id: String::new(),
            public_key_pem: String::new(),
            host: "spam.example".to_owned(),
            fetched_at: Utc::now(),
            deleted_at: None,
        };
        let activity = flag(
            &urls,
            &actor,
            &["https://spam.example/notes/1".to_owned()],
            "spam\u{0}<b>links</b>",
            None,
            Utc::now(),
        );
        assert_eq!(activity.actor, LocalActor::Instance);
        assert_eq!(activity.kind, "Flag");
        assert_eq!(activity.extra_inboxes, vec!["https://spam.example/inbox"]);
        assert!(activity.to_followers_of.is_empty());
        let json: Value = serde_json::from_str(&activity.payload).unwrap();
        assert_eq!(json["type"], "Flag");
        assert_eq!(json["actor"], "https://blog.example/instance");
        assert_eq!(json["object"][0], "https://spam.example/users/x");
        assert_eq!(json["object"][1], "https://spam.example/notes/1");
        assert!(!json["content"].as_str().unwrap().contains('\u{0}'));
    }
}
