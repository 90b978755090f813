//! Configuration: a typed settings struct from an optional TOML file plus `ENAMEL_*`
//! environment variables (which win), with secrets that never print.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Everything Enamel can be configured with.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where Enamel keeps local state: the SQLite database, and later key files.
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub keys: KeySettings,
    pub audit: AuditSettings,
    pub retention: RetentionSettings,
    pub jobs: JobSettings,
    pub sessions: SessionSettings,
    pub referrals: ReferralSettings,
    pub notifications: NotificationSettings,
    pub log: LogSettings,
}

/// Referrals and their attachments.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReferralSettings {
    /// The largest attachment accepted, in bytes (default 100 MiB).
    pub attachment_max_bytes: u64,
    /// Where sealed attachment bodies are kept; unset means `attachments` under
    /// `data_dir`. (An S3-compatible store is configured with `s3_bucket`.)
    pub attachment_dir: Option<PathBuf>,
    /// An S3-compatible bucket for attachments instead of the file system.
    pub s3_bucket: Option<String>,
    pub s3_region: Option<String>,
    /// A custom endpoint (Cloudflare R2, `MinIO`, moto); path-style addressing is used.
    pub s3_endpoint: Option<String>,
    /// The vendor the object store is, for the BAA registry (default `aws-s3`).
    pub s3_vendor: Option<String>,
    /// Days after sending with no appointment before "patient not responding".
    pub not_responding_days: i64,
    /// The address patients and offices reach Enamel at, for links in messages;
    /// unset means the address the server is bound to.
    pub public_url: Option<String>,
    /// The "draft referral letter" assistant, an Anthropic-compatible Messages API:
    /// off unless a key is set, and inert for a practice until its BAA with
    /// `anthropic` is executed. It is sent no direct identifiers.
    pub assistant_api_key: Option<SecretString>,
    /// Default `https://api.anthropic.com/`.
    pub assistant_base_url: Option<String>,
    pub assistant_model: Option<String>,
}

impl Default for ReferralSettings {
    fn default() -> Self {
        Self {
            attachment_max_bytes: 100 * 1024 * 1024,
            attachment_dir: None,
            s3_bucket: None,
            s3_region: None,
            s3_endpoint: None,
            s3_vendor: None,
            not_responding_days: 14,
            public_url: None,
            assistant_api_key: None,
            assistant_base_url: None,
            assistant_model: None,
        }
    }
}

/// Outbound notifications. A channel without settings is not sent on; its messages
/// wait in the outbox, visible to the practice as not configured.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    pub smtp_host: Option<String>,
    pub smtp_port: Option<u16>,
    /// `starttls` (default), `tls`, or `none` (loopback only).
    pub smtp_security: Option<String>,
    pub smtp_from: Option<String>,
    /// The vendor the SMTP relay is, for the BAA registry (default `smtp-relay`).
    pub smtp_vendor: Option<String>,
    pub twilio_base_url: Option<String>,
    pub twilio_account_sid: Option<String>,
    pub twilio_auth_token: Option<secrecy::SecretString>,
    pub twilio_from: Option<String>,
    pub srfax_base_url: Option<String>,
    pub srfax_access_id: Option<String>,
    pub srfax_access_pwd: Option<secrecy::SecretString>,
    pub srfax_caller_id: Option<String>,
    pub srfax_sender_email: Option<String>,
    /// How often the worker looks for due messages, in milliseconds (default 1,000).
    pub poll_millis: Option<u64>,
    /// For the demo and development only: write every message as a file in this
    /// directory instead of sending it (`serve --demo` uses `<data_dir>/mailbox`).
    pub mailbox_dir: Option<PathBuf>,
}

/// How long a signed-in session lasts. Both limits may only be lowered: seed 000
/// requires logoff after 30 minutes idle and 12 hours in all.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// Seconds without a request after which a session ends (at most 1,800).
    pub idle_seconds: u64,
    /// Seconds after sign-in after which a session ends whatever its activity (at
    /// most 43,200).
    pub absolute_seconds: u64,
    /// A request records the session's last activity only when the recorded one is
    /// at least this old (default 60 s, and never more than a thirtieth of
    /// `idle_seconds`), so most requests write nothing; idle time is then enforced
    /// to within this many seconds.
    pub touch_seconds: u64,
}

