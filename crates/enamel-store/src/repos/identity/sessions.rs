//! Sessions: opening one at sign-in, finding it by its token's digest, keeping it alive, and ending it (one, or all of a person's).

use super::{EndReason, Identity, NewSession, SessionInfo, SessionRecord, SessionStage};
use crate::StoreError;
use crate::db::on_pool;
use crate::repos::users::UserRow;
use anyhow::Context as _;
use enamel_domain::UserId;
use time::OffsetDateTime;
use uuid::Uuid;

impl Identity<'_> {
    /// Opens a session; returns its id.
    pub async fn open_session(&self, new: &NewSession<'_>) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        on_pool!(&self.store.db, pool => {
            sqlx::query(
                "INSERT INTO sessions (id, token_digest, user_id, practice_id, stage, created_at, \
                 last_seen_at, ip_address, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)",
            )
            .bind(id)
            .bind(&new.token_digest[..])
            .bind(new.user.id.as_uuid())
            .bind(new.user.practice.map(|p| p.as_uuid()))
            .bind(new.stage.as_str())
            .bind(new.now)
            .bind(new.ip_address.as_deref())
            .bind(new.user_agent.as_deref())
            .execute(pool)
            .await
            .map(|_| ())
        })
        .context("opening a session")?;
        Ok(id)
    }

    /// The open (not ended) session whose token has `digest`, with its account.
    pub async fn session(&self, digest: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            session_id: Uuid,
            stage: String,
            session_created_at: OffsetDateTime,
            last_seen_at: OffsetDateTime,
            #[sqlx(flatten)]
            user: UserRow,
        }
        let sql = concat!(
            "SELECT s.id AS session_id, s.stage, s.created_at AS session_created_at, s.last_seen_at, ",
            "u.id, u.practice_id, u.email, u.display_name, u.role, u.status, u.created_at ",
            "FROM sessions s JOIN users u ON u.id = s.user_id ",
            "WHERE s.token_digest = $1 AND s.ended_at IS NULL"
        );
        let row: Option<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(sql).bind(&digest[..]).fetch_optional(pool).await
        })
        .context("finding a session")?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SessionRecord {
            id: row.session_id,
            user: row.user.try_into().map_err(StoreError::Corrupt)?,
            stage: if row.stage == "active" {
                SessionStage::Active
            } else {
                SessionStage::Password
            },
            created_at: row.session_created_at,
            last_seen_at: row.last_seen_at,
        }))
    }

    /// Marks activity on a session.
    pub async fn touch_session(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        on_pool!(&self.store.db, pool => {
            sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND ended_at IS NULL")
                .bind(id)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
        })
        .context("touching a session")?;
        Ok(())
    }

    /// Ends one session of `user`; `false` if it was not open (or not theirs).
    pub async fn end_session(
        &self,
        user: UserId,
        id: Uuid,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let ended = on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE sessions SET ended_at = $3, end_reason = $4 \
                 WHERE id = $1 AND user_id = $2 AND ended_at IS NULL",
            )
            .bind(id)
            .bind(user.as_uuid())
            .bind(now)
            .bind(reason.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("ending a session")?;
        Ok(ended == 1)
    }

    /// Ends every open session of `user`, but `except`; returns how many.
    pub async fn end_sessions_of(
        &self,
        user: UserId,
        except: Option<Uuid>,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let ended = on_pool!(&self.store.db, pool => {
            sqlx::query(
                "UPDATE sessions SET ended_at = $2, end_reason = $3 \
                 WHERE user_id = $1 AND ended_at IS NULL AND ($4 IS NULL OR id <> $4)",
            )
            .bind(user.as_uuid())
            .bind(now)
            .bind(reason.as_str())
            .bind(except)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .context("ending sessions")?;
        Ok(ended)
    }

    /// The open sessions of `user`, newest first.
    pub async fn sessions_of(&self, user: UserId) -> Result<Vec<SessionInfo>, StoreError> {
        type Row = (
            Uuid,
            OffsetDateTime,
            OffsetDateTime,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = on_pool!(&self.store.db, pool => {
            sqlx::query_as(
                "SELECT id, created_at, last_seen_at, ip_address, user_agent FROM sessions \
                 WHERE user_id = $1 AND ended_at IS NULL AND stage = 'active' ORDER BY created_at DESC",
            )
            .bind(user.as_uuid())
            .fetch_all(pool)
            .await
        })
        .context("listing sessions")?;
        Ok(rows
            .into_iter()
            .map(
                |(id, created_at, last_seen_at, ip_address, user_agent)| SessionInfo {
                    id,
                    created_at,
                    last_seen_at,
                    ip_address,
                    user_agent,
                },
            )
            .collect())
    }
}
