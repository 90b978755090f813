//! A practice's connection to its practice-management system and the sync's
//! bookkeeping (docs/opendental.md). Connecting and disconnecting are a person's
//! (the administrator's `schedule.import`; an agent holding that scope may not);
//! the `pms-sync` agent reads its connection and records its runs through
//! `schedule.import`, one run of a practice at a time.

use std::collections::HashMap;

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Detail, Outcome, ResourceType};
use enamel_domain::{AgentId, PracticeId, VendorName};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{on_pool, on_tx};
use crate::{Scoped, Store, StoreError};

/// A practice's connection, as its administrator sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PmsConnection {
    pub vendor: VendorName,
    /// The agent the sync acts as.
    pub agent: AgentId,
    pub every_minutes: u32,
    pub connected_at: OffsetDateTime,
    pub last_started_at: Option<OffsetDateTime>,
    pub last_finished_at: Option<OffsetDateTime>,
    /// `ok`, or an error code.
    pub last_outcome: Option<String>,
    /// The last run's counts, JSON.
    pub last_report: Option<String>,
}

/// Where one list's incremental read resumes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncMark {
    pub watermark: Option<String>,
    pub digest: Option<String>,
}

type ConnectionRow = (
    String,
    Uuid,
    i64,
    OffsetDateTime,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<String>,
    Option<String>,
);

