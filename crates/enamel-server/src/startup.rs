//! Building the application and running it until it is told to stop.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::Response;
use axum_server::tls_rustls::RustlsConfig;
use enamel_store::Store;
use tower_http::catch_panic::CatchPanicLayer;

use crate::clock::{Clock, SystemClock};
use crate::http::error::problem;
use crate::http::middleware::{access_log, request_id, security_headers};
use crate::metrics::Metrics;
use crate::settings::SessionSettings;
use crate::{ApiError, Settings, api, http, pages, portal, tls, webhooks};
use enamel_crypto::password::Passwords;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub passwords: Arc<Passwords>,
    pub sessions: SessionSettings,
    /// Cookies are `Secure` (HTTPS here, or behind a TLS-terminating proxy).
    pub tls: bool,
    /// Where sealed attachment bodies are kept.
    pub objects: Arc<enamel_integrations::ObjectStore>,
    /// Where uploads and downloads are staged (as ciphertext only).
    pub scratch_dir: std::path::PathBuf,
    pub referrals: crate::settings::ReferralSettings,
    /// The address patients, offices and vendors reach Enamel at (links, webhooks).
    pub public_url: String,
    /// Twilio's auth token, which signs its inbound webhooks; `None` without Twilio.
    pub twilio_auth_token: Option<secrecy::SecretString>,
    /// The letter-drafting assistant, when a key is configured.
    pub assistant: Option<Arc<enamel_integrations::Assistant>>,
    /// How practices reach Open Dental (docs/opendental.md).
    pub pms: enamel_agents::jobs::pms_sync::PmsClientSettings,
    /// How often a newly connected practice syncs, in minutes.
    pub pms_sync_minutes: u32,
}

