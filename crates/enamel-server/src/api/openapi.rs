//! The API's OpenAPI 3.1 document, generated from the handlers' annotations, at
//! `/api/v1/openapi.json`, and a docs page rendered from it on the server at
//! `/api/v1/docs` (no script, nothing fetched from elsewhere).

use std::sync::OnceLock;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::AppState;
use crate::http::page::{Chrome, render};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Enamel API",
        version = "1",
        description = "The referral network and its compliance backbone. Every operation is \
            authorized against the caller's practice (another practice's resource answers \
            exactly like a missing one: 404) and every access to patient data is audited. \
            Errors are RFC 9457 problem details with a stable `code`. State-changing requests \
            with a session cookie must come from Enamel's own origin (CSRF)."
    ),
    paths(
        super::sessions::sign_in, super::sessions::sessions, super::sessions::end_session,
        super::sessions::me, super::people::users, super::people::user,
        super::people::change_role, super::people::deactivate, super::people::unlock,
        super::people::invite, super::agents::agents, super::agents::create_agent,
        super::agents::issue_token, super::agents::revoke_token,
        super::compliance::access_review, super::compliance::access_review_csv,
        super::compliance::sign_off, super::compliance::break_glass, super::compliance::alerts,
        super::compliance::require_second_factor, super::settings::settings,
        super::settings::save_settings, super::agreement::agreement,
        super::agreement::execute, super::audit::entries, super::audit::failures,
        super::audit::disclosures, super::audit::disclosures_csv,
        super::patients::find_patients, super::patients::create_patient,
        super::patients::search_patients, super::patients::patient, super::patients::restrict,
        super::directory::directory, super::directory::invite_office,
        super::directory::set_listing, super::referrals::referrals,
        super::referrals::create_referral, super::referrals::referral,
        super::referrals::take_step, super::referrals::post_message,
        super::referrals::letters::draft_letter, super::referrals::attachments::upload,
        super::referrals::attachments::download, super::referrals::portal_links::send_link,
        super::vendors::vendors, super::vendors::put_vendor, super::vendors::notifications,
        super::operator::practices, super::operator::practice, super::operator::create_practice,
        super::operator::invite_admin, super::operator::terminate, super::operator::dead_letters,
        super::operator::retry, super::schedule::day, super::schedule::set_status,
        super::schedule::waitlist, super::schedule::add, super::schedule::change,
        super::schedule::remove, super::schedule::recalls, super::schedule::patient_schedule,
        super::recovery::settings, super::recovery::put_settings, super::recovery::runs,
        super::recovery::open, super::recovery::withdraw,
    ),
    components(schemas(crate::http::error::Problem)),
    modifiers(&SecuritySchemes, &StandardErrors),
    security(("session" = []), ("bearer" = [])),
    tags(
        (name = "identity", description = "Sign-in, sessions, accounts, agents, break-glass"),
        (name = "compliance", description = "Access reviews, security alerts and the audit log's queries"),
        (name = "schedule", description = "The practice's schedule: day view, no-shows, waitlist, recalls, no-show recovery"),
        (name = "patients", description = "A practice's patients (sealed; found through blind indexes)"),
        (name = "directory", description = "The network directory of listed practices"),
        (name = "referrals", description = "Referrals, their steps, messages, attachments and portal links"),
        (name = "vendors", description = "The BAA registry and the notifications it gates"),
        (name = "operations", description = "Running the deployment: the jobs queue's dead letters (platform operator)"),
    )
)]
pub(crate) struct ApiDoc;

/// A session cookie for people, a bearer token for agents.
pub(crate) struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "enamel_session",
                "The session cookie set by sign-in (`__Host-enamel_session` under TLS)",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An agent token (`enm_...`), shown once when issued"))
                    .build(),
            ),
        );
    }
}

/// The problems any operation of a kind can answer, documented once here rather
/// than on each handler: a body can be malformed (400), too large (413), of another
/// media type (415) or of the wrong shape (422); a query can be unreadable (400); a
/// path's id can be unknown or another practice's (404); a signed-in operation can
/// meet no session (401), a role or origin that may not (403), a state that forbids
/// it (409), a rule that refuses it (422) or a destroyed practice (410); and any
/// operation can fail on Enamel's side (500). Statuses an annotation documents
/// already are kept as written.
pub(crate) struct StandardErrors;

impl utoipa::Modify for StandardErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                (false, &mut item.get),
                (true, &mut item.post),
                (true, &mut item.put),
                (true, &mut item.delete),
                (true, &mut item.patch),
            ];
            for (changes_state, operation) in operations {
                let Some(operation) = operation.as_mut() else {
                    continue;
                };
                let public = operation.security.as_ref().is_some_and(|s| {
                    s.iter()
                        .all(|r| r == &utoipa::openapi::security::SecurityRequirement::default())
                });
                let has = |place: ParameterIn| {
                    operation
                        .parameters
                        .iter()
                        .flatten()
                        .any(|p| p.parameter_in == place)
                };
                let mut add: Vec<(&str, &str)> =
                    vec![("500", "Something went wrong on Enamel's side")];
                if operation.request_body.is_some() {
                    add.extend([
                        ("400", "Invalid input: a malformed body, or a field that breaks its rule (the problem names it)"),
                        ("413", "The body is too large"),
                        ("415", "The body is not of the media type this operation takes"),
                        ("422", "The body is not the shape this operation takes, or a rule refused it"),
                    ]);
                }
                if has(ParameterIn::Query) {
                    add.push(("400", "Invalid input: a query parameter that breaks its rule (the problem names it)"));
                }
                if has(ParameterIn::Path) {
                    add.push(("404", "Missing, or another practice's (indistinguishable)"));
                }
                if !public {
                    add.extend([
                        ("401", "No session or token, or an expired one"),
                        ("403", "The role does not allow this (`forbidden`), or the request came from another site (`cross_origin`)"),
                        ("410", "The practice's data was destroyed at the end of its BAA"),
                    ]);
                    if changes_state {
                        add.extend([
                            (
                                "409",
                                "Conflicts with the current state (the problem says which)",
                            ),
                            ("422", "Refused by a rule (the problem says which)"),
                        ]);
                    }
                }
                // Ids in paths are UUIDs in one spelling: say so, so that clients
                // and fuzzers know what the server takes.
                for parameter in operation.parameters.iter_mut().flatten() {
                    if parameter.parameter_in == ParameterIn::Path
                        && matches!(parameter.name.as_str(), "id" | "attachment")
                    {
                        parameter.schema = Some(uuid_schema());
                    }
                }
                for (status, description) in add {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| problem_response(description));
                }
            }
        }
    }
}

