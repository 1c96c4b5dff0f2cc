//! The moderation rules for comments arriving from the fediverse: a pure function of the
//! blog's setting and of a few facts the inbox gathers (links, recent comments from the
//! same host, the author's approved comments, whether the parent is shown).
//!
//! The rules that hold a comment in any mode come first, so that "open" never publishes
//! a comment with a pile of links or one of a burst; then the mode decides. Every
//! decision carries its reason, which the store keeps with the comment and in the
//! moderation log, so the admin UI can say why a comment is not shown.
//!
//! Blocked actors and domains are not decided here: the inbox refuses them before it
//! fetches or stores anything.

use chrono::TimeDelta;
use gloss_storage::Moderation;
use std::fmt;

/// How comments from the fediverse are published (`GLOSS_COMMENTS_MODERATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CommentsModeration {
    /// Published at once (unless a rule holds them).
    Open,
    /// A commenter's first comment waits for approval; later ones are published at once
    /// (WordPress's "comment author must have a previously approved comment").
    #[default]
    FirstTime,
    /// Every comment waits for approval.
    All,
}

impl CommentsModeration {
    /// The setting's value: `open`, `first-time` or `all`.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentsModeration::Open => "open",
            CommentsModeration::FirstTime => "first-time",
            CommentsModeration::All => "all",
        }
    }

    /// Parses [`CommentsModeration::as_str`]'s output (case and surrounding spaces
    /// ignored; `first_time` accepted too).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "open" => Some(CommentsModeration::Open),
            "first-time" | "first_time" | "firsttime" => Some(CommentsModeration::FirstTime),
            "all" => Some(CommentsModeration::All),
            _ => None,
        }
    }
}

impl fmt::Display for CommentsModeration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comment with more links than this is held (WordPress's `comment_max_links`
/// default). Mentions and hashtags, which every fediverse reply carries, do not count.
pub const MAX_LINKS: usize = 2;

/// The window of the burst rule.
pub const BURST_WINDOW: TimeDelta = TimeDelta::minutes(1);

/// When more comments than this arrived from one host within [`BURST_WINDOW`], the
/// next ones are held (checklist M3: a flood is accepted, never published).
pub const BURST_LIMIT: i64 = 30;

/// What the inbox knows about a comment when it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals {
    /// Links in the sanitized content, mentions and hashtags left out.
    pub links: usize,
    /// Comments received from the author's host within [`BURST_WINDOW`], this one not
    /// included.
    pub recent_from_host: i64,
    /// The author's approved comments (this one included, when it is an edit).
    pub approved_by_author: i64,
    /// Whether what the comment replies to is shown to readers (the post, or a listed
    /// live comment). A reply under a held or deleted comment is held too (checklist P9).
    pub parent_shown: bool,
}

/// A moderation decision and why it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `Approved` or `Pending`: the rules never hide or mark spam by themselves.
    pub state: Moderation,
    /// Why, in words the admin UI shows (`held: …` or `approved: …`).
    pub reason: String,
}

impl Decision {
    fn held(reason: String) -> Decision {
        Decision {
            state: Moderation::Pending,
            reason,
        }
    }

    fn approved(reason: &str) -> Decision {
        Decision {
            state: Moderation::Approved,
            reason: reason.to_owned(),
        }
    }
}

/// Decides whether a new or edited comment is published or held.
pub fn decide(mode: CommentsModeration, signals: &Signals) -> Decision {
    if signals.links > MAX_LINKS {
        return Decision::held(format!(
            "held: {} links (more than {MAX_LINKS})",
            signals.links
        ));
    }
    if signals.recent_from_host > BURST_LIMIT {
        return Decision::held(format!(
            "held: burst of {} comments from the author's server in the last minute \
             (more than {BURST_LIMIT})",
            signals.recent_from_host
        ));
    }
    if !signals.parent_shown {
        return Decision::held("held: it replies to a comment that is not shown".to_owned());
    }
    match mode {
        CommentsModeration::All => {
            Decision::held("held: every comment waits for approval (moderation: all)".to_owned())
        }
        CommentsModeration::FirstTime if signals.approved_by_author <= 0 => {
            Decision::held("held: first comment by this author (moderation: first-time)".to_owned())
        }
        CommentsModeration::FirstTime => Decision::approved(
            "approved: the author has approved comments (moderation: first-time)",
        ),
        CommentsModeration::Open => Decision::approved("approved: moderation is open"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calm() -> Signals {
        Signals {
            links: 0,
            recent_from_host: 0,
            approved_by_author: 0,
            parent_shown: true,
        }
    }

    #[test]
    fn the_setting_reads_its_three_values_and_defaults_to_first_time() {
        for mode in [
            CommentsModeration::Open,
            CommentsModeration::FirstTime,
            CommentsModeration::All,
        ] {
            assert_eq!(CommentsModeration::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(
            CommentsModeration::parse(" First-Time "),
            Some(CommentsModeration::FirstTime)
        );
        assert_eq!(CommentsModeration::parse("sometimes"), None);
        assert_eq!(CommentsModeration::default(), CommentsModeration::FirstTime);
    }

    #[test]
    fn open_publishes_and_all_holds() {
        assert_eq!(
            decide(CommentsModeration::Open, &calm()).state,
            Moderation::Approved
        );
        let all = decide(CommentsModeration::All, &calm());
        assert_eq!(all.state, Moderation::Pending);
        assert!(all.reason.contains("moderation: all"), "{}", all.reason);
    }

    #[test]
    fn first_time_holds_only_authors_without_an_approved_comment() {
        let first = decide(CommentsModeration::FirstTime, &calm());
        assert_eq!(first.state, Moderation::Pending);
        assert!(first.reason.contains("first comment"), "{}", first.reason);
        let known = Signals {
            approved_by_author: 1,
            ..calm()
        };
        assert_eq!(
            decide(CommentsModeration::FirstTime, &known).state,
            Moderation::Approved
        );
    }

    #[test]
    fn links_bursts_and_hidden_parents_hold_in_every_mode() {
        let known = Signals {
            approved_by_author: 5,
            ..calm()
        };
        for signals in [
            Signals { links: 3, ..known },
            Signals {
                recent_from_host: BURST_LIMIT + 1,
                ..known
            },
            Signals {
                parent_shown: false,
                ..known
            },
        ] {
            for mode in [CommentsModeration::Open, CommentsModeration::FirstTime] {
                let decision = decide(mode, &signals);
                assert_eq!(decision.state, Moderation::Pending, "{signals:?} {mode}");
                assert!(decision.reason.starts_with("held: "), "{}", decision.reason);
            }
        }
        let two_links = Signals { links: 2, ..known };
        assert_eq!(
            decide(CommentsModeration::Open, &two_links).state,
            Moderation::Approved
        );
        assert!(
            decide(CommentsModeration::Open, &Signals { links: 3, ..known })
                .reason
                .contains("3 links")
        );
    }
}
