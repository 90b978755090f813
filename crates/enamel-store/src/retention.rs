//! Retention of operational records: what has served its purpose is removed after a
//! configurable time (docs/jobs.md, "Retention"). Expired portal links (with their
//! portal sessions) and ended sessions are deleted; a delivered notification loses its
//! sealed recipient and words but keeps its delivery record; finished jobs go. The
//! audit log is never touched: its six years are its own (`AuditLog::purge`). Each
//! run is recorded in the platform's log with what it removed, as counts.

use anyhow::Context as _;
use enamel_audit::entry::{Action, Detail, Outcome, ResourceType};
use time::Duration;

use crate::audit::AuditTime;
use crate::db::on_pool;
use crate::{Store, StoreError};

/// How long each kind of record is kept once it has served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPeriods {
    /// Ended sessions, expired portal links and their portal sessions.
    pub ended: Duration,
    /// A notification's sealed recipient and words, after delivery or a final failure.
    pub message_bodies: Duration,
    /// Finished (done) background jobs.
    pub finished_jobs: Duration,
}

/// What one run removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retained {
    pub portal_links: u64,
    pub portal_sessions: u64,
    pub sessions: u64,
    pub message_bodies: u64,
    pub jobs: u64,
}

impl Store {
    /// Removes what is past `periods` at the store's now, and records the run (counts
    /// only) in the platform's audit log.
    pub async fn apply_retention(&self, periods: RetentionPeriods) -> Result<Retained, StoreError> {
        let now = self.now();
        let ended = now - periods.ended;
        let bodies = now - periods.message_bodies;
        let jobs = now - periods.finished_jobs;
        let retained = on_pool!(&self.db, pool => {
            async {
                let mut tx = crate::db::begin_on(pool).await?;
                let portal_sessions = sqlx::query(
                    "DELETE FROM portal_sessions WHERE expires_at < $1 \
                     OR link_id IN (SELECT id FROM portal_links WHERE expires_at < $1)",
                )
                .bind(ended)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let portal_links = sqlx::query("DELETE FROM portal_links WHERE expires_at < $1")
                    .bind(ended)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                // Ended sessions, and sessions past any absolute limit (12 hours at
                // most) that were never marked ended.
                let sessions = sqlx::query(
                    "DELETE FROM sessions WHERE (ended_at IS NOT NULL AND ended_at < $1) \
                     OR created_at < $2",
                )
                .bind(ended)
                .bind(ended - Duration::hours(12))
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let message_bodies = sqlx::query(
                    "UPDATE outbox SET recipient = $2, message = $2 \
                     WHERE length(message) > 0 AND ((status = 'sent' AND sent_at < $1) \
                     OR (status IN ('failed', 'refused') AND created_at < $1))",
                )
                .bind(bodies)
                .bind(Vec::<u8>::new())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let jobs = sqlx::query("DELETE FROM jobs WHERE state = 'done' AND finished_at < $1")
                    .bind(AuditTime(jobs))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                Ok::<Retained, sqlx::Error>(Retained {
                    portal_links,
                    portal_sessions,
                    sessions,
                    message_bodies,
                    jobs,
                })
            }
            .await
        })
        .context("applying retention")?;
        self.record_retention(&retained).await?;
        Ok(retained)
    }

    async fn record_retention(&self, retained: &Retained) -> Result<(), StoreError> {
        let mut event = self.event_for(
            &enamel_domain::Actor::system(enamel_domain::SystemTask::Housekeeping),
            Action::Delete,
            ResourceType::Retention,
            None,
            Outcome::Success,
        );
        for (name, count) in [
            ("portal_links", retained.portal_links),
            ("portal_sessions", retained.portal_sessions),
            ("sessions", retained.sessions),
            ("message_bodies", retained.message_bodies),
            ("jobs", retained.jobs),
        ] {
            event.detail.insert(name, Detail::Count(count));
        }
        self.audit().record(event).await?;
        Ok(())
    }
}
