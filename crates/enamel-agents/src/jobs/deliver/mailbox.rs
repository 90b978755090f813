//! The demo's mailbox: messages written as files (an .eml per email, a .txt per SMS, a PDF per fax) instead of sent, for a demo with no vendor.

use enamel_integrations::SendError;
use enamel_store::Channel;

/// Writes each message as a text file in a directory instead of sending it, for the
/// demo (`serve --demo`) and development. It stands in for each channel's real
/// vendor (`smtp-relay`, `twilio`, `srfax`), so the BAA gate decides exactly as it
/// would with them.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub(super) dir: std::path::PathBuf,
}

impl Mailbox {
    /// A mailbox in `dir`, created owner-only if missing.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn new(dir: std::path::PathBuf) -> std::io::Result<Self> {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
        // Owner-only, also when the directory was already there.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(Self { dir })
    }

    pub(super) fn vendor(channel: Channel) -> &'static str {
        match channel {
            Channel::Email => "smtp-relay",
            Channel::Sms => "twilio",
            Channel::Fax => "srfax",
        }
    }

    /// Writes one message as `<time>-<channel>-<key>.txt` (to a temporary name, then
    /// renamed, so a reader never sees half of one).
    pub(super) async fn send(
        &self,
        channel: Channel,
        recipient: &str,
        subject: &str,
        body: &str,
        key: &str,
    ) -> Result<enamel_integrations::Delivered, SendError> {
        let name = format!(
            "{}-{}-{key}.txt",
            time::OffsetDateTime::now_utc().unix_timestamp_nanos(),
            channel.as_str()
        );
        let text = format!(
            "Channel: {}\nTo: {recipient}\nSubject: {subject}\n\n{body}\n",
            channel.as_str()
        );
        let temp = self.dir.join(format!(".{name}.tmp"));
        let write = async {
            use tokio::io::AsyncWriteExt as _;
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temp)
                .await?;
            file.write_all(text.as_bytes()).await?;
            file.sync_all().await?;
            tokio::fs::rename(&temp, self.dir.join(&name)).await
        };
        write.await.map_err(|_| SendError::Transient {
            code: "mailbox-write".into(),
        })?;
        Ok(enamel_integrations::Delivered { provider_id: name })
    }
}
