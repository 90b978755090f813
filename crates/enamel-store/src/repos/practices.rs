//! Practices: the tenants.

use anyhow::Context as _;
use enamel_domain::{
    Address, InvalidValue, NewPractice, Npi, PhoneNumber, Practice, PracticeId, PracticeKind,
    PracticeName, TimeZone,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::{Tx, on_pool, on_tx};
use crate::error::is_unique_violation;
use crate::{Store, StoreError};

/// The columns of `practices`, for `concat!` into statements that stay `&'static str`.
macro_rules! columns {
    () => {
        "id, name, kind, npi, address_line1, address_line2, city, state, postal_code, phone, \
         fax, time_zone, created_at"
    };
}

/// A practice as its row holds it, before its values are parsed back into types.
#[derive(sqlx::FromRow)]
pub(crate) struct PracticeRow {
    id: Uuid,
    name: String,
    kind: String,
    npi: String,
    address_line1: String,
    address_line2: Option<String>,
    city: String,
    state: String,
    postal_code: String,
    phone: String,
    fax: Option<String>,
    time_zone: String,
    created_at: OffsetDateTime,
}

impl TryFrom<PracticeRow> for Practice {
    type Error = InvalidValue;

    fn try_from(row: PracticeRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: PracticeId::from_uuid(row.id),
            name: PracticeName::parse(&row.name)?,
            kind: PracticeKind::parse(&row.kind)?,
            npi: Npi::parse(&row.npi)?,
            address: Address::parse(
                &row.address_line1,
                row.address_line2.as_deref(),
                &row.city,
                &row.state,
                &row.postal_code,
            )?,
            phone: PhoneNumber::parse(&row.phone)?,
            fax: row.fax.as_deref().map(PhoneNumber::parse).transpose()?,
            time_zone: TimeZone::parse(&row.time_zone)?,
            created_at: row.created_at,
        })
    }
}

/// Inserts `new` inside the open transaction `tx`.
pub(crate) async fn insert_in(
    tx: &mut Tx,
    new: &NewPractice,
    created_at: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    let sql = concat!(
        "INSERT INTO practices (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    );
    on_tx!(tx, conn => {
        sqlx::query(sql)
            .bind(new.id.as_uuid())
            .bind(new.name.as_str())
            .bind(new.kind.as_str())
            .bind(new.npi.as_str())
            .bind(&new.address.line1)
            .bind(new.address.line2.as_deref())
            .bind(&new.address.city)
            .bind(new.address.state.code())
            .bind(new.address.postal_code.as_str())
            .bind(new.phone.e164())
            .bind(new.fax.as_ref().map(PhoneNumber::e164))
            .bind(new.time_zone.name())
            .bind(created_at)
            .execute(&mut *conn)
            .await
            .map(|_| ())
    })
}

/// A failed insert as the caller sees it: a taken NPI is a conflict.
pub(crate) fn practice_insert_error(err: sqlx::Error) -> StoreError {
    if is_unique_violation(&err) {
        StoreError::Conflict("a practice with this NPI or id already exists")
    } else {
        anyhow::Error::new(err)
            .context("inserting a practice")
            .into()
    }
}

/// The practice `new` as stored at `created_at`.
pub(crate) fn stored(new: &NewPractice, created_at: OffsetDateTime) -> Practice {
    Practice {
        id: new.id,
        name: new.name.clone(),
        kind: new.kind,
        npi: new.npi.clone(),
        address: new.address.clone(),
        phone: new.phone.clone(),
        fax: new.fax.clone(),
        time_zone: new.time_zone,
        created_at,
    }
}

/// Reads and writes practices.
#[derive(Debug)]
pub struct PracticeRepo<'a> {
    store: &'a Store,
}

impl<'a> PracticeRepo<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Inserts a practice. A taken NPI is a [`StoreError::Conflict`].
    pub async fn insert(&self, new: &NewPractice) -> Result<Practice, StoreError> {
        let created_at = self.store.now();
        let mut tx = self.store.begin().await?;
        let inserted = insert_in(&mut tx, new, created_at).await;
        match inserted {
            Ok(()) => tx.commit().await.context("inserting a practice")?,
            Err(err) => return Err(practice_insert_error(err)),
        }
        Ok(stored(new, created_at))
    }

    /// The practice with this id.
    pub async fn get(&self, id: PracticeId) -> Result<Practice, StoreError> {
        let sql = concat!("SELECT ", columns!(), " FROM practices WHERE id = $1");
        let row: Option<PracticeRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(id.as_uuid()).fetch_optional(pool).await
        })
        .context("reading a practice")?;
        row.ok_or(StoreError::NotFound)?
            .try_into()
            .map_err(StoreError::Corrupt)
    }

    /// Every practice, by name.
    pub async fn list(&self) -> Result<Vec<Practice>, StoreError> {
        let sql = concat!("SELECT ", columns!(), " FROM practices ORDER BY name, id");
        let rows: Vec<PracticeRow> =
            on_pool!(&self.store.db, pool => sqlx::query_as(sql).fetch_all(pool).await)
                .context("listing practices")?;
        rows.into_iter()
            .map(|row| row.try_into().map_err(StoreError::Corrupt))
            .collect()
    }

    /// Where the office hears about its referrals: `channel` is `email`, `sms` (the
    /// office phone) or `fax` (the office fax); `email` is the office's address.
    pub async fn set_notifications(
        &self,
        id: PracticeId,
        channel: crate::Channel,
        email: Option<&enamel_domain::Email>,
    ) -> Result<(), StoreError> {
        let updated = on_pool!(&self.store.db, pool => {
            sqlx::query("UPDATE practices SET notify_channel = $1, notify_email = $2 WHERE id = $3")
                .bind(channel.as_str())
                .bind(email.map(enamel_domain::Email::as_str))
                .bind(id.as_uuid())
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .context("setting an office's notifications")?;
        if updated == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// Where an office is, for distance search (the office itself changes it through
    /// its directory listing; this is for seeding and operators).
    pub async fn set_location(
        &self,
        id: PracticeId,
        location: enamel_domain::GeoPoint,
    ) -> Result<(), StoreError> {
        on_pool!(&self.store.db, pool => {
            sqlx::query("UPDATE practices SET latitude = $1, longitude = $2 WHERE id = $3")
                .bind(location.latitude())
                .bind(location.longitude())
                .bind(id.as_uuid())
                .execute(pool)
                .await
                .map(|_| ())
        })
        .context("setting an office's location")?;
        Ok(())
    }

    /// How many practices there are.
    pub async fn count(&self) -> Result<u64, StoreError> {
        let count: i64 = on_pool!(&self.store.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM practices").fetch_one(pool).await
        })
        .context("counting practices")?;
        Ok(u64::try_from(count).unwrap_or_default())
    }
}
