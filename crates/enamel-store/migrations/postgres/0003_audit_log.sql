-- The tamper-evident audit log (docs/audit.md). One log per scope: a practice's id,
-- or 'platform'. Entries are append-only; the head row serializes appends to a log.

CREATE TABLE audit_heads (
    scope      TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    last_hash  BYTEA NOT NULL,
    -- The tree's right edge (JSON), so a checkpoint needs no pass over the log.
    frontier   TEXT NOT NULL
);

CREATE TABLE audit_entries (
    scope       TEXT NOT NULL,
    idx         BIGINT NOT NULL,
    -- The canonical entry: what is hashed, exported and verified.
    entry       BYTEA NOT NULL,
    leaf_hash   BYTEA NOT NULL,
    -- Copies of entry fields for queries; verification checks them against entry.
    at          TIMESTAMPTZ NOT NULL,
    action      TEXT NOT NULL,
    actor_id    TEXT,
    patient_id  UUID,
    outcome     TEXT NOT NULL,
    PRIMARY KEY (scope, idx)
);

CREATE INDEX audit_entries_by_patient ON audit_entries (scope, patient_id, idx)
    WHERE patient_id IS NOT NULL;
CREATE INDEX audit_entries_by_time ON audit_entries (scope, at);

CREATE TABLE audit_checkpoints (
    scope      TEXT NOT NULL,
    tree_size  BIGINT NOT NULL,
    root       TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    signature  TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    -- The frontier and last leaf hash at this size: where verification resumes
    -- after a retention purge.
    frontier   TEXT NOT NULL,
    last_leaf  TEXT NOT NULL,
    PRIMARY KEY (scope, tree_size)
);

-- Retention purge is the one path that deletes entries: it sets
-- enamel.audit_purge = 'on' for its own transaction (SET LOCAL).
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_entries'
       AND current_setting('enamel.audit_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit % are append-only', TG_TABLE_NAME;
END
$$;

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
