//! The office settings a practice's administrator keeps: how the office hears of its
//! referrals (email, text or fax, and where), its phones and address, where it is
//! for distance search and whether it is listed in the directory, its time zone,
//! office hours and distance unit. None of it is PHI; every change is audited.

use anyhow::Context as _;
use enamel_audit::entry::{Action as AuditAction, Outcome, ResourceType};
use enamel_domain::{
    Address, Channel, DistanceUnit, Email, GeoPoint, InvalidValue, PhoneNumber, PracticeId,
    TimeZone,
};
use enamel_policy::Action;

use crate::db::{on_pool, on_tx};
use crate::scoped::authorize::AuditedAs;
use crate::{Scoped, Store, StoreError};

/// The most characters of office hours.
pub const OFFICE_HOURS_MAX: usize = 200;

/// An office's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct OfficeSettings {
    pub phone: PhoneNumber,
    pub fax: Option<PhoneNumber>,
    pub address: Address,
    pub location: Option<GeoPoint>,
    pub listed: bool,
    pub time_zone: TimeZone,
    /// As the office writes them ("Mon–Thu 8–5, Fri 8–noon").
    pub office_hours: Option<String>,
    pub distance_unit: DistanceUnit,
    /// How office notices reach the office: by email to `notify_email`, by text to
    /// the office phone, or by fax to the office fax.
    pub notify_channel: Channel,
    pub notify_email: Option<Email>,
}

impl OfficeSettings {
    /// Checks that the chosen channel has somewhere to go, and the hours' length.
    pub fn check(&self) -> Result<(), InvalidValue> {
        match self.notify_channel {
            Channel::Email if self.notify_email.is_none() => Err(InvalidValue::new(
                "notification email",
                "is needed to hear of referrals by email",
            )),
            Channel::Fax if self.fax.is_none() => Err(InvalidValue::new(
                "fax number",
                "is needed to hear of referrals by fax",
            )),
            _ => Ok(()),
        }?;
        if let Some(hours) = &self.office_hours
            && (hours.chars().count() > OFFICE_HOURS_MAX || hours.chars().any(char::is_control))
        {
            return Err(InvalidValue::new(
                "office hours",
                "must be one line of at most 200 characters",
            ));
        }
        Ok(())
    }
}

type SettingsRow = (
    String,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<f64>,
    Option<f64>,
    bool,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
);

impl Store {
    /// The distance unit `practice` reads directories in (not PHI, for any page).
    pub async fn distance_unit(&self, practice: PracticeId) -> Result<DistanceUnit, StoreError> {
        let unit: Option<String> = on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT distance_unit FROM practices WHERE id = $1")
                .bind(practice.as_uuid())
                .fetch_optional(pool)
                .await
        })
        .context("reading an office's distance unit")?;
        Ok(unit
            .as_deref()
            .map(DistanceUnit::parse)
            .transpose()
            .map_err(StoreError::Corrupt)?
            .unwrap_or_default())
    }
}

impl Scoped<'_> {
    /// The actor's office settings (its administrator).
    pub async fn office_settings(&self) -> Result<OfficeSettings, StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::PracticeConfigure,
            AuditedAs::one(AuditAction::Read, ResourceType::Practice, &practice),
        )
        .await?;
        let row: Option<SettingsRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT phone, fax, address_line1, address_line2, city, state, postal_code, \
                 latitude, longitude, listed, time_zone, office_hours, distance_unit, \
                 notify_channel, notify_email FROM practices WHERE id = $1",
            )
            .bind(practice.as_uuid())
            .fetch_optional(pool)
            .await
        })
        .context("reading an office's settings")?;
        settings_of(row.ok_or(StoreError::NotFound)?).map_err(StoreError::Corrupt)
    }

    /// Saves the actor's office settings (its administrator), audited as a setting
    /// change of the practice.
    pub async fn save_office_settings(&self, settings: &OfficeSettings) -> Result<(), StoreError> {
        let practice = self.practice()?;
        self.authorize_in_own_practice(
            Action::PracticeConfigure,
            AuditedAs::one(
                AuditAction::SettingChange,
                ResourceType::Practice,
                &practice,
            ),
        )
        .await?;
        settings.check().map_err(StoreError::Invalid)?;
        let event = self.event(
            AuditAction::SettingChange,
            ResourceType::Practice,
            Some(practice.to_string()),
            Outcome::Success,
        );
        let s = settings;
        let mut tx = self.store.begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(
                "UPDATE practices SET phone = $1, fax = $2, address_line1 = $3, address_line2 = $4, \
                 city = $5, state = $6, postal_code = $7, latitude = $8, longitude = $9, \
                 listed = $10, time_zone = $11, office_hours = $12, distance_unit = $13, \
                 notify_channel = $14, notify_email = $15 WHERE id = $16",
            )
            .bind(s.phone.e164())
            .bind(s.fax.as_ref().map(PhoneNumber::e164))
            .bind(&s.address.line1)
            .bind(s.address.line2.as_deref())
            .bind(&s.address.city)
            .bind(s.address.state.code())
            .bind(s.address.postal_code.as_str())
            .bind(s.location.map(GeoPoint::latitude))
            .bind(s.location.map(GeoPoint::longitude))
            .bind(s.listed)
            .bind(s.time_zone.name())
            .bind(s.office_hours.as_deref())
            .bind(s.distance_unit.as_str())
            .bind(s.notify_channel.as_str())
            .bind(s.notify_email.as_ref().map(Email::as_str))
            .bind(practice.as_uuid())
            .execute(&mut *conn)
            .await
            .map(|_| ())
        })
        .context("saving an office's settings")?;
        tx.commit_with(&[&event]).await?;
        Ok(())
    }
}

fn settings_of(row: SettingsRow) -> Result<OfficeSettings, InvalidValue> {
    let (
        phone,
        fax,
        line1,
        line2,
        city,
        state,
        postal_code,
        latitude,
        longitude,
        listed,
        zone,
        office_hours,
        unit,
        channel,
        email,
    ) = row;
    Ok(OfficeSettings {
        phone: PhoneNumber::parse(&phone)?,
        fax: fax.as_deref().map(PhoneNumber::parse).transpose()?,
        address: Address::parse(&line1, line2.as_deref(), &city, &state, &postal_code)?,
        location: match (latitude, longitude) {
            (Some(lat), Some(lon)) => Some(GeoPoint::new(lat, lon)?),
            _ => None,
        },
        listed,
        time_zone: TimeZone::parse(&zone)?,
        office_hours,
        distance_unit: DistanceUnit::parse(&unit)?,
        notify_channel: Channel::parse(&channel).ok_or(InvalidValue::new(
            "notification channel",
            "is email, sms or fax",
        ))?,
        notify_email: email.as_deref().map(Email::parse).transpose()?,
    })
}