/// A string in the hyphenated lower-case UUID spelling Enamel writes and accepts.
pub(crate) fn uuid_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .format(Some(SchemaFormat::Custom("uuid".into())))
        .pattern(Some(
            "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
        ))
        .build()
        .into()
}

pub(crate) fn problem_response(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(document))
        .route("/api/v1/docs", get(docs_page))
}

pub(crate) fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serializes")
    })
}

/// The document is public: it describes the API, not anyone's data.
pub(crate) async fn document() -> Response {
    let mut response = document_json().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub(crate) struct OperationView {
    anchor: String,
    method: &'static str,
    path: String,
    summary: String,
    public: bool,
    parameters: Vec<(String, &'static str, bool, String)>,
    body: Option<String>,
    responses: Vec<(String, String)>,
}

pub(crate) struct TagView {
    name: String,
    description: String,
    operations: Vec<OperationView>,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
pub(crate) struct DocsPage {
    chrome: Chrome,
    description: String,
    tags: Vec<TagView>,
}

const fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::Get => "GET",
        HttpMethod::Post => "POST",
        HttpMethod::Put => "PUT",
        HttpMethod::Delete => "DELETE",
        HttpMethod::Patch => "PATCH",
        HttpMethod::Head => "HEAD",
        HttpMethod::Options => "OPTIONS",
        HttpMethod::Trace => "TRACE",
    }
}

pub(crate) fn operation_view(
    method: &'static str,
    path: &str,
    operation: &Operation,
) -> OperationView {
    use utoipa::openapi::path::ParameterIn;
    let parameters = operation
        .parameters
        .iter()
        .flatten()
        .map(|p| {
            let place = match p.parameter_in {
                ParameterIn::Path => "path",
                ParameterIn::Query => "query",
                ParameterIn::Header => "header",
                ParameterIn::Cookie => "cookie",
            };
            let required = matches!(p.required, utoipa::openapi::Required::True);
            (
                p.name.clone(),
                place,
                required,
                p.description.clone().unwrap_or_default(),
            )
        })
        .collect();
    let body = operation.request_body.as_ref().map(|b| {
        let types: Vec<String> = b
            .content
            .iter()
            .map(|(kind, content)| match &content.schema {
                Some(utoipa::openapi::RefOr::Ref(r)) => {
                    format!(
                        "{kind}: {}",
                        r.ref_location.rsplit('/').next().unwrap_or("")
                    )
                }
                _ => kind.clone(),
            })
            .collect();
        types.join("; ")
    });
    let responses = operation
        .responses
        .responses
        .iter()
        .map(|(status, response)| {
            let description = match response {
                utoipa::openapi::RefOr::T(r) => r.description.clone(),
                utoipa::openapi::RefOr::Ref(r) => r.ref_location.clone(),
            };
            (status.clone(), description)
        })
        .collect();
    OperationView {
        anchor: format!("{method}-{path}")
            .replace(['/', '{', '}', '.'], "-")
            .to_lowercase(),
        method,
        path: path.to_owned(),
        summary: operation.summary.clone().unwrap_or_default(),
        public: operation.security.as_ref().is_some_and(|s| {
            s.iter()
                .all(|r| r == &utoipa::openapi::security::SecurityRequirement::default())
        }),
        parameters,
        body,
        responses,
    }
}

/// The docs page: every operation by tag, rendered from the document itself.
pub(crate) async fn docs_page() -> Response {
    let document = ApiDoc::openapi();
    let mut tags: Vec<TagView> = document
        .tags
        .iter()
        .flatten()
        .map(|t| TagView {
            name: t.name.clone(),
            description: t.description.clone().unwrap_or_default(),
            operations: Vec::new(),
        })
        .collect();
    for (path, item) in &document.paths.paths {
        let methods = [
            (HttpMethod::Get, &item.get),
            (HttpMethod::Post, &item.post),
            (HttpMethod::Put, &item.put),
            (HttpMethod::Delete, &item.delete),
        ];
        for (method, operation) in methods {
            let Some(operation) = operation else { continue };
            let tag = operation
                .tags
                .as_ref()
                .and_then(|t| t.first())
                .cloned()
                .unwrap_or_default();
            if let Some(group) = tags.iter_mut().find(|t| t.name == tag) {
                group
                    .operations
                    .push(operation_view(method_name(&method), path, operation));
            }
        }
    }
    render(&DocsPage {
        chrome: Chrome::default(),
        description: document.info.description.unwrap_or_default(),
        tags,
    })
}
