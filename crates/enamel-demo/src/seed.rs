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
/// only what is missing. Each practice gets its synthetic patients (when it has
/// none yet), an office notification address, and a BAA registry in which the
/// email relay's agreement is executed and those with Twilio and `SRFax` are pending, so the
/// demo shows both a delivered notice and a refused one.
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
    for demo in &network.practices {
        seed_registry(store, demo.practice.id).await?;
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
    for demo in &network.practices {
        execute_agreement(store, demo).await?;
    }
    let twilio = VendorName::parse("twilio").expect("a valid vendor name");
    for demo in &network.practices {
        let actor = Actor::system_for(demo.practice.id, enamel_domain::SystemTask::Seed);
        let credentials = store.scoped(&actor).vendor_credentials()?;
        if credentials.list().await?.is_empty() {
            // A synthetic token, sealed like PHI, so the demo has encrypted rows to rotate.
            let token = SecretString::from(format!("demo-token-{}", demo.practice.npi));
            credentials.put(&twilio, "auth-token", &token).await?;
        }
    }
    for demo in &network.practices {
        seed_referral_network(store, network, demo).await?;
    }
    tracing::info!(
        practices = outcome.practices_created,
        users = outcome.users_created,
        "demo network seeded"
    );
    Ok(outcome)
}

async fn seed_referral_network(
    store: &Store,
    network: &DemoNetwork,
    demo: &crate::DemoPractice,
) -> anyhow::Result<()> {
    use enamel_domain::{ContactChannel, ContactDetails, NewPatient, PatientId, Phi};
    use enamel_store::{Channel, PatientQuery};

    let id = demo.practice.id;
    let slug = demo.users[0]
        .email()
        .as_str()
        .rsplit('@')
        .next()
        .unwrap_or("example.test")
        .to_owned();
    let office = enamel_domain::Email::parse(&format!("office@{slug}"))?;
    store
        .practices()
        .set_notifications(id, Channel::Email, Some(&office))
        .await?;
    store.practices().set_location(id, demo.location).await?;
    let actor = Actor::system_for(id, enamel_domain::SystemTask::Seed);
    let scoped = store.scoped(&actor);
    let has_patients = !scoped
        .find_patients(&PatientQuery {
            limit: 1,
            ..PatientQuery::default()
        })
        .await?
        .is_empty();
    if !has_patients {
        let patients: Vec<NewPatient> = network
            .patients
            .iter()
            .filter(|p| p.practice == id)
            .enumerate()
            .map(|(i, p)| NewPatient {
                id: PatientId::generate(),
                first_name: p.first_name.clone(),
                last_name: p.last_name.clone(),
                birth_date: p.birth_date.clone(),
                contact: Phi::new(ContactDetails {
                    phone: Some(p.phone.expose().clone()),
                    email: Some(p.email.expose().clone()),
                    address: None,
                    preferred: if i % 3 == 0 {
                        ContactChannel::Sms
                    } else {
                        ContactChannel::Email
                    },
                    language: if i % 5 == 0 { "es" } else { "en" }.to_owned(),
                }),
                insurance: None,
            })
            .collect();
        scoped.import_patients(&patients).await?;
    }
    Ok(())
}

/// The practice's BAA registry: the email relay's and the key service's agreements
/// executed, Twilio's and `SRFax`'s pending, none with the AI vendor. Written before
/// anything is sealed, since a practice's first key is made under the key service's
/// agreement.
async fn seed_registry(store: &Store, id: enamel_domain::PracticeId) -> anyhow::Result<()> {
    use enamel_store::{BaaStatus, VendorEntry};

    let actor = Actor::system_for(id, enamel_domain::SystemTask::Seed);
    let scoped = store.scoped(&actor);
    let executed = time::macros::date!(2026 - 01 - 15);
    let registry = [
        (
            "aws-kms",
            "AWS Key Management Service",
            "encryption keys (keys only, never PHI)",
            BaaStatus::Executed,
        ),
        (
            "smtp-relay",
            "Email relay (SMTP)",
            "email notifications",
            BaaStatus::Executed,
        ),
        ("twilio", "Twilio", "SMS notifications", BaaStatus::Pending),
        ("srfax", "SRFax", "fax notifications", BaaStatus::Pending),
        (
            "open-dental",
            "Open Dental",
            "practice schedule sync (PMS API)",
            BaaStatus::Pending,
        ),
        (
            "anthropic",
            "Anthropic",
            "AI drafting assistant",
            BaaStatus::None,
        ),
    ];
    for (name, display, services, status) in registry {
        let name = VendorName::parse(name)?;
        if store.vendor_of(id, &name).await?.is_some() {
            continue;
        }
        let executed_on = (status == BaaStatus::Executed).then_some(executed);
        scoped
            .put_vendor(
                &VendorEntry {
                    name,
                    display_name: display.to_owned(),
                    services: services.to_owned(),
                    baa_status: status,
                    executed_on,
                    expires_on: executed_on.map(|d| d.replace_year(d.year() + 3).unwrap_or(d)),
                    document_ref: executed_on.map(|_| "BAA-DEMO-2026".to_owned()),
                },
                store.now(),
            )
            .await?;
    }
    Ok(())
}

/// The practice's administrator executes the operator's business associate
/// agreement, as a new practice does on its first day, unless it already has.
async fn execute_agreement(store: &Store, demo: &crate::DemoPractice) -> anyhow::Result<()> {
    let Some(admin) = demo
        .users
        .iter()
        .find(|u| u.role() == enamel_domain::Role::PracticeAdmin)
    else {
        anyhow::bail!("a demo practice has no administrator");
    };
    let admin = store
        .users()
        .find_by_email(admin.email())
        .await?
        .ok_or_else(|| anyhow::anyhow!("the demo administrator was not stored"))?;
    let actor = Actor::human(&admin);
    let scoped = store.scoped(&actor);
    if scoped.agreement().await?.is_none() {
        scoped
            .execute_agreement(
                admin.display_name.as_str(),
                "Practice administrator",
                &enamel_store::agreement_sha256(),
                store.now(),
            )
            .await?;
    }
    Ok(())
}
