-- Backfill of fediverse threads (issue 4, item 5): when the replies and context
-- collections of each remote comment were last read, so that one comment is backfilled
-- at most once per interval, whichever process or trigger asks (checklist F11: a 404 is
-- not retried before then). Keyed by the comment's ActivityPub id: a row outlives its
-- comment harmlessly. Keep version numbers in step with the other engine's tree.
CREATE TABLE comment_backfills (
    ap_id         TEXT PRIMARY KEY,
    backfilled_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX comment_backfills_backfilled_at ON comment_backfills (backfilled_at);
