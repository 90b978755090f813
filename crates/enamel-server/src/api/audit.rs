//! The security officer's audit queries over HTTP: the practice's log filtered by
//! patient, action, actor, outcome and time, newest first and paged; the last 24
//! hours' failures and denials; a patient's accounting of disclosures as JSON and
//! CSV. Every query is itself recorded in the log.

use std::collections::BTreeMap;

use crate::http::extract::Json;
use crate::http::extract::Query;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use enamel_audit::entry::{Action, Detail, Entry, Outcome};
use enamel_store::{AuditFilter, AuditPage, Disclosure};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::{ApiError, AppState};

pub(crate) fn invalid(field: &'static str, rule: &'static str) -> ApiError {
    ApiError::InvalidInput(enamel_domain::InvalidValue::new(field, rule))
}

/// The filters, all optional, combined with AND.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntriesQuery {
    /// A patient's id: all access to that patient.
    patient: Option<String>,
    /// One action, e.g. `read`, `download`, `disclose`, `sign_in`.
    action: Option<String>,
    /// An actor's id (a user's or agent's).
    actor: Option<String>,
    /// Comma-separated outcomes: `success`, `failure`, `denied`.
    outcome: Option<String>,
    /// From this time (RFC 3339), inclusive.
    from: Option<String>,
    /// Until this time (RFC 3339), exclusive.
    to: Option<String>,
    /// The page after this index (from the previous page's `next_before`).
    before: Option<u64>,
    /// At most this many entries (default 100, at most 500).
    limit: Option<u32>,
}

pub(crate) fn time_of(
    raw: Option<&str>,
    field: &'static str,
) -> Result<Option<OffsetDateTime>, ApiError> {
    raw.map(|t| {
        OffsetDateTime::parse(t.trim(), &Rfc3339)
            .map_err(|_| invalid(field, "must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z"))
    })
    .transpose()
}

impl EntriesQuery {
    fn filter(&self) -> Result<AuditFilter, ApiError> {
        let outcomes = match &self.outcome {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|o| {
                    Outcome::parse(o.trim())
                        .ok_or_else(|| invalid("outcome", "is success, failure or denied"))
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(AuditFilter {
            patient: self
                .patient
                .as_deref()
                .map(|p| {
                    enamel_domain::ids::parse_uuid(p)
                        .ok_or_else(|| invalid("patient", "must be an id"))
                })
                .transpose()?,
            action: self
                .action
                .as_deref()
                .map(|a| {
                    Action::parse(a.trim()).ok_or_else(|| invalid("action", "is not an action"))
                })
                .transpose()?,
            actor: self.actor.clone(),
            outcomes,
            from: time_of(self.from.as_deref(), "from")?,
            to: time_of(self.to.as_deref(), "to")?,
        })
    }
}

/// One page of the audit log, newest first: ids, codes and keyed hashes, never PHI.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AuditEntries {
    entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; null on the last page.
    next_before: Option<u64>,
}

impl From<AuditPage> for AuditEntries {
    fn from(page: AuditPage) -> Self {
        Self {
            entries: page.entries.into_iter().map(AuditEntry::from).collect(),
            next_before: page.next_before,
        }
    }
}

/// One audit entry as stored, fields in canonical order; no free text, so never PHI.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AuditEntry {
    action: String,
    actor_id: Option<String>,
    /// `human`, `agent` or `system`.
    actor_type: String,
    correlation_id: Option<String>,
    detail: BTreeMap<String, AuditDetail>,
    format: u32,
    /// The entry's position in its log.
    index: u64,
    ip_address: Option<String>,
    /// `success`, `failure` or `denied`.
    outcome: String,
    patient_id: Option<String>,
    /// Hex SHA-256 leaf hash of the previous entry; 64 zeros for the first.
    prev: String,
    resource_id: Option<String>,
    resource_type: String,
    scope: String,
    /// RFC 3339, UTC, microseconds.
    timestamp: String,
    user_agent: Option<String>,
}

impl From<Entry> for AuditEntry {
    fn from(entry: Entry) -> Self {
        Self {
            action: entry.action,
            actor_id: entry.actor_id,
            actor_type: entry.actor_type,
            correlation_id: entry.correlation_id,
            detail: entry
                .detail
                .into_iter()
                .map(|(key, value)| (key, AuditDetail::from(value)))
                .collect(),
            format: entry.format,
            index: entry.index,
            ip_address: entry.ip_address,
            outcome: entry.outcome,
            patient_id: entry.patient_id.map(|p| p.to_string()),
            prev: entry.prev,
            resource_id: entry.resource_id,
            resource_type: entry.resource_type,
            scope: entry.scope,
            timestamp: entry.timestamp,
            user_agent: entry.user_agent,
        }
    }
}

