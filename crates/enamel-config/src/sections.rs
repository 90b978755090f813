//! The settings' sections, each with its defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use crate::Settings;

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

/// Reaching practices' practice-management systems (docs/opendental.md).
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PmsSettings {
    /// Open Dental's API root; unset means its hosted API.
    pub opendental_base_url: Option<String>,
    /// Enamel's Open Dental developer key (each practice's customer key is in its
    /// sealed vendor credentials). Unset: no practice can be connected.
    pub opendental_developer_key: Option<SecretString>,
    /// How often a newly connected practice is synced, in minutes.
    pub sync_minutes: u32,
}

impl Default for PmsSettings {
    fn default() -> Self {
        Self {
            opendental_base_url: None,
            opendental_developer_key: None,
            sync_minutes: 5,
        }
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
            pms: PmsSettings::default(),
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
