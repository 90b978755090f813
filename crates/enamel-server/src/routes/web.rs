//! The staff web UI for identity and access: sign-in, second factor, sessions,
//! people and invitations, the access review. Server-rendered; every form works
//! without JavaScript (the one script only warns before the idle logoff).

use crate::extract::Id;
use crate::extract::{Form, Query};
use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use enamel_crypto::token::SecretToken;
use enamel_domain::{DisplayName, Email, NewUser, Role, User, UserId, UserStatus};
use enamel_policy::{Action, Circumstances, Resource};
use enamel_store::AuditedAs;
use enamel_store::{EndReason, IDLE_FLAG_DAYS};
use serde::Deserialize;

use crate::auth::sign_in::{self, PasswordStep};
use crate::auth::{
    Authenticated, Client, PendingSignIn, clear_cookie, cookie_token, session_cookie,
};
use crate::{ApiError, AppState};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route(
            "/sign-in/second-factor",
            get(second_factor_page).post(second_factor),
        )
        .route(
            "/sign-in/enrol",
            get(enrol_pending_page).post(enrol_pending),
        )
        .route("/account/second-factor", get(enrol_page).post(enrol))
        .route("/sign-out", post(sign_out))
        .route("/account/ping", get(ping))
        .route("/account/sessions", get(sessions_page))
        .route("/account/sessions/{id}/end", post(end_session))
        .route("/account/sessions/end-others", post(end_other_sessions))
        .route("/admin/users", get(users_page))
        .route("/admin/users/invite", post(invite))
        .route("/admin/users/{id}/role", post(change_role))
        .route("/admin/users/{id}/deactivate", post(deactivate))
        .route("/admin/users/{id}/unlock", post(unlock))
        .route("/admin/practice/second-factor", post(require_second_factor))
        .route("/invitations/{token}", get(invitation_page))
        .route("/invitations/accept", post(accept_invitation))
        .route("/security/access-review", get(access_review_page))
        .route("/security/access-review.csv", get(access_review_csv))
        .route("/security/access-review/sign-off", post(sign_off))
        .route("/assets/enamel.css", get(css))
        .route("/assets/session.js", get(script))
}

/// What the layout shows around every page.
#[derive(Debug, Default)]
pub(crate) struct Chrome {
    pub(crate) name: Option<String>,
    pub(crate) links: Vec<(&'static str, &'static str)>,
    pub(crate) idle_seconds: u64,
}

pub(crate) fn chrome(state: &AppState, user: Option<&User>) -> Chrome {
    let Some(user) = user else {
        return Chrome::default();
    };
    let mut links = Vec::new();
    if matches!(user.role, Role::Dentist | Role::Hygienist | Role::FrontDesk) {
        links.push(("/referrals", "Referrals"));
        links.push(("/patients", "Patients"));
    }
    if matches!(user.role, Role::PracticeAdmin | Role::SecurityOfficer) {
        links.push(("/vendors", "Vendors and BAAs"));
    }
    if matches!(user.role, Role::PracticeAdmin | Role::SecurityOfficer) {
        links.push(("/admin/users", "People"));
    }
    if user.role == Role::SecurityOfficer {
        links.push(("/security/access-review", "Access review"));
    }
    if user.role == Role::PlatformOperator {
        links.push(("/operator/jobs", "Background jobs"));
    }
    Chrome {
        name: Some(user.display_name.as_str().to_owned()),
        links,
        idle_seconds: state.sessions.idle_seconds,
    }
}

pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => ApiError::Unexpected(anyhow::Error::new(err)).into_response(),
    }
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    chrome: Chrome,
    heading: &'static str,
    text: &'static str,
    link: (&'static str, &'static str),
}

fn message(
    status: StatusCode,
    heading: &'static str,
    text: &'static str,
    link: (&'static str, &'static str),
) -> Response {
    let mut response = render(&MessagePage {
        chrome: Chrome::default(),
        heading,
        text,
        link,
    });
    *response.status_mut() = status;
    response
}

// --- sign-in ---------------------------------------------------------------------

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    message: Option<&'static str>,
}

async fn sign_in_page() -> Response {
    render(&SignInPage {
        chrome: Chrome::default(),
        message: None,
    })
}

#[derive(Deserialize)]
struct SignInForm {
    email: String,
    password: String,
}

