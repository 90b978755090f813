-- Data keys of each practice, wrapped by the practice's key-encryption key (which
-- lives in the key provider, never here), and vendor credentials sealed under them.

ALTER TABLE practices ADD COLUMN keys_destroyed_at TEXT;

CREATE TABLE practice_keys (
    id            BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id   BLOB NOT NULL REFERENCES practices (id),
    purpose       TEXT NOT NULL CHECK (purpose IN ('data', 'index')),
    -- NULL once destroyed (crypto-shredding).
    wrapped       BLOB,
    kek_id        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    destroyed_at  TEXT,
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
) STRICT;

-- Ids are UUIDv7, so the newest key of a purpose sorts last.
CREATE INDEX practice_keys_by_practice ON practice_keys (practice_id, purpose, id);

CREATE TABLE vendor_credentials (
    id           BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id  BLOB NOT NULL REFERENCES practices (id),
    vendor       TEXT NOT NULL,
    label        TEXT NOT NULL,
    -- AES-256-GCM ciphertext bound to this row (see docs/encryption.md).
    secret       BLOB NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (practice_id, vendor, label)
) STRICT;