impl SessionSettings {
    /// How old the recorded activity must be before a request records it again.
    #[must_use]
    pub fn touch_after(&self) -> u64 {
        self.touch_seconds.min(self.idle_seconds / 30)
    }
}

/// The longest idle time allowed: 30 minutes.
pub const MAX_IDLE_SECONDS: u64 = 30 * 60;
/// The longest session allowed: 12 hours.
pub const MAX_ABSOLUTE_SECONDS: u64 = 12 * 60 * 60;

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_seconds: MAX_IDLE_SECONDS,
            absolute_seconds: MAX_ABSOLUTE_SECONDS,
            touch_seconds: 60,
        }
    }
}

/// The audit log's checkpoints.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSettings {
    /// Where signed checkpoints are exported, outside the database; unset means
    /// `audit-checkpoints` under `data_dir`.
    pub checkpoint_dir: Option<PathBuf>,
    /// Sign a checkpoint once this many entries were added...
    pub checkpoint_entries: u64,
    /// ...or this many seconds passed with any new entry.
    pub checkpoint_seconds: u64,
    /// How long entries are kept: six years (2,192 days) at least, never less.
    pub retention_days: u32,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            checkpoint_dir: None,
            checkpoint_entries: 1_000,
            checkpoint_seconds: 60,
            retention_days: 2_192,
        }
    }
}

/// How long operational records are kept once they have served (seed 001 keeps
/// links and rate-limit counters 24 hours; these are the copies kept after that).
/// The audit log is never touched here: it keeps its six years.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Days an ended session or an expired portal link (with its portal sessions)
    /// is kept.
    pub ended_days: u32,
    /// Days after delivery (or a final failure) a notification keeps its sealed
    /// recipient and words; its delivery record stays without them.
    pub message_body_days: u32,
    /// Days a finished background job is kept (dead letters stay until handled).
    pub finished_jobs_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self {
            ended_days: 30,
            message_body_days: 30,
            finished_jobs_days: 30,
        }
    }
}

/// How the jobs runtime's workers share the queue.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// Seconds a claimed job is its worker's; a worker that dies (`kill -9`) holding
    /// it loses it to another worker when this runs out. Longer than any one run.
    pub lease_seconds: u64,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self { lease_seconds: 300 }
    }
}

/// Where key-encryption keys come from.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeySettings {
    /// Where the key-encryption keys live.
    pub provider: KeyProviderKind,
    /// The local key file; unset means `keys/enamel.keys` under `data_dir`. Keep it
    /// apart from database backups: a backup with its key file decrypts.
    pub file: Option<PathBuf>,
    /// How long an unwrapped data key stays in memory.
    pub cache_seconds: u64,
    /// AWS KMS: the region.
    pub kms_region: String,
    /// AWS KMS: a compatible endpoint instead of AWS's own.
    pub kms_endpoint: Option<String>,
    /// AWS KMS: the alias prefix of the practices' keys.
    pub kms_alias_prefix: String,
    /// AWS KMS: where the KMS-wrapped audit signing seed is kept; unset means
    /// `keys/audit-signing.kms` under `data_dir`.
    pub kms_signing_seed_file: Option<PathBuf>,
}

/// The key provider to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyProviderKind {
    /// A key file on local disk (the embedded default).
    Local,
    /// AWS KMS, one customer-managed key per practice.
    AwsKms,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            provider: KeyProviderKind::Local,
            file: None,
            cache_seconds: 60,
            kms_region: "us-east-1".into(),
            kms_endpoint: None,
            kms_alias_prefix: "alias/enamel/practice".into(),
            kms_signing_seed_file: None,
        }
    }
}

