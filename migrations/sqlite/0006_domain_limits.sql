-- Domain limits ("silence", checklist M4): comments from a limited domain (and its
-- subdomains) are held for approval instead of published. A limit is a third kind of
-- block row; SQLite cannot alter a CHECK constraint, so the table is rebuilt.
-- Keep version numbers in step with the other engine's tree.

CREATE TABLE blocks_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL CHECK (kind IN ('actor', 'domain', 'limit')),
    value      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    UNIQUE (kind, value)
);
INSERT INTO blocks_new (id, kind, value, reason, created_at)
    SELECT id, kind, value, reason, created_at FROM blocks;
DROP TABLE blocks;
ALTER TABLE blocks_new RENAME TO blocks;
