-- Practices (tenants) and the accounts of their workforce.

CREATE TABLE practices (
    id             UUID PRIMARY KEY,
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
    created_at     TIMESTAMPTZ NOT NULL
);

CREATE TABLE users (
    id             UUID PRIMARY KEY,
    practice_id    UUID REFERENCES practices (id),
    email          TEXT NOT NULL UNIQUE,
    display_name   TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('practice_admin', 'dentist', 'hygienist',
                       'front_desk', 'billing', 'security_officer', 'platform_operator')),
    status         TEXT NOT NULL CHECK (status IN ('invited', 'active', 'deactivated')),
    created_at     TIMESTAMPTZ NOT NULL,
    -- Practice roles belong to a practice; the platform operator to none.
    CHECK ((role = 'platform_operator') = (practice_id IS NULL))
);

CREATE INDEX users_by_practice ON users (practice_id);
