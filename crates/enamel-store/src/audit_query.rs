//! Queries for a practice's security officer: who touched a patient, one action in a
//! time range, failures and denials, one actor's activity, and the accounting of
//! disclosures (45 CFR 164.528). Each query is itself recorded in the log.

use std::fmt::Write as _;

use anyhow::Context as _;
use enamel_audit::entry::{Action, Detail, Entry, Outcome, ResourceType, Scope};
use enamel_domain::Actor;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::db::on_pool;
use crate::scoped::authorize::AuditedAs;
use crate::{AuditLog, RequestContext, Scoped, StoreError};

/// What to look for; every part is optional and they combine with AND.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub patient: Option<Uuid>,
    pub action: Option<Action>,
    pub actor: Option<String>,
    /// Outcomes to include (e.g. failure and denied); empty means all.
    pub outcomes: Vec<Outcome>,
    pub from: Option<OffsetDateTime>,
    pub to: Option<OffsetDateTime>,
}

/// One page of results, newest first, and where the next page starts.
#[derive(Clone, Debug)]
pub struct AuditPage {
    pub entries: Vec<Entry>,
    /// Pass as `before` to get the next (older) page; `None` when this was the last.
    pub next_before: Option<u64>,
}

/// The most entries one page returns.
pub const MAX_PAGE: u32 = 500;