/// The HTTP listener.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    /// The operator states that a TLS-terminating proxy is in front, which allows
    /// plain HTTP on a non-loopback address.
    pub behind_tls_proxy: bool,
    /// PEM certificate chain; with `tls_key`, Enamel serves HTTPS itself.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// How long in-flight requests may take to finish after SIGTERM or SIGINT.
    pub shutdown_grace_seconds: u64,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
}

/// The database.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://...` or `postgres://...`; unset means SQLite under `data_dir`.
    /// A secret: a PostgreSQL URL may carry a password.
    pub url: Option<SecretString>,
    pub max_connections: u32,
    pub busy_timeout_seconds: u64,
}

/// Logging.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter, such as `info` or `info,enamel_store=debug`.
    pub level: String,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Pretty when standard error is a terminal, JSON otherwise.
    Auto,
    Json,
    Pretty,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("enamel-data"),
            server: ServerSettings::default(),
            database: DatabaseSettings::default(),
            keys: KeySettings::default(),
            audit: AuditSettings::default(),
            retention: RetentionSettings::default(),
            jobs: JobSettings::default(),
            sessions: SessionSettings::default(),
            referrals: ReferralSettings::default(),
            notifications: NotificationSettings::default(),
            log: LogSettings::default(),
        }
    }
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            behind_tls_proxy: false,
            tls_cert: None,
            tls_key: None,
            shutdown_grace_seconds: 30,
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            busy_timeout_seconds: 5,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            level: "info".into(),
        }
    }
}

/// The kind of value an environment variable holds.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Integer,
    Boolean,
}

