//! The referral network API under `/api/v1`: patients, the directory, referrals and
//! their steps, messages, attachments and portal links, the BAA registry and the
//! practice's notifications. Responses carry only what the operation needs: lists
//! carry no clinical content, and contact details only for roles that need them.

use crate::extract::Json;
use crate::extract::Query;
use crate::extract::{Id, parse_id};
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use enamel_domain::{
    Address, CdtCode, ClinicalDetails, ContactChannel, ContactDetails, Email, Insurance,
    NewPatient, PatientId, Phi, PhoneNumber, PracticeId, PracticeKind, ReferralId, ReferralStatus,
    Step, Tooth, Urgency, VendorName,
};
use enamel_store::{
    BaaStatus, DirectoryQuery, NewReferral, PatientQuery, ReferralBox, StepInput, VendorEntry,
};
use serde::Deserialize;
use time::{Date, PrimitiveDateTime};

use crate::auth::Authenticated;
use crate::routes::referrals_views::{
    DirectoryListing, DirectoryListings, NotificationList, NotificationView, PatientList,
    PatientSummaryView, PatientView, ReferralList, ReferralState, ReferralSummaryView,
    ReferralView, ResourceId, VendorList, VendorView,
};
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

#[utoipa::path(
    post,
    path = "/api/v1/patients",
    tag = "patients",
    summary = "Add a patient (409 `duplicate_patient` on the same name and birth date)",
    request_body = PatientInput,
    responses(
        (status = 201, description = "The patient's id", body = ResourceId),
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
) -> Result<(axum::http::StatusCode, Json<ResourceId>), ApiError> {
    let allow_duplicate = input.allow_duplicate;
    let new = input.parse()?;
    let id = auth
        .scoped(&state.store)
        .create_patient(&new, allow_duplicate)
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ResourceId { id: id.to_string() }),
    ))
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
        (status = 200, description = "Patients", body = PatientList),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn find_patients(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(page): Query<Page>,
) -> Result<Json<PatientList>, ApiError> {
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
        (status = 200, description = "Patients", body = PatientList),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn search_patients(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(query): Json<PatientSearch>,
) -> Result<Json<PatientList>, ApiError> {
    search(&state, &auth, query).await
}

async fn search(
    state: &AppState,
    auth: &Authenticated,
    query: PatientSearch,
) -> Result<Json<PatientList>, ApiError> {
    let query = patient_query(query)?;
    let found = auth.scoped(&state.store).find_patients(&query).await?;
    Ok(Json(PatientList {
        patients: found.iter().map(PatientSummaryView::from).collect(),
    }))
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
        (status = 200, description = "The patient", body = PatientView),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn patient(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<PatientId>,
) -> Result<Json<PatientView>, ApiError> {
    let patient = auth
        .scoped(&state.store)
        .patient(id, state.clock.now())
        .await?;
    Ok(Json(PatientView::from(&patient)))
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
        (status = 200, description = "Listings", body = DirectoryListings),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn directory(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(search): Query<DirectorySearch>,
) -> Result<Json<DirectoryListings>, ApiError> {
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
    Ok(Json(DirectoryListings {
        practices: listings.into_iter().map(DirectoryListing::from).collect(),
    }))
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
        (status = 201, description = "The invitation's id", body = ResourceId),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn invite_office(
    State(state): State<AppState>,
    auth: Authenticated,
    Json(input): Json<OfficeInvitation>,
) -> Result<(axum::http::StatusCode, Json<ResourceId>), ApiError> {
    let email = Email::parse(&input.email)?;
    let id = auth
        .scoped(&state.store)
        .invite_office(&input.office_name, &email, state.clock.now())
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ResourceId { id: id.to_string() }),
    ))
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
        (status = 201, description = "The referral's id and status", body = ReferralState),
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
) -> Result<(axum::http::StatusCode, Json<ReferralState>), ApiError> {
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
        Json(ReferralState {
            id: id.to_string(),
            status,
        }),
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
            patient: parse_id::<PatientId>(&input.patient_id)
                .map_err(|_| ApiError::Rejected("no such patient".into()))?,
            receiver: parse_id::<PracticeId>(&input.receiving_practice_id)
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
struct ReferralListQuery {
    #[serde(rename = "box")]
    which: Option<String>,
    status: Option<String>,
    limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/referrals",
    tag = "referrals",
    summary = "The inbox (received) or outbox (sent), with counts needing attention; no clinical content",
    params(ReferralListQuery),
    responses(
        (status = 200, description = "Referral summaries", body = ReferralList),
        (status = 400, description = "Invalid input (the problem names the field and the rule)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn referrals(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(list): Query<ReferralListQuery>,
) -> Result<Json<ReferralList>, ApiError> {
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
    Ok(Json(ReferralList {
        referrals: found.iter().map(ReferralSummaryView::from).collect(),
        needs_attention: attention,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/referrals/{id}",
    tag = "referrals",
    summary = "One referral with its clinical details, timeline, attachments and the steps the reader may take",
    params(("id" = String, Path, description = "Referral id")),
    responses(
        (status = 200, description = "The referral", body = ReferralView),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn referral(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
) -> Result<Json<ReferralView>, ApiError> {
    let detail = auth
        .scoped(&state.store)
        .referral(id, state.clock.now())
        .await?;
    Ok(Json(ReferralView::from(&detail)))
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
        (status = 200, description = "The new status", body = ReferralState),
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
) -> Result<Json<ReferralState>, ApiError> {
    let id = parse_id::<ReferralId>(&id)?;
    let step = Step::parse(&step).map_err(|_| ApiError::NotFound)?;
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let input = step_input(body.note, body.appointment.as_deref())?;
    let status = auth
        .scoped(&state.store)
        .step(id, step, input, state.clock.now())
        .await?;
    Ok(Json(ReferralState {
        id: id.to_string(),
        status,
    }))
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
        (status = 201, description = "The message's id", body = ResourceId),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Missing, or another practice's (indistinguishable)", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by a rule (the problem says which)", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn post_message(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<ReferralId>,
    Json(message): Json<MessageBody>,
) -> Result<(axum::http::StatusCode, Json<ResourceId>), ApiError> {
    let message_id = auth
        .scoped(&state.store)
        .post_message(id, &Phi::new(message.body), state.clock.now())
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(ResourceId {
            id: message_id.to_string(),
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/vendors",
    tag = "vendors",
    summary = "The BAA registry",
    responses(
        (status = 200, description = "Vendors", body = VendorList),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn vendors(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<VendorList>, ApiError> {
    let vendors = auth.scoped(&state.store).vendors().await?;
    let today = state.clock.now().date();
    Ok(Json(VendorList {
        vendors: vendors.iter().map(|v| VendorView::of(v, today)).collect(),
    }))
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
        (status = 200, description = "The vendor's id", body = ResourceId),
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
) -> Result<Json<ResourceId>, ApiError> {
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
    Ok(Json(ResourceId { id: id.to_string() }))
}

/// The practice's notifications and their state, with refusals (a vendor without a
/// BAA) as problems to fix. Never recipients or words.
#[utoipa::path(
    get,
    path = "/api/v1/notifications",
    tag = "vendors",
    summary = "The practice's notifications and their state; refusals (no executed BAA) as problems (never recipients or words)",
    responses(
        (status = 200, description = "Notifications", body = NotificationList),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
async fn notifications(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Json<NotificationList>, ApiError> {
    let messages = auth.scoped(&state.store).notifications(200).await?;
    Ok(Json(NotificationList {
        problems: messages
            .iter()
            .filter(|m| m.status == "refused")
            .map(NotificationView::from)
            .collect(),
        notifications: messages.iter().map(NotificationView::from).collect(),
    }))
}
