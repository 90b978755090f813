-- The operator's business associate agreement with each practice (docs/onboarding.md):
-- until a practice has executed it, nothing in the practice can create or import PHI.
-- One row per execution; the text is identified by its version and SHA-256 digest.
CREATE TABLE practice_agreements (
    id             UUID PRIMARY KEY,
    practice_id    UUID NOT NULL REFERENCES practices (id),
    version        TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    signer_id      UUID NOT NULL REFERENCES users (id),
    signer_name    TEXT NOT NULL,
    signer_title   TEXT NOT NULL,
    executed_at    TIMESTAMPTZ NOT NULL,
    ip_address     TEXT,
    user_agent     TEXT,
    terminated_at  TIMESTAMPTZ
);

-- At most one agreement in force per practice.
CREATE UNIQUE INDEX practice_agreements_in_force
    ON practice_agreements (practice_id) WHERE terminated_at IS NULL;
