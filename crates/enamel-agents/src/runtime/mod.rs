//! The jobs runtime: schedules recurring jobs into the store's durable queue and
//! runs the due ones it can claim, notification deliveries among them.
//!
//! Every worker does the same thing, so any number of them can run against one
//! database: a schedule's run is enqueued under a key naming its time slot
//! (`checkpoint:29461234`), which the queue takes once however many workers enqueue
//! it, and a job is claimed by one worker under a lease (a worker that dies loses it
//! to another when the lease runs out). Time comes from the one clock.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use enamel_audit::checkpoint::Signer;
use enamel_config::Settings;
use enamel_domain::DailyAt;
use enamel_domain::clock::Clock;
use enamel_store::{ClaimedJob, DELIVER_JOB, Store, WAVE_JOB, WRITEBACK_JOB};

use crate::jobs::{self, deliver::Senders};

mod schedule;

use schedule::{DailyRun, Scheduler};

/// The kinds of job every worker runs; a worker with a notification channel also
/// runs [`DELIVER_JOB`].
const KINDS: &[&str] = &[
    CHECKPOINT,
    FLAG,
    RETENTION,
    PMS_SYNC,
    WAVE_JOB,
    WRITEBACK_JOB,
];
const CHECKPOINT: &str = "checkpoint";
const FLAG: &str = "flag_not_responding";
const RETENTION: &str = "retention";
/// A practice's Open Dental sync (payload: [`SyncRun`]).
pub const PMS_SYNC: &str = "pms_sync";
/// How often retention runs.
const RETENTION_EVERY: time::Duration = time::Duration::days(1);
/// How long a claimed job is its worker's before another may take it over, unless
/// the settings say otherwise (`jobs.lease_seconds`).
pub(crate) const DEFAULT_LEASE: time::Duration = time::Duration::minutes(5);
/// When each practice's "not responding" flags are raised: once a day, at 07:00 in
/// the referring practice's time zone, so the notices reach the offices before they
/// open rather than at 3 a.m.
pub const FLAG_AT: DailyAt = DailyAt(time::macros::time!(07:00));
/// How often the list of practices (and their time zones) is read again.
const PRACTICES_EVERY: time::Duration = time::Duration::minutes(1);
/// Runs of a scheduled job before it is kept as a dead letter.
const ATTEMPTS: u32 = 5;
/// The first retry of a failed job; later ones double.
const FIRST_RETRY: time::Duration = time::Duration::seconds(10);
/// The first retry of a message whose send failed for now; later ones double.
const FIRST_RESEND: time::Duration = time::Duration::seconds(30);

/// How a job's run ended, when it did not fail outright.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ran {
    /// Finished: the job is done.
    Done,
    /// To be tried again after a back-off (a code, never PHI, says why).
    Retry(String),
}

/// Records how `job`'s run went in the queue: done, or to be retried with
/// back-off (a dead letter once its attempts are used up).
pub(crate) async fn record(store: &Store, job: &ClaimedJob, outcome: anyhow::Result<Ran>) {
    let first_retry = if job.kind == DELIVER_JOB {
        FIRST_RESEND
    } else {
        FIRST_RETRY
    };
    let recorded = match outcome {
        Ok(Ran::Done) => store.jobs().done(job).await,
        Ok(Ran::Retry(code)) => store.jobs().failed(job, &code, first_retry).await,
        Err(err) => {
            tracing::error!(kind = %job.kind, job = %job.id, error = format!("{err:#}"), "a job failed");
            store.jobs().failed(job, "job_failed", first_retry).await
        }
    };
    match recorded {
        Ok(enamel_store::Finished::Dead) => {
            tracing::warn!(kind = %job.kind, job = %job.id, "a job ran out of attempts and is kept as a dead letter");
        }
        Ok(enamel_store::Finished::LeaseLost) => {
            tracing::warn!(kind = %job.kind, job = %job.id, "a job's lease ran out before its run ended; another worker has it");
        }
        Ok(_) => {}
        Err(err) => {
            tracing::error!(job = %job.id, error = format!("{err:#}"), "recording a job's run failed");
        }
    }
}

