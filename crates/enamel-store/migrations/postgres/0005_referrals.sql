-- The referral network: the directory, patients, referrals with their timeline and
-- attachments, the BAA registry, the notification outbox and patient portal links.
-- Every PHI column is AES-256-GCM ciphertext bound to its row (docs/encryption.md),
-- sealed under the key of the practice in the row's practice_id; equality search
-- uses keyed blind indexes. Plain columns hold ids, states, codes and times only.

ALTER TABLE practices ADD COLUMN listed BOOLEAN NOT NULL DEFAULT TRUE;
-- Where the office hears about its referrals (an office address, not a patient's).
ALTER TABLE practices ADD COLUMN notify_email TEXT;
ALTER TABLE practices ADD COLUMN notify_channel TEXT NOT NULL DEFAULT 'email'
    CHECK (notify_channel IN ('email', 'sms', 'fax'));

CREATE TABLE patients (
    id               UUID PRIMARY KEY NOT NULL,
    practice_id      UUID NOT NULL REFERENCES practices (id),
    name             BYTEA NOT NULL,
    birth_date       BYTEA NOT NULL,
    contact          BYTEA NOT NULL,
    insurance        BYTEA,
    name_birth_index BYTEA NOT NULL,
    last_name_index  BYTEA NOT NULL,
    phone_index      BYTEA,
    email_index      BYTEA,
    restricted       BOOLEAN NOT NULL DEFAULT FALSE,
    sms_opt_out      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);

CREATE INDEX patients_by_name_birth ON patients (practice_id, name_birth_index);
CREATE INDEX patients_by_last_name ON patients (practice_id, last_name_index);
CREATE INDEX patients_by_phone ON patients (phone_index);
CREATE INDEX patients_by_email ON patients (practice_id, email_index);

CREATE TABLE referrals (
    id                    UUID PRIMARY KEY NOT NULL,
    -- The referring practice: its key seals `clinical` and `appointment`.
    practice_id           UUID NOT NULL REFERENCES practices (id),
    receiving_practice_id UUID NOT NULL REFERENCES practices (id),
    patient_id            UUID NOT NULL REFERENCES patients (id),
    status                TEXT NOT NULL CHECK (status IN ('draft', 'sent', 'received', 'accepted',
                              'declined', 'scheduled', 'completed', 'report_sent', 'closed',
                              'cancelled')),
    urgency               TEXT NOT NULL CHECK (urgency IN ('routine', 'soon', 'urgent')),
    clinical              BYTEA NOT NULL,
    appointment           BYTEA,
    created_by            UUID NOT NULL REFERENCES users (id),
    created_at            TIMESTAMPTZ NOT NULL,
    sent_at               TIMESTAMPTZ,
    updated_at            TIMESTAMPTZ NOT NULL,
    not_responding_at     TIMESTAMPTZ,
    CHECK (practice_id <> receiving_practice_id)
);

CREATE INDEX referrals_by_referrer ON referrals (practice_id, status, updated_at);
CREATE INDEX referrals_by_receiver ON referrals (receiving_practice_id, status, updated_at);

-- The timeline: every step and every message. `note` (a decline reason, a message,
-- a report, an appointment) is sealed under the key of the acting practice.
CREATE TABLE referral_events (
    id           UUID PRIMARY KEY NOT NULL,
    referral_id  UUID NOT NULL REFERENCES referrals (id),
    practice_id  UUID NOT NULL REFERENCES practices (id),
    kind         TEXT NOT NULL,
    actor_id     UUID,
    at           TIMESTAMPTZ NOT NULL,
    note         BYTEA
);

CREATE INDEX referral_events_by_referral ON referral_events (referral_id, id);

CREATE TABLE attachments (
    id            UUID PRIMARY KEY NOT NULL,
    referral_id   UUID NOT NULL REFERENCES referrals (id),
    -- The uploading practice: its data key wraps the file key.
    practice_id   UUID NOT NULL REFERENCES practices (id),
    purpose       TEXT NOT NULL CHECK (purpose IN ('referral', 'report')),
    media_type    TEXT NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png',
                      'application/pdf', 'application/dicom')),
    file_name     BYTEA NOT NULL,
    size          BIGINT NOT NULL,
    object_key    TEXT NOT NULL UNIQUE,
    uploaded_by   UUID NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX attachments_by_referral ON attachments (referral_id);

-- The BAA registry: each practice's vendors and the state of its agreement with them.
CREATE TABLE vendors (
    id            UUID PRIMARY KEY NOT NULL,
    practice_id   UUID NOT NULL REFERENCES practices (id),
    name          TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    services      TEXT NOT NULL,
    baa_status    TEXT NOT NULL CHECK (baa_status IN ('none', 'pending', 'executed', 'terminated')),
    executed_on   DATE,
    expires_on    DATE,
    document_ref  TEXT,
    updated_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (practice_id, name)
);

-- The notification outbox: written in the transaction of the change it reports,
-- sent by a background worker with retries; the idempotency key makes a retried
-- enqueue a no-op. Recipient and message are sealed.
CREATE TABLE outbox (
    id               UUID PRIMARY KEY NOT NULL,
    practice_id      UUID NOT NULL REFERENCES practices (id),
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'fax')),
    audience         TEXT NOT NULL CHECK (audience IN ('office', 'patient')),
    kind             TEXT NOT NULL,
    patient_id       UUID,
    referral_id      UUID,
    recipient        BYTEA NOT NULL,
    message          BYTEA NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'refused')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL,
    lease_until      TIMESTAMPTZ,
    last_error       TEXT,
    vendor           TEXT,
    provider_id      TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    sent_at          TIMESTAMPTZ
);

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_patient ON outbox (patient_id, created_at);

-- Links sent to a patient to follow their referral; the link itself is HMAC-signed,
-- this row makes it single use.
CREATE TABLE portal_links (
    id           UUID PRIMARY KEY NOT NULL,
    practice_id  UUID NOT NULL REFERENCES practices (id),
    referral_id  UUID NOT NULL REFERENCES referrals (id),
    created_by   UUID,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    used_at      TIMESTAMPTZ
);

CREATE TABLE portal_sessions (
    id            UUID PRIMARY KEY NOT NULL,
    token_digest  BYTEA NOT NULL UNIQUE,
    link_id       UUID NOT NULL REFERENCES portal_links (id),
    referral_id   UUID NOT NULL REFERENCES referrals (id),
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL
);

-- A specialist office invited to join Enamel. No PHI: an office's name and email.
CREATE TABLE network_invitations (
    id           UUID PRIMARY KEY NOT NULL,
    practice_id  UUID NOT NULL REFERENCES practices (id),
    invited_by   UUID NOT NULL REFERENCES users (id),
    office_name  TEXT NOT NULL,
    email        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
