-- Domain limits ("silence", checklist M4): comments from a limited domain (and its
-- subdomains) are held for approval instead of published. A limit is a third kind of
-- block row. Keep version numbers in step with the other engine's tree.

ALTER TABLE blocks DROP CONSTRAINT IF EXISTS blocks_kind_check;
ALTER TABLE blocks ADD CONSTRAINT blocks_kind_check
    CHECK (kind IN ('actor', 'domain', 'limit'));