/// Every environment variable Enamel reads, with the setting it overrides.
/// Listed rather than derived so that each name is documented and greppable.
const ENV_VARS: &[(&str, Option<&str>, &str, Kind)] = &[
    ("ENAMEL_DATA_DIR", None, "data_dir", Kind::Text),
    ("ENAMEL_SERVER_BIND", Some("server"), "bind", Kind::Text),
    (
        "ENAMEL_SERVER_BEHIND_TLS_PROXY",
        Some("server"),
        "behind_tls_proxy",
        Kind::Boolean,
    ),
    (
        "ENAMEL_SERVER_TLS_CERT",
        Some("server"),
        "tls_cert",
        Kind::Text,
    ),
    (
        "ENAMEL_SERVER_TLS_KEY",
        Some("server"),
        "tls_key",
        Kind::Text,
    ),
    (
        "ENAMEL_SERVER_SHUTDOWN_GRACE_SECONDS",
        Some("server"),
        "shutdown_grace_seconds",
        Kind::Integer,
    ),
    (
        "ENAMEL_SERVER_MAX_BODY_BYTES",
        Some("server"),
        "max_body_bytes",
        Kind::Integer,
    ),
    ("ENAMEL_DATABASE_URL", Some("database"), "url", Kind::Text),
    (
        "ENAMEL_DATABASE_MAX_CONNECTIONS",
        Some("database"),
        "max_connections",
        Kind::Integer,
    ),
    (
        "ENAMEL_DATABASE_BUSY_TIMEOUT_SECONDS",
        Some("database"),
        "busy_timeout_seconds",
        Kind::Integer,
    ),
    ("ENAMEL_KEYS_PROVIDER", Some("keys"), "provider", Kind::Text),
    ("ENAMEL_KEYS_FILE", Some("keys"), "file", Kind::Text),
    (
        "ENAMEL_KEYS_KMS_REGION",
        Some("keys"),
        "kms_region",
        Kind::Text,
    ),
    (
        "ENAMEL_KEYS_KMS_ENDPOINT",
        Some("keys"),
        "kms_endpoint",
        Kind::Text,
    ),
    (
        "ENAMEL_KEYS_KMS_ALIAS_PREFIX",
        Some("keys"),
        "kms_alias_prefix",
        Kind::Text,
    ),
    (
        "ENAMEL_KEYS_CACHE_SECONDS",
        Some("keys"),
        "cache_seconds",
        Kind::Integer,
    ),
    (
        "ENAMEL_AUDIT_CHECKPOINT_DIR",
        Some("audit"),
        "checkpoint_dir",
        Kind::Text,
    ),
    (
        "ENAMEL_AUDIT_CHECKPOINT_ENTRIES",
        Some("audit"),
        "checkpoint_entries",
        Kind::Integer,
    ),
    (
        "ENAMEL_AUDIT_CHECKPOINT_SECONDS",
        Some("audit"),
        "checkpoint_seconds",
        Kind::Integer,
    ),
    (
        "ENAMEL_AUDIT_RETENTION_DAYS",
        Some("audit"),
        "retention_days",
        Kind::Integer,
    ),
    (
        "ENAMEL_RETENTION_ENDED_DAYS",
        Some("retention"),
        "ended_days",
        Kind::Integer,
    ),
    (
        "ENAMEL_RETENTION_MESSAGE_BODY_DAYS",
        Some("retention"),
        "message_body_days",
        Kind::Integer,
    ),
    (
        "ENAMEL_RETENTION_FINISHED_JOBS_DAYS",
        Some("retention"),
        "finished_jobs_days",
        Kind::Integer,
    ),
    (
        "ENAMEL_JOBS_LEASE_SECONDS",
        Some("jobs"),
        "lease_seconds",
        Kind::Integer,
    ),
    (
        "ENAMEL_SESSIONS_IDLE_SECONDS",
        Some("sessions"),
        "idle_seconds",
        Kind::Integer,
    ),
    (
        "ENAMEL_SESSIONS_TOUCH_SECONDS",
        Some("sessions"),
        "touch_seconds",
        Kind::Integer,
    ),
    (
        "ENAMEL_SESSIONS_ABSOLUTE_SECONDS",
        Some("sessions"),
        "absolute_seconds",
        Kind::Integer,
    ),
    ("ENAMEL_LOG_FORMAT", Some("log"), "format", Kind::Text),
    ("ENAMEL_LOG_LEVEL", Some("log"), "level", Kind::Text),
    (
        "ENAMEL_REFERRALS_PUBLIC_URL",
        Some("referrals"),
        "public_url",
        Kind::Text,
    ),
    (
        "ENAMEL_REFERRALS_S3_BUCKET",
        Some("referrals"),
        "s3_bucket",
        Kind::Text,
    ),
    (
        "ENAMEL_REFERRALS_ASSISTANT_API_KEY",
        Some("referrals"),
        "assistant_api_key",
        Kind::Text,
    ),
    (
        "ENAMEL_NOTIFICATIONS_SMTP_HOST",
        Some("notifications"),
        "smtp_host",
        Kind::Text,
    ),
    (
        "ENAMEL_NOTIFICATIONS_TWILIO_AUTH_TOKEN",
        Some("notifications"),
        "twilio_auth_token",
        Kind::Text,
    ),
    (
        "ENAMEL_NOTIFICATIONS_SRFAX_ACCESS_PWD",
        Some("notifications"),
        "srfax_access_pwd",
        Kind::Text,
    ),
];

/// The variable that names a configuration file when `--config` is not given.
pub const CONFIG_FILE_VAR: &str = "ENAMEL_CONFIG";

/// The test suites' variables (`ENAMEL_TEST_*`), which commands ignore.
const TEST_VAR_PREFIX: &str = "ENAMEL_TEST_";

/// The first of `names` that looks like a setting's variable (`ENAMEL_*`) but is
/// none: a misspelt variable, or a setting that only the file holds. Ignoring it
/// would run with a value the operator did not choose.
fn unknown_variable<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names.into_iter().find(|name| {
        name.starts_with("ENAMEL_")
            && !name.starts_with(TEST_VAR_PREFIX)
            && *name != CONFIG_FILE_VAR
            && !ENV_VARS.iter().any(|(var, ..)| var == name)
    })
}