async fn sign_in(
    State(state): State<AppState>,
    Client(context): Client,
    form: Result<Form<SignInForm>, ApiError>,
) -> Result<Response, ApiError> {
    let Form(SignInForm { email, password }) =
        form.map_err(|_| ApiError::Rejected("enter an email and a password".into()))?;
    let step = sign_in::password(&state, &email, password, &context).await?;
    Ok(match step {
        PasswordStep::SignedIn(token) => {
            with_cookie(see_other("/"), session_cookie(&token, state.tls))
        }
        PasswordStep::SecondFactor(token) => with_cookie(
            see_other("/sign-in/second-factor"),
            session_cookie(&token, state.tls),
        ),
        PasswordStep::Enrol(token) => with_cookie(
            see_other("/sign-in/enrol"),
            session_cookie(&token, state.tls),
        ),
        PasswordStep::Refused => {
            let mut response = render(&SignInPage {
                chrome: Chrome::default(),
                message: Some(sign_in::REFUSED),
            });
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response
        }
    })
}

#[derive(Template)]
#[template(path = "second_factor.html")]
struct SecondFactorPage {
    chrome: Chrome,
    message: Option<&'static str>,
}

async fn second_factor_page(_pending: PendingSignIn) -> Response {
    render(&SecondFactorPage {
        chrome: Chrome::default(),
        message: None,
    })
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn second_factor(
    State(state): State<AppState>,
    pending: PendingSignIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, ApiError> {
    let signed_in =
        sign_in::second_factor(&state, &pending.record, &form.code, &pending.context).await?;
    if let Some(token) = signed_in {
        return Ok(with_cookie(
            see_other("/"),
            session_cookie(&token, state.tls),
        ));
    }
    let mut response = render(&SecondFactorPage {
        chrome: Chrome::default(),
        message: Some("That code did not work. Codes change every 30 seconds and each works once."),
    });
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    Ok(response)
}

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    chrome: Chrome,
    message: Option<&'static str>,
    /// The role (or the practice) requires a second factor; else it is offered.
    required: bool,
    qr_svg: String,
    secret: String,
    action: &'static str,
}

/// `?restart=1` on an enrolment page: a new secret, for an app entry that was lost.
#[derive(Deserialize, Default)]
struct EnrolQuery {
    restart: Option<String>,
}

/// What the enrolment page says after a code that did not match.
const CODE_MISMATCH: &str = "The code did not match. Enter the 6-digit code your app shows \
     now (it changes every 30 seconds); the key above has not changed.";

async fn enrolment(
    state: &AppState,
    user: &User,
    chrome: Chrome,
    action: &'static str,
    restart: bool,
    message: Option<&'static str>,
) -> Result<Response, ApiError> {
    let Some(secret) = sign_in::start_enrolment(state, user, restart).await? else {
        return Ok(see_other("/"));
    };
    let uri = secret.otpauth_uri("Enamel", user.email.as_str());
    let required = action == "/sign-in/enrol";
    let mut page = render(&EnrolPage {
        chrome,
        message,
        required,
        qr_svg: crate::qr::svg(&uri),
        secret: secret.base32(),
        action,
    });
    if message.is_some() {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(page)
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
struct RecoveryCodesPage {
    chrome: Chrome,
    codes: Vec<String>,
}

async fn enrol_pending_page(
    State(state): State<AppState>,
    pending: PendingSignIn,
    Query(query): Query<EnrolQuery>,
) -> Result<Response, ApiError> {
    enrolment(
        &state,
        &pending.record.user,
        Chrome::default(),
        "/sign-in/enrol",
        query.restart.is_some(),
        None,
    )
    .await
}

async fn enrol_pending(
    State(state): State<AppState>,
    pending: PendingSignIn,
    Form(form): Form<CodeForm>,
) -> Result<Response, ApiError> {
    let user = &pending.record.user;
    let Some(codes) =
        sign_in::confirm_enrolment(&state, user, &form.code, &pending.context).await?
    else {
        return enrolment(
            &state,
            user,
            Chrome::default(),
            "/sign-in/enrol",
            false,
            Some(CODE_MISMATCH),
        )
        .await;
    };
    let token =
        sign_in::promote(&state, &pending.record, "totp_enrolment", &pending.context).await?;
    Ok(with_cookie(
        render(&RecoveryCodesPage {
            chrome: chrome(&state, Some(user)),
            codes,
        }),
        session_cookie(&token, state.tls),
    ))
}

async fn enrol_page(
    State(state): State<AppState>,
    auth: Authenticated,
    Query(query): Query<EnrolQuery>,
) -> Result<Response, ApiError> {
    let user = auth.person()?;
    enrolment(
        &state,
        user,
        chrome(&state, Some(user)),
        "/account/second-factor",
        query.restart.is_some(),
        None,
    )
    .await
}

async fn enrol(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<CodeForm>,
) -> Result<Response, ApiError> {
    let user = auth.person()?;
    match sign_in::confirm_enrolment(&state, user, &form.code, &auth.context).await? {
        Some(codes) => Ok(render(&RecoveryCodesPage {
            chrome: chrome(&state, Some(user)),
            codes,
        })),
        None => {
            enrolment(
                &state,
                user,
                chrome(&state, Some(user)),
                "/account/second-factor",
                false,
                Some(CODE_MISMATCH),
            )
            .await
        }
    }
}

async fn sign_out(
    State(state): State<AppState>,
    Client(context): Client,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = cookie_token(&headers, state.tls)
        && let Some(record) = state.store.identity().session(&token.digest()).await?
    {
        crate::auth::end_session(
            &state,
            &record.user,
            record.id,
            EndReason::SignOut,
            &context,
        )
        .await?;
    }
    Ok(with_cookie(see_other("/sign-in"), clear_cookie(state.tls)))
}

async fn ping(_auth: Authenticated) -> StatusCode {
    StatusCode::NO_CONTENT
}

// --- home and sessions -----------------------------------------------------------

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    chrome: Chrome,
    name: String,
    role: &'static str,
    practice: Option<String>,
    mfa_enabled: bool,
}

async fn home(State(state): State<AppState>, auth: Authenticated) -> Result<Response, ApiError> {
    let user = auth.person()?;
    let practice = match user.practice {
        Some(_) => Some(
            auth.scoped(&state.store)
                .own_practice()
                .await?
                .name
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let mfa_enabled = state
        .store
        .identity()
        .mfa(user)
        .await?
        .is_some_and(|m| m.confirmed);
    Ok(render(&HomePage {
        chrome: chrome(&state, Some(user)),
        name: user.display_name.as_str().to_owned(),
        role: user.role.as_str(),
        practice,
        mfa_enabled,
    }))
}

struct SessionRow {
    id: String,
    created: String,
    last_seen: String,
    address: String,
    agent: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    chrome: Chrome,
    sessions: Vec<SessionRow>,
}

pub(crate) fn when(at: time::OffsetDateTime) -> String {
    enamel_audit::entry::format_timestamp(at)
        .get(..16)
        .map_or_else(String::new, |s| s.replace('T', " "))
        + " UTC"
}

async fn sessions_page(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;
    let sessions = state.store.identity().sessions_of(user.id).await?;
    let rows = sessions
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            created: when(s.created_at),
            last_seen: when(s.last_seen_at),
            address: s.ip_address.unwrap_or_default(),
            agent: s.user_agent.unwrap_or_default().chars().take(80).collect(),
            current: Some(s.id) == auth.session,
        })
        .collect();
    Ok(render(&SessionsPage {
        chrome: chrome(&state, Some(user)),
        sessions: rows,
    }))
}

/// Asks the policy decision point about an action on the actor's own account.
pub(crate) async fn authorize_self(
    state: &AppState,
    auth: &Authenticated,
    action: Action,
) -> Result<(), ApiError> {
    let user = auth.person()?;
    auth.scoped(&state.store)
        .authorize(
            action,
            &Resource::User {
                id: user.id,
                practice: user.practice,
            },
            Circumstances::default(),
            AuditedAs::any(
                enamel_audit::entry::Action::Read,
                enamel_audit::entry::ResourceType::Session,
            ),
        )
        .await
        .map_err(Into::into)
}

async fn end_session(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<uuid::Uuid>,
) -> Result<Response, ApiError> {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;
    if !crate::auth::end_session(&state, user, id, EndReason::Revoked, &auth.context).await? {
        return Err(ApiError::NotFound);
    }
    Ok(see_other(if Some(id) == auth.session {
        "/sign-in"
    } else {
        "/account/sessions"
    }))
}

async fn end_other_sessions(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let user = auth.person()?;
    authorize_self(&state, &auth, Action::SessionManage).await?;
    for session in state.store.identity().sessions_of(user.id).await? {
        if Some(session.id) != auth.session {
            crate::auth::end_session(&state, user, session.id, EndReason::Revoked, &auth.context)
                .await?;
        }
    }
    Ok(see_other("/account/sessions"))
}

// --- people and invitations --------------------------------------------------------

struct UserRow {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    /// The role as a person reads it ("Front desk").
    role_label: &'static str,
    status: &'static str,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    practice: String,
    users: Vec<UserRow>,
    /// Each role's code and the name a person reads, least powerful first (the
    /// invitation form preselects the first).
    roles: Vec<(&'static str, &'static str)>,
    can_manage: bool,
    require_mfa: bool,
    invitation_link: Option<String>,
    message: Option<String>,
}

/// The practice's roles, least powerful first: an invitation starts at the least.
const INVITATION_ORDER: [Role; 6] = [
    Role::Billing,
    Role::FrontDesk,
    Role::Hygienist,
    Role::Dentist,
    Role::SecurityOfficer,
    Role::PracticeAdmin,
];

async fn users_view(
    state: &AppState,
    auth: &Authenticated,
    invitation_link: Option<String>,
    message: Option<String>,
) -> Result<Response, ApiError> {
    let user = auth.person()?;
    let scoped = auth.scoped(&state.store);
    let users = scoped.users().await?;
    let practice = scoped.own_practice().await?;
    let can_manage = state
        .store
        .policy()
        .decide(
            &auth.actor,
            Action::AccountInvite,
            &Resource::Practice(practice.id),
            Circumstances::default(),
        )
        .is_allowed();
    let mut response = render(&UsersPage {
        chrome: chrome(state, Some(user)),
        practice: practice.name.as_str().to_owned(),
        users: users
            .into_iter()
            .map(|u| UserRow {
                id: u.id.to_string(),
                name: u.display_name.as_str().to_owned(),
                email: u.email.as_str().to_owned(),
                role: u.role.as_str(),
                role_label: u.role.label(),
                status: u.status.as_str(),
            })
            .collect(),
        roles: INVITATION_ORDER
            .iter()
            .map(|r| (r.as_str(), r.label()))
            .collect(),
        can_manage,
        require_mfa: scoped.requires_mfa().await?,
        message: message.clone(),
        invitation_link,
    });
    if message.is_some() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

async fn users_page(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    users_view(&state, &auth, None, None).await
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct InviteForm {
    pub display_name: String,
    pub email: String,
    pub role: String,
}

/// How long an invitation link works.
pub(crate) const INVITATION_HOURS: i64 = 72;

/// Creates an invitation; returns the account's id and the link's token.
pub(crate) async fn create_invitation(
    state: &AppState,
    auth: &Authenticated,
    form: &InviteForm,
) -> Result<(UserId, SecretToken), ApiError> {
    let practice = auth.actor.practice().ok_or(ApiError::Forbidden)?;
    let role = Role::parse(&form.role)?;
    let new = NewUser::new(
        Some(practice),
        Email::parse(&form.email)?,
        DisplayName::parse(&form.display_name)?,
        role,
        UserStatus::Invited,
    )?;
    let token = SecretToken::generate("");
    let now = state.clock.now();
    auth.scoped(&state.store)
        .invite(
            &new,
            &token.digest(),
            now + time::Duration::hours(INVITATION_HOURS),
            now,
        )
        .await?;
    Ok((new.id(), token))
}

async fn invite(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<InviteForm>,
) -> Result<Response, ApiError> {
    match create_invitation(&state, &auth, &form).await {
        Ok((_, token)) => {
            let link = format!("/invitations/{}", token.expose());
            users_view(&state, &auth, Some(link), None).await
        }
        Err(ApiError::InvalidInput(err)) => {
            users_view(&state, &auth, None, Some(err.to_string())).await
        }
        Err(ApiError::Conflict(why)) => users_view(&state, &auth, None, Some(why.to_owned())).await,
        Err(err) => Err(err),
    }
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<UserId>,
    Form(form): Form<RoleForm>,
) -> Result<Response, ApiError> {
    let role = Role::parse(&form.role)?;
    match auth
        .scoped(&state.store)
        .change_role(id, role, state.clock.now())
        .await
    {
        Ok(_) => Ok(see_other("/admin/users")),
        Err(enamel_store::StoreError::Conflict(why)) => {
            users_view(&state, &auth, None, Some(why.to_owned())).await
        }
        Err(err) => Err(err.into()),
    }
}

async fn deactivate(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<UserId>,
) -> Result<Response, ApiError> {
    auth.scoped(&state.store)
        .deactivate(id, state.clock.now())
        .await?;
    Ok(see_other("/admin/users"))
}

async fn unlock(
    State(state): State<AppState>,
    auth: Authenticated,
    Id(id): Id<UserId>,
) -> Result<Response, ApiError> {
    auth.scoped(&state.store).unlock(id).await?;
    Ok(see_other("/admin/users"))
}

#[derive(Deserialize)]
struct RequireForm {
    require_all: Option<String>,
}

async fn require_second_factor(
    State(state): State<AppState>,
    auth: Authenticated,
    Form(form): Form<RequireForm>,
) -> Result<Response, ApiError> {
    auth.scoped(&state.store)
        .set_require_mfa(form.require_all.as_deref() == Some("true"))
        .await?;
    Ok(see_other("/admin/users"))
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct InvitationPage {
    chrome: Chrome,
    name: String,
    token: String,
    message: Option<&'static str>,
}

fn invitation_unusable() -> Response {
    message(
        StatusCode::GONE,
        "This invitation link cannot be used",
        "It has expired, was already used, or is not complete. Ask your practice administrator for a new invitation.",
        ("/sign-in", "Go to sign-in"),
    )
}

async fn invitation_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let token = SecretToken::from_client(&token);
    let Some(invitation) = state.store.identity().invitation(&token.digest()).await? else {
        return Ok(invitation_unusable());
    };
    if invitation.accepted || invitation.expires_at <= state.clock.now() {
        return Ok(invitation_unusable());
    }
    Ok(render(&InvitationPage {
        chrome: Chrome::default(),
        name: invitation.user.display_name.as_str().to_owned(),
        token: token.expose().to_owned(),
        message: None,
    }))
}

#[derive(Deserialize)]
struct AcceptForm {
    token: String,
    password: String,
}

async fn accept_invitation(
    State(state): State<AppState>,
    Form(form): Form<AcceptForm>,
) -> Result<Response, ApiError> {
    let token = SecretToken::from_client(&form.token);
    let Some(invitation) = state.store.identity().invitation(&token.digest()).await? else {
        return Ok(invitation_unusable());
    };
    let now = state.clock.now();
    if invitation.accepted || invitation.expires_at <= now {
        return Ok(invitation_unusable());
    }
    let user = &invitation.user;
    if let Err(weak) = enamel_crypto::password::check_new(
        &form.password,
        &[user.email.as_str(), user.display_name.as_str()],
    ) {
        let mut response = render(&InvitationPage {
            chrome: Chrome::default(),
            name: user.display_name.as_str().to_owned(),
            token: token.expose().to_owned(),
            message: Some(weak_message(weak)),
        });
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(response);
    }
    let passwords = state.passwords.clone();
    let password = form.password;
    let phc = tokio::task::spawn_blocking(move || passwords.hash(&password))
        .await
        .map_err(|err| ApiError::Unexpected(err.into()))?;
    if !state
        .store
        .identity()
        .accept_invitation(&invitation, &phc, now)
        .await?
    {
        return Ok(invitation_unusable());
    }
    Ok(message(
        StatusCode::OK,
        "Your account is ready",
        "Sign in with your email and the password you chose.",
        ("/sign-in", "Sign in"),
    ))
}

pub(crate) const fn weak_message(weak: enamel_crypto::password::WeakPassword) -> &'static str {
    use enamel_crypto::password::WeakPassword;
    match weak {
        WeakPassword::TooShort => "Use at least 12 characters.",
        WeakPassword::TooLong => "Use at most 128 characters.",
        WeakPassword::Common => {
            "That password is on a list of commonly used passwords. Choose another."
        }
        WeakPassword::Pattern => {
            "That password is a simple sequence or repetition. Choose another."
        }
        WeakPassword::Personal => "The password must not contain your email address or name.",
    }
}

// --- access review -----------------------------------------------------------------

/// One account of the access review (staff, no secrets); JSON names are the CSV's columns.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ReviewLine {
    name: String,
    email: String,
    role: &'static str,
    /// The role as a person reads it, for the page (the CSV and JSON keep the code).
    #[serde(skip)]
    role_label: &'static str,
    status: &'static str,
    #[serde(rename = "second_factor")]
    mfa: &'static str,
    last_sign_in: String,
    #[serde(rename = "last_phi_access")]
    last_phi: String,
    #[serde(rename = "idle_90_days")]
    idle: bool,
}

#[derive(Template)]
#[template(path = "access_review.html")]
struct AccessReviewPage {
    chrome: Chrome,
    practice: String,
    rows: Vec<ReviewLine>,
    flagged: usize,
    idle_days: i64,
    sign_offs: Vec<String>,
    alerts: Vec<String>,
}

pub(crate) async fn review_lines(
    state: &AppState,
    auth: &Authenticated,
) -> Result<Vec<ReviewLine>, ApiError> {
    let rows = auth
        .scoped(&state.store)
        .access_review(state.clock.now())
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| ReviewLine {
            name: r.user.display_name.as_str().to_owned(),
            email: r.user.email.as_str().to_owned(),
            role: r.user.role.as_str(),
            role_label: r.user.role.label(),
            status: r.user.status.as_str(),
            mfa: if r.mfa_enabled { "on" } else { "off" },
            last_sign_in: r.last_sign_in_at.map_or_else(|| "never".into(), when),
            last_phi: r.last_phi_access_at.map_or_else(|| "never".into(), when),
            idle: r.idle,
        })
        .collect())
}

