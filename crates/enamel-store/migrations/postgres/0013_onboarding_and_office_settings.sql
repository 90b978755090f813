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