/// What the runtime runs with, from the settings.
#[derive(Clone, Debug)]
pub struct RuntimeSettings {
    /// How long to wait when nothing was due.
    pub poll: std::time::Duration,
    /// A checkpoint at least this often while the logs grow.
    pub checkpoint_every: time::Duration,
    /// And whenever this many entries were added since the last one.
    pub checkpoint_entries: u64,
    /// Where checkpoints are exported, outside the database.
    pub checkpoint_dir: PathBuf,
    /// Referrals sent this many days ago and not scheduled are flagged.
    pub not_responding_days: i64,
    /// Enamel's address, for links in messages.
    pub base_url: String,
    /// How long served operational records are kept.
    pub retention: enamel_store::RetentionPeriods,
    /// How long a claimed job is this worker's.
    pub lease: time::Duration,
    /// How to reach Open Dental for the practices connected to it.
    pub pms: crate::jobs::pms_sync::PmsClientSettings,
}

impl RuntimeSettings {
    /// From the settings; `base_url` when `referrals.public_url` is not set.
    #[must_use]
    pub fn from_settings(settings: &Settings, base_url: &str) -> Self {
        Self {
            poll: std::time::Duration::from_millis(
                settings.notifications.poll_millis.unwrap_or(1_000).max(10),
            ),
            checkpoint_every: time::Duration::seconds(
                i64::try_from(settings.audit.checkpoint_seconds.max(1)).unwrap_or(60),
            ),
            checkpoint_entries: settings.audit.checkpoint_entries.max(1),
            checkpoint_dir: settings.checkpoint_dir(),
            not_responding_days: settings.referrals.not_responding_days,
            base_url: settings
                .referrals
                .public_url
                .clone()
                .unwrap_or_else(|| base_url.to_owned()),
            retention: enamel_store::RetentionPeriods {
                ended: days(settings.retention.ended_days),
                message_bodies: days(settings.retention.message_body_days),
                finished_jobs: days(settings.retention.finished_jobs_days),
            },
            lease: time::Duration::seconds(
                i64::try_from(settings.jobs.lease_seconds.max(1)).unwrap_or(300),
            ),
            pms: crate::jobs::pms_sync::PmsClientSettings::from_settings(&settings.pms)
                .unwrap_or_else(|err| {
                    tracing::error!(error = %err, "the Open Dental settings are unusable");
                    crate::jobs::pms_sync::PmsClientSettings {
                        base_url: url::Url::parse(
                            enamel_integrations::opendental::DEFAULT_BASE_URL,
                        )
                        .unwrap_or_else(|_| unreachable!()),
                        developer_key: None,
                        first_pause: std::time::Duration::from_secs(1),
                    }
                }),
        }
    }
}

/// A sync run's payload: which practice, and whether to read everything again.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct SyncRun {
    pub practice: enamel_domain::PracticeId,
    #[serde(default)]
    pub full: bool,
}

/// Queues a sync of `practice` to run now (the administrator's "sync now").
pub async fn enqueue_sync(
    store: &Store,
    practice: enamel_domain::PracticeId,
    full: bool,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    store
        .jobs()
        .enqueue(&enamel_store::NewJob {
            kind: PMS_SYNC.to_owned(),
            key: format!("{PMS_SYNC}:{practice}:now:{}", uuid::Uuid::now_v7()),
            payload: serde_json::to_value(SyncRun { practice, full })?,
            run_at: now,
            max_attempts: ATTEMPTS,
        })
        .await?;
    Ok(())
}

fn days(days: u32) -> time::Duration {
    time::Duration::days(i64::from(days))
}

/// A spawned task that stops with its owner.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One worker of the jobs runtime.
#[derive(Debug)]
pub struct Runtime {
    store: Store,
    clock: Arc<dyn Clock>,
    senders: Arc<Senders>,
    settings: RuntimeSettings,
    /// This worker's name in the jobs it claims.
    worker: String,
}