/// A `detail` value keyed by its kind (`{"code": "phone"}`); no kind holds free text.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
enum AuditDetail {
    Count(u64),
    Ids(Vec<String>),
    /// A keyed hash (HMAC) of an identifier, hex-encoded.
    KeyedHash(String),
    Code(String),
}

impl From<Detail> for AuditDetail {
    fn from(detail: Detail) -> Self {
        match detail {
            Detail::Count(n) => Self::Count(n),
            Detail::Ids(ids) => Self::Ids(ids.iter().map(ToString::to_string).collect()),
            Detail::KeyedHash(hash) => Self::KeyedHash(hash),
            Detail::Code(code) => Self::Code(code),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/entries",
    tag = "compliance",
    summary = "Query the practice's audit log (security officer): newest first, paged",
    params(EntriesQuery),
    responses(
        (status = 200, description = "Entries (ids and keyed hashes only) and `next_before`", body = AuditEntries),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn entries(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<EntriesQuery>,
) -> Result<Json<AuditEntries>, ApiError> {
    let filter = query.filter()?;
    let page = auth
        .scoped(&state.store)
        .audit_query(&filter, query.before, query.limit.unwrap_or(100))
        .await?;
    Ok(Json(AuditEntries::from(page)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    /// The page after this index (from the previous page's `next_before`).
    before: Option<u64>,
    /// At most this many entries (default 100, at most 500).
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/failures",
    tag = "compliance",
    summary = "Failures and denials of the last 24 hours (security officer)",
    params(PageQuery),
    responses(
        (status = 200, description = "Entries and `next_before`", body = AuditEntries),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn failures(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<PageQuery>,
) -> Result<Json<AuditEntries>, ApiError> {
    let page = auth
        .scoped(&state.store)
        .audit_failures(query.before, query.limit.unwrap_or(100))
        .await?;
    Ok(Json(AuditEntries::from(page)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatientQuery {
    /// The patient's id.
    patient: String,
}

impl PatientQuery {
    fn patient(&self) -> Result<Uuid, ApiError> {
        self.patient
            .parse()
            .map_err(|_| invalid("patient", "must be an id"))
    }
}

/// A patient's accounting of disclosures, newest first; never the content disclosed.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct Disclosures {
    disclosures: Vec<DisclosureView>,
}

/// One disclosure in a patient's accounting: ids and codes only.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct DisclosureView {
    timestamp: String,
    /// `practice` or `vendor`.
    recipient_type: String,
    /// The receiving practice's id or the vendor's name.
    recipient: String,
    purpose: String,
    resource_type: String,
    resource_id: String,
}

impl From<Disclosure> for DisclosureView {
    fn from(d: Disclosure) -> Self {
        Self {
            timestamp: d.timestamp,
            recipient_type: d.recipient_type,
            recipient: d.recipient,
            purpose: d.purpose,
            resource_type: d.resource_type,
            resource_id: d.resource_id,
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/disclosures",
    tag = "compliance",
    summary = "A patient's accounting of disclosures (45 CFR 164.528), newest first",
    params(PatientQuery),
    responses(
        (status = 200, description = "Disclosures: when, to whom, why, what", body = Disclosures),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn disclosures(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<PatientQuery>,
) -> Result<Json<Disclosures>, ApiError> {
    let found = auth
        .scoped(&state.store)
        .disclosures(query.patient()?)
        .await?;
    Ok(Json(Disclosures {
        disclosures: found.into_iter().map(DisclosureView::from).collect(),
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/audit/disclosures.csv",
    tag = "compliance",
    summary = "A patient's accounting of disclosures as CSV",
    params(PatientQuery),
    responses(
        (status = 200, description = "CSV: timestamp, recipient_type, recipient, purpose, resource_type, resource_id", body = String, content_type = "text/csv"),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::http::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::http::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn disclosures_csv(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<PatientQuery>,
) -> Result<Response, ApiError> {
    let csv = auth
        .scoped(&state.store)
        .disclosures_csv(query.patient()?)
        .await?;
    let mut response = csv.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    Ok(response)
}
