-- Onboarding by the platform operator (docs/onboarding.md) and the office settings a
-- practice admin keeps.

-- An invitation made by Enamel's command line has no inviting account: the audit log
-- names the actor (`system:onboard`). SQLite cannot drop NOT NULL in place, so the
-- table is rebuilt; nothing references it.
CREATE TABLE invitations_new (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id    BLOB NOT NULL REFERENCES practices (id),
    user_id        BLOB NOT NULL REFERENCES users (id),
    token_digest   BLOB NOT NULL UNIQUE,
    invited_by     BLOB REFERENCES users (id),
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    accepted_at    TEXT
) STRICT;
INSERT INTO invitations_new (id, practice_id, user_id, token_digest, invited_by, created_at,
                             expires_at, accepted_at)
    SELECT id, practice_id, user_id, token_digest, invited_by, created_at, expires_at, accepted_at
    FROM invitations;
DROP TABLE invitations;
ALTER TABLE invitations_new RENAME TO invitations;
CREATE INDEX invitations_by_user ON invitations (user_id, created_at);

-- Office settings: the hours shown in the directory, and miles or kilometres.
ALTER TABLE practices ADD COLUMN office_hours TEXT;
ALTER TABLE practices ADD COLUMN distance_unit TEXT NOT NULL DEFAULT 'mi'
    CHECK (distance_unit IN ('mi', 'km'));

-- A portal link opens only with the patient's birth date (docs/integrations.md, "The
-- patient's page"): wrong dates are counted, and the fifth locks the link.
ALTER TABLE portal_links ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE portal_links ADD COLUMN locked_at TEXT;

-- The security officer acknowledges an alert (seen, being looked into) or closes it,
-- with a note in the officer's words, sealed like PHI (it may describe the case).
ALTER TABLE security_alerts ADD COLUMN closed_at TEXT;
ALTER TABLE security_alerts ADD COLUMN closed_by BLOB REFERENCES users (id);
ALTER TABLE security_alerts ADD COLUMN note BLOB;

-- An office invited to the network gets an email with a single-use link (its digest
-- here, 14 days); accepting it onboards the office, and the inviter sees which.
ALTER TABLE network_invitations ADD COLUMN token_digest BLOB;
ALTER TABLE network_invitations ADD COLUMN expires_at TEXT;
ALTER TABLE network_invitations ADD COLUMN accepted_at TEXT;
ALTER TABLE network_invitations ADD COLUMN joined_practice_id BLOB REFERENCES practices (id);
CREATE UNIQUE INDEX network_invitations_by_token ON network_invitations (token_digest);