/// Why settings could not be loaded. Messages name the file, line or variable,
/// never the value (which may be a secret).
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the configuration file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error("{var} must be {expected}")]
    BadVariable {
        var: &'static str,
        expected: &'static str,
    },
    #[error(
        "{var} is not a setting's variable (misspelt, or a setting only the configuration \
         file holds; the README lists both)"
    )]
    UnknownVariable { var: String },
    #[error("server.tls_cert and server.tls_key must be given together")]
    HalfTls,
    #[error("audit.retention_days must be at least 2192 (six years, 45 CFR 164.316(b)(2))")]
    RetentionTooShort,
    #[error(
        "sessions.idle_seconds must be 1 to 1800 and sessions.absolute_seconds 1 to 43200: \
         the limits may be lowered, never raised"
    )]
    SessionTooLong,
}

impl Settings {
    /// Loads defaults, then the file (if any), then the environment, read through
    /// `env` so tests need not touch the process environment.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let mut table = match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| SettingsError::Unreadable {
                        path: path.into(),
                        source,
                    })?;
                parse_table(&text, &path.display().to_string())?
            }
            None => toml::Table::new(),
        };
        for &(var, section, key, kind) in ENV_VARS {
            let Some(raw) = env(var) else { continue };
            let value = match kind {
                Kind::Text => toml::Value::String(raw),
                Kind::Integer => raw
                    .trim()
                    .parse::<i64>()
                    .map(toml::Value::Integer)
                    .map_err(|_| SettingsError::BadVariable {
                        var,
                        expected: "a whole number",
                    })?,
                Kind::Boolean => match raw.trim() {
                    "true" | "1" | "yes" => toml::Value::Boolean(true),
                    "false" | "0" | "no" => toml::Value::Boolean(false),
                    _ => {
                        return Err(SettingsError::BadVariable {
                            var,
                            expected: "true or false",
                        });
                    }
                },
            };
            let target = match section {
                None => &mut table,
                Some(section) => table
                    .entry(section)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .ok_or_else(|| SettingsError::Invalid {
                        origin: "configuration".into(),
                        message: format!("`{section}` must be a table"),
                    })?,
            };
            target.insert(key.to_owned(), value);
        }
        let settings: Self =
            table
                .try_into()
                .map_err(|err: toml::de::Error| SettingsError::Invalid {
                    origin: "configuration".into(),
                    message: err.message().into(),
                })?;
        if settings.server.tls_cert.is_some() != settings.server.tls_key.is_some() {
            return Err(SettingsError::HalfTls);
        }
        if settings.audit.retention_days < 2_192 {
            return Err(SettingsError::RetentionTooShort);
        }
        let sessions = &settings.sessions;
        if !(1..=MAX_IDLE_SECONDS).contains(&sessions.idle_seconds)
            || !(1..=MAX_ABSOLUTE_SECONDS).contains(&sessions.absolute_seconds)
        {
            return Err(SettingsError::SessionTooLong);
        }
        Ok(settings)
    }

    /// Loads settings from the real environment and the file it or `file` names.
    /// An `ENAMEL_*` variable that names no setting is refused, not ignored.
    pub fn from_environment(file: Option<&Path>) -> Result<Self, SettingsError> {
        let variables: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect();
        if let Some(var) = unknown_variable(variables.iter().map(String::as_str)) {
            return Err(SettingsError::UnknownVariable {
                var: var.to_owned(),
            });
        }
        let named = std::env::var_os(CONFIG_FILE_VAR).map(PathBuf::from);
        Self::load(file.or(named.as_deref()), |var| std::env::var(var).ok())
    }

    /// The database URL in effect: the configured one, or SQLite under `data_dir`.
    #[must_use]
    pub fn database_url(&self) -> SecretString {
        self.database.url.clone().unwrap_or_else(|| {
            SecretString::from(format!(
                "sqlite://{}",
                self.data_dir.join("enamel.db").display()
            ))
        })
    }

    /// The key file in effect: the configured one, or `keys/enamel.keys` under `data_dir`.
    #[must_use]
    pub fn key_file(&self) -> PathBuf {
        self.keys
            .file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys").join("enamel.keys"))
    }

    /// Where the KMS-wrapped audit signing seed is kept.
    #[must_use]
    pub fn kms_signing_seed_file(&self) -> PathBuf {
        self.keys
            .kms_signing_seed_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys").join("audit-signing.kms"))
    }

    /// Where signed audit checkpoints are exported.
    #[must_use]
    pub fn checkpoint_dir(&self) -> PathBuf {
        self.audit
            .checkpoint_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit-checkpoints"))
    }

    /// Whether HTTPS is served by Enamel itself.
    #[must_use]
    pub const fn serves_tls(&self) -> bool {
        self.server.tls_cert.is_some()
    }

    /// The grace period for in-flight requests at shutdown.
    #[must_use]
    pub const fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.server.shutdown_grace_seconds)
    }

    /// The effective configuration as TOML, secrets redacted, for `enamel config check`.
    #[must_use]
    pub fn redacted(&self) -> RedactedSettings<'_> {
        RedactedSettings(self)
    }
}

