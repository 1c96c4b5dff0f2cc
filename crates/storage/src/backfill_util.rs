//! The SQL of thread backfill (issue 4, item 5): when each remote comment's `replies`
//! and `context` collections were last read, and which comments are due. The statements
//! are the same for both engines; `sqlite.rs` and `postgres.rs` bind and run them.

/// Backfill statements, in the same portable subset as `util::sql`.
pub(crate) mod sql {
    use crate::util::comment_author_blocked;

    /// Records `$2` as the last backfill of `$1` unless it was backfilled at or after
    /// `$3`: one row is written when the caller may go ahead, none otherwise. The
    /// conditional upsert is atomic on both engines (PostgreSQL rechecks the WHERE on
    /// the locked row), so two processes asking at once get one yes.
    pub(crate) const CLAIM_COMMENT_BACKFILL: &str = "INSERT INTO comment_backfills \
         (ap_id, backfilled_at) VALUES ($1, $2) \
         ON CONFLICT (ap_id) DO UPDATE SET backfilled_at = excluded.backfilled_at \
         WHERE comment_backfills.backfilled_at < $3";

    /// Live public or unlisted remote comments, not spam, hidden or by a blocked author,
    /// on published posts that were published at or after `$1` or got a comment since
    /// then; not backfilled at or after `$2`; never backfilled first, then the least
    /// recently backfilled; at most `$3`.
    pub(crate) const COMMENTS_DUE_FOR_BACKFILL: &str = concat!(
        "SELECT c.ap_id FROM comments c \
         JOIN posts p ON p.id = c.post_id \
         LEFT JOIN comment_backfills cb ON cb.ap_id = c.ap_id \
         WHERE c.ap_id IS NOT NULL AND c.remote_actor_id IS NOT NULL \
         AND c.deleted_at IS NULL AND c.visibility IN ('public', 'unlisted') \
         AND c.moderation IN ('pending', 'approved') AND p.status = 'published' \
         AND (p.published_at >= $1 OR EXISTS (SELECT 1 FROM comments rc \
              WHERE rc.post_id = p.id AND rc.created_at >= $1)) \
         AND (cb.backfilled_at IS NULL OR cb.backfilled_at < $2) AND NOT ",
        comment_author_blocked!(),
        " ORDER BY CASE WHEN cb.backfilled_at IS NULL THEN 0 ELSE 1 END, \
         cb.backfilled_at, c.id LIMIT $3"
    );
}
