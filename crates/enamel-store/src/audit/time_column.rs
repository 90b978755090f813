//! The audit entries' `at` column in one canonical form on both backends.
//!
//! PostgreSQL stores an instant (`timestamptz`), which compares as time. SQLite has
//! no time type: sqlx would write RFC 3339 text with trailing zeros dropped
//! (`10:00:00.5Z`), whose text order is not time order (`.` sorts before `Z`), and
//! the same instant may be written at another offset. So on SQLite the column holds
//! exactly the entry's own canonical timestamp (`YYYY-MM-DDTHH:MM:SS.ffffffZ`, fixed
//! width, UTC), every bound compared with it is written the same way, and
//! verification requires the stored text to equal the entry's, byte for byte.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Postgres, Sqlite, Type};
use time::OffsetDateTime;

use enamel_audit::entry::format_timestamp;

/// An instant written to, or compared with, the `at` column of `audit_entries` (or
/// any other time column that SQL compares on SQLite, such as the jobs' `run_at`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AuditTime(pub(crate) OffsetDateTime);

impl Type<Sqlite> for AuditTime {
    fn type_info() -> <Sqlite as Database>::TypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl Encode<'_, Sqlite> for AuditTime {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(format_timestamp(self.0), buf)
    }
}

impl Type<Postgres> for AuditTime {
    fn type_info() -> <Postgres as Database>::TypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for AuditTime {
    fn encode_by_ref(
        &self,
        buf: &mut <Postgres as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode_by_ref(&self.0, buf)
    }
}

/// The `at` column as stored, in the entry's canonical text: on SQLite the text
/// itself, untouched (so any other spelling of the same instant differs); on
/// PostgreSQL the instant, formatted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredTime(pub(crate) String);

impl Type<Sqlite> for StoredTime {
    fn type_info() -> <Sqlite as Database>::TypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl<'r> Decode<'r, Sqlite> for StoredTime {
    fn decode(value: <Sqlite as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        <String as Decode<Sqlite>>::decode(value).map(Self)
    }
}

impl Type<Postgres> for StoredTime {
    fn type_info() -> <Postgres as Database>::TypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }
}

impl<'r> Decode<'r, Postgres> for StoredTime {
    fn decode(value: <Postgres as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        <OffsetDateTime as Decode<Postgres>>::decode(value).map(|at| Self(format_timestamp(at)))
    }
}
