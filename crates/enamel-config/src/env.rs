//! The `ENAMEL_*` environment variables: every one Enamel reads, listed with the
//! setting it overrides, so each name is documented and greppable.

/// The kind of value an environment variable holds.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Text,
    Integer,
    Boolean,
}

/// Every environment variable Enamel reads, with the setting it overrides.
/// Listed rather than derived so that each name is documented and greppable.
pub(crate) const ENV_VARS: &[(&str, Option<&str>, &str, Kind)] = &[
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
    (
        "ENAMEL_PMS_OPENDENTAL_BASE_URL",
        Some("pms"),
        "opendental_base_url",
        Kind::Text,
    ),
    (
        "ENAMEL_PMS_OPENDENTAL_DEVELOPER_KEY",
        Some("pms"),
        "opendental_developer_key",
        Kind::Text,
    ),
    (
        "ENAMEL_PMS_SYNC_MINUTES",
        Some("pms"),
        "sync_minutes",
        Kind::Integer,
    ),
];

/// The variable that names a configuration file when `--config` is not given.
pub const CONFIG_FILE_VAR: &str = "ENAMEL_CONFIG";

/// The test suites' variables (`ENAMEL_TEST_*`), which commands ignore.
pub(crate) const TEST_VAR_PREFIX: &str = "ENAMEL_TEST_";

/// The first of `names` that looks like a setting's variable (`ENAMEL_*`) but is
/// none: a misspelt variable, or a setting that only the file holds. Ignoring it
/// would run with a value the operator did not choose.
pub(crate) fn unknown_variable<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    names.into_iter().find(|name| {
        name.starts_with("ENAMEL_")
            && !name.starts_with(TEST_VAR_PREFIX)
            && *name != CONFIG_FILE_VAR
            && !ENV_VARS.iter().any(|(var, ..)| var == name)
    })
}
