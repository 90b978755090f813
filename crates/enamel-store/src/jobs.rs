//! Durable background jobs: the queue every background worker takes its work from
//! (docs/jobs.md).
//!
//! A job is a row: a kind, an idempotency key (enqueuing the same kind and key again
//! makes no second job), a payload of ids and codes (never PHI), and when it may run.
//! A worker claims due jobs under a lease in one statement (PostgreSQL skips rows
//! another worker holds; SQLite has one writer at a time), so two workers never run
//! the same job at once; a worker that dies holding a job (`kill -9`) loses it when
//! its lease runs out and another takes it over. Each claim carries a fresh token,
//! and finishing a run requires it, so a worker whose lease ran out cannot mark done
//! (or failed) a run that another worker has taken over. A failed run is retried
//! with back-off until its attempts run out; then it stays as a dead letter for the
//! operator.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Outcome, ResourceType};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::audit::AuditTime;
use crate::db::{Tx, on_pool, on_tx};
use crate::scoped::authorize::AuditedAs;
use crate::{Store, StoreError};

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    /// What runs it: a stable code (`deliver`, `checkpoint`, `flag_not_responding`).
    pub kind: String,
    /// Enqueuing the same kind and key again makes no second job.
    pub key: String,
    /// Ids and codes for the run (JSON); never PHI.
    pub payload: serde_json::Value,
    /// Not before.
    pub run_at: OffsetDateTime,
    /// Runs before it is given up as a dead letter.
    pub max_attempts: u32,
}

/// A claimed job, to run now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: Uuid,
    pub kind: String,
    pub key: String,
    pub payload: serde_json::Value,
    /// This run's number, from 1.
    pub attempt: u32,
    pub max_attempts: u32,
    /// The claim's token: finishing the run requires it.
    pub lease_token: Uuid,
}

/// A job as the operator sees it (no payload: ids only, but nothing to show either).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobStatus {
    pub id: Uuid,
    pub kind: String,
    pub key: String,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub run_at: OffsetDateTime,
    /// The worker holding it, while it runs.
    pub worker: Option<String>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    /// Done.
    Done,
    /// The claim was lost (its lease ran out and another worker took the job): this
    /// run's outcome was not recorded.
    LeaseLost,
    /// To run again at this time.
    Retrying(OffsetDateTime),
    /// Out of attempts: kept as a dead letter.
    Dead,
}

/// The jobs queue of a store; see [`Store::jobs`].
#[derive(Debug)]
pub struct Jobs<'a> {
    store: &'a Store,
}

type ClaimedRow = (Uuid, String, String, String, i64, i64);

/// Enqueues `job` inside the open transaction `tx`, so it exists exactly when the
/// write that needs it commits; `None` when a job of this kind and key exists
/// already.
pub(crate) async fn enqueue_in_tx(
    tx: &mut Tx,
    job: &NewJob,
    now: OffsetDateTime,
) -> anyhow::Result<Option<Uuid>> {
    let id = Uuid::now_v7();
    let payload = serde_json::to_string(&job.payload).context("encoding a job's payload")?;
    let inserted = on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO jobs (id, kind, key, payload, state, run_at, max_attempts, created_at) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7) ON CONFLICT (kind, key) DO NOTHING",
        )
        .bind(id)
        .bind(&job.kind)
        .bind(&job.key)
        .bind(&payload)
        .bind(AuditTime(job.run_at))
        .bind(i64::from(job.max_attempts.max(1)))
        .bind(AuditTime(now))
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    Ok((inserted == 1).then_some(id))
}

impl Store {
    /// The durable jobs queue.
    #[must_use]
    pub const fn jobs(&self) -> Jobs<'_> {
        Jobs { store: self }
    }
}

