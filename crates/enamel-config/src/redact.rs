//! Settings as they may be printed: every secret and every password in a URL
//! replaced by a marker.

use std::fmt;
use std::path::PathBuf;

use secrecy::ExposeSecret;

use crate::{KeyProviderKind, LogFormat, Settings};

/// The settings as TOML with every secret replaced by `REDACTED`.
#[derive(Debug)]
pub struct RedactedSettings<'a>(pub(crate) &'a Settings);

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
        let pms = &s.pms;
        writeln!(f, "\n[pms]")?;
        writeln!(
            f,
            "opendental_base_url = {:?}",
            text(&pms.opendental_base_url)
        )?;
        writeln!(
            f,
            "opendental_developer_key = {:?}",
            secret(pms.opendental_developer_key.is_some())
        )?;
        writeln!(f, "sync_minutes = {}", pms.sync_minutes)?;
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
