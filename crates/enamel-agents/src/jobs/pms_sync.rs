//! The Open Dental sync of one connected practice, as its `pms-sync` agent
//! (docs/opendental.md): every few minutes on the practice's schedule, and on
//! demand from the administrator's page or `enamel import opendental`.

use enamel_domain::{PracticeId, VendorName};
use enamel_integrations::opendental::{self, OpenDental, OpenDentalSettings};
use enamel_store::{Store, StoreError};
use secrecy::SecretString;

use crate::pms::sync::{self, SyncError, SyncReport};
use crate::runtime::Ran;

/// The label of a practice's Open Dental customer key in its vendor credentials.
pub const CUSTOMER_KEY: &str = "customer-key";

/// How to reach Open Dental: the deployment's developer key and API root.
#[derive(Clone, Debug)]
pub struct PmsClientSettings {
    pub base_url: url::Url,
    /// `None`: Open Dental is not set up on this deployment.
    pub developer_key: Option<SecretString>,
    /// The first pause before retrying a rate-limited request.
    pub first_pause: std::time::Duration,
}

impl PmsClientSettings {
    /// From the `[pms]` settings; an unreadable base URL is an error that names it.
    pub fn from_settings(settings: &enamel_config::PmsSettings) -> anyhow::Result<Self> {
        let raw = settings
            .opendental_base_url
            .as_deref()
            .unwrap_or(opendental::DEFAULT_BASE_URL);
        Ok(Self {
            base_url: url::Url::parse(raw)
                .map_err(|_| anyhow::anyhow!("pms.opendental_base_url is not a URL"))?,
            developer_key: settings.opendental_developer_key.clone(),
            first_pause: std::time::Duration::from_secs(1),
        })
    }
}

/// Why a practice could not be synced before anything was read.
#[derive(Debug, thiserror::Error)]
pub enum NotSynced {
    #[error("the practice is not connected to a practice-management system")]
    NotConnected,
    #[error("Open Dental's developer key is not configured (pms.opendental_developer_key)")]
    NoDeveloperKey,
    #[error("the practice's Open Dental customer key is not usable: {0}")]
    BadKey(String),
    #[error("the Open Dental settings are not usable: {0}")]
    BadSettings(String),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NotSynced {
    /// A code for the connection's last outcome and the logs.
    #[must_use]
    pub fn code(&self) -> String {
        match self {
            Self::NotConnected => "not_connected".into(),
            Self::NoDeveloperKey => "no_developer_key".into(),
            Self::BadKey(_) => "bad_customer_key".into(),
            Self::BadSettings(_) => "bad_settings".into(),
            Self::Sync(err) => err.code(),
            Self::Store(_) => "store_failed".into(),
        }
    }
}

/// Syncs `practice` now; `full` reads everything again.
pub async fn sync_practice(
    store: &Store,
    settings: &PmsClientSettings,
    practice: PracticeId,
    full: bool,
) -> Result<SyncReport, NotSynced> {
    let (client, actor) = match client_for(store, settings, practice).await {
        Ok(found) => found,
        Err(err @ (NotSynced::NotConnected | NotSynced::Store(_))) => return Err(err),
        Err(err) => {
            // Shown on the administrator's page, as a run's outcome.
            if let Some(agent) = sync_agent(store, practice).await? {
                store
                    .scoped(&sync::agent_actor(agent, practice))
                    .pms_sync_finished(&err.code(), "")
                    .await?;
            }
            return Err(err);
        }
    };
    let scoped = store.scoped(&actor);
    Ok(sync::run(&scoped, &client, full, store.now()).await?)
}

/// The `pms-sync` agent of a connected practice.
async fn sync_agent(
    store: &Store,
    practice: PracticeId,
) -> Result<Option<enamel_domain::AgentId>, StoreError> {
    Ok(store
        .pms_connections()
        .await?
        .into_iter()
        .find(|(p, _, _)| *p == practice)
        .map(|(_, agent, _)| agent))
}

/// The Open Dental client of a connected practice, with its `pms-sync` agent (whose
/// vendor credentials hold the customer key): for the sync and the write-backs.
pub async fn client_for(
    store: &Store,
    settings: &PmsClientSettings,
    practice: PracticeId,
) -> Result<(OpenDental, enamel_domain::Actor), NotSynced> {
    let Some(agent) = sync_agent(store, practice).await? else {
        return Err(NotSynced::NotConnected);
    };
    let actor = sync::agent_actor(agent, practice);
    let scoped = store.scoped(&actor);
    let Some(developer_key) = settings.developer_key.clone() else {
        return Err(NotSynced::NoDeveloperKey);
    };
    let vendor =
        VendorName::parse(opendental::VENDOR).map_err(|e| NotSynced::BadKey(e.to_string()))?;
    let customer_key = scoped
        .vendor_credentials()?
        .secret(&vendor, CUSTOMER_KEY)
        .await?;
    let client = OpenDental::new(OpenDentalSettings {
        base_url: settings.base_url.clone(),
        developer_key,
        customer_key,
        first_pause: settings.first_pause,
    })
    .map_err(|e| {
        if matches!(
            e,
            enamel_integrations::SetupError::Invalid {
                setting: "customer_key",
                ..
            }
        ) {
            NotSynced::BadKey(e.to_string())
        } else {
            NotSynced::BadSettings(e.to_string())
        }
    })?;
    Ok((client, actor))
}

/// A run for the jobs runtime: the outcome is on the practice's connection, where
/// its administrator sees it; a vendor's refusal or absence waits for the next run
/// rather than piling up retries, and so does a practice the store refuses for good
/// (its agreement ended, its keys shredded). Only the store's own failure is retried.
pub async fn run(
    store: &Store,
    settings: &PmsClientSettings,
    practice: PracticeId,
    full: bool,
) -> anyhow::Result<Ran> {
    match sync_practice(store, settings, practice, full).await {
        Ok(_)
        | Err(
            NotSynced::NotConnected
            | NotSynced::NoDeveloperKey
            | NotSynced::BadKey(_)
            | NotSynced::BadSettings(_)
            | NotSynced::Sync(SyncError::Vendor(_)),
        ) => Ok(Ran::Done),
        Err(NotSynced::Store(err) | NotSynced::Sync(SyncError::Store(err)))
            if refused_for_good(&err) =>
        {
            tracing::warn!(error = %err, "the PMS sync was refused; the next run tries again");
            Ok(Ran::Done)
        }
        Err(err) => Err(anyhow::Error::new(err).context("syncing a practice's schedule")),
    }
}

/// A refusal that retrying in seconds will not change (another run holding the
/// practice among them).
const fn refused_for_good(err: &StoreError) -> bool {
    matches!(
        err,
        StoreError::Conflict(_)
            | StoreError::NoBaa(_)
            | StoreError::AgreementRequired(_)
            | StoreError::Denied
            | StoreError::Shredded
            | StoreError::NotFound
    )
}
