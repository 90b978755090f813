-- Where an office is (WGS 84 degrees), set by the office, for distance search in the
-- directory. Offices are not PHI; nothing here is sealed.
ALTER TABLE practices ADD COLUMN latitude REAL CHECK (latitude BETWEEN -90 AND 90);
ALTER TABLE practices ADD COLUMN longitude REAL CHECK (longitude BETWEEN -180 AND 180);
