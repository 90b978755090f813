-- Identity and access: passwords, second factors, sessions, sign-in throttling,
-- invitations, agent tokens, access reviews, break-glass grants, security alerts.
-- Secrets are stored as SHA-256 digests (tokens, codes) or Argon2id PHC strings
-- (passwords); TOTP secrets are sealed like PHI.

ALTER TABLE users ADD COLUMN password_hash TEXT;
ALTER TABLE users ADD COLUMN last_sign_in_at TIMESTAMPTZ;
ALTER TABLE practices ADD COLUMN require_mfa BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE mfa_secrets (
    id             UUID PRIMARY KEY NOT NULL REFERENCES users (id),
    practice_id    UUID REFERENCES practices (id),
    secret         BYTEA NOT NULL,
    confirmed_at   TIMESTAMPTZ,
    -- The last time step accepted, so a code cannot be used twice.
    last_step      BIGINT,
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE mfa_recovery_codes (
    user_id        UUID NOT NULL REFERENCES users (id),
    digest         BYTEA NOT NULL,
    used_at        TIMESTAMPTZ,
    PRIMARY KEY (user_id, digest)
);

CREATE TABLE sessions (
    id             UUID PRIMARY KEY NOT NULL,
    token_digest   BYTEA NOT NULL UNIQUE,
    user_id        UUID NOT NULL REFERENCES users (id),
    practice_id    UUID REFERENCES practices (id),
    -- 'password': the password was right, the second factor is still owed.
    stage          TEXT NOT NULL CHECK (stage IN ('password', 'active')),
    created_at     TIMESTAMPTZ NOT NULL,
    last_seen_at   TIMESTAMPTZ NOT NULL,
    ended_at       TIMESTAMPTZ,
    end_reason     TEXT CHECK (end_reason IN ('idle', 'absolute', 'sign_out', 'revoked',
                       'deactivated', 'second_factor')),
    ip_address     TEXT,
    user_agent     TEXT,
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);

CREATE INDEX sessions_by_user ON sessions (user_id, created_at);

-- Failed sign-ins, per account (keyed by the digest of the email typed, so unknown
-- emails are throttled exactly like known ones) and per client address.
CREATE TABLE sign_in_throttle (
    key             TEXT PRIMARY KEY NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    blocked_until   TIMESTAMPTZ,
    locked          BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE invitations (
    id             UUID PRIMARY KEY NOT NULL,
    practice_id    UUID NOT NULL REFERENCES practices (id),
    user_id        UUID NOT NULL REFERENCES users (id),
    token_digest   BYTEA NOT NULL UNIQUE,
    invited_by     UUID NOT NULL REFERENCES users (id),
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    accepted_at    TIMESTAMPTZ
);

CREATE TABLE agents (
    id             UUID PRIMARY KEY NOT NULL,
    practice_id    UUID NOT NULL REFERENCES practices (id),
    name           TEXT NOT NULL,
    created_by     UUID NOT NULL REFERENCES users (id),
    created_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (practice_id, name)
);

CREATE TABLE api_tokens (
    id             UUID PRIMARY KEY NOT NULL,
    agent_id       UUID NOT NULL REFERENCES agents (id),
    practice_id    UUID NOT NULL REFERENCES practices (id),
    token_digest   BYTEA NOT NULL UNIQUE,
    -- Space-separated policy actions.
    scopes         TEXT NOT NULL,
    created_by     UUID NOT NULL REFERENCES users (id),
    created_at     TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ,
    last_used_at   TIMESTAMPTZ
);

CREATE TABLE access_reviews (
    id             UUID PRIMARY KEY NOT NULL,
    practice_id    UUID NOT NULL REFERENCES practices (id),
    signed_off_by  UUID NOT NULL REFERENCES users (id),
    signed_off_at  TIMESTAMPTZ NOT NULL,
    accounts       INTEGER NOT NULL,
    flagged        INTEGER NOT NULL
);

CREATE TABLE break_glass_grants (
    id             UUID PRIMARY KEY NOT NULL,
    practice_id    UUID NOT NULL REFERENCES practices (id),
    user_id        UUID NOT NULL REFERENCES users (id),
    patient_id     UUID NOT NULL,
    reason_code    TEXT NOT NULL,
    -- The reason in the dentist's words, sealed like PHI (it may describe the case).
    note           BYTEA NOT NULL,
    opened_at      TIMESTAMPTZ NOT NULL,
    expires_at     TIMESTAMPTZ NOT NULL
);

CREATE INDEX break_glass_by_user ON break_glass_grants (user_id, patient_id, expires_at);

CREATE TABLE security_alerts (
    id             UUID PRIMARY KEY NOT NULL,
    practice_id    UUID NOT NULL REFERENCES practices (id),
    kind           TEXT NOT NULL CHECK (kind IN ('break_glass', 'lockout')),
    subject_id     UUID NOT NULL,
    reference_id   UUID,
    created_at     TIMESTAMPTZ NOT NULL,
    acknowledged_at TIMESTAMPTZ,
    acknowledged_by UUID REFERENCES users (id)
);

CREATE INDEX security_alerts_by_practice ON security_alerts (practice_id, created_at);
