//! The referral network API under `/api/v1`: patients, the directory, referrals and
//! their steps, messages, attachments and portal links, the BAA registry and the
//! practice's notifications. Responses carry only what the operation needs: lists
//! carry no clinical content, and contact details only for roles that need them.

use crate::extract::Json;
use crate::extract::Query;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use enamel_domain::{
    Address, CdtCode, ClinicalDetails, ContactChannel, ContactDetails, Email, Insurance,
    NewPatient, Patient, PatientId, PatientSummary, Phi, PhoneNumber, PracticeId, PracticeKind,
    ReferralId, ReferralStatus, Step, Tooth, Urgency, VendorName,
};
use enamel_store::{
    BaaStatus, DirectoryQuery, NewReferral, PatientQuery, ReferralBox, ReferralDetail,
    ReferralSummary, StepInput, VendorEntry,
};
use serde::Deserialize;
use serde_json::{Value, json};
use time::{Date, PrimitiveDateTime};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/patients", get(find_patients).post(create_patient))
        .route("/api/v1/patients/search", post(search_patients))
        .route("/api/v1/patients/{id}", get(patient))
        .route("/api/v1/directory", get(directory))
        .route("/api/v1/directory/invitations", post(invite_office))
        .route("/api/v1/practice/listing", put(set_listing))
        .route("/api/v1/referrals", get(referrals).post(create_referral))
        .route("/api/v1/referrals/{id}", get(referral))
        .route("/api/v1/referrals/{id}/steps/{step}", post(take_step))
        .route("/api/v1/referrals/{id}/messages", post(post_message))
        .route(
            "/api/v1/referrals/{id}/letter-draft",
            post(crate::routes::assistant::draft_letter),
        )
        .route("/api/v1/vendors", get(vendors))
        .route("/api/v1/vendors/{name}", put(put_vendor))
        .route("/api/v1/notifications", get(notifications))
}

pub(crate) fn id_of<T>(raw: &str, wrap: fn(Uuid) -> T) -> Result<T, ApiError> {
    enamel_domain::ids::parse_uuid(raw)
        .map(wrap)
        .ok_or(ApiError::NotFound)
}

fn date(raw: &str, what: &'static str) -> Result<Date, ApiError> {
    Date::parse(
        raw.trim(),
        &time::format_description::well_known::Iso8601::DATE,
    )
    .map_err(|_| {
        ApiError::InvalidInput(enamel_domain::InvalidValue::new(
            what,
            "must be a date as YYYY-MM-DD",
        ))
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddressInput {
    pub(crate) line1: String,
    pub(crate) line2: Option<String>,
    pub(crate) city: String,
    pub(crate) state: String,
    pub(crate) postal_code: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatientInput {
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) birth_date: String,
    pub(crate) phone: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) address: Option<AddressInput>,
    pub(crate) preferred_contact: Option<String>,
    pub(crate) preferred_language: Option<String>,
    pub(crate) insurance_carrier: Option<String>,
    pub(crate) insurance_member_id: Option<String>,
    #[serde(default)]
    pub(crate) allow_duplicate: bool,
}

impl PatientInput {
    pub(crate) fn parse(self) -> Result<NewPatient, ApiError> {
        let first = enamel_domain::patient::parse_name_part(&self.first_name, "first name")?;
        let last = enamel_domain::patient::parse_name_part(&self.last_name, "last name")?;
        let birth_date = date(&self.birth_date, "birth date")?;
        let blank = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let contact = ContactDetails {
            phone: blank(&self.phone)
                .map(|p| PhoneNumber::parse(&p))
                .transpose()?,
            email: blank(&self.email).map(|e| Email::parse(&e)).transpose()?,
            address: self
                .address
                .map(|a| {
                    Address::parse(
                        &a.line1,
                        a.line2.as_deref(),
                        &a.city,
                        &a.state,
                        &a.postal_code,
                    )
                })
                .transpose()?,
            preferred: blank(&self.preferred_contact)
                .map(|c| ContactChannel::parse(&c))
                .transpose()?
                .unwrap_or(ContactChannel::Sms),
            language: enamel_domain::patient::parse_language(
                blank(&self.preferred_language).as_deref().unwrap_or("en"),
            )?,
        };
        let insurance = match (
            blank(&self.insurance_carrier),
            blank(&self.insurance_member_id),
        ) {
            (Some(carrier), Some(member)) => Some(Phi::new(Insurance::parse(&carrier, &member)?)),
            (None, None) => None,
            _ => {
                return Err(ApiError::Rejected(
                    "give both the insurance carrier and the member id, or neither".into(),
                ));
            }
        };
        Ok(NewPatient {
            id: PatientId::generate(),
            first_name: Phi::new(first),
            last_name: Phi::new(last),
            birth_date: Phi::new(birth_date),
            contact: Phi::new(contact),
            insurance,
        })
    }
}

fn summary_json(patient: &PatientSummary) -> Value {
    json!({
        "id": patient.id,
        "first_name": patient.first_name.expose(),
        "last_name": patient.last_name.expose(),
        "birth_date": patient.birth_date.expose().to_string(),
    })
}

fn patient_json(patient: &Patient) -> Value {
    let mut value = json!({
        "id": patient.id,
        "first_name": patient.first_name.expose(),
        "last_name": patient.last_name.expose(),
        "birth_date": patient.birth_date.expose().to_string(),
        "sms_opt_out": patient.sms_opt_out,
        "restricted": patient.restricted,
    });
    if let Some(contact) = &patient.contact {
        let contact = contact.expose();
        value["contact"] = json!({
            "phone": contact.phone.as_ref().map(PhoneNumber::e164),
            "email": contact.email.as_ref().map(Email::as_str),
            "address": contact.address,
            "preferred_contact": contact.preferred.as_str(),
            "preferred_language": contact.language,
        });
    }
    if let Some(insurance) = &patient.insurance {
        value["insurance"] = json!({
            "carrier": insurance.expose().carrier,
            "member_id": insurance.expose().member_id,
        });
    }
    value
}

#[utoipa::path(
    post,
    path = "/api/v1/patients",
    tag = "patients",
    summary = "Add a patient (409 `duplicate_patient` on the same name and birth date)",
    request_body = PatientInput,
    responses(
        (status = 201, description = "The patient's id", body = serde_json::Value),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflicts with the current state", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn create_patient(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(input): Json<PatientInput>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let allow_duplicate = input.allow_duplicate;
    let new = input.parse()?;
    let id = auth
        .scoped(&state.store)
        .create_patient(&new, allow_duplicate)
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!({ "id": id }))))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatientSearch {
    pub(crate) last_name: Option<String>,
    pub(crate) first_name: Option<String>,
    pub(crate) birth_date: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: Option<u32>,
}

