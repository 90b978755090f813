-- Durable background jobs (docs/jobs.md): one row per run of a job, claimed under a
-- lease by one worker at a time, retried with back-off, kept as a dead letter once
-- its attempts run out. Payloads hold ids and codes, never PHI.
CREATE TABLE jobs (
    id           BLOB PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    -- Enqueuing the same kind and key twice makes one job (idempotency).
    key          TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_at       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    -- The claim in force: which worker, until when, and a token that fences a
    -- worker whose lease ran out from finishing a run another has taken over.
    worker       TEXT,
    lease_token  BLOB,
    lease_until  TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL,
    finished_at  TEXT,
    UNIQUE (kind, key)
) STRICT;

CREATE INDEX jobs_due ON jobs (state, run_at);
