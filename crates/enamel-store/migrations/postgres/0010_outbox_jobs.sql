-- The outbox's own lease and retry schedule give way to the jobs queue: each queued
-- message now comes with a `deliver` job keyed by the message's id (docs/jobs.md).
-- Messages still waiting when this runs get their job here, so none is lost; the
-- columns next_attempt_at and lease_until are no longer read.
INSERT INTO jobs (id, kind, key, payload, state, run_at, attempts, max_attempts, created_at)
SELECT id, 'deliver', replace(id::text, '-', ''), 'null', 'queued', now(), attempts,
       CASE WHEN attempts >= 8 THEN attempts + 1 ELSE 8 END, now()
FROM outbox WHERE status IN ('pending', 'sending')
ON CONFLICT (kind, key) DO NOTHING;