async fn access_review_page(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let user = auth.person()?;
    let rows = review_lines(&state, &auth).await?;
    let scoped = auth.scoped(&state.store);
    let sign_offs = scoped
        .review_sign_offs()
        .await?
        .into_iter()
        .map(|s| {
            format!(
                "{}: {} accounts, {} flagged",
                when(s.signed_off_at),
                s.accounts,
                s.flagged
            )
        })
        .collect();
    let alerts = scoped
        .alerts()
        .await?
        .into_iter()
        .map(|a| {
            format!(
                "{}: {} (account {})",
                when(a.created_at),
                a.kind.replace('_', " "),
                a.subject
            )
        })
        .collect();
    Ok(render(&AccessReviewPage {
        chrome: chrome(&state, Some(user)),
        practice: scoped.own_practice().await?.name.as_str().to_owned(),
        flagged: rows.iter().filter(|r| r.idle).count(),
        rows,
        idle_days: IDLE_FLAG_DAYS,
        sign_offs,
        alerts,
    }))
}

/// The review as CSV (RFC 4180), for the practice's compliance records.
fn review_csv(rows: &[ReviewLine]) -> String {
    fn field(value: &str) -> String {
        // Quote every field; neutralize spreadsheet formulas.
        let value = if value.starts_with(['=', '+', '-', '@']) {
            format!("'{value}")
        } else {
            value.to_owned()
        };
        format!("\"{}\"", value.replace('"', "\"\""))
    }
    let mut out = String::from(
        "name,email,role,status,second_factor,last_sign_in,last_phi_access,idle_90_days\r\n",
    );
    for r in rows {
        let line = [
            field(&r.name),
            field(&r.email),
            field(r.role),
            field(r.status),
            field(r.mfa),
            field(&r.last_sign_in),
            field(&r.last_phi),
            field(if r.idle { "yes" } else { "no" }),
        ];
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[utoipa::path(
    get,
    path = "/api/v1/access-review.csv",
    tag = "compliance",
    summary = "The access review as CSV",
    responses(
        (status = 200, description = "CSV, one row per account", body = String, content_type = "text/csv"),
        (status = 401, description = "No session or token, or an expired one", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not allow this", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
pub(crate) async fn access_review_csv(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let rows = review_lines(&state, &auth).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"access-review.csv\"",
            ),
        ],
        review_csv(&rows),
    )
        .into_response())
}

pub(crate) async fn sign_off_review(
    state: &AppState,
    auth: &Authenticated,
) -> Result<(), ApiError> {
    auth.scoped(&state.store)
        .sign_off_review(state.clock.now())
        .await?;
    Ok(())
}

async fn sign_off(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    sign_off_review(&state, &auth).await?;
    Ok(see_other("/security/access-review"))
}

// --- assets --------------------------------------------------------------------------

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/enamel.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/session.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
