-- The audit log's query indexes leave the append path (docs/audit.md, "Query
-- index"). An append writes its entry keyed by (scope, idx) and nothing else
-- indexed; a background indexer copies the query columns into audit_index in
-- batches sorted for locality and moves the log's watermark. A query reads the
-- index below the watermark and scans the entries at or above it.

DROP INDEX audit_entries_by_patient;
DROP INDEX audit_entries_by_time;

-- Derived data: rebuilt from the entries by `enamel audit reindex`.
CREATE TABLE audit_index (
    scope       TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor_id    TEXT,
    patient_id  BLOB,
    outcome     TEXT NOT NULL,
    PRIMARY KEY (scope, idx)
) STRICT, WITHOUT ROWID;

CREATE INDEX audit_index_by_patient ON audit_index (scope, patient_id, idx)
    WHERE patient_id IS NOT NULL;
CREATE INDEX audit_index_by_actor ON audit_index (scope, actor_id, idx);
CREATE INDEX audit_index_by_action ON audit_index (scope, action, idx);
CREATE INDEX audit_index_by_outcome ON audit_index (scope, outcome, idx);
CREATE INDEX audit_index_by_time ON audit_index (scope, at);

-- Per log, the index holds every entry below `indexed_to`.
CREATE TABLE audit_index_marks (
    scope       TEXT PRIMARY KEY NOT NULL,
    indexed_to  INTEGER NOT NULL
) STRICT;

-- Only the indexer writes the index: no row is updated, and rows and watermarks
-- are deleted only through the purge path (a retention purge, `audit reindex`),
-- which opens audit_purge_gate in its own transaction. A watermark only moves
-- forward. As for the entries, this stops mistakes and application bugs; the
-- index is checked against the entries by `enamel audit verify`.
CREATE TRIGGER audit_index_no_update BEFORE UPDATE ON audit_index
BEGIN SELECT RAISE(ABORT, 'the audit index is written only by its indexer'); END;

CREATE TRIGGER audit_index_no_delete BEFORE DELETE ON audit_index
WHEN NOT EXISTS (SELECT 1 FROM audit_purge_gate)
BEGIN SELECT RAISE(ABORT, 'the audit index is written only by its indexer'); END;

CREATE TRIGGER audit_index_marks_forward BEFORE UPDATE ON audit_index_marks
WHEN NEW.scope <> OLD.scope OR NEW.indexed_to < OLD.indexed_to
BEGIN SELECT RAISE(ABORT, 'an audit index watermark only moves forward'); END;

CREATE TRIGGER audit_index_marks_no_delete BEFORE DELETE ON audit_index_marks
WHEN NOT EXISTS (SELECT 1 FROM audit_purge_gate)
BEGIN SELECT RAISE(ABORT, 'an audit index watermark only moves forward'); END;

INSERT INTO audit_index (scope, idx, at, action, actor_id, patient_id, outcome)
    SELECT scope, idx, at, action, actor_id, patient_id, outcome FROM audit_entries;
INSERT INTO audit_index_marks (scope, indexed_to)
    SELECT scope, MAX(idx) + 1 FROM audit_entries GROUP BY scope;
