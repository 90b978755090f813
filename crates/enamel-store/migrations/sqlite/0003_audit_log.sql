-- The tamper-evident audit log (docs/audit.md). One log per scope: a practice's id,
-- or 'platform'. Entries are append-only; the head row serializes appends to a log.

CREATE TABLE audit_heads (
    scope      TEXT PRIMARY KEY NOT NULL,
    size       INTEGER NOT NULL,
    last_hash  BLOB NOT NULL,
    -- The tree's right edge (JSON), so a checkpoint needs no pass over the log.
    frontier   TEXT NOT NULL
) STRICT;

CREATE TABLE audit_entries (
    scope       TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    -- The canonical entry: what is hashed, exported and verified.
    entry       BLOB NOT NULL,
    leaf_hash   BLOB NOT NULL,
    -- Copies of entry fields for queries; verification checks them against entry.
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor_id    TEXT,
    patient_id  BLOB,
    outcome     TEXT NOT NULL,
    PRIMARY KEY (scope, idx)
) STRICT;

CREATE INDEX audit_entries_by_patient ON audit_entries (scope, patient_id, idx)
    WHERE patient_id IS NOT NULL;
CREATE INDEX audit_entries_by_time ON audit_entries (scope, at);

CREATE TABLE audit_checkpoints (
    scope      TEXT NOT NULL,
    tree_size  INTEGER NOT NULL,
    root       TEXT NOT NULL,
    at         TEXT NOT NULL,
    signature  TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    -- The frontier and last leaf hash at this size: where verification resumes
    -- after a retention purge.
    frontier   TEXT NOT NULL,
    last_leaf  TEXT NOT NULL,
    PRIMARY KEY (scope, tree_size)
) STRICT;

-- Retention purge is the one path that deletes entries: it opens this gate inside
-- its own transaction.
CREATE TABLE audit_purge_gate (opened INTEGER NOT NULL) STRICT;

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;

CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
WHEN NOT EXISTS (SELECT 1 FROM audit_purge_gate)
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
