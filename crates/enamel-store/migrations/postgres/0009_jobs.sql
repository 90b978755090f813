-- Durable background jobs (docs/jobs.md): one row per run of a job, claimed under a
-- lease by one worker at a time, retried with back-off, kept as a dead letter once
-- its attempts run out. Payloads hold ids and codes, never PHI.
CREATE TABLE jobs (
    id           UUID PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    -- Enqueuing the same kind and key twice makes one job (idempotency).
    key          TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_at       TIMESTAMPTZ NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    -- The claim in force: which worker, until when, and a token that fences a
    -- worker whose lease ran out from finishing a run another has taken over.
    worker       TEXT,
    lease_token  UUID,
    lease_until  TIMESTAMPTZ,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    UNIQUE (kind, key)
);

CREATE INDEX jobs_due ON jobs (state, run_at);
