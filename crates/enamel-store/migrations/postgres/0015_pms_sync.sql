-- A practice's connection to its practice-management system (docs/opendental.md):
-- which agent syncs it, how often, and how the last run went. The customer key is
-- in vendor_credentials, sealed; nothing here identifies a patient.
CREATE TABLE pms_connections (
    practice_id       UUID PRIMARY KEY NOT NULL REFERENCES practices (id),
    vendor            TEXT NOT NULL,
    agent_id          UUID NOT NULL REFERENCES agents (id),
    every_minutes     BIGINT NOT NULL CHECK (every_minutes BETWEEN 1 AND 1440),
    connected_at      TIMESTAMPTZ NOT NULL,
    last_started_at   TIMESTAMPTZ,
    last_finished_at  TIMESTAMPTZ,
    -- Set while a run holds the practice (one run at a time), until this instant:
    -- a run whose worker died frees the practice when it passes.
    running_until     TIMESTAMPTZ,
    -- 'ok', or an error code (never a message from the vendor).
    last_outcome      TEXT,
    -- Counts per resource and rejection reasons (field names, never values), JSON.
    last_report       TEXT
);

-- Where each list's incremental read resumes: the vendor's own server time (or the
-- newest change stamp seen), and a digest of the small lists read whole, so an
-- unchanged list is not written again.
CREATE TABLE pms_sync_marks (
    practice_id  UUID NOT NULL REFERENCES practices (id),
    resource     TEXT NOT NULL,
    watermark    TEXT,
    digest       TEXT,
    PRIMARY KEY (practice_id, resource)
);
