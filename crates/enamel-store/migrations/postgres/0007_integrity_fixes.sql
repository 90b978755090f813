-- Integrity fixes (issue 14).
--
-- Every integer Enamel reads is a 64-bit number; these three columns were created
-- as 32-bit INTEGER, so reading them failed on PostgreSQL (a wrong password answered
-- 500 and was never counted toward the lockout). A test now requires every integer
-- column on PostgreSQL to be BIGINT.
ALTER TABLE sign_in_throttle ALTER COLUMN failures TYPE BIGINT;
ALTER TABLE access_reviews ALTER COLUMN accounts TYPE BIGINT, ALTER COLUMN flagged TYPE BIGINT;

-- Signed purge records (docs/audit.md, "Retention"): verification accepts a log
-- that starts after index 0 only where one of these, signed with the checkpoint key,
-- says the entries before it were removed after the retention. Append-only.
CREATE TABLE audit_purges (
    scope            TEXT NOT NULL,
    cut              BIGINT NOT NULL,
    last_removed_at  TEXT NOT NULL,
    purged_at        TEXT NOT NULL,
    signature        TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    PRIMARY KEY (scope, cut)
);

CREATE TRIGGER audit_purges_append_only BEFORE UPDATE OR DELETE ON audit_purges
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