/// Why the application would not start. Each message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "refusing to serve plain HTTP on {0}, which is not a loopback address: PHI must not \
         cross a network unencrypted. Configure server.tls_cert and server.tls_key, or, if a \
         TLS-terminating proxy is in front, set server.behind_tls_proxy = true \
         (ENAMEL_SERVER_BEHIND_TLS_PROXY=true)"
    )]
    PlaintextOnNetwork(SocketAddr),
    #[error("TLS: {0}")]
    Tls(&'static str),
    #[error("cannot prepare the attachment store: {0}")]
    Storage(#[source] std::io::Error),
    #[error("cannot set up the S3 attachment store: {0}")]
    ObjectStore(#[source] enamel_integrations::ObjectError),
    #[error("letter assistant settings: {0:#}")]
    Assistant(#[source] anyhow::Error),
    #[error("practice-management settings: {0}")]
    Settings(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The application, bound to its listener and ready to run.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    router: Router,
    tls: Option<RustlsConfig>,
    grace: Duration,
}

impl Application {
    /// Checks the listening policy, loads TLS, binds the listener and assembles the
    /// router. Nothing is served until [`Application::run_until_stopped`].
    pub async fn build(settings: &Settings, store: Store) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, store, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with the clock that sessions, lockouts and links read
    /// (tests pass a [`ManualClock`](crate::clock::ManualClock)).
    pub async fn build_with_clock(
        settings: &Settings,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        // One clock for the server and its store: audit timestamps, sessions, links
        // and "the last 24 hours" all read the same time.
        store.use_clock(Arc::clone(&clock));
        let tls = match (&settings.server.tls_cert, &settings.server.tls_key) {
            (Some(cert), Some(key)) => Some(tls::server_config(cert, key)?),
            _ => None,
        };
        let bind = settings.server.bind;
        check_listen_policy(bind, tls.is_some(), settings.server.behind_tls_proxy)?;
        let listener = TcpListener::bind(bind)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| StartupError::Bind { addr: bind, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { addr: bind, source })?;
        let secure_cookies = tls.is_some() || settings.server.behind_tls_proxy;
        let scratch_dir = attachment_scratch_dir(settings)?;
        let objects = Arc::new(attachment_store(settings).await?);
        let state = AppState {
            store: store.clone(),
            metrics: Arc::new(Metrics::new()),
            clock,
            passwords: Arc::new(Passwords::new()),
            sessions: settings.sessions.clone(),
            tls: secure_cookies,
            objects,
            scratch_dir,
            referrals: settings.referrals.clone(),
            public_url: settings.referrals.public_url.clone().unwrap_or_else(|| {
                let scheme = if tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{local_addr}")
            }),
            twilio_auth_token: settings.notifications.twilio_auth_token.clone(),
            assistant: assistant(&settings.referrals)?.map(Arc::new),
            pms: enamel_agents::jobs::pms_sync::PmsClientSettings::from_settings(&settings.pms)
                .map_err(|err| StartupError::Settings(err.to_string()))?,
            pms_sync_minutes: settings.pms.sync_minutes.clamp(1, 1440),
        };
        if state.twilio_auth_token.is_some() && settings.referrals.public_url.is_none() {
            tracing::warn!(
                "referrals.public_url is not set: Twilio's webhook signatures are checked \
                 against the bound address, which fails behind a proxy"
            );
        }
        let router = router(state, settings.server.max_body_bytes, tls.is_some());
        Ok(Self {
            listener,
            local_addr,
            router,
            tls,
            grace: settings.shutdown_grace(),
        })
    }

    /// The address actually bound (the port is real even when 0 was asked for).
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The base URL clients use.
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Serves until `shutdown` completes, then stops accepting connections and lets
    /// in-flight requests finish within the grace period. Background work (delivery,
    /// checkpoints, flags) is not the server's: the jobs runtime in `enamel-agents`
    /// runs it, in this process (`enamel serve`) or in workers (`enamel worker`).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        serve(self.listener, self.router, self.tls, self.grace, shutdown).await
    }
}

/// Plain HTTP is allowed on loopback only, unless the operator states that a
/// TLS-terminating proxy is in front.
pub fn check_listen_policy(
    addr: SocketAddr,
    tls: bool,
    behind_tls_proxy: bool,
) -> Result<(), StartupError> {
    if tls || behind_tls_proxy || addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(StartupError::PlaintextOnNetwork(addr))
    }
}

/// Every route a browser session or an agent's token reaches: state-changing requests
/// among them pass the same-origin check (layered in [`router`]).
fn session_routes() -> Router<AppState> {
    Router::new()
        .merge(http::health::router())
        .merge(pages::router())
        .merge(api::router())
        .merge(portal::router())
}

/// The whole router with its middleware, outermost first: correlation id, security
/// headers, access log and metrics, panic catcher, body limit, routes. The
/// same-origin check wraps the session routes only; the webhooks are merged beside
/// them, so no middleware needs to know a URL.
fn router(state: AppState, max_body_bytes: usize, tls: bool) -> Router {
    let metrics = Arc::clone(&state.metrics);
    session_routes()
        .route_layer(from_fn_with_state(tls, crate::auth::same_origin))
        .merge(webhooks::router())
        .route_layer(from_fn(access_log::record_route))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|| async { ApiError::NotFound })
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(from_fn(crate::http::middleware::problems::only_problems))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn(crate::http::middleware::problems::pages_as_html))
        .layer(from_fn_with_state(metrics, access_log::log))
        .layer(from_fn_with_state(tls, security_headers::add))
        .layer(from_fn(request_id::assign))
        .with_state(state)
}

#[allow(clippy::needless_pass_by_value)] // the signature CatchPanicLayer asks for
fn panic_response(_payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal server error",
        "Something went wrong on our side. Quote the correlation id when reporting it.".into(),
    )
}

/// Serves `router` on `listener` (HTTPS when `tls` is given) until `shutdown`.
///
/// After `shutdown` completes no new connection is accepted; requests in flight get
/// `grace` to finish, after which their connections are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<RustlsConfig>,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let on_signal = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!(
            grace_seconds = grace.as_secs(),
            "shutting down; finishing requests in flight"
        );
        on_signal.graceful_shutdown(Some(grace));
    });
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(config) => {
            axum_server::from_tcp_rustls(listener, config)?
                .handle(handle)
                .serve(service)
                .await
        }
        None => {
            axum_server::from_tcp(listener)?
                .handle(handle)
                .serve(service)
                .await
        }
    }
}

