//! What each command does.

use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use enamel_agents::{Runtime, RuntimeSettings};
use enamel_config::KeyProviderKind;
use enamel_config::Settings;
use enamel_crypto::{KeyProvider, LocalKeyFile};
use enamel_demo::{CanaryScanner, DemoNetwork, FilmDrop};
use enamel_domain::ReferralId;
use enamel_integrations::AwsKms;
use enamel_integrations::kms::KmsSettings;
use enamel_server::attachments::AttachmentStorage;
use enamel_server::startup::check_listen_policy;
use enamel_server::{Application, shutdown_signal, telemetry};
use enamel_store::{ConnectOptions, Scoped, Store};
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::cli::{Cli, Command, ComplianceCommand, ConfigCommand, DemoCommand, ImportCommand};
use crate::keys;

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::from_environment(cli.config.as_deref())?;
    if cli.demo {
        use_demo_data(&mut settings);
    }
    match cli.command {
        Command::Serve { bind, no_jobs } => {
            if let Some(bind) = bind {
                settings.server.bind = bind;
            }
            serve(settings, cli.demo, !no_jobs).await
        }
        Command::Worker => worker(&settings).await,
        Command::Migrate => migrate(&settings).await,
        Command::Config(ConfigCommand::Check) => config_check(&settings),
        Command::Demo(DemoCommand::Seed { seed, network_only }) => {
            demo_seed(&settings, seed, !network_only).await
        }
        Command::Demo(DemoCommand::Scan { seed, files }) => demo_scan(seed, &files),
        Command::Audit(command) => match crate::audit::run_offline(command)? {
            Ok(code) => Ok(code),
            Err(command) => {
                let store = connect_current(&settings).await?;
                crate::audit::run(&store, &settings, command).await
            }
        },
        Command::Import(ImportCommand::Csv {
            practice,
            kind,
            dry_run,
            file,
        }) => {
            let store = connect_current(&settings).await?;
            crate::import::csv(&store, practice, &kind, dry_run, &file).await
        }
        Command::Import(ImportCommand::Opendental { practice, full }) => {
            let store = connect_current(&settings).await?;
            crate::import::opendental(&store, &settings, practice, full).await
        }
        Command::Compliance(ComplianceCommand::MinimumNecessary) => {
            print!("{}", enamel_store::minimum_necessary_tables());
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys(command) => keys::run(&connect_current(&settings).await?, command).await,
        Command::Practice(command) => {
            crate::practice::run(&settings, &connect_current(&settings).await?, *command).await
        }
    }
}

/// Points `settings` at the demo's data: its own database and keys, apart from real
/// data, and a mailbox instead of real messages (unless a database or SMTP relay is
/// configured, which the demo then uses).
fn use_demo_data(settings: &mut Settings) {
    if settings.database.url.is_none() {
        settings.data_dir = settings.data_dir.join("demo");
    }
    let notifications = &mut settings.notifications;
    if notifications.mailbox_dir.is_none() && notifications.smtp_host.is_none() {
        notifications.mailbox_dir = Some(settings.data_dir.join("mailbox"));
    }
}

/// Opens the database and checks that its schema is the one this binary expects.
async fn connect_current(settings: &Settings) -> anyhow::Result<Store> {
    let store = connect(settings, &settings.database_url()).await?;
    if !store.migration_status().await?.is_current() {
        anyhow::bail!("the database schema is not current: run `enamel migrate` first");
    }
    Ok(store)
}

/// Opens the database with the configured key provider.
pub async fn connect(settings: &Settings, url: &SecretString) -> anyhow::Result<Store> {
    let options = ConnectOptions {
        max_connections: settings.database.max_connections,
        busy_timeout: std::time::Duration::from_secs(settings.database.busy_timeout_seconds),
        key_cache_ttl: std::time::Duration::from_secs(settings.keys.cache_seconds),
    };
    let keys: Arc<dyn KeyProvider> = match settings.keys.provider {
        KeyProviderKind::Local => Arc::new(LocalKeyFile::open_or_create(&settings.key_file())?),
        KeyProviderKind::AwsKms => Arc::new(
            AwsKms::connect(&KmsSettings {
                region: settings.keys.kms_region.clone(),
                endpoint: settings.keys.kms_endpoint.clone(),
                alias_prefix: settings.keys.kms_alias_prefix.clone(),
                signing_seed_file: settings.kms_signing_seed_file(),
            })
            .await,
        ),
    };
    Ok(Store::connect(url, &options, keys).await?)
}

