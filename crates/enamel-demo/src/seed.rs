//! Writing the demo network into a store.

use enamel_domain::{Actor, VendorName};
use enamel_store::{Store, StoreError};
use secrecy::SecretString;

use crate::DemoNetwork;

/// The password of every demo account (synthetic accounts on a demo network only;
/// printed by `enamel serve --demo`). Privileged roles enrol a second factor at
/// their first sign-in, as they would for real.
pub const DEMO_PASSWORD: &str = "violet-molar-lantern";

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedOutcome {
    pub practices_created: usize,
    pub users_created: usize,
}

/// Writes the network's practices, accounts and (sealed) vendor credentials,
/// skipping any already present.
///
/// Ids are deterministic, so seeding twice, or again after an interruption, creates
/// only what is missing. Patients join the seed when the store holds patients.
pub async fn seed(store: &Store, network: &DemoNetwork) -> anyhow::Result<SeedOutcome> {
    let mut outcome = SeedOutcome {
        practices_created: 0,
        users_created: 0,
    };
    for demo in &network.practices {
        match store.practices().insert(&demo.practice).await {
            Ok(_) => outcome.practices_created += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(anyhow::Error::new(err).context("seeding a demo practice")),
        }
    }
    let users = network
        .practices
        .iter()
        .flat_map(|p| &p.users)
        .chain([&network.operator]);
    // One hash for all demo accounts: they share the published demo password anyway.
    let demo_hash = enamel_crypto::password::Passwords::new().hash(DEMO_PASSWORD);
    for user in users {
        match store.users().insert(user).await {
            Ok(_) => {
                store.identity().set_password(user.id(), &demo_hash).await?;
                outcome.users_created += 1;
            }
            Err(StoreError::Conflict(_)) => {}
            Err(err) => return Err(anyhow::Error::new(err).context("seeding a demo account")),
        }
    }
    let twilio = VendorName::parse("twilio").expect("a valid vendor name");
    for demo in &network.practices {
        let actor = Actor::system_for(demo.practice.id);
        let credentials = store.scoped(&actor).vendor_credentials()?;
        if credentials.list().await?.is_empty() {
            // A synthetic token, sealed like PHI, so the demo has encrypted rows to rotate.
            let token = SecretString::from(format!("demo-token-{}", demo.practice.npi));
            credentials.put(&twilio, "auth-token", &token).await?;
        }
    }
    tracing::info!(
        practices = outcome.practices_created,
        users = outcome.users_created,
        "demo network seeded"
    );
    Ok(outcome)
}