impl Scoped<'_> {
    /// Authorizes a change to the practice's connection, a person's to make (an
    /// agent with the import scope may not), and its audit event naming `what`.
    async fn connection_change(
        &self,
        what: &str,
    ) -> Result<(PracticeId, enamel_audit::entry::Event), StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        if self.actor.user().is_none() {
            return Err(StoreError::Denied);
        }
        let mut event = self.event(
            AuditAction::SettingChange,
            ResourceType::Practice,
            Some(practice.to_string()),
            Outcome::Success,
        );
        event.detail.insert("pms", Detail::Code(what.to_owned()));
        Ok((practice, event))
    }

    /// Connects the practice to `vendor`, synced by `agent` every `every_minutes`
    /// (1 to 1440), or changes an existing connection. Sync marks are kept, so a
    /// new key resumes where the last one stopped.
    pub async fn connect_pms(
        &self,
        vendor: &VendorName,
        agent: AgentId,
        every_minutes: u32,
    ) -> Result<(), StoreError> {
        let (practice, event) = self.connection_change(vendor.as_str()).await?;
        if !(1..=1440).contains(&every_minutes) {
            return Err(StoreError::Refused("the sync runs every 1 to 1440 minutes"));
        }
        let now = self.store.now();
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "INSERT INTO pms_connections (practice_id, vendor, agent_id, every_minutes, connected_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (practice_id) DO UPDATE SET \
                 vendor = excluded.vendor, agent_id = excluded.agent_id, \
                 every_minutes = excluded.every_minutes",
            )
            .bind(practice.as_uuid())
            .bind(vendor.as_str())
            .bind(agent.as_uuid())
            .bind(i64::from(every_minutes))
            .bind(now)
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })
        .context("connecting a PMS")?;
        tx.commit_with(&[&event]).await?;
        Ok(())
    }

    /// Disconnects the practice from its PMS: the sync stops and its marks are
    /// forgotten (a new connection reads everything again).
    pub async fn disconnect_pms(&self) -> Result<(), StoreError> {
        let (practice, event) = self.connection_change("disconnected").await?;
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            match sqlx::query("DELETE FROM pms_sync_marks WHERE practice_id = $1")
                .bind(practice.as_uuid())
                .execute(&mut *conn)
                .await
            {
                Ok(_) => sqlx::query("DELETE FROM pms_connections WHERE practice_id = $1")
                    .bind(practice.as_uuid())
                    .execute(&mut *conn)
                    .await
                    .map(|_| ()),
                Err(err) => Err(err),
            }
        })
        .context("disconnecting a PMS")?;
        tx.commit_with(&[&event]).await?;
        Ok(())
    }

    /// The practice's connection, if it has one (`schedule.import`).
    pub async fn pms_connection(&self) -> Result<Option<PmsConnection>, StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        let row: Option<ConnectionRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT vendor, agent_id, every_minutes, connected_at, last_started_at, \
                 last_finished_at, last_outcome, last_report FROM pms_connections \
                 WHERE practice_id = $1",
            )
            .bind(practice.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .context("reading a PMS connection")?;
        row.map(
            |(vendor, agent, every, connected, started, finished, outcome, report)| {
                Ok(PmsConnection {
                    vendor: VendorName::parse(&vendor).map_err(StoreError::Corrupt)?,
                    agent: AgentId::from_uuid(agent),
                    every_minutes: u32::try_from(every).unwrap_or(1),
                    connected_at: connected,
                    last_started_at: started,
                    last_finished_at: finished,
                    last_outcome: outcome,
                    last_report: report,
                })
            },
        )
        .transpose()
    }

    /// Each list's mark (`schedule.import`).
    pub async fn pms_marks(&self) -> Result<HashMap<String, SyncMark>, StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        let rows: Vec<(String, Option<String>, Option<String>)> =
            on_pool!(&self.store.db, pool => {
                sqlx::query_as(
                    "SELECT resource, watermark, digest FROM pms_sync_marks WHERE practice_id = $1",
                )
                .bind(practice.as_uuid())
                .fetch_all(pool)
                .await
            })
            .context("reading sync marks")?;
        Ok(rows
            .into_iter()
            .map(|(resource, watermark, digest)| (resource, SyncMark { watermark, digest }))
            .collect())
    }

    /// Records where `resource`'s next read resumes (`schedule.import`).
    pub async fn set_pms_mark(&self, resource: &str, mark: &SyncMark) -> Result<(), StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        on_pool!(&self.store.db, pool => {
            sqlx::query(
                "INSERT INTO pms_sync_marks (practice_id, resource, watermark, digest) \
                 SELECT $1, $2, $3, $4 WHERE EXISTS \
                 (SELECT 1 FROM pms_connections WHERE practice_id = $1) \
                 ON CONFLICT (practice_id, resource) DO UPDATE SET \
                 watermark = excluded.watermark, digest = excluded.digest",
            )
            .bind(practice.as_uuid())
            .bind(resource)
            .bind(&mark.watermark)
            .bind(&mark.digest)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("recording a sync mark")?;
        Ok(())
    }

    /// Takes the practice for one run until `until` (`schedule.import`): refused
    /// with [`StoreError::Conflict`] while another run holds it (or when the practice
    /// is not connected), so two runs never write the same records at once.
    pub async fn pms_sync_started(&self, until: OffsetDateTime) -> Result<(), StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        let now = self.store.now();
        let taken = on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE pms_connections SET last_started_at = $1, running_until = $2 \
                 WHERE practice_id = $3 AND (running_until IS NULL OR running_until < $1)",
            )
            .bind(now)
            .bind(until)
            .bind(practice.as_uuid())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("recording a sync's start")?;
        if taken == 0 {
            return Err(StoreError::Conflict("a sync of this practice is running"));
        }
        Ok(())
    }

    /// Records how a run ended: `ok` or an error code, and its report (`schedule.import`).
    pub async fn pms_sync_finished(&self, outcome: &str, report: &str) -> Result<(), StoreError> {
        let practice = self.authorize_import(ResourceType::Practice).await?;
        on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE pms_connections SET last_finished_at = $1, last_outcome = $2, \
                 last_report = $3, running_until = NULL WHERE practice_id = $4",
            )
            .bind(self.store.now())
            .bind(outcome)
            .bind(report)
            .bind(practice.as_uuid())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("recording a sync's end")?;
        Ok(())
    }
}

impl Store {
    /// Every connected practice, its agent and how often it syncs: for the jobs
    /// runtime's schedule, which then acts as each practice's agent.
    pub async fn pms_connections(&self) -> Result<Vec<(PracticeId, AgentId, u32)>, StoreError> {
        let rows: Vec<(Uuid, Uuid, i64)> = on_pool!(&self.db, pool => {
            sqlx::query_as("SELECT practice_id, agent_id, every_minutes FROM pms_connections")
                .fetch_all(pool)
                .await
        })
        .context("listing PMS connections")?;
        Ok(rows
            .into_iter()
            .map(|(practice, agent, every)| {
                (
                    PracticeId::from_uuid(practice),
                    AgentId::from_uuid(agent),
                    u32::try_from(every).unwrap_or(1),
                )
            })
            .collect())
    }
}
