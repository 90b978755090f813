-- Backfill (a step of its own, after 0007's schema): every audit entry's `at`
-- column becomes the entry's own canonical timestamp (fixed-width RFC 3339 UTC with
-- microseconds), so that text comparison is time comparison and verification can
-- require the column to equal the entry byte for byte (docs/audit.md). Entries
-- whose bytes are not JSON keep their column; verification reports them anyway.
DROP TRIGGER audit_entries_no_update;

UPDATE audit_entries
SET at = json_extract(CAST(entry AS TEXT), '$.timestamp')
WHERE json_valid(CAST(entry AS TEXT))
  AND json_type(CAST(entry AS TEXT), '$.timestamp') = 'text'
  AND at <> json_extract(CAST(entry AS TEXT), '$.timestamp');

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