impl Jobs<'_> {
    /// Enqueues a job; `None` when a job of this kind and key exists already.
    pub async fn enqueue(&self, job: &NewJob) -> Result<Option<Uuid>, StoreError> {
        let write = async {
            let mut tx = self.store.begin().await?;
            let id = enqueue_in_tx(&mut tx, job, self.store.now()).await?;
            tx.commit().await?;
            Ok::<_, anyhow::Error>(id)
        };
        Ok(write.await.context("enqueuing a job")?)
    }

    /// Claims up to `limit` due jobs of `kinds` for `worker` until `lease` from now:
    /// queued jobs whose time has come, and running jobs whose lease ran out (their
    /// worker died).
    pub async fn claim(
        &self,
        worker: &str,
        kinds: &[&str],
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.store.now();
        let token = Uuid::now_v7();
        let skip_locked = match self.store.backend() {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let rows: Vec<ClaimedRow> = on_pool!(&self.store.db, pool => {
            let mut query = sqlx::QueryBuilder::new(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ",
            );
            query
                .push_bind(worker)
                .push(", lease_token = ")
                .push_bind(token)
                .push(", lease_until = ")
                .push_bind(AuditTime(now + lease))
                .push(" WHERE id IN (SELECT id FROM jobs WHERE kind IN (");
            let mut list = query.separated(", ");
            for kind in kinds {
                list.push_bind(*kind);
            }
            query
                .push(") AND ((state = 'queued' AND run_at <= ")
                .push_bind(AuditTime(now))
                .push(") OR (state = 'running' AND lease_until <= ")
                .push_bind(AuditTime(now))
                .push(")) ORDER BY run_at LIMIT ")
                .push_bind(i64::from(limit))
                .push(skip_locked)
                .push(") RETURNING id, kind, key, payload, attempts, max_attempts");
            query.build_query_as::<ClaimedRow>().fetch_all(pool).await
        })
        .context("claiming jobs")?;
        rows.into_iter()
            .map(|(id, kind, key, payload, attempts, max_attempts)| {
                Ok(ClaimedJob {
                    id,
                    kind,
                    key,
                    payload: serde_json::from_str(&payload).context("reading a job's payload")?,
                    attempt: u32::try_from(attempts).unwrap_or(u32::MAX),
                    max_attempts: u32::try_from(max_attempts).unwrap_or(u32::MAX),
                    lease_token: token,
                })
            })
            .collect()
    }

    /// Records that the run of `job` succeeded.
    pub async fn done(&self, job: &ClaimedJob) -> Result<Finished, StoreError> {
        self.finish(job, "done", None, None).await
    }

    /// Records that the run of `job` failed with `error` (a code, never PHI): it runs
    /// again after a back-off that doubles with each attempt (`first_retry`, then
    /// twice that, ... at most an hour), or becomes a dead letter when its attempts
    /// are used up.
    pub async fn failed(
        &self,
        job: &ClaimedJob,
        error: &str,
        first_retry: Duration,
    ) -> Result<Finished, StoreError> {
        if job.attempt >= job.max_attempts {
            return self.finish(job, "dead", Some(error), None).await;
        }
        let doublings = job.attempt.saturating_sub(1).min(16);
        let delay = (first_retry * 2_i32.pow(doublings)).min(Duration::hours(1));
        let at = self.store.now() + delay;
        self.finish(job, "queued", Some(error), Some(at)).await
    }

    async fn finish(
        &self,
        job: &ClaimedJob,
        state: &str,
        error: Option<&str>,
        run_at: Option<OffsetDateTime>,
    ) -> Result<Finished, StoreError> {
        let now = self.store.now();
        let finished_at = matches!(state, "done" | "dead").then_some(AuditTime(now));
        let updated = on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE jobs SET state = $3, last_error = $4, run_at = COALESCE($5, run_at), \
                 finished_at = $6, worker = NULL, lease_token = NULL, lease_until = NULL \
                 WHERE id = $1 AND lease_token = $2 AND state = 'running'",
            )
            .bind(job.id)
            .bind(job.lease_token)
            .bind(state)
            .bind(error)
            .bind(run_at.map(AuditTime))
            .bind(finished_at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("recording a job's run")?;
        Ok(match (updated, state, run_at) {
            (0, _, _) => Finished::LeaseLost,
            (_, "queued", Some(at)) => Finished::Retrying(at),
            (_, "dead", _) => Finished::Dead,
            _ => Finished::Done,
        })
    }

    /// Jobs that ran out of attempts, newest first: what the operator must look at.
    pub async fn dead_letters(&self, limit: u32) -> Result<Vec<JobStatus>, StoreError> {
        let rows: Vec<StatusRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, kind, key, state, attempts, last_error, run_at, worker FROM jobs \
                 WHERE state = 'dead' ORDER BY created_at DESC, id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
        })
        .context("listing dead letters")?;
        Ok(rows.into_iter().map(status).collect())
    }

    /// The job of `kind` and `key`, if there is one.
    pub async fn find(&self, kind: &str, key: &str) -> Result<Option<JobStatus>, StoreError> {
        let row: Option<StatusRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, kind, key, state, attempts, last_error, run_at, worker FROM jobs \
                 WHERE kind = $1 AND key = $2",
            )
            .bind(kind)
            .bind(key)
            .fetch_optional(pool)
            .await
        })
        .context("reading a job")?;
        Ok(row.map(status))
    }
}

type StatusRow = (
    Uuid,
    String,
    String,
    String,
    i64,
    Option<String>,
    OffsetDateTime,
    Option<String>,
);

fn status((id, kind, key, state, attempts, last_error, run_at, worker): StatusRow) -> JobStatus {
    JobStatus {
        id,
        kind,
        key,
        state,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error,
        run_at,
        worker,
    }
}

impl crate::Scoped<'_> {
    /// The queue's dead letters, newest first, for the platform operator (ids and
    /// codes only; a job carries no PHI).
    pub async fn dead_letters(&self, limit: u32) -> Result<Vec<JobStatus>, StoreError> {
        self.authorize_platform(AuditedAs::any(AuditAction::Read, ResourceType::Job))
            .await?;
        self.store.jobs().dead_letters(limit).await
    }

    /// Puts the dead letter `id` back in the queue for another round of attempts,
    /// from now, once the operator has fixed what made it fail (a channel's
    /// settings, a vendor's BAA). Audited; [`StoreError::NotFound`] when `id` is no
    /// dead letter.
    pub async fn retry_dead_letter(&self, id: Uuid) -> Result<(), StoreError> {
        self.authorize_platform(AuditedAs::one(AuditAction::Write, ResourceType::Job, &id))
            .await?;
        let now = self.store.now();
        let event = self.event(
            AuditAction::Write,
            ResourceType::Job,
            Some(id.to_string()),
            Outcome::Success,
        );
        let write = async {
            let mut tx = self.store.begin().await?;
            let updated = on_tx!(&mut tx, conn => {
                sqlx::query(
                    "UPDATE jobs SET state = 'queued', run_at = $2, finished_at = NULL, \
                     max_attempts = attempts + $3 WHERE id = $1 AND state = 'dead'",
                )
                .bind(id)
                .bind(AuditTime(now))
                .bind(i64::from(RETRY_ATTEMPTS))
                .execute(&mut *conn)
                .await?
                .rows_affected()
            });
            if updated != 1 {
                return Ok(false);
            }
            tx.commit_with(&[&event]).await?;
            Ok::<_, anyhow::Error>(true)
        };
        if write.await.context("retrying a dead letter")? {
            Ok(())
        } else {
            Err(StoreError::NotFound)
        }
    }
}

/// The attempts a dead letter gets when the operator puts it back in the queue.
const RETRY_ATTEMPTS: u32 = 3;
