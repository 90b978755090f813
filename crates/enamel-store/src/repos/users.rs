//! Workforce accounts.

use anyhow::Context as _;
use enamel_domain::{
    DisplayName, Email, InvalidValue, NewUser, PracticeId, Role, User, UserId, UserStatus,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::on_pool;
use crate::error::is_unique_violation;
use crate::{Store, StoreError};

/// The columns of `users`, for `concat!` into statements that stay `&'static str`.
macro_rules! user_columns {
    () => {
        "id, practice_id, email, display_name, role, status, created_at"
    };
}
pub(crate) use user_columns;

/// An account as its row holds it.
#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    practice_id: Option<Uuid>,
    email: String,
    display_name: String,
    role: String,
    status: String,
    created_at: OffsetDateTime,
}

impl TryFrom<UserRow> for User {
    type Error = InvalidValue;

    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: UserId::from_uuid(row.id),
            practice: row.practice_id.map(PracticeId::from_uuid),
            email: Email::parse(&row.email)?,
            display_name: DisplayName::parse(&row.display_name)?,
            role: Role::parse(&row.role)?,
            status: UserStatus::parse(&row.status)?,
            created_at: row.created_at,
        })
    }
}

pub(crate) fn parse_rows(rows: Vec<UserRow>) -> Result<Vec<User>, StoreError> {
    rows.into_iter()
        .map(|row| row.try_into().map_err(StoreError::Corrupt))
        .collect()
}

/// Reads and writes accounts across practices; for the system, not for handlers.
#[derive(Debug)]
pub struct UserRepo<'a> {
    store: &'a Store,
}

impl<'a> UserRepo<'a> {
    pub(crate) const fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Inserts an account. A taken email is a [`StoreError::Conflict`]; an unknown
    /// practice is [`StoreError::NotFound`].
    pub async fn insert(&self, new: &NewUser) -> Result<User, StoreError> {
        let created_at = self.store.now();
        let sql = concat!(
            "INSERT INTO users (",
            user_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        );
        let result = on_pool!(&self.store.db, pool => {
            sqlx::query(sql)
                .bind(new.id().as_uuid())
                .bind(new.practice().map(|p| p.as_uuid()))
                .bind(new.email().as_str())
                .bind(new.display_name().as_str())
                .bind(new.role().as_str())
                .bind(new.status().as_str())
                .bind(created_at)
                .execute(pool)
                .await
                .map(|_| ())
        });
        match result {
            Ok(()) => Ok(User {
                id: new.id(),
                practice: new.practice(),
                email: new.email().clone(),
                display_name: new.display_name().clone(),
                role: new.role(),
                status: new.status(),
                created_at,
            }),
            Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict(
                "an account with this email already exists",
            )),
            Err(sqlx::Error::Database(db)) if db.is_foreign_key_violation() => {
                Err(StoreError::NotFound)
            }
            Err(err) => Err(anyhow::Error::new(err)
                .context("inserting an account")
                .into()),
        }
    }

    /// The account with this email, whatever its practice (for sign-in).
    pub async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let sql = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
        let row: Option<UserRow> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(email.as_str()).fetch_optional(pool).await
        })
        .context("finding an account by email")?;
        row.map(User::try_from)
            .transpose()
            .map_err(StoreError::Corrupt)
    }
}
