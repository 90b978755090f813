-- How far each office has read each referral (docs/integrations.md, "Messages between offices"): the
-- id of the newest event it has seen (event ids are UUIDv7, so they order by time on
-- both backends). A message from the other office with a larger id is unread.
CREATE TABLE referral_reads (
    referral_id  UUID NOT NULL REFERENCES referrals (id),
    practice_id  UUID NOT NULL REFERENCES practices (id),
    last_seen    UUID NOT NULL,
    PRIMARY KEY (referral_id, practice_id)
);
