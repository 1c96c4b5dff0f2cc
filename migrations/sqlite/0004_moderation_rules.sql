-- Moderation rules M2 and M5 (issue 4): the disallowed-keyword list, and when a remote
-- account was created. Keep version numbers in step with the other engine's tree.

-- Disallowed words and phrases, one per line (WordPress's "disallowed keys"): a comment
-- whose text or author name contains one is marked spam.
ALTER TABLE blog_settings ADD COLUMN disallowed_keywords TEXT NOT NULL DEFAULT '';

-- The actor document's `published` (when the account was created), as the actor's
-- server claims it; NULL when it sent none. Replies from accounts younger than 30 days
-- are held.
ALTER TABLE remote_actors ADD COLUMN account_published_at TEXT;
