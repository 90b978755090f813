-- The SQLite migration of this number rewrites audit times into one canonical text
-- form. PostgreSQL stores them as timestamptz, which is canonical already.
SELECT 1;