/// Parses TOML, reporting errors by line without quoting the offending text.
fn parse_table(text: &str, origin: &str) -> Result<toml::Table, SettingsError> {
    text.parse::<toml::Table>().map_err(|err| {
        let line = err
            .span()
            .map(|span| text[..span.start].lines().count().max(1));
        SettingsError::Invalid {
            origin: line.map_or_else(
                || origin.to_owned(),
                |line| format!("{origin}, line {line}"),
            ),
            message: err.message().to_owned(),
        }
    })
}

/// The settings as TOML with every secret replaced by `REDACTED`.
#[derive(Debug)]
pub struct RedactedSettings<'a>(&'a Settings);

impl fmt::Display for RedactedSettings<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or("(unset)".into(), |p| p.display().to_string())
        };
        writeln!(f, "data_dir = {:?}", s.data_dir.display().to_string())?;
        writeln!(f, "\n[server]")?;
        writeln!(f, "bind = \"{}\"", s.server.bind)?;
        writeln!(f, "behind_tls_proxy = {}", s.server.behind_tls_proxy)?;
        writeln!(f, "tls_cert = {:?}", path(&s.server.tls_cert))?;
        writeln!(f, "tls_key = {:?}", path(&s.server.tls_key))?;
        writeln!(
            f,
            "shutdown_grace_seconds = {}",
            s.server.shutdown_grace_seconds
        )?;
        writeln!(f, "max_body_bytes = {}", s.server.max_body_bytes)?;
        writeln!(f, "\n[database]")?;
        writeln!(
            f,
            "url = {:?}",
            redact_url(s.database_url().expose_secret())
        )?;
        writeln!(f, "max_connections = {}", s.database.max_connections)?;
        writeln!(
            f,
            "busy_timeout_seconds = {}",
            s.database.busy_timeout_seconds
        )?;
        writeln!(f, "\n[keys]")?;
        let provider = match s.keys.provider {
            KeyProviderKind::Local => "local",
            KeyProviderKind::AwsKms => "aws-kms",
        };
        writeln!(f, "provider = \"{provider}\"")?;
        writeln!(f, "file = {:?}", s.key_file().display().to_string())?;
        writeln!(f, "cache_seconds = {}", s.keys.cache_seconds)?;
        writeln!(f, "kms_region = {:?}", s.keys.kms_region)?;
        writeln!(
            f,
            "kms_endpoint = {:?}",
            s.keys.kms_endpoint.as_deref().unwrap_or("(AWS)")
        )?;
        writeln!(f, "kms_alias_prefix = {:?}", s.keys.kms_alias_prefix)?;
        writeln!(f, "\n[audit]")?;
        writeln!(
            f,
            "checkpoint_dir = {:?}",
            s.checkpoint_dir().display().to_string()
        )?;
        writeln!(f, "checkpoint_entries = {}", s.audit.checkpoint_entries)?;
        writeln!(f, "checkpoint_seconds = {}", s.audit.checkpoint_seconds)?;
        writeln!(f, "retention_days = {}", s.audit.retention_days)?;
        writeln!(f, "\n[retention]")?;
        writeln!(f, "ended_days = {}", s.retention.ended_days)?;
        writeln!(f, "message_body_days = {}", s.retention.message_body_days)?;
        writeln!(f, "finished_jobs_days = {}", s.retention.finished_jobs_days)?;
        writeln!(f, "\n[jobs]")?;
        writeln!(f, "lease_seconds = {}", s.jobs.lease_seconds)?;
        writeln!(f, "\n[sessions]")?;
        writeln!(f, "idle_seconds = {}", s.sessions.idle_seconds)?;
        writeln!(f, "touch_seconds = {}", s.sessions.touch_seconds)?;
        writeln!(f, "absolute_seconds = {}", s.sessions.absolute_seconds)?;
        self.write_outbound(f)?;
        writeln!(f, "\n[log]")?;
        writeln!(
            f,
            "format = \"{}\"",
            match s.log.format {
                LogFormat::Auto => "auto",
                LogFormat::Json => "json",
                LogFormat::Pretty => "pretty",
            }
        )?;
        write!(f, "level = {:?}", s.log.level)
    }
}

