-- Onboarding by the platform operator (docs/onboarding.md) and the office settings a
-- practice admin keeps.

-- An invitation made by Enamel's command line has no inviting account: the audit log
-- names the actor (`system:onboard`).
ALTER TABLE invitations ALTER COLUMN invited_by DROP NOT NULL;
CREATE INDEX invitations_by_user ON invitations (user_id, created_at);

-- Office settings: the hours shown in the directory, and miles or kilometres.
ALTER TABLE practices ADD COLUMN office_hours TEXT;
ALTER TABLE practices ADD COLUMN distance_unit TEXT NOT NULL DEFAULT 'mi'
    CHECK (distance_unit IN ('mi', 'km'));

-- A portal link opens only with the patient's birth date (docs/integrations.md, "The
-- patient's page"): wrong dates are counted, and the fifth locks the link.
ALTER TABLE portal_links ADD COLUMN failed_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE portal_links ADD COLUMN locked_at TIMESTAMPTZ;

-- The security officer acknowledges an alert (seen, being looked into) or closes it,
-- with a note in the officer's words, sealed like PHI (it may describe the case).
ALTER TABLE security_alerts ADD COLUMN closed_at TIMESTAMPTZ;
ALTER TABLE security_alerts ADD COLUMN closed_by UUID REFERENCES users (id);
ALTER TABLE security_alerts ADD COLUMN note BYTEA;

-- An office invited to the network gets an email with a single-use link (its digest
-- here, 14 days); accepting it onboards the office, and the inviter sees which.
ALTER TABLE network_invitations ADD COLUMN token_digest BYTEA;
ALTER TABLE network_invitations ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE network_invitations ADD COLUMN accepted_at TIMESTAMPTZ;
ALTER TABLE network_invitations ADD COLUMN joined_practice_id UUID REFERENCES practices (id);
CREATE UNIQUE INDEX network_invitations_by_token ON network_invitations (token_digest);
