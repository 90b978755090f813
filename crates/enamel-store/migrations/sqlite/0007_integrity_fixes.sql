-- Integrity fixes (issue 14). SQLite's INTEGER is already 64-bit, so the
-- PostgreSQL migration's column widening has no counterpart here.

-- Signed purge records (docs/audit.md, "Retention"): verification accepts a log
-- that starts after index 0 only where one of these, signed with the checkpoint key,
-- says the entries before it were removed after the retention. Append-only.
CREATE TABLE audit_purges (
    scope            TEXT NOT NULL,
    cut              INTEGER NOT NULL,
    last_removed_at  TEXT NOT NULL,
    purged_at        TEXT NOT NULL,
    signature        TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    PRIMARY KEY (scope, cut)
) STRICT;

CREATE TRIGGER audit_purges_no_update BEFORE UPDATE ON audit_purges
BEGIN SELECT RAISE(ABORT, 'audit purge records are append-only'); END;

CREATE TRIGGER audit_purges_no_delete BEFORE DELETE ON audit_purges
BEGIN SELECT RAISE(ABORT, 'audit purge records are append-only'); END;
