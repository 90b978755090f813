//! A referral's timeline: what happened, when and by whom, with sealed notes.

use anyhow::Context as _;
use enamel_domain::{Phi, PracticeId, Side, UserId};
use time::OffsetDateTime;
use uuid::Uuid;

use super::ReferralRow;
use crate::db::{Tx, on_pool, on_tx};
use crate::sealed::REFERRAL_EVENT_NOTE;
use crate::{Store, StoreError};

/// One entry of a referral's timeline.
#[derive(Clone, Debug)]
pub struct TimelineEntry {
    pub id: Uuid,
    /// A step's name, `created`, `message`, `attachment`, `not_responding`,
    /// `portal_link` or `notification_refused`.
    pub kind: String,
    pub side: Side,
    pub actor: Option<UserId>,
    pub actor_name: Option<String>,
    pub at: OffsetDateTime,
    pub note: Option<Phi<String>>,
}

/// One entry of a referral's timeline, as written.
#[derive(Debug)]
pub(crate) struct TimelineRow<'a> {
    pub(crate) id: Uuid,
    pub(crate) referral: Uuid,
    pub(crate) practice: Uuid,
    pub(crate) kind: &'a str,
    pub(crate) actor: Option<Uuid>,
    pub(crate) at: time::OffsetDateTime,
    /// The sealed note, if any.
    pub(crate) note: Option<&'a [u8]>,
}

impl<'a> TimelineRow<'a> {
    /// An entry with a fresh id and no note.
    pub(crate) fn new(
        referral: Uuid,
        practice: Uuid,
        kind: &'a str,
        actor: Option<Uuid>,
        at: time::OffsetDateTime,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            referral,
            practice,
            kind,
            actor,
            at,
            note: None,
        }
    }
}

/// Inserts a timeline entry inside the open transaction `tx`.
pub(crate) async fn insert_timeline(
    tx: &mut Tx,
    entry: TimelineRow<'_>,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO referral_events (id, referral_id, practice_id, kind, actor_id, at, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(entry.id)
        .bind(entry.referral)
        .bind(entry.practice)
        .bind(entry.kind)
        .bind(entry.actor)
        .bind(entry.at)
        .bind(entry.note)
        .execute(&mut *conn)
        .await
        .map(|_| ())
    })
}

impl Store {
    /// A patient row by practice and id, for reads already authorized through a referral.
    pub(crate) async fn patient_row_of(
        &self,
        practice: PracticeId,
        id: Uuid,
    ) -> Result<crate::repos::patients::PatientRow, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM patients WHERE id = $1 AND practice_id = $2",
            crate::repos::patients::PATIENT_COLUMNS
        ));
        let row: Option<crate::repos::patients::PatientRow> = on_pool!(&self.db, pool => {
            sqlx::query_as(sql)
                .bind(id)
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("reading a referral's patient")?;
        row.ok_or(StoreError::NotFound)
    }

    pub(crate) async fn timeline(
        &self,
        row: &ReferralRow,
    ) -> Result<Vec<TimelineEntry>, StoreError> {
        type Row = (
            Uuid,
            Uuid,
            String,
            Option<Uuid>,
            Option<String>,
            OffsetDateTime,
            Option<Vec<u8>>,
        );
        let rows: Vec<Row> = on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT e.id, e.practice_id, e.kind, e.actor_id, u.display_name, e.at, e.note \
                 FROM referral_events e LEFT JOIN users u ON u.id = e.actor_id \
                 WHERE e.referral_id = $1 ORDER BY e.id",
            )
            .bind(row.id)
            .fetch_all(pool)
            .await
        })
        .context("reading a referral's timeline")?;
        let mut entries = Vec::with_capacity(rows.len());
        for (id, practice, kind, actor, actor_name, at, note) in rows {
            let practice = PracticeId::from_uuid(practice);
            let note = match note {
                Some(sealed) => {
                    let plain = self
                        .open(practice, &REFERRAL_EVENT_NOTE, id, &sealed)
                        .await?;
                    Some(Phi::new(String::from_utf8_lossy(&plain).into_owned()))
                }
                None => None,
            };
            entries.push(TimelineEntry {
                id,
                kind,
                side: if practice == row.referrer() {
                    Side::Referrer
                } else {
                    Side::Receiver
                },
                actor: actor.map(UserId::from_uuid),
                actor_name,
                at,
                note,
            });
        }
        Ok(entries)
    }
}
