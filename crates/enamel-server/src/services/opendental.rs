//! Connecting a practice to Open Dental (docs/opendental.md): the administrator
//! gives the practice's customer key, which is sealed in its vendor credentials;
//! the practice's `pms-sync` agent is made if it has none; the first sync is queued.

use enamel_agents::jobs::pms_sync::CUSTOMER_KEY;
use enamel_agents::pms::sync::AGENT_NAME;
use enamel_domain::{AgentId, VendorName};
use enamel_integrations::opendental;
use enamel_store::{Scoped, StoreError};
use secrecy::{ExposeSecret as _, SecretString};

use crate::{ApiError, AppState};

/// Connects (or reconnects, with a new key or interval) the actor's practice.
pub async fn connect(
    state: &AppState,
    scoped: &Scoped<'_>,
    customer_key: &SecretString,
    every_minutes: u32,
) -> Result<(), ApiError> {
    if state.pms.developer_key.is_none() {
        return Err(ApiError::Rejected(
            "Open Dental is not set up on this Enamel: ask Enamel's operator to configure \
             pms.opendental_developer_key"
                .into(),
        ));
    }
    let key = customer_key.expose_secret().trim();
    if key.is_empty() || key.len() > 64 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::InvalidInput(enamel_domain::InvalidValue::new(
            "customer key",
            "must be the letters and digits Open Dental's API Setup shows",
        )));
    }
    if !(1..=1440).contains(&every_minutes) {
        return Err(ApiError::InvalidInput(enamel_domain::InvalidValue::new(
            "minutes",
            "must be 1 to 1440",
        )));
    }
    // Authorized (schedule.import) before anything is written.
    scoped.pms_connection().await?;
    let agent = pms_agent(state, scoped).await?;
    let vendor = VendorName::parse(opendental::VENDOR).map_err(ApiError::InvalidInput)?;
    scoped
        .vendor_credentials()?
        .put(&vendor, CUSTOMER_KEY, &SecretString::from(key.to_owned()))
        .await?;
    scoped.connect_pms(&vendor, agent, every_minutes).await?;
    let practice = scoped.own_practice().await?.id;
    enamel_agents::runtime::enqueue_sync(&state.store, practice, false, state.clock.now())
        .await
        .map_err(ApiError::Unexpected)?;
    Ok(())
}

/// The practice's `pms-sync` agent, made on first connection.
async fn pms_agent(state: &AppState, scoped: &Scoped<'_>) -> Result<AgentId, ApiError> {
    let existing = scoped
        .agents()
        .await?
        .into_iter()
        .find(|a| a.name == AGENT_NAME);
    match existing {
        Some(agent) => Ok(agent.id),
        None => match scoped.create_agent(AGENT_NAME, state.clock.now()).await {
            Ok(id) => Ok(id),
            Err(StoreError::Conflict(_)) => scoped
                .agents()
                .await?
                .into_iter()
                .find(|a| a.name == AGENT_NAME)
                .map(|a| a.id)
                .ok_or(ApiError::NotFound),
            Err(err) => Err(err.into()),
        },
    }
}

/// What a run's outcome code means, for the administrator.
#[must_use]
pub fn outcome_text(code: &str) -> &'static str {
    match code {
        "ok" => "Synced.",
        "no_executed_baa" => {
            "Stopped: your vendor registry has no executed business associate agreement with \
             Open Dental (vendor name open-dental), so nothing was read. Record it under \
             Vendors and BAAs."
        }
        "no_developer_key" => {
            "Stopped: Open Dental is not set up on this Enamel (its developer key is missing)."
        }
        "bad_customer_key" => "Stopped: the customer key is not usable; enter it again.",
        "bad_settings" => {
            "Stopped: Enamel's Open Dental settings are not usable; Enamel's operator can fix \
             them (pms.opendental_base_url, pms.opendental_developer_key)."
        }
        c if c.starts_with("opendental-unauthorized") => {
            "Stopped: Open Dental refused the keys. Check the customer key, and that the API \
             is enabled in Open Dental (Setup, Advanced Setup, API)."
        }
        c if c.starts_with("opendental-unavailable")
            || c == "opendental-timeout"
            || c == "opendental-connect" =>
        {
            "Open Dental did not answer for now (is the office's eConnector running?). The \
             next run tries again."
        }
        c if c.starts_with("opendental-") => {
            "Stopped: Open Dental refused a request. The next run tries again."
        }
        _ => "Stopped by an error in Enamel; the next run tries again.",
    }
}
