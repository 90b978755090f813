//! Configuration: a typed settings struct from an optional TOML file plus `ENAMEL_*`
//! environment variables (which win), with secrets that never print.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

mod env;
mod redact;
mod sections;

pub use env::CONFIG_FILE_VAR;
use env::{ENV_VARS, Kind, unknown_variable};
pub use redact::RedactedSettings;
pub use sections::*;

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
    pub pms: PmsSettings,
    pub log: LogSettings,
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret as _;

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