impl RedactedSettings<'_> {
    /// The `[referrals]` and `[notifications]` sections: where PHI goes out.
    fn write_outbound(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or("(unset)".into(), |p| p.display().to_string())
        };
        let text = |v: &Option<String>| v.as_deref().unwrap_or("(unset)").to_owned();
        let secret = |v: bool| if v { "REDACTED" } else { "(unset)" };
        let r = &s.referrals;
        writeln!(f, "\n[referrals]")?;
        writeln!(f, "attachment_max_bytes = {}", r.attachment_max_bytes)?;
        writeln!(f, "attachment_dir = {:?}", path(&r.attachment_dir))?;
        writeln!(f, "s3_bucket = {:?}", text(&r.s3_bucket))?;
        writeln!(f, "s3_endpoint = {:?}", text(&r.s3_endpoint))?;
        writeln!(f, "not_responding_days = {}", r.not_responding_days)?;
        writeln!(f, "public_url = {:?}", text(&r.public_url))?;
        writeln!(
            f,
            "assistant_api_key = {:?}",
            secret(r.assistant_api_key.is_some())
        )?;
        writeln!(f, "assistant_model = {:?}", text(&r.assistant_model))?;
        let n = &s.notifications;
        writeln!(f, "\n[notifications]")?;
        writeln!(f, "smtp_host = {:?}", text(&n.smtp_host))?;
        writeln!(f, "smtp_from = {:?}", text(&n.smtp_from))?;
        writeln!(f, "twilio_account_sid = {:?}", text(&n.twilio_account_sid))?;
        writeln!(
            f,
            "twilio_auth_token = {:?}",
            secret(n.twilio_auth_token.is_some())
        )?;
        writeln!(f, "twilio_from = {:?}", text(&n.twilio_from))?;
        writeln!(f, "srfax_access_id = {:?}", text(&n.srfax_access_id))?;
        writeln!(
            f,
            "srfax_access_pwd = {:?}",
            secret(n.srfax_access_pwd.is_some())
        )?;
        writeln!(f, "mailbox_dir = {:?}", path(&n.mailbox_dir))?;
        Ok(())
    }
}

