-- Practices (tenants) and the accounts of their workforce.
-- Ids are UUIDs stored as 16-byte blobs; times are RFC 3339 text in UTC.

CREATE TABLE practices (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    name           TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('general', 'endodontics', 'periodontics',
                       'oral_surgery', 'orthodontics', 'pediatric_dentistry', 'prosthodontics')),
    npi            TEXT NOT NULL UNIQUE,
    address_line1  TEXT NOT NULL,
    address_line2  TEXT,
    city           TEXT NOT NULL,
    state          TEXT NOT NULL,
    postal_code    TEXT NOT NULL,
    phone          TEXT NOT NULL,
    fax            TEXT,
    time_zone      TEXT NOT NULL,
    created_at     TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id             BLOB PRIMARY KEY NOT NULL CHECK (length(id) = 16),
    practice_id    BLOB REFERENCES practices (id),
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('practice_admin', 'dentist', 'hygienist',
                       'front_desk', 'billing', 'security_officer', 'platform_operator')),
    status         TEXT NOT NULL CHECK (status IN ('invited', 'active', 'deactivated')),
    created_at     TEXT NOT NULL,
    -- Practice roles belong to a practice; the platform operator to none.
    CHECK ((role = 'platform_operator') = (practice_id IS NULL))
) STRICT;

CREATE INDEX users_by_practice ON users (practice_id);