impl AuditLog<'_> {
    /// Entries of the `actor`'s practice log matching `filter`, newest first, older
    /// than index `before` if given, at most `limit` (capped at [`MAX_PAGE`]). The
    /// query is recorded, with the number of entries it returned.
    pub async fn query(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        self.query_from(actor, &RequestContext::default(), filter, before, limit)
            .await
    }

    /// [`AuditLog::query`], recording the request's address, user agent and
    /// correlation id with the query, and the filters it used.
    pub(crate) async fn query_from(
        &self,
        actor: &Actor,
        context: &RequestContext,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        let practice = actor.practice().ok_or(StoreError::NotFound)?;
        let scope = Scope::Practice(practice);
        let limit = limit.clamp(1, MAX_PAGE);
        let rows = self.select(&scope, filter, before, limit + 1).await?;
        let mut entries = Vec::with_capacity(rows.len());
        for (_, bytes) in &rows {
            entries.push(Entry::parse_canonical(bytes).map_err(|_| {
                StoreError::Unexpected(anyhow::anyhow!(
                    "an audit entry is not canonical: run enamel audit verify"
                ))
            })?);
        }
        let more = entries.len() > limit as usize;
        entries.truncate(limit as usize);
        let next_before = if more {
            entries.last().map(|e| e.index)
        } else {
            None
        };
        let mut event = self.store().event_for(
            actor,
            Action::AuditQuery,
            ResourceType::AuditLog,
            None,
            Outcome::Success,
        );
        context.apply(&mut event);
        event.patient_id = filter.patient;
        event
            .detail
            .insert("returned", Detail::Count(entries.len() as u64));
        if let Some(action) = filter.action {
            event
                .detail
                .insert("action", Detail::Code(action.as_str().to_owned()));
        }
        // What an officer typed is kept only as a keyed hash: a name typed into
        // the filter must not land in the permanent, exported log.
        if let Some(typed) = &filter.actor {
            let hashed = self
                .store()
                .audit_hash(practice, "actor_filter", typed)
                .await?;
            event.detail.insert("actor", hashed);
        }
        if !filter.outcomes.is_empty() {
            let outcomes: Vec<&str> = filter.outcomes.iter().map(|o| o.as_str()).collect();
            event
                .detail
                .insert("outcomes", Detail::Code(outcomes.join(",")));
        }
        if filter.from.is_some() || filter.to.is_some() {
            event
                .detail
                .insert("time_range", Detail::Code("yes".to_owned()));
        }
        self.record(event).await?;
        Ok(AuditPage {
            entries,
            next_before,
        })
    }

    /// The matching entries, newest first: from the query index below the log's
    /// watermark and from the entries themselves at or above it, in one statement
    /// (one snapshot), so an entry appended a moment ago is found whether or not
    /// the indexer has reached it.
    async fn select(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        const MARK: &str =
            "(SELECT COALESCE(MAX(indexed_to), 0) FROM audit_index_marks WHERE scope = ";
        on_pool!(&self.store().db, pool => {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT idx, entry FROM (SELECT t.idx, t.entry FROM audit_entries t WHERE t.scope = ",
            );
            query.push_bind(scope.key()).push(" AND t.idx >= ").push(MARK).push_bind(scope.key()).push(")");
            push_filter(&mut query, "t", filter, before);
            query.push(" ORDER BY t.idx DESC LIMIT ").push_bind(i64::from(limit));
            query.push(
                ") recent UNION ALL SELECT idx, entry FROM (SELECT e.idx, e.entry FROM audit_index i \
                 JOIN audit_entries e ON e.scope = i.scope AND e.idx = i.idx WHERE i.scope = ",
            );
            query.push_bind(scope.key()).push(" AND i.idx < ").push(MARK).push_bind(scope.key()).push(")");
            push_filter(&mut query, "i", filter, before);
            query.push(" ORDER BY i.idx DESC LIMIT ").push_bind(i64::from(limit));
            query.push(") below ORDER BY idx DESC LIMIT ").push_bind(i64::from(limit));
            query.build_query_as::<(i64, Vec<u8>)>().fetch_all(pool).await
        })
        .context("querying the audit log")
        .map_err(Into::into)
    }

    /// Failures and denials of the last 24 hours.
    pub async fn recent_failures(
        &self,
        actor: &Actor,
        before: Option<u64>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        self.query(actor, &last_day_failures(self.store().now()), before, limit)
            .await
    }

    /// The accounting of disclosures of a patient's information to other practices
    /// and vendors (45 CFR 164.528), newest first.
    pub async fn disclosures(
        &self,
        actor: &Actor,
        patient: Uuid,
    ) -> Result<Vec<Disclosure>, StoreError> {
        self.disclosures_from(actor, &RequestContext::default(), patient)
            .await
    }

    async fn disclosures_from(
        &self,
        actor: &Actor,
        context: &RequestContext,
        patient: Uuid,
    ) -> Result<Vec<Disclosure>, StoreError> {
        let filter = AuditFilter {
            patient: Some(patient),
            action: Some(Action::Disclose),
            outcomes: vec![Outcome::Success],
            ..AuditFilter::default()
        };
        let mut all = Vec::new();
        let mut before = None;
        loop {
            let page = self
                .query_from(actor, context, &filter, before, MAX_PAGE)
                .await?;
            all.extend(page.entries.iter().map(Disclosure::of));
            match page.next_before {
                Some(next) => before = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// [`AuditLog::disclosures`] as CSV (date, recipient kind, recipient, purpose,
    /// resource).
    pub async fn disclosures_csv(
        &self,
        actor: &Actor,
        patient: Uuid,
    ) -> Result<String, StoreError> {
        Ok(csv_of(&self.disclosures(actor, patient).await?))
    }
}

fn csv_of(disclosures: &[Disclosure]) -> String {
    let mut csv =
        String::from("timestamp,recipient_type,recipient,purpose,resource_type,resource_id\n");
    for d in disclosures {
        let fields = [
            &d.timestamp,
            &d.recipient_type,
            &d.recipient,
            &d.purpose,
            &d.resource_type,
            &d.resource_id,
        ];
        let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        let _ = writeln!(csv, "{}", row.join(","));
    }
    csv
}

/// Appends `filter`'s conditions on the query columns of the table aliased `table`
/// (the entries and the index have the same ones).
fn push_filter<DB>(
    query: &mut sqlx::QueryBuilder<DB>,
    table: &str,
    filter: &AuditFilter,
    before: Option<u64>,
) where
    DB: sqlx::Database,
    for<'t> Uuid: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> &'static str: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> crate::audit::AuditTime: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    if let Some(patient) = filter.patient {
        query
            .push(format_args!(" AND {table}.patient_id = "))
            .push_bind(patient);
    }
    if let Some(action) = filter.action {
        query
            .push(format_args!(" AND {table}.action = "))
            .push_bind(action.as_str());
    }
    if let Some(actor) = &filter.actor {
        query
            .push(format_args!(" AND {table}.actor_id = "))
            .push_bind(actor.clone());
    }
    if !filter.outcomes.is_empty() {
        query.push(format_args!(" AND {table}.outcome IN ("));
        let mut list = query.separated(", ");
        for outcome in &filter.outcomes {
            list.push_bind(outcome.as_str());
        }
        query.push(")");
    }
    if let Some(from) = filter.from {
        query
            .push(format_args!(" AND {table}.at >= "))
            .push_bind(crate::audit::AuditTime(from));
    }
    if let Some(to) = filter.to {
        query
            .push(format_args!(" AND {table}.at < "))
            .push_bind(crate::audit::AuditTime(to));
    }
    if let Some(before) = before {
        query
            .push(format_args!(" AND {table}.idx < "))
            .push_bind(i64::try_from(before).unwrap_or(i64::MAX));
    }
}

/// Failures and denials of the last 24 hours.
fn last_day_failures(now: OffsetDateTime) -> AuditFilter {
    AuditFilter {
        outcomes: vec![Outcome::Failure, Outcome::Denied],
        from: Some(now - time::Duration::hours(24)),
        ..AuditFilter::default()
    }
}

/// One disclosure in a patient's accounting.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Disclosure {
    pub timestamp: String,
    /// `practice` or `vendor`.
    pub recipient_type: String,
    /// The receiving practice's id or the vendor's name.
    pub recipient: String,
    pub purpose: String,
    pub resource_type: String,
    pub resource_id: String,
}

