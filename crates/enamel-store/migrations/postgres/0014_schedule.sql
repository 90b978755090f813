-- The practice's schedule as its practice-management system keeps it (docs/schedule.md):
-- providers, operatories, appointment types, appointments, the waitlist, recall types,
-- recalls and insurance coverage, imported from a CSV export or synced from Open Dental.
--
-- What is sealed and what is clear is decided in docs/schedule.md ("What is sealed"):
-- names of staff, rooms and appointment kinds are not about patients and stay clear;
-- a patient-linked row keeps in clear only Enamel's own ids, times, durations,
-- statuses and priorities, which the agents query in bulk and which identify no one
-- without the patient's sealed fields. A PMS record number is a record number (an
-- identifier): found through a keyed hash (pms_index), sealed where Enamel writes back.

-- A patient's number in the PMS (PatNum), for idempotent imports.
ALTER TABLE patients ADD COLUMN pms_index BYTEA;
CREATE UNIQUE INDEX patients_by_pms ON patients (practice_id, pms_index);

CREATE TABLE providers (
    id           UUID PRIMARY KEY NOT NULL,
    practice_id  UUID NOT NULL REFERENCES practices (id),
    pms_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    npi          TEXT,
    is_hygienist BOOLEAN NOT NULL DEFAULT FALSE,
    hidden       BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (practice_id, pms_id)
);

CREATE TABLE operatories (
    id           UUID PRIMARY KEY NOT NULL,
    practice_id  UUID NOT NULL REFERENCES practices (id),
    pms_id       TEXT NOT NULL,
    name         TEXT NOT NULL,
    hidden       BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (practice_id, pms_id)
);

CREATE TABLE appointment_types (
    id               UUID PRIMARY KEY NOT NULL,
    practice_id      UUID NOT NULL REFERENCES practices (id),
    pms_id           TEXT NOT NULL,
    name             TEXT NOT NULL,
    -- CDT codes, comma-separated: what a kind of visit is, not anyone's treatment.
    cdt_codes        TEXT NOT NULL,
    duration_minutes BIGINT NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (practice_id, pms_id)
);

CREATE TABLE appointments (
    id                 UUID PRIMARY KEY NOT NULL,
    practice_id        UUID NOT NULL REFERENCES practices (id),
    patient_id         UUID NOT NULL REFERENCES patients (id),
    provider_id        UUID NOT NULL REFERENCES providers (id),
    operatory_id       UUID REFERENCES operatories (id),
    type_id            UUID REFERENCES appointment_types (id),
    starts_at          TIMESTAMPTZ NOT NULL,
    duration_minutes   BIGINT NOT NULL,
    status             TEXT NOT NULL,
    status_changed_at  TIMESTAMPTZ NOT NULL,
    -- The audit id of whoever changed the status (a user, an agent, "enamel").
    status_changed_by  TEXT NOT NULL,
    -- Procedures planned for this visit (CDT codes), sealed: clinical.
    procedures         BYTEA,
    note               BYTEA,
    pms_index          BYTEA,
    pms_id             BYTEA,
    updated_at         TIMESTAMPTZ NOT NULL
);

CREATE INDEX appointments_by_start ON appointments (practice_id, starts_at);
CREATE INDEX appointments_by_patient ON appointments (patient_id, starts_at);
CREATE UNIQUE INDEX appointments_by_pms ON appointments (practice_id, pms_index);

CREATE TABLE waitlist (
    id                 UUID PRIMARY KEY NOT NULL,
    practice_id        UUID NOT NULL REFERENCES practices (id),
    patient_id         UUID NOT NULL REFERENCES patients (id),
    type_id            UUID REFERENCES appointment_types (id),
    duration_minutes   BIGINT NOT NULL,
    -- NULL: any provider.
    provider_id        UUID REFERENCES providers (id),
    earliest           DATE,
    latest             DATE,
    -- Bit masks: days Monday = 1 … Sunday = 64; times morning 1, afternoon 2, evening 4.
    days               BIGINT NOT NULL,
    times              BIGINT NOT NULL,
    -- 1 is the most urgent.
    priority           BIGINT NOT NULL,
    joined_at          TIMESTAMPTZ NOT NULL,
    -- The booked appointment the patient would like moved earlier, if any.
    moves_appointment  UUID REFERENCES appointments (id),
    note               BYTEA,
    pms_index          BYTEA,
    updated_at         TIMESTAMPTZ NOT NULL
);

CREATE INDEX waitlist_by_priority ON waitlist (practice_id, priority, joined_at);
CREATE UNIQUE INDEX waitlist_by_pms ON waitlist (practice_id, pms_index);

CREATE TABLE recall_types (
    id              UUID PRIMARY KEY NOT NULL,
    practice_id     UUID NOT NULL REFERENCES practices (id),
    pms_id          TEXT NOT NULL,
    name            TEXT NOT NULL,
    trigger_codes   TEXT NOT NULL,
    -- Open Dental's notation: 6m1d.
    interval_text   TEXT NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (practice_id, pms_id)
);

CREATE TABLE recalls (
    id              UUID PRIMARY KEY NOT NULL,
    practice_id     UUID NOT NULL REFERENCES practices (id),
    patient_id      UUID NOT NULL REFERENCES patients (id),
    type_id         UUID NOT NULL REFERENCES recall_types (id),
    previous_date   DATE,
    manual_due      DATE,
    -- Computed from previous_date and the type's interval, or manual_due; NULL when
    -- disabled for good. Kept to find due and overdue recalls in one indexed query.
    due_date        DATE,
    disabled_until  DATE,
    disabled        BOOLEAN NOT NULL DEFAULT FALSE,
    pms_index       BYTEA,
    pms_id          BYTEA,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (patient_id, type_id)
);

CREATE INDEX recalls_by_due ON recalls (practice_id, due_date);
CREATE UNIQUE INDEX recalls_by_pms ON recalls (practice_id, pms_index);

CREATE TABLE coverages (
    id              UUID PRIMARY KEY NOT NULL,
    practice_id     UUID NOT NULL REFERENCES practices (id),
    patient_id      UUID NOT NULL REFERENCES patients (id),
    -- 1 primary, 2 secondary.
    ordinal         BIGINT NOT NULL,
    payer_id        TEXT NOT NULL,
    payer_name      TEXT NOT NULL,
    relationship    TEXT NOT NULL,
    -- Member id and group number, sealed together.
    membership      BYTEA NOT NULL,
    pms_index       BYTEA,
    updated_at      TIMESTAMPTZ NOT NULL,
    UNIQUE (patient_id, ordinal)
);

CREATE UNIQUE INDEX coverages_by_pms ON coverages (practice_id, pms_index);
