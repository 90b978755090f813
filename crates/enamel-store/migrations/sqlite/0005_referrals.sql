-- The referral network: the directory, patients, referrals with their timeline and
-- attachments, the BAA registry, the notification outbox and patient portal links.
-- Every PHI column is AES-256-GCM ciphertext bound to its row (docs/encryption.md),
-- sealed under the key of the practice in the row's practice_id; equality search
-- uses keyed blind indexes. Plain columns hold ids, states, codes and times only.

ALTER TABLE practices ADD COLUMN listed INTEGER NOT NULL DEFAULT 1 CHECK (listed IN (0, 1));
-- Where the office hears about its referrals (an office address, not a patient's).
ALTER TABLE practices ADD COLUMN notify_email TEXT;
ALTER TABLE practices ADD COLUMN notify_channel TEXT NOT NULL DEFAULT 'email'
    CHECK (notify_channel IN ('email', 'sms', 'fax'));

CREATE TABLE patients (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id      BLOB NOT NULL REFERENCES practices (id),
    name             BLOB NOT NULL,
    birth_date       BLOB NOT NULL,
    contact          BLOB NOT NULL,
    insurance        BLOB,
    name_birth_index BLOB NOT NULL,
    last_name_index  BLOB NOT NULL,
    phone_index      BLOB,
    email_index      BLOB,
    restricted       INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1)),
    sms_opt_out      INTEGER NOT NULL DEFAULT 0 CHECK (sms_opt_out IN (0, 1)),
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;

CREATE INDEX patients_by_name_birth ON patients (practice_id, name_birth_index);
CREATE INDEX patients_by_last_name ON patients (practice_id, last_name_index);
CREATE INDEX patients_by_phone ON patients (phone_index);
CREATE INDEX patients_by_email ON patients (practice_id, email_index);

CREATE TABLE referrals (
    id                    BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    -- The referring practice: its key seals `clinical` and `appointment`.
    practice_id           BLOB NOT NULL REFERENCES practices (id),
    receiving_practice_id BLOB NOT NULL REFERENCES practices (id),
    patient_id            BLOB NOT NULL REFERENCES patients (id),
    status                TEXT NOT NULL CHECK (status IN ('draft', 'sent', 'received', 'accepted',
                              'declined', 'scheduled', 'completed', 'report_sent', 'closed',
                              'cancelled')),
    urgency               TEXT NOT NULL CHECK (urgency IN ('routine', 'soon', 'urgent')),
    clinical              BLOB NOT NULL,
    appointment           BLOB,
    created_by            BLOB NOT NULL REFERENCES users (id),
    created_at            TEXT NOT NULL,
    sent_at               TEXT,
    updated_at            TEXT NOT NULL,
    not_responding_at     TEXT,
    CHECK (practice_id <> receiving_practice_id)
) STRICT;

CREATE INDEX referrals_by_referrer ON referrals (practice_id, status, updated_at);
CREATE INDEX referrals_by_receiver ON referrals (receiving_practice_id, status, updated_at);

-- The timeline: every step and every message. `note` (a decline reason, a message,
-- a report, an appointment) is sealed under the key of the acting practice.
CREATE TABLE referral_events (
    id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    referral_id  BLOB NOT NULL REFERENCES referrals (id),
    practice_id  BLOB NOT NULL REFERENCES practices (id),
    kind         TEXT NOT NULL,
    actor_id     BLOB,
    at           TEXT NOT NULL,
    note         BLOB
) STRICT;

CREATE INDEX referral_events_by_referral ON referral_events (referral_id, id);

CREATE TABLE attachments (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    referral_id   BLOB NOT NULL REFERENCES referrals (id),
    -- The uploading practice: its data key wraps the file key.
    practice_id   BLOB NOT NULL REFERENCES practices (id),
    purpose       TEXT NOT NULL CHECK (purpose IN ('referral', 'report')),
    media_type    TEXT NOT NULL CHECK (media_type IN ('image/jpeg', 'image/png',
                      'application/pdf', 'application/dicom')),
    file_name     BLOB NOT NULL,
    size          INTEGER NOT NULL,
    object_key    TEXT NOT NULL UNIQUE,
    uploaded_by   BLOB NOT NULL,
    created_at    TEXT NOT NULL
) STRICT;

CREATE INDEX attachments_by_referral ON attachments (referral_id);

-- The BAA registry: each practice's vendors and the state of its agreement with them.
CREATE TABLE vendors (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id   BLOB NOT NULL REFERENCES practices (id),
    name          TEXT NOT NULL,
    display_name  TEXT NOT NULL,
    services      TEXT NOT NULL,
    baa_status    TEXT NOT NULL CHECK (baa_status IN ('none', 'pending', 'executed', 'terminated')),
    executed_on   TEXT,
    expires_on    TEXT,
    document_ref  TEXT,
    updated_at    TEXT NOT NULL,
    UNIQUE (practice_id, name)
) STRICT;

-- The notification outbox: written in the transaction of the change it reports,
-- sent by a background worker with retries; the idempotency key makes a retried
-- enqueue a no-op. Recipient and message are sealed.
CREATE TABLE outbox (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id      BLOB NOT NULL REFERENCES practices (id),
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'fax')),
    audience         TEXT NOT NULL CHECK (audience IN ('office', 'patient')),
    kind             TEXT NOT NULL,
    patient_id       BLOB,
    referral_id      BLOB,
    recipient        BLOB NOT NULL,
    message          BLOB NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'refused')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    lease_until      TEXT,
    last_error       TEXT,
    vendor           TEXT,
    provider_id      TEXT,
    created_at       TEXT NOT NULL,
    sent_at          TEXT
) STRICT;

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_patient ON outbox (patient_id, created_at);

-- Links sent to a patient to follow their referral; the link itself is HMAC-signed,
-- this row makes it single use.
CREATE TABLE portal_links (
    id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id  BLOB NOT NULL REFERENCES practices (id),
    referral_id  BLOB NOT NULL REFERENCES referrals (id),
    created_by   BLOB,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
) STRICT;

CREATE TABLE portal_sessions (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    token_digest  BLOB NOT NULL UNIQUE,
    link_id       BLOB NOT NULL REFERENCES portal_links (id),
    referral_id   BLOB NOT NULL REFERENCES referrals (id),
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
) STRICT;

-- A specialist office invited to join Enamel. No PHI: an office's name and email.
CREATE TABLE network_invitations (
    id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id  BLOB NOT NULL REFERENCES practices (id),
    invited_by   BLOB NOT NULL REFERENCES users (id),
    office_name  TEXT NOT NULL,
    email        TEXT NOT NULL,
    created_at   TEXT NOT NULL
) STRICT;