impl Disclosure {
    fn of(entry: &Entry) -> Self {
        let code = |key: &str| match entry.detail.get(key) {
            Some(Detail::Code(code)) => code.clone(),
            _ => String::new(),
        };
        Self {
            timestamp: entry.timestamp.clone(),
            recipient_type: code("recipient_type"),
            recipient: code("recipient"),
            purpose: code("purpose"),
            resource_type: entry.resource_type.clone(),
            resource_id: entry.resource_id.clone().unwrap_or_default(),
        }
    }
}

impl Scoped<'_> {
    /// The security officer's query of their practice's log (authorized as
    /// `audit.query`; the query itself is recorded).
    pub async fn audit_query(
        &self,
        filter: &AuditFilter,
        before: Option<u64>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        self.authorize_audit_query().await?;
        self.store
            .audit()
            .query_from(self.actor, &self.context, filter, before, limit)
            .await
    }

    /// Failures and denials of the last 24 hours, for the security officer.
    pub async fn audit_failures(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        self.authorize_audit_query().await?;
        self.store
            .audit()
            .query_from(
                self.actor,
                &self.context,
                &last_day_failures(self.store.now()),
                before,
                limit,
            )
            .await
    }

    /// A patient's accounting of disclosures, for the security officer.
    pub async fn disclosures(&self, patient: Uuid) -> Result<Vec<Disclosure>, StoreError> {
        self.authorize_audit_query().await?;
        self.store
            .audit()
            .disclosures_from(self.actor, &self.context, patient)
            .await
    }

    /// A patient's accounting of disclosures as CSV, for the security officer.
    pub async fn disclosures_csv(&self, patient: Uuid) -> Result<String, StoreError> {
        Ok(csv_of(&self.disclosures(patient).await?))
    }

    async fn authorize_audit_query(&self) -> Result<(), StoreError> {
        self.authorize_in_own_practice(
            enamel_policy::Action::AuditQuery,
            AuditedAs::any(Action::AuditQuery, ResourceType::AuditLog),
        )
        .await
    }
}

/// A CSV field per RFC 4180: quoted, with quotes doubled, when it holds a comma, a
/// quote or a line break.
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("treatment"), "treatment");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
