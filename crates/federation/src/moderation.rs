//! The moderation rules for comments arriving from the fediverse: a pure function of the
//! blog's setting and of a few facts the inbox gathers (links, recent comments from the
//! same host, the author's approved comments, whether the parent is shown).
//!
//! A disallowed keyword in the comment's text or its author's name marks it spam
//! (checklist M5: kept for audit, never public, restorable by approving it). The rules
//! that hold a comment in any mode come next, so that "open" never publishes a comment
//! with a pile of links, one of a burst, or one from a brand-new or automated account
//! (M2); then the mode decides. Every
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

/// When more comments than this arrived from one actor within [`BURST_WINDOW`], the
/// next ones are held (checklist M3's per-actor bucket: nobody writes a dozen
/// thoughtful replies a minute).
pub const ACTOR_BURST_LIMIT: i64 = 10;

/// Replies from accounts created more recently than this are held (Mastodon's
/// `filter_new_accounts` notification policy uses the same 30 days).
pub const MIN_ACCOUNT_AGE: TimeDelta = TimeDelta::days(30);

/// Whether an actor of this ActivityPub `type` is automated. Mastodon, Misskey,
/// GoToSocial, Pleroma and Lemmy all publish bot accounts as `Service` (Mastodon's
/// instance actor is an `Application`); Mastodon's `"bot": true` exists only in its
/// client API, never in actor documents, so the type is the signal that federates.
pub fn is_bot_kind(kind: &str) -> bool {
    matches!(kind, "Service" | "Application")
}

/// How readers' comments from the form on the post page are published
/// (`GLOSS_COMMENTS_LOCAL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LocalComments {
    /// No form; posted comments are refused.
    Off,
    /// Every reader comment waits for approval.
    #[default]
    Moderated,
    /// Published at once, unless a rule holds it (links) or marks it spam (keywords).
    Open,
}

impl LocalComments {
    /// The setting's value: `off`, `moderated` or `open`.
    pub fn as_str(self) -> &'static str {
        match self {
            LocalComments::Off => "off",
            LocalComments::Moderated => "moderated",
            LocalComments::Open => "open",
        }
    }

    /// Parses [`LocalComments::as_str`]'s output (case and surrounding spaces ignored).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" => Some(LocalComments::Off),
            "moderated" => Some(LocalComments::Moderated),
            "open" => Some(LocalComments::Open),
            _ => None,
        }
    }
}

impl fmt::Display for LocalComments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lower-case, whitespace collapsed: how keywords and texts are compared.
fn folded(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The first disallowed keyword (as the admin wrote it) that occurs in one of `texts`,
/// ignoring case and runs of white space. Substrings count, as in WordPress's
/// "disallowed keys": `casino` also matches `casinos`.
pub fn keyword_hit<'k>(keywords: &'k [String], texts: &[&str]) -> Option<&'k str> {
    if keywords.is_empty() {
        return None;
    }
    let texts: Vec<String> = texts.iter().map(|text| folded(text)).collect();
    keywords.iter().map(String::as_str).find(|keyword| {
        let keyword = folded(keyword);
        !keyword.is_empty() && texts.iter().any(|text| text.contains(&keyword))
    })
}

/// What the inbox knows about a comment when it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signals<'a> {
    /// Links in the sanitized content, mentions and hashtags left out.
    pub links: usize,
    /// Comments received from the author's host within [`BURST_WINDOW`], this one not
    /// included.
    pub recent_from_host: i64,
    /// Comments received from the author within [`BURST_WINDOW`], this one not included.
    pub recent_from_actor: i64,
    /// The author's approved comments (this one included, when it is an edit).
    pub approved_by_author: i64,
    /// Whether what the comment replies to is shown to readers (the post, or a listed
    /// live comment). A reply under a held or deleted comment is held too (checklist P9).
    pub parent_shown: bool,
    /// The disallowed keyword found in the comment's text or its author's name
    /// ([`keyword_hit`]).
    pub keyword: Option<&'a str>,
    /// How old the author's account is (now minus its actor's `published`), when known.
    pub account_age: Option<TimeDelta>,
    /// The author is automated ([`is_bot_kind`]).
    pub bot: bool,
    /// The author's domain is limited by the operator (checklist M4 "silence"): its
    /// comments wait for approval.
    pub limited: bool,
}