/// A database URL with its password (and any query, which may hold one) redacted.
fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.scheme() != "sqlite" => {
            if url.password().is_some() {
                let _ = url.set_password(Some("REDACTED"));
            }
            if url.query().is_some() {
                url.set_query(Some("REDACTED"));
            }
            url.to_string()
        }
        Ok(_) => raw.to_owned(),
        Err(_) => "[redacted]".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |var| map.get(var).cloned()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn defaults_serve_loopback_8080_on_sqlite_under_the_data_dir() {
        let settings = Settings::load(None, env(&[])).unwrap();
        assert_eq!(settings.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(
            settings.database_url().expose_secret(),
            "sqlite://enamel-data/enamel.db"
        );
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let toml = file("[server]\nbind = \"127.0.0.1:9000\"\nshutdown_grace_seconds = 5\n");
        let settings = Settings::load(
            Some(toml.path()),
            env(&[
                ("ENAMEL_SERVER_BIND", "127.0.0.1:9100"),
                ("ENAMEL_SERVER_BEHIND_TLS_PROXY", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.server.bind.port(), 9100);
        assert_eq!(settings.server.shutdown_grace_seconds, 5);
        assert!(settings.server.behind_tls_proxy);
    }

    #[test]
    fn every_listed_variable_is_a_real_setting() {
        let pairs: Vec<(&str, &str)> = ENV_VARS
            .iter()
            .map(|(var, _, key, kind)| {
                let value = match (kind, *key) {
                    (Kind::Integer, "retention_days") => "3000",
                    (Kind::Integer, "idle_seconds" | "absolute_seconds") => "60",
                    (Kind::Integer, _) => "7",
                    (Kind::Boolean, _) => "false",
                    (_, "bind") => "127.0.0.1:1",
                    (_, "format") => "json",
                    (_, "provider") => "aws-kms",
                    (_, "url") => "sqlite://x.db",
                    _ => "x",
                };
                (*var, value)
            })
            .collect();
        let settings = Settings::load(None, env(&pairs)).unwrap();
        assert_eq!(settings.database.max_connections, 7);
        assert_eq!(settings.log.format, LogFormat::Json);
    }

    #[test]
    fn an_enamel_variable_that_names_no_setting_is_refused() {
        assert_eq!(
            unknown_variable([
                "HOME",
                "ENAMEL_DATA_DIR",
                "ENAMEL_CONFIG",
                "ENAMEL_TEST_POSTGRES_URL",
                "ENAMEL_REFERRALS_S3_ENDPOINT",
                "ENAMEL_SERVER_BNID",
            ]),
            Some("ENAMEL_REFERRALS_S3_ENDPOINT"),
            "a file-only setting"
        );
        assert_eq!(
            unknown_variable(["ENAMEL_SERVER_BNID"]),
            Some("ENAMEL_SERVER_BNID")
        );
        let every_setting = ENV_VARS.iter().map(|(var, ..)| *var);
        assert_eq!(unknown_variable(every_setting), None);
    }

    #[test]
    fn an_unknown_key_is_an_error() {
        let toml = file("[server]\nbnid = \"127.0.0.1:9000\"\n");
        let err = Settings::load(Some(toml.path()), env(&[])).unwrap_err();
        assert!(err.to_string().contains("bnid"), "{err}");
    }

    #[test]
    fn a_bad_variable_is_named_without_its_value() {
        let err = Settings::load(None, env(&[("ENAMEL_DATABASE_MAX_CONNECTIONS", "s3cret")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ENAMEL_DATABASE_MAX_CONNECTIONS must be a whole number"
        );
    }

    #[test]
    fn a_toml_syntax_error_gives_the_line_but_not_the_text() {
        let toml = file("[database]\nurl = \"postgres://u:hunter2@db/enamel\n");
        let err = Settings::load(Some(toml.path()), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_retention_below_six_years_is_refused() {
        let err = Settings::load(None, env(&[("ENAMEL_AUDIT_RETENTION_DAYS", "365")])).unwrap_err();
        assert!(matches!(err, SettingsError::RetentionTooShort));
        assert!(Settings::load(None, env(&[("ENAMEL_AUDIT_RETENTION_DAYS", "3650")])).is_ok());
    }

    #[test]
    fn half_a_tls_configuration_is_refused() {
        let err = Settings::load(None, env(&[("ENAMEL_SERVER_TLS_CERT", "cert.pem")])).unwrap_err();
        assert!(matches!(err, SettingsError::HalfTls));
    }

    #[test]
    fn the_redacted_view_hides_the_database_password() {
        let settings = Settings::load(
            None,
            env(&[(
                "ENAMEL_DATABASE_URL",
                "postgres://enamel:hunter2@db.internal:5432/enamel?sslpassword=x",
            )]),
        )
        .unwrap();
        let shown = settings.redacted().to_string();
        assert!(
            shown.contains("postgres://enamel:REDACTED@db.internal:5432/enamel?REDACTED"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"));
        assert!(!format!("{settings:?}").contains("hunter2"));
        assert!(shown.parse::<toml::Table>().is_ok(), "{shown}");
    }
}
