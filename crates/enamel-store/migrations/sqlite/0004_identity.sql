-- Identity and access: passwords, second factors, sessions, sign-in throttling,
-- invitations, agent tokens, access reviews, break-glass grants, security alerts.
-- Secrets are stored as SHA-256 digests (tokens, codes) or Argon2id PHC strings
-- (passwords); TOTP secrets are sealed like PHI.

ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN last_sign_in_at TEXT;
ALTER TABLE practices ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0 CHECK (require_mfa IN (0, 1));

CREATE TABLE mfa_secrets (
    id             BLOB PRIMARY KEY NOT NULL REFERENCES users (id),
    practice_id    BLOB REFERENCES practices (id),
    secret         BLOB NOT NULL,
    confirmed_at   TEXT,
    -- The last time step accepted, so a code cannot be used twice.
    last_step      INTEGER,
    created_at     TEXT NOT NULL
) STRICT;

CREATE TABLE mfa_recovery_codes (
    user_id        BLOB NOT NULL REFERENCES users (id),
    digest         BLOB NOT NULL,
    used_at        TEXT,
    PRIMARY KEY (user_id, digest)
) STRICT;

CREATE TABLE sessions (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    token_digest   BLOB NOT NULL UNIQUE,
    user_id        BLOB NOT NULL REFERENCES users (id),
    practice_id    BLOB REFERENCES practices (id),
    -- 'password': the password was right, the second factor is still owed.
    stage          TEXT NOT NULL CHECK (stage IN ('password', 'active')),
    created_at     TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    ended_at       TEXT,
    end_reason     TEXT CHECK (end_reason IN ('idle', 'absolute', 'sign_out', 'revoked',
                       'deactivated', 'second_factor')),
    ip_address     TEXT,
    user_agent     TEXT,
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
) STRICT;

CREATE INDEX sessions_by_user ON sessions (user_id, created_at);

-- Failed sign-ins, per account (keyed by the digest of the email typed, so unknown
-- emails are throttled exactly like known ones) and per client address.
CREATE TABLE sign_in_throttle (
    key             TEXT PRIMARY KEY NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at TEXT NOT NULL,
    blocked_until   TEXT,
    locked          INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1))
) STRICT;

CREATE TABLE invitations (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id    BLOB NOT NULL REFERENCES practices (id),
    user_id        BLOB NOT NULL REFERENCES users (id),
    token_digest   BLOB NOT NULL UNIQUE,
    invited_by     BLOB NOT NULL REFERENCES users (id),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    accepted_at    TEXT
) STRICT;

CREATE TABLE agents (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id    BLOB NOT NULL REFERENCES practices (id),
    name           TEXT NOT NULL,
    created_by     BLOB NOT NULL REFERENCES users (id),
    created_at     TEXT NOT NULL,
    UNIQUE (practice_id, name)
) STRICT;

CREATE TABLE api_tokens (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    agent_id       BLOB NOT NULL REFERENCES agents (id),
    practice_id    BLOB NOT NULL REFERENCES practices (id),
    token_digest   BLOB NOT NULL UNIQUE,
    -- Space-separated policy actions.
    scopes         TEXT NOT NULL,
    created_by     BLOB NOT NULL REFERENCES users (id),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    revoked_at     TEXT,
    last_used_at   TEXT
) STRICT;

CREATE TABLE access_reviews (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id    BLOB NOT NULL REFERENCES practices (id),
    signed_off_by  BLOB NOT NULL REFERENCES users (id),
    signed_off_at  TEXT NOT NULL,
    accounts       INTEGER NOT NULL,
    flagged        INTEGER NOT NULL
) STRICT;

CREATE TABLE break_glass_grants (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id    BLOB NOT NULL REFERENCES practices (id),
    user_id        BLOB NOT NULL REFERENCES users (id),
    patient_id     BLOB NOT NULL,
    reason_code    TEXT NOT NULL,
    -- The reason in the dentist's words, sealed like PHI (it may describe the case).
    note           BLOB NOT NULL,
    opened_at      TEXT NOT NULL,
    expires_at     TEXT NOT NULL
) STRICT;

CREATE INDEX break_glass_by_user ON break_glass_grants (user_id, patient_id, expires_at);

CREATE TABLE security_alerts (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id    BLOB NOT NULL REFERENCES practices (id),
    kind           TEXT NOT NULL CHECK (kind IN ('break_glass', 'lockout')),
    subject_id     BLOB NOT NULL,
    reference_id   BLOB,
    created_at     TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by BLOB REFERENCES users (id)
) STRICT;

CREATE INDEX security_alerts_by_practice ON security_alerts (practice_id, created_at);