/// A moderation decision and why it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// `Approved`, `Pending`, or `Spam` for a disallowed keyword; the rules never hide.
    pub state: Moderation,
    /// Why, in words the admin UI shows (`held: …`, `approved: …` or `spam: …`).
    pub reason: String,
}

impl Decision {
    fn held(reason: String) -> Decision {
        Decision {
            state: Moderation::Pending,
            reason,
        }
    }

    fn spam(keyword: &str) -> Decision {
        Decision {
            state: Moderation::Spam,
            reason: format!("spam: keyword {keyword:?}"),
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
pub fn decide(mode: CommentsModeration, signals: &Signals<'_>) -> Decision {
    if let Some(keyword) = signals.keyword {
        return Decision::spam(keyword);
    }
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
    if signals.recent_from_actor > ACTOR_BURST_LIMIT {
        return Decision::held(format!(
            "held: burst of {} comments from the author in the last minute \
             (more than {ACTOR_BURST_LIMIT})",
            signals.recent_from_actor
        ));
    }
    if let Some(age) = signals.account_age
        && age < MIN_ACCOUNT_AGE
    {
        return Decision::held(format!(
            "held: the author's account is {} days old (less than {})",
            age.num_days().max(0),
            MIN_ACCOUNT_AGE.num_days()
        ));
    }
    if signals.bot {
        return Decision::held("held: the author is a bot account".to_owned());
    }
    if signals.limited {
        return Decision::held("held: the author's domain is limited".to_owned());
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

/// What is known about a reader's comment from the form on the post page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalSignals<'a> {
    /// Links in the comment's text.
    pub links: usize,
    /// The disallowed keyword found in the text, the name or the website.
    pub keyword: Option<&'a str>,
    /// Whether what the comment replies to is shown to readers.
    pub parent_shown: bool,
}

/// Decides whether a reader's comment is published, held or spam. `Off` never gets
/// here (the form refuses first); should it, the comment is held.
pub fn decide_local(mode: LocalComments, signals: &LocalSignals<'_>) -> Decision {
    if let Some(keyword) = signals.keyword {
        return Decision::spam(keyword);
    }
    if signals.links > MAX_LINKS {
        return Decision::held(format!(
            "held: {} links (more than {MAX_LINKS})",
            signals.links
        ));
    }
    if !signals.parent_shown {
        return Decision::held("held: it replies to a comment that is not shown".to_owned());
    }
    match mode {
        LocalComments::Open => Decision::approved("approved: local comments are open"),
        LocalComments::Moderated | LocalComments::Off => Decision::held(
            "held: every reader comment waits for approval (local comments: moderated)".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calm() -> Signals<'static> {
        Signals {
            links: 0,
            recent_from_host: 0,
            recent_from_actor: 0,
            approved_by_author: 0,
            parent_shown: true,
            keyword: None,
            account_age: None,
            bot: false,
            limited: false,
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
                recent_from_actor: 0,
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

    #[test]
    fn m5_a_keyword_marks_spam_in_every_mode_and_names_the_rule() {
        for mode in [
            CommentsModeration::Open,
            CommentsModeration::FirstTime,
            CommentsModeration::All,
        ] {
            let decision = decide(
                mode,
                &Signals {
                    keyword: Some("casino"),
                    approved_by_author: 9,
                    ..calm()
                },
            );
            assert_eq!(decision.state, Moderation::Spam);
            assert_eq!(decision.reason, "spam: keyword \"casino\"");
        }
        let local = decide_local(
            LocalComments::Open,
            &LocalSignals {
                links: 0,
                keyword: Some("casino"),
                parent_shown: true,
            },
        );
        assert_eq!(local.state, Moderation::Spam);
    }

    #[test]
    fn m5_keywords_match_ignoring_case_and_spacing_in_any_text() {
        let keywords = vec!["Casino".to_owned(), "cheap  pills".to_owned()];
        assert_eq!(
            keyword_hit(&keywords, &["Best CASINOS here"]),
            Some("Casino")
        );
        assert_eq!(
            keyword_hit(&keywords, &["a nice post", "CHEAP\npills Ltd"]),
            Some("cheap  pills")
        );
        assert_eq!(keyword_hit(&keywords, &["a nice post", "Ann"]), None);
        assert_eq!(keyword_hit(&[], &["casino"]), None);
        assert_eq!(keyword_hit(&["  ".to_owned()], &["anything"]), None);
    }

    #[test]
    fn m3_a_burst_from_one_author_is_held_in_every_mode() {
        let known = Signals {
            approved_by_author: 5,
            ..calm()
        };
        let decision = decide(
            CommentsModeration::Open,
            &Signals {
                recent_from_actor: ACTOR_BURST_LIMIT + 1,
                ..known
            },
        );
        assert_eq!(decision.state, Moderation::Pending);
        assert!(decision.reason.contains("from the author"), "{decision:?}");
        let calm_enough = decide(
            CommentsModeration::Open,
            &Signals {
                recent_from_actor: ACTOR_BURST_LIMIT,
                ..known
            },
        );
        assert_eq!(calm_enough.state, Moderation::Approved);
    }

    #[test]
    fn m2_new_accounts_and_bots_are_held_in_every_mode() {
        let known = Signals {
            approved_by_author: 5,
            ..calm()
        };
        for signals in [
            Signals {
                account_age: Some(TimeDelta::days(29)),
                ..known
            },
            Signals {
                account_age: Some(TimeDelta::days(-3)),
                ..known
            },
            Signals { bot: true, ..known },
            Signals {
                limited: true,
                ..known
            },
        ] {
            for mode in [CommentsModeration::Open, CommentsModeration::FirstTime] {
                let decision = decide(mode, &signals);
                assert_eq!(decision.state, Moderation::Pending, "{signals:?} {mode}");
            }
        }
        let young = decide(
            CommentsModeration::Open,
            &Signals {
                account_age: Some(TimeDelta::days(3)),
                ..known
            },
        );
        assert!(young.reason.contains("3 days old"), "{}", young.reason);
        for age in [Some(MIN_ACCOUNT_AGE), Some(TimeDelta::days(400)), None] {
            assert_eq!(
                decide(
                    CommentsModeration::Open,
                    &Signals {
                        account_age: age,
                        ..known
                    }
                )
                .state,
                Moderation::Approved,
                "{age:?}"
            );
        }
        assert!(is_bot_kind("Service") && is_bot_kind("Application"));
        assert!(!is_bot_kind("Person") && !is_bot_kind("Group"));
    }

    #[test]
    fn reader_comments_wait_unless_open_and_links_hold_them() {
        let calm = LocalSignals {
            links: 0,
            keyword: None,
            parent_shown: true,
        };
        assert_eq!(
            decide_local(LocalComments::Moderated, &calm).state,
            Moderation::Pending
        );
        assert_eq!(
            decide_local(LocalComments::Open, &calm).state,
            Moderation::Approved
        );
        for signals in [
            LocalSignals { links: 3, ..calm },
            LocalSignals {
                parent_shown: false,
                ..calm
            },
        ] {
            assert_eq!(
                decide_local(LocalComments::Open, &signals).state,
                Moderation::Pending
            );
        }
        for mode in [
            LocalComments::Off,
            LocalComments::Moderated,
            LocalComments::Open,
        ] {
            assert_eq!(LocalComments::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(LocalComments::parse(" OPEN "), Some(LocalComments::Open));
        assert_eq!(LocalComments::parse("sometimes"), None);
        assert_eq!(LocalComments::default(), LocalComments::Moderated);
    }
}