/// Searching by query string would put PHI in URLs; the search is a POST body.
#[utoipa::path(
    get,
    path = "/api/v1/patients",
    tag = "patients",
    summary = "The newest patients (names, birth dates; no contact details)",
    params(Page),
    responses(
        (status = 200, description = "Patients", body = serde_json::Value),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn find_patients(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(page): Query<Page>,
) -> Result<Json<Value>, ApiError> {
    search(
        &state,
        &auth,
        PatientSearch {
            limit: page.limit,
            offset: page.offset,
            ..PatientSearch::default()
        },
    )
    .await
}

#[utoipa::path(
    post,
    path = "/api/v1/patients/search",
    tag = "patients",
    summary = "Find patients by last name, first name, birth date, phone or email (blind indexes; a POST so no PHI is in the URL)",
    request_body = PatientSearch,
    responses(
        (status = 200, description = "Patients", body = serde_json::Value),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn search_patients(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(query): Json<PatientSearch>,
) -> Result<Json<Value>, ApiError> {
    search(&state, &auth, query).await
}

async fn search(
    state: &AppState,
    auth: &Authenticated,
    query: PatientSearch,
) -> Result<Json<Value>, ApiError> {
    let query = patient_query(query)?;
    let found = auth.scoped(&state.store).find_patients(&query).await?;
    Ok(Json(
        json!({ "patients": found.iter().map(summary_json).collect::<Vec<_>>() }),
    ))
}

pub(crate) fn patient_query(query: PatientSearch) -> Result<PatientQuery, ApiError> {
    Ok(PatientQuery {
        last_name: query
            .last_name
            .filter(|s| !s.trim().is_empty())
            .map(Phi::new),
        first_name: query
            .first_name
            .filter(|s| !s.trim().is_empty())
            .map(Phi::new),
        birth_date: query
            .birth_date
            .map(|d| date(&d, "birth date"))
            .transpose()?
            .map(Phi::new),
        phone: query
            .phone
            .map(|p| PhoneNumber::parse(&p))
            .transpose()?
            .map(Phi::new),
        email: query
            .email
            .map(|e| Email::parse(&e))
            .transpose()?
            .map(Phi::new),
        limit: query.limit.unwrap_or(50),
        offset: query.offset.unwrap_or(0),
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct Page {
    limit: Option<u32>,
    offset: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/patients/{id}",
    tag = "patients",
    summary = "One patient (contact details and insurance only for roles that need them)",
    params(("id" = String, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The patient", body = serde_json::Value),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn patient(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = id_of(&id, PatientId::from_uuid)?;
    let patient = auth
        .scoped(&state.store)
        .patient(id, state.clock.now())
        .await?;
    Ok(Json(patient_json(&patient)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct DirectorySearch {
    specialty: Option<String>,
    name: Option<String>,
    city: Option<String>,
    /// Only offices within this many kilometres of yours, nearest first (your office
    /// must have set its location).
    within_km: Option<f64>,
}

#[utoipa::path(
    get,
    path = "/api/v1/directory",
    tag = "directory",
    summary = "Search listed practices by specialty, name and city",
    params(DirectorySearch),
    responses(
        (status = 200, description = "Listings", body = serde_json::Value),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn directory(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(search): Query<DirectorySearch>,
) -> Result<Json<Value>, ApiError> {
    let query = DirectoryQuery {
        kind: search
            .specialty
            .filter(|s| !s.is_empty())
            .map(|s| PracticeKind::parse(&s))
            .transpose()?,
        name: search.name,
        city: search.city,
        within_km: search.within_km.map(within_km).transpose()?,
    };
    let listings = auth.scoped(&state.store).directory(&query).await?;
    Ok(Json(json!({ "practices": listings })))
}

/// A search radius: a positive number of kilometres, at most 1,000.
pub(crate) fn within_km(km: f64) -> Result<f64, ApiError> {
    if km > 0.0 && km <= 1_000.0 {
        Ok(km)
    } else {
        Err(ApiError::InvalidInput(enamel_domain::InvalidValue::new(
            "within_km",
            "must be more than 0 and at most 1000",
        )))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct Listing {
    listed: bool,
    latitude: Option<f64>,
    longitude: Option<f64>,
}

#[utoipa::path(
    put,
    path = "/api/v1/practice/listing",
    tag = "directory",
    summary = "List or unlist your office in the directory, and say where it is (for distance search)",
    request_body = Listing,
    responses(
        (status = 204, description = "Saved"),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn set_listing(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(input): Json<Listing>,
) -> Result<axum::http::StatusCode, ApiError> {
    let location = match (input.latitude, input.longitude) {
        (Some(lat), Some(lon)) => Some(enamel_domain::GeoPoint::new(lat, lon)?),
        (None, None) => None,
        _ => {
            return Err(ApiError::Rejected(
                "give both latitude and longitude, or neither".into(),
            ));
        }
    };
    auth.scoped(&state.store)
        .set_listing(input.listed, location)
        .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct OfficeInvitation {
    office_name: String,
    email: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/directory/invitations",
    tag = "directory",
    summary = "Invite an office that is not on Enamel (no PHI)",
    request_body = OfficeInvitation,
    responses(
        (status = 201, description = "The invitation's id", body = serde_json::Value),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn invite_office(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(input): Json<OfficeInvitation>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let email = Email::parse(&input.email)?;
    let id = auth
        .scoped(&state.store)
        .invite_office(&input.office_name, &email, state.clock.now())
        .await?;
    Ok((axum::http::StatusCode::CREATED, Json(json!({ "id": id }))))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReferralInput {
    pub(crate) patient_id: String,
    pub(crate) receiving_practice_id: String,
    pub(crate) urgency: String,
    pub(crate) reason: String,
    #[serde(default)]
    pub(crate) cdt_codes: Vec<String>,
    #[serde(default)]
    pub(crate) teeth: Vec<String>,
    #[serde(default)]
    pub(crate) notes: String,
    /// Send at once instead of keeping a draft.
    #[serde(default)]
    pub(crate) send: bool,
}

#[utoipa::path(
    post,
    path = "/api/v1/referrals",
    tag = "referrals",
    summary = "Create a referral (a draft, or sent at once with `send`)",
    request_body = ReferralInput,
    responses(
        (status = 201, description = "The referral's id and status", body = serde_json::Value),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflicts with the current state", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn create_referral(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(input): Json<ReferralInput>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let new = input.parse()?;
    let scoped = auth.scoped(&state.store);
    let now = state.clock.now();
    let id = scoped.create_referral(&new, now).await?;
    let mut status = ReferralStatus::Draft;
    if input.send {
        status = scoped
            .step(id, Step::Send, StepInput::default(), now)
            .await?;
    }
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "id": id, "status": status })),
    ))
}

impl ReferralInput {
    pub(crate) fn parse(&self) -> Result<NewReferral, ApiError> {
        let input = self;
        let codes = input
            .cdt_codes
            .iter()
            .map(|c| CdtCode::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let teeth = input
            .teeth
            .iter()
            .map(|t| Tooth::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let clinical = ClinicalDetails::parse(&input.reason, codes, teeth, &input.notes)?;
        let new = NewReferral {
            id: ReferralId::generate(),
            patient: id_of(&input.patient_id, PatientId::from_uuid)
                .map_err(|_| ApiError::Rejected("no such patient".into()))?,
            receiver: id_of(&input.receiving_practice_id, PracticeId::from_uuid)
                .map_err(|_| ApiError::Rejected("the receiving practice does not exist".into()))?,
            urgency: Urgency::parse(&input.urgency)?,
            clinical: Phi::new(clinical),
        };
        Ok(new)
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ReferralList {
    #[serde(rename = "box")]
    which: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
}

pub(crate) fn summary_view(summary: &ReferralSummary) -> Value {
    json!({
        "id": summary.id,
        "side": summary.side,
        "referring_practice": { "id": summary.referrer, "name": summary.referrer_name },
        "receiving_practice": { "id": summary.receiver, "name": summary.receiver_name },
        "patient": summary_json(&summary.patient),
        "status": summary.status,
        "urgency": summary.urgency,
        "created_at": summary.created_at.to_string(),
        "sent_at": summary.sent_at.map(|t| t.to_string()),
        "updated_at": summary.updated_at.to_string(),
        "not_responding": summary.not_responding,
        "needs_attention": summary.needs_attention(),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/referrals",
    tag = "referrals",
    summary = "The inbox (received) or outbox (sent), with counts needing attention; no clinical content",
    params(ReferralList),
    responses(
        (status = 200, description = "Referral summaries", body = serde_json::Value),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn referrals(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(list): Query<ReferralList>,
) -> Result<Json<Value>, ApiError> {
    let which = match list.which.as_deref() {
        None | Some("inbox") => ReferralBox::Inbox,
        Some("outbox") => ReferralBox::Outbox,
        Some(_) => return Err(ApiError::Rejected("box is inbox or outbox".into())),
    };
    let status = list.status.map(|s| ReferralStatus::parse(&s)).transpose()?;
    let found = auth
        .scoped(&state.store)
        .referrals(which, status, list.limit.unwrap_or(50))
        .await?;
    let attention = found.iter().filter(|r| r.needs_attention()).count();
    Ok(Json(json!({
        "referrals": found.iter().map(summary_view).collect::<Vec<_>>(),
        "needs_attention": attention,
    })))
}

pub(crate) fn detail_view(detail: &ReferralDetail) -> Value {
    let clinical = detail.clinical.expose();
    json!({
        "referral": summary_view(&detail.summary),
        "patient": patient_json(&detail.patient),
        "reason": clinical.reason,
        "cdt_codes": clinical.cdt_codes,
        "teeth": clinical.teeth,
        "notes": clinical.notes,
        "appointment": detail.appointment.as_ref().map(|a| a.expose().to_string()),
        "timeline": detail.timeline.iter().map(|e| json!({
            "id": e.id,
            "kind": e.kind,
            "side": e.side,
            "actor": e.actor_name,
            "at": e.at.to_string(),
            "note": e.note.as_ref().map(|n| n.expose().clone()),
        })).collect::<Vec<_>>(),
        "attachments": detail.attachments.iter().map(|a| json!({
            "id": a.id,
            "side": a.side,
            "purpose": a.purpose,
            "media_type": a.media_type,
            "file_name": a.file_name.expose(),
            "size": a.size,
            "created_at": a.created_at.to_string(),
        })).collect::<Vec<_>>(),
        "next_steps": detail.steps.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/referrals/{id}",
    tag = "referrals",
    summary = "One referral with its clinical details, timeline, attachments and the steps the reader may take",
    params(("id" = String, Path, description = "Referral id")),
    responses(
        (status = 200, description = "The referral", body = serde_json::Value),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn referral(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = id_of(&id, ReferralId::from_uuid)?;
    let detail = auth
        .scoped(&state.store)
        .referral(id, state.clock.now())
        .await?;
    Ok(Json(detail_view(&detail)))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StepBody {
    /// A decline or cancellation reason, or the report.
    note: Option<String>,
    /// `YYYY-MM-DDTHH:MM` in the specialist's local time.
    appointment: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/referrals/{id}/steps/{step}",
    tag = "referrals",
    summary = "Take a step: send, receive, accept, decline, schedule, complete, send_report, close, cancel",
    request_body = Option<StepBody>,
    params(("id" = String, Path, description = "Referral id"), ("step" = String, Path, description = "The step's name")),
    responses(
        (status = 200, description = "The new status", body = serde_json::Value),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Conflicts with the current state", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn take_step(
    State(state): State<AppState>,
    auth: Authenticated,
    Path((id, step)): Path<(String, String)>,
    body: Option<Json<StepBody>>,
) -> Result<Json<Value>, ApiError> {
    let id = id_of(&id, ReferralId::from_uuid)?;
    let step = Step::parse(&step).map_err(|_| ApiError::NotFound)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let input = step_input(body.note, body.appointment.as_deref())?;
    let status = auth
        .scoped(&state.store)
        .step(id, step, input, state.clock.now())
        .await?;
    Ok(Json(json!({ "id": id, "status": status })))
}

/// A step's words (a reason or the report) and its appointment, given as
/// `YYYY-MM-DDTHH:MM` (what an HTML `datetime-local` input sends).
pub(crate) fn step_input(
    note: Option<String>,
    appointment: Option<&str>,
) -> Result<StepInput, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let appointment = appointment
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            PrimitiveDateTime::parse(a, &format).map_err(|_| {
                ApiError::InvalidInput(enamel_domain::InvalidValue::new(
                    "appointment",
                    "must be YYYY-MM-DDTHH:MM",
                ))
            })
        })
        .transpose()?;
    Ok(StepInput {
        note: note.filter(|n| !n.trim().is_empty()).map(Phi::new),
        appointment: appointment.map(Phi::new),
    })
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    body: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/referrals/{id}/messages",
    tag = "referrals",
    summary = "Post a message to the other office",
    request_body = MessageBody,
    params(("id" = String, Path, description = "Referral id")),
    responses(
        (status = 201, description = "The message's id", body = serde_json::Value),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn post_message(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
    Json(message): Json<MessageBody>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let id = id_of(&id, ReferralId::from_uuid)?;
    let message_id = auth
        .scoped(&state.store)
        .post_message(id, &Phi::new(message.body), state.clock.now())
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "id": message_id })),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/vendors",
    tag = "vendors",
    summary = "The BAA registry",
    responses(
        (status = 200, description = "Vendors", body = serde_json::Value),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn vendors(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let vendors = auth.scoped(&state.store).vendors().await?;
    let today = state.clock.now().date();
    Ok(Json(json!({
        "vendors": vendors.iter().map(|v| {
            let mut value = serde_json::to_value(v).unwrap_or_default();
            value["may_receive_phi"] = json!(v.may_receive_phi(today));
            value
        }).collect::<Vec<_>>()
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VendorInput {
    display_name: String,
    services: String,
    baa_status: String,
    executed_on: Option<String>,
    expires_on: Option<String>,
    document_ref: Option<String>,
}

#[utoipa::path(
    put,
    path = "/api/v1/vendors/{name}",
    tag = "vendors",
    summary = "Record or update a vendor and its BAA (security officer)",
    request_body = VendorInput,
    params(("name" = String, Path, description = "The vendor's key, e.g. twilio")),
    responses(
        (status = 200, description = "The vendor's id", body = serde_json::Value),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn put_vendor(
    State(state): State<AppState>,
    auth: Authenticated,
    Path(name): Path<String>,
    Json(input): Json<VendorInput>,
) -> Result<Json<Value>, ApiError> {
    let entry = VendorEntry {
        name: VendorName::parse(&name)?,
        display_name: input.display_name,
        services: input.services,
        baa_status: BaaStatus::parse(&input.baa_status)?,
        executed_on: input
            .executed_on
            .map(|d| date(&d, "executed on"))
            .transpose()?,
        expires_on: input
            .expires_on
            .map(|d| date(&d, "expires on"))
            .transpose()?,
        document_ref: input.document_ref,
    };
    let id = auth
        .scoped(&state.store)
        .put_vendor(&entry, state.clock.now())
        .await?;
    Ok(Json(json!({ "id": id })))
}

/// The practice's notifications and their state, with refusals (a vendor without a
/// BAA) as problems to fix. Never recipients or words.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "vendors",
    summary = "The practice's notifications and their state; refusals (no executed BAA) as problems (never recipients or words)",
    responses(
        (status = 200, description = "Notifications", body = serde_json::Value),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn notifications(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let messages = auth.scoped(&state.store).notifications(200).await?;
    let problems: Vec<&enamel_store::MessageStatus> =
        messages.iter().filter(|m| m.status == "refused").collect();
    Ok(Json(
        json!({ "notifications": messages, "problems": problems }),
    ))
}
