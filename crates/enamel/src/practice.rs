//! `enamel practice`: the platform operator's onboarding from the command line, as
//! Enamel's `onboard` task (whoever holds the deployment's configuration). Prints
//! practices, agreements and administrators; never a patient.

use std::process::ExitCode;

use clap::Subcommand;
use enamel_domain::{Actor, PracticeId, SystemTask};
use enamel_server::Settings;
use enamel_server::onboarding::{PracticeForm, create_practice};
use enamel_store::{AdminStatus, PracticeOverview, Store};

#[derive(Debug, Subcommand)]
pub enum PracticeCommand {
    /// Onboard a practice: create it and email its first administrator an invitation
    /// (queued in the outbox, sent by `enamel serve` or `enamel worker`). It can hold
    /// no patient until that administrator executes Enamel's BAA.
    Create(Box<NewPracticeArgs>),
    /// Every practice: its agreement and its administrator (no PHI).
    List,
    /// One practice: its agreement and its administrator (no PHI).
    Show { id: PracticeId },
    /// Terminate a practice's agreement: no PHI enters it afterwards. Return or
    /// destroy follows (`enamel practice export`, then `enamel keys shred`).
    Terminate {
        id: PracticeId,
        /// Confirm by giving the practice's exact name.
        #[arg(long, value_name = "PRACTICE NAME")]
        yes: String,
    },
    /// Write a terminated practice's records (patients, referrals, attachments) into
    /// a new directory, for handover to the practice. Every record is audited as
    /// exported; the directory holds PHI and is readable by its owner only.
    Export {
        id: PracticeId,
        /// The directory to create.
        #[arg(long, value_name = "DIRECTORY")]
        out: std::path::PathBuf,
    },
}

/// A practice and its first administrator, as `enamel practice create` takes them.
#[derive(Debug, clap::Args)]
pub struct NewPracticeArgs {
    #[arg(long)]
    pub name: String,
    /// The practice's type-2 (organisation) NPI.
    #[arg(long)]
    pub npi: String,
    /// `general`, `endodontics`, `periodontics`, `oral_surgery`, `orthodontics`,
    /// `pediatric_dentistry` or `prosthodontics`.
    #[arg(long)]
    pub specialty: String,
    #[arg(long)]
    pub phone: String,
    #[arg(long)]
    pub fax: Option<String>,
    #[arg(long)]
    pub street: String,
    #[arg(long)]
    pub suite: Option<String>,
    #[arg(long)]
    pub city: String,
    /// The two-letter state code.
    #[arg(long)]
    pub state: String,
    #[arg(long)]
    pub zip: String,
    /// An IANA time zone of the US, such as `America/Chicago`.
    #[arg(long)]
    pub time_zone: String,
    #[arg(long)]
    pub admin_name: String,
    #[arg(long)]
    pub admin_email: String,
}

pub async fn run(
    settings: &Settings,
    store: &Store,
    command: PracticeCommand,
) -> anyhow::Result<ExitCode> {
    let actor = Actor::system(SystemTask::Onboard);
    let scoped = store.scoped(&actor);
    // The store's clock, as every other command and the server read time.
    let now = store.now();
    match command {
        PracticeCommand::Create(args) => {
            let NewPracticeArgs {
                name,
                npi,
                specialty,
                phone,
                fax,
                street,
                suite,
                city,
                state,
                zip,
                time_zone,
                admin_name,
                admin_email,
            } = *args;
            let form = PracticeForm {
                name,
                npi,
                specialty,
                phone,
                fax,
                address_line1: street,
                address_line2: suite,
                city,
                state,
                postal_code: zip,
                time_zone,
                admin_name,
                admin_email,
            };
            let practice = create_practice(&scoped, &form, now).await?;
            println!("Created {} ({})", practice.name.as_str(), practice.id);
            println!(
                "Its administrator's invitation is queued for {}: `enamel serve` or \
                 `enamel worker` sends it. The link works for {} hours.",
                form.admin_email.trim(),
                enamel_store::ADMIN_INVITATION_HOURS
            );
        }
        PracticeCommand::List => {
            let overviews = scoped.practices_overview(now).await?;
            if overviews.is_empty() {
                println!("No practice yet: `enamel practice create` onboards one.");
            }
            for overview in &overviews {
                println!(
                    "{}  {:<40} {:<22} {:<14} {}",
                    overview.practice.id,
                    overview.practice.name.as_str(),
                    overview.practice.kind.as_str(),
                    if overview.agreement.is_some() {
                        "BAA executed"
                    } else {
                        "no BAA yet"
                    },
                    admin_line(&overview.admin),
                );
            }
        }
        PracticeCommand::Show { id } => show(&scoped.practice_overview(id, now).await?),
        PracticeCommand::Terminate { id, yes } => {
            enamel_server::onboarding::terminate(&scoped, id, &yes, now).await?;
            println!(
                "The agreement is terminated: no PHI can enter the practice. Hand its records \
                 over (`enamel practice export {id} --out DIRECTORY`), then destroy its keys \
                 (`enamel keys shred --practice {id}`)."
            );
        }
        PracticeCommand::Export { id, out } => {
            let objects = enamel_server::startup::attachment_store(settings).await?;
            let done = enamel_server::handover::export(store, &objects, id, &out).await?;
            println!(
                "Wrote {} patients, {} referrals and {} attachments to {} (records.json, \
                 attachments/). It holds PHI: hand it to the practice over a secure channel.",
                done.patients,
                done.referrals,
                done.attachments,
                done.directory.display()
            );
            if done.unreadable > 0 {
                println!(
                    "{} referrals could not be opened: the other office's keys were destroyed \
                     (listed by id in records.json).",
                    done.unreadable
                );
            }
            println!(
                "Once the practice has its copy: `enamel keys shred --practice {id}` destroys \
                 what Enamel holds."
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(overview: &PracticeOverview) {
    let practice = &overview.practice;
    println!("{}", practice.name.as_str());
    println!("  id:           {}", practice.id);
    println!("  specialty:    {}", practice.kind.label());
    println!("  NPI:          {}", practice.npi.as_str());
    println!(
        "  where:        {}, {} ({})",
        practice.address.city,
        practice.address.state.code(),
        practice.time_zone.name()
    );
    match &overview.agreement {
        Some(agreement) => println!(
            "  agreement:    executed {} by {}, {} (version {}, SHA-256 {})",
            practice.time_zone.stamp(agreement.executed_at),
            agreement.signer_name,
            agreement.signer_title,
            agreement.version,
            agreement.sha256
        ),
        None => match overview.terminated_at {
            Some(at) => println!(
                "  agreement:    terminated {}: return or destroy its records",
                practice.time_zone.stamp(at)
            ),
            None => println!("  agreement:    not executed: the practice can hold no patient yet"),
        },
    }
    println!("  admin:        {}", admin_line(&overview.admin));
    println!("  active staff: {}", overview.staff);
}

fn admin_line(admin: &AdminStatus) -> String {
    match admin {
        AdminStatus::NotInvited => "no administrator invited".to_owned(),
        AdminStatus::Invited { email, .. } => format!("{email} invited"),
        AdminStatus::Expired { email } => format!("{email}: invitation expired"),
        AdminStatus::Active { email } => format!("{email} active"),
    }
}
