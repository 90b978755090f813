-- No-show recovery (docs/no-show-recovery.md): a practice's switch and settings, a
-- run per open slot, and the offers each run makes. Nothing here identifies a
-- patient without the patients table: Enamel's ids, times, statuses and codes only;
-- the words and the address of each message are sealed in the outbox.

-- Off until an administrator turns it on: it texts patients in the practice's name.
CREATE TABLE recovery_settings (
    practice_id     BLOB PRIMARY KEY NOT NULL REFERENCES practices (id),
    enabled         INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    -- The practice's `no-show-recovery` agent, made when first turned on.
    agent_id        BLOB NOT NULL REFERENCES agents (id),
    wave_size       INTEGER NOT NULL CHECK (wave_size BETWEEN 1 AND 50),
    wave_minutes    INTEGER NOT NULL CHECK (wave_minutes BETWEEN 1 AND 120),
    cutoff_minutes  INTEGER NOT NULL CHECK (cutoff_minutes BETWEEN 0 AND 1440),
    -- Sending hours, 'HH:MM' local: offers are deferred outside them.
    send_from       TEXT NOT NULL,
    send_until      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    updated_by      TEXT NOT NULL
) STRICT;

CREATE TABLE recovery_runs (
    id               BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id      BLOB NOT NULL REFERENCES practices (id),
    -- The visit that left the slot; NULL for a slot staff picked by hand.
    appointment_id   BLOB REFERENCES appointments (id),
    provider_id      BLOB NOT NULL REFERENCES providers (id),
    operatory_id     BLOB REFERENCES operatories (id),
    type_id          BLOB REFERENCES appointment_types (id),
    starts_at        TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    -- open, filled, expired (the slot came too near), withdrawn (staff, or filled
    -- outside Enamel).
    status           TEXT NOT NULL CHECK (status IN ('open', 'filled', 'expired', 'withdrawn')),
    opened_at        TEXT NOT NULL,
    opened_by        TEXT NOT NULL,
    waves            INTEGER NOT NULL DEFAULT 0,
    next_wave_at     TEXT,
    closed_at        TEXT,
    closed_reason    TEXT,
    -- The offer that won, and the appointment it booked.
    filled_offer     BLOB,
    booked_appointment BLOB,
    -- For a practice on Open Dental: the booking written back there ('pending',
    -- 'done', 'not_in_pms' for a visit Open Dental does not have, or an error code).
    pms_writeback    TEXT
) STRICT;

-- One open run per chair time: a slot broken twice (the page and the sync) opens one.
CREATE UNIQUE INDEX recovery_runs_open_slot
    ON recovery_runs (practice_id, provider_id, starts_at) WHERE status = 'open';
-- One open run per freed visit; a visit cancelled again after its run ended opens another.
CREATE UNIQUE INDEX recovery_runs_by_appointment ON recovery_runs (appointment_id)
    WHERE status = 'open';
CREATE INDEX recovery_runs_by_practice ON recovery_runs (practice_id, opened_at);

CREATE TABLE recovery_offers (
    id              BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    run_id          BLOB NOT NULL REFERENCES recovery_runs (id),
    practice_id     BLOB NOT NULL REFERENCES practices (id),
    patient_id      BLOB NOT NULL REFERENCES patients (id),
    -- The waitlist entry it is for (removed from the list when booked).
    entry_id        BLOB NOT NULL,
    -- The appointment the entry would move, if any.
    moves_appointment BLOB,
    wave            INTEGER NOT NULL,
    -- sms or email; NULL when refused before a channel was chosen.
    channel         TEXT,
    -- deferred (quiet hours), sent, refused, confirmed, declined, withdrawn, expired.
    status          TEXT NOT NULL,
    -- Why refused, withdrawn or declined: a code.
    reason          TEXT,
    due_at          TEXT NOT NULL,
    sent_at         TEXT,
    expires_at      TEXT,
    answered_at     TEXT,
    message_id      BLOB,
    created_at      TEXT NOT NULL,
    UNIQUE (run_id, patient_id)
) STRICT;

CREATE INDEX recovery_offers_by_patient ON recovery_offers (patient_id, sent_at);
CREATE INDEX recovery_offers_due ON recovery_offers (status, due_at);

-- A patient who asked for no more offers for a waitlist entry (the need, not one slot).
ALTER TABLE waitlist ADD COLUMN offers_declined_at TEXT;