/// A future that completes on SIGINT (Ctrl-C) or SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first
/// polled, so a signal that arrives while the server is still starting is not lost
/// (nor handled by the default action, which would end the process uncleanly).
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}

/// The directory of attachment bodies on the file system, and of the scratch space
/// for uploads and downloads whatever the object store.
fn attachment_dir(settings: &Settings) -> std::path::PathBuf {
    settings
        .referrals
        .attachment_dir
        .clone()
        .unwrap_or_else(|| settings.data_dir.join("attachments"))
}

/// The object store that `settings` name; the server's, and the commands' that
/// read or write attachments outside it (`enamel practice export`, the demo's seed).
///
/// # Errors
/// When the S3 client cannot be set up.
pub async fn attachment_store(
    settings: &Settings,
) -> Result<enamel_integrations::ObjectStore, StartupError> {
    // Boxed: the S3 set-up (the AWS credential chain) is a large future.
    Box::pin(object_store(&settings.referrals, attachment_dir(settings))).await
}

/// The directory where sealed uploads are staged before the object store takes
/// them, created if missing.
///
/// # Errors
/// When it cannot be created.
pub fn attachment_scratch_dir(settings: &Settings) -> Result<std::path::PathBuf, StartupError> {
    let scratch_dir = attachment_dir(settings).join(".staging");
    std::fs::create_dir_all(&scratch_dir).map_err(StartupError::Storage)?;
    Ok(scratch_dir)
}

/// Where attachment bodies go: an S3-compatible bucket when `s3_bucket` is set
/// (credentials from the standard AWS chain: environment, profile, role), otherwise
/// the file system under `attachment_dir`.
async fn object_store(
    settings: &crate::settings::ReferralSettings,
    attachment_dir: std::path::PathBuf,
) -> Result<enamel_integrations::ObjectStore, StartupError> {
    let Some(bucket) = &settings.s3_bucket else {
        return Ok(enamel_integrations::ObjectStore::file_system(
            attachment_dir,
        ));
    };
    let vendor = settings.s3_vendor.as_deref().unwrap_or("aws-s3");
    let vendor = enamel_domain::VendorName::parse(vendor).map_err(|_| {
        StartupError::ObjectStore(enamel_integrations::ObjectError::Backend {
            operation: "setup",
            source: anyhow::anyhow!("referrals.s3_vendor is not a vendor name"),
        })
    })?;
    enamel_integrations::ObjectStore::s3(enamel_integrations::S3Settings {
        bucket: bucket.clone(),
        region: settings
            .s3_region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_owned()),
        endpoint: settings.s3_endpoint.clone(),
        path_style: settings.s3_endpoint.is_some(),
        credentials: enamel_integrations::S3Credentials::DefaultChain,
        vendor,
    })
    .await
    .map_err(StartupError::ObjectStore)
}

/// The letter assistant, when `referrals.assistant_api_key` is set.
fn assistant(
    settings: &crate::settings::ReferralSettings,
) -> Result<Option<enamel_integrations::Assistant>, StartupError> {
    let Some(key) = &settings.assistant_api_key else {
        return Ok(None);
    };
    let base = settings
        .assistant_base_url
        .as_deref()
        .unwrap_or(enamel_integrations::ai::DEFAULT_BASE_URL);
    let base_url = url::Url::parse(base).map_err(|_| {
        StartupError::Assistant(anyhow::anyhow!("referrals.assistant_base_url is not a URL"))
    })?;
    enamel_integrations::Assistant::new(enamel_integrations::AssistantSettings {
        base_url,
        api_key: key.clone(),
        model: settings
            .assistant_model
            .clone()
            .unwrap_or_else(|| "claude-sonnet-4-5".to_owned()),
        max_tokens: 600,
    })
    .map(Some)
    .map_err(|err| StartupError::Assistant(err.into()))
}