async fn serve(settings: Settings, demo: bool, jobs: bool) -> anyhow::Result<ExitCode> {
    telemetry::init(&settings.log)?;
    let store = connect(&settings, &settings.database_url()).await?;
    store.migrate().await?;
    let network = demo.then(|| DemoNetwork::generate(enamel_demo::DEFAULT_SEED));
    if let Some(network) = &network {
        enamel_demo::seed(&store, network).await?;
        seed_demo_activity(&settings, &store, network).await?;
    }
    let shutdown = shutdown_signal()?;
    let clock: Arc<dyn enamel_domain::clock::Clock> = Arc::new(enamel_domain::clock::SystemClock);
    let app = Application::build_with_clock(&settings, store.clone(), Arc::clone(&clock)).await?;
    let runtime = jobs
        .then(|| {
            Runtime::new(
                store.clone(),
                Arc::clone(&clock),
                &settings.notifications,
                RuntimeSettings::from_settings(&settings, &app.url()),
            )
        })
        .transpose()?;
    tracing::info!(address = %app.local_addr(), backend = store.backend().name(), "listening");
    println!("Enamel is running at {}", app.url());
    println!(
        "  health: {0}/healthz   readiness: {0}/readyz   metrics: {0}/metrics",
        app.url()
    );
    if let Some(network) = &network {
        print_demo_logins(network);
    }
    if let Some(dir) = &settings.notifications.mailbox_dir {
        println!(
            "  messages (email, text, fax) are written to {} instead of being sent",
            dir.display()
        );
    }
    if runtime.is_none() {
        println!("  background jobs are left to `enamel worker` processes (--no-jobs)");
    }
    println!("Press Ctrl-C to stop.");
    // The jobs stop after the last request, so the last checkpoint covers it.
    let (stop_jobs, jobs_stopped) = tokio::sync::oneshot::channel::<()>();
    let jobs = runtime.map(|runtime| {
        tokio::spawn(runtime.run_until_stopped(async {
            let _ = jobs_stopped.await;
        }))
    });
    app.run_until_stopped(shutdown).await?;
    let _ = stop_jobs.send(());
    if let Some(jobs) = jobs {
        jobs.await??;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn print_demo_logins(network: &DemoNetwork) {
    println!();
    println!(
        "Demo network: {} practices, synthetic data only.",
        network.practices.len()
    );
    println!(
        "Demo accounts, all with the password {:?} (admins and security officers set up \
         an authenticator app at first sign-in):",
        enamel_demo::DEMO_PASSWORD
    );
    for login in network.logins() {
        println!(
            "  {:<18} {:<46} {}",
            login.role.as_str(),
            login.email.as_str(),
            login.practice.as_deref().unwrap_or("(platform)")
        );
    }
    println!();
}

/// `enamel worker`: the jobs runtime alone, until SIGTERM or Ctrl-C.
async fn worker(settings: &Settings) -> anyhow::Result<ExitCode> {
    telemetry::init(&settings.log)?;
    let store = connect_current(settings).await?;
    let shutdown = shutdown_signal()?;
    let base_url = format!("http://{}", settings.server.bind);
    let runtime = Runtime::new(
        store.clone(),
        Arc::new(enamel_domain::clock::SystemClock),
        &settings.notifications,
        RuntimeSettings::from_settings(settings, &base_url),
    )?;
    println!("Enamel worker running (background jobs only). Press Ctrl-C to stop.");
    runtime.run_until_stopped(shutdown).await?;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn migrate(settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = connect(settings, &settings.database_url()).await?;
    store.migrate().await?;
    let status = store.migration_status().await?;
    println!(
        "{} database is current: {} of {} migrations applied",
        store.backend().name(),
        status.applied,
        status.expected
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

fn config_check(settings: &Settings) -> anyhow::Result<ExitCode> {
    println!("{}", settings.redacted());
    println!();
    check_listen_policy(
        settings.server.bind,
        settings.serves_tls(),
        settings.server.behind_tls_proxy,
    )?;
    println!("# The configuration is valid.");
    Ok(ExitCode::SUCCESS)
}

/// The demo's referrals, their synthetic radiographs sealed into the configured
/// object store through the server's upload pipeline.
async fn seed_demo_activity(
    settings: &Settings,
    store: &Store,
    network: &DemoNetwork,
) -> anyhow::Result<()> {
    let objects = enamel_server::startup::attachment_store(settings).await?;
    let scratch_dir = enamel_server::startup::attachment_scratch_dir(settings)?;
    let films = DemoFilms(AttachmentStorage {
        objects: &objects,
        scratch_dir: &scratch_dir,
        max_bytes: settings.referrals.attachment_max_bytes,
    });
    enamel_demo::seed_activity(store, network, &films).await?;
    enamel_demo::seed_schedules(store, network).await?;
    // No-show recovery's story, in the first general office (the demo's logins).
    if let Some(office) = network
        .practices
        .iter()
        .find(|p| !p.practice.kind.is_specialty())
    {
        enamel_demo::seed_recovery(store, office).await?;
    }
    Ok(())
}

struct DemoFilms<'a>(AttachmentStorage<'a>);

impl FilmDrop for DemoFilms<'_> {
    async fn attach(
        &self,
        office: &Scoped<'_>,
        referral: ReferralId,
        file_name: &str,
        bytes: Vec<u8>,
        at: OffsetDateTime,
    ) -> anyhow::Result<()> {
        enamel_server::attachments::attach_file(self.0, office, referral, file_name, bytes, at)
            .await
            .context("attaching a demo radiograph")?;
        Ok(())
    }
}

async fn demo_seed(settings: &Settings, seed: u64, activity: bool) -> anyhow::Result<ExitCode> {
    let store = connect(settings, &settings.database_url()).await?;
    store.migrate().await?;
    let network = DemoNetwork::generate(seed);
    let outcome = enamel_demo::seed(&store, &network).await?;
    if activity {
        seed_demo_activity(settings, &store, &network).await?;
    }
    println!(
        "Seeded {} practices and {} accounts (existing ones were kept).",
        outcome.practices_created, outcome.users_created
    );
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

fn demo_scan(seed: u64, files: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    let scanner = CanaryScanner::for_seed(seed);
    let (mut findings, mut lines) = (Vec::new(), 0);
    for file in files {
        let mut bytes = Vec::new();
        if file.as_os_str() == "-" {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
        } else {
            bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        }
        let text = String::from_utf8_lossy(&bytes);
        lines += text.lines().count();
        findings.extend(scanner.scan(&file.display().to_string(), &text));
    }
    for finding in &findings {
        println!("{finding}");
    }
    println!(
        "scanned {} file(s), {lines} lines: {} finding(s) of synthetic patient PHI",
        files.len(),
        findings.len()
    );
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