impl Runtime {
    /// A worker on `store` (whose clock it shares), with the channels the
    /// notification settings configure; a half-configured channel is an error that
    /// names the setting.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        notifications: &enamel_config::NotificationSettings,
        settings: RuntimeSettings,
    ) -> anyhow::Result<Self> {
        store.use_clock(Arc::clone(&clock));
        let senders = Senders::from_settings(notifications)?;
        if !senders.any() {
            tracing::warn!(
                "no notification channel is configured: this worker sends no messages, which \
                 stay queued for a worker that has one"
            );
        }
        Ok(Self {
            store,
            clock,
            senders: Arc::new(senders),
            settings,
            worker: format!("worker-{}", uuid::Uuid::now_v7().simple()),
        })
    }

    /// Runs until `shutdown` completes, then signs a last round of checkpoints.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> anyhow::Result<()> {
        let signer = self.store.audit().signer().await?;
        let mut scheduler = Scheduler::default();
        tokio::pin!(shutdown);
        tracing::info!(worker = %self.worker, "the jobs runtime is running");
        // Aborted when this run ends, however it ends (a dropped future included).
        let indexer = AbortOnDrop(tokio::spawn(jobs::audit_index::run(self.store.clone())));
        loop {
            if let Err(err) = scheduler.enqueue_due(&self).await {
                tracing::error!(error = format!("{err:#}"), "scheduling jobs failed");
            }
            let ran = self.run_due(&signer).await;
            let pause = if ran > 0 {
                std::time::Duration::ZERO
            } else {
                self.settings.poll
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        drop(indexer);
        if let Err(err) =
            jobs::checkpoint::run(&self.store, &signer, &self.settings.checkpoint_dir).await
        {
            tracing::error!(
                error = format!("{err:#}"),
                "audit checkpoints at shutdown failed"
            );
        }
        tracing::info!(worker = %self.worker, "the jobs runtime stopped");
        Ok(())
    }

    /// Claims and runs the due jobs; each run is recorded done, or failed to be
    /// retried (a dead letter once its attempts are used up). Returns how many ran.
    async fn run_due(&self, signer: &Signer) -> usize {
        let mut kinds = KINDS.to_vec();
        if self.senders.any() {
            kinds.push(DELIVER_JOB);
        }
        let claimed = match self
            .store
            .jobs()
            .claim(&self.worker, &kinds, self.settings.lease, 20)
            .await
        {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "claiming jobs failed");
                return 0;
            }
        };
        let count = claimed.len();
        for job in claimed {
            let outcome = self.run_one(&job, signer).await;
            record(&self.store, &job, outcome).await;
        }
        count
    }

    async fn run_one(&self, job: &ClaimedJob, signer: &Signer) -> anyhow::Result<Ran> {
        match job.kind.as_str() {
            DELIVER_JOB => {
                jobs::deliver::run(&self.store, &self.senders, &self.settings.base_url, job).await
            }
            CHECKPOINT => {
                jobs::checkpoint::run(&self.store, signer, &self.settings.checkpoint_dir).await?;
                Ok(Ran::Done)
            }
            FLAG => {
                if job.payload.is_null() {
                    // Queued before the flags ran per practice: each practice's own
                    // morning run does this work now.
                    return Ok(Ran::Done);
                }
                let run: DailyRun = serde_json::from_value(job.payload.clone())
                    .map_err(|_| anyhow::anyhow!("a flag job without its practice"))?;
                // As of the run's own 07:00, however late it is claimed: a run is that
                // morning's, and the next morning's takes what crossed since.
                jobs::flag::run(
                    &self.store,
                    run.practice,
                    self.settings.not_responding_days,
                    run.as_of.min(self.clock.now()),
                )
                .await?;
                Ok(Ran::Done)
            }
            RETENTION => {
                let retained = self.store.apply_retention(self.settings.retention).await?;
                tracing::info!(
                    portal_links = retained.portal_links,
                    sessions = retained.sessions,
                    message_bodies = retained.message_bodies,
                    jobs = retained.jobs,
                    "retention applied"
                );
                Ok(Ran::Done)
            }
            PMS_SYNC => {
                let run: SyncRun = serde_json::from_value(job.payload.clone())
                    .map_err(|_| anyhow::anyhow!("a sync job without its practice"))?;
                jobs::pms_sync::run(&self.store, &self.settings.pms, run.practice, run.full).await
            }
            WAVE_JOB => {
                let wave: enamel_store::WaveRun = serde_json::from_value(job.payload.clone())
                    .map_err(|_| anyhow::anyhow!("a wave job without its run"))?;
                jobs::recovery::run(&self.store, &self.senders, &self.settings.base_url, wave).await
            }
            WRITEBACK_JOB => {
                let run: enamel_store::WaveRun = serde_json::from_value(job.payload.clone())
                    .map_err(|_| anyhow::anyhow!("a write-back job without its run"))?;
                jobs::recovery::write_back(&self.store, &self.settings.pms, run).await
            }
            other => anyhow::bail!("no job of kind {other}"),
        }
    }
}
