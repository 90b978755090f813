//! The schedule's two ways in, at a practice's real size (issue 17), with figures:
//!
//! - **CSV**: `ENAMEL_BENCH_PATIENTS` patients (100,000 by default) and an appointment
//!   for every third, each file written to disk row by row and imported as `enamel
//!   import csv` does (streamed: a file is never whole in memory); reports rows per
//!   second per file.
//! - **Open Dental**: a full resync of a practice of `ENAMEL_BENCH_SYNC_PATIENTS`
//!   patients (10,000 by default) from the fake Open Dental on loopback, as the
//!   practice's `pms-sync` agent; reports its time and items per second.
//!
//! Each phase prints the process's resident memory before and after (the fake Open
//! Dental lives in this process and holds its whole practice; Enamel's side reads a
//! page at a time). SQLite by default; `ENAMEL_BENCH_BACKEND=postgres` uses
//! `ENAMEL_TEST_POSTGRES_URL`. Bounded by the counts; loopback only.
//!
//! Run with `cargo bench -p enamel-server --bench schedule_import`.

#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::missing_panics_doc,
    clippy::too_many_lines
)]

use std::io::Write as _;
use std::time::{Duration, Instant};

use enamel_agents::jobs::pms_sync::{CUSTOMER_KEY, PmsClientSettings, sync_practice};
use enamel_demo::{DEFAULT_SEED, DemoNetwork};
use enamel_domain::{Actor, Role, SystemTask, VendorName};
use enamel_server::import::{ImportKind, import_csv};
use enamel_store::{BaaStatus, Backend, Store, VendorEntry};
use enamel_testkit::opendental::{FakeOpenDental, populate};
use secrecy::SecretString;

fn count(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The process's resident memory now, in MiB (Linux).
fn resident_mib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(|| "?".to_owned(), |kb| format!("{} MiB", kb / 1024))
}

/// Writes a CSV file row by row.
fn write_csv(
    dir: &std::path::Path,
    name: &str,
    header: &str,
    rows: u64,
    row: impl Fn(u64) -> String,
) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(out, "{header}").unwrap();
    for n in 1..=rows {
        writeln!(out, "{}", row(n)).unwrap();
    }
    out.flush().unwrap();
    path
}

async fn import_file(
    store: &Store,
    practice: &enamel_demo::DemoPractice,
    kind: ImportKind,
    file: &std::path::Path,
) {
    let actor = Actor::system_for(practice.practice.id, SystemTask::Seed);
    let scoped = store.scoped(&actor);
    let input = std::io::BufReader::with_capacity(256 * 1024, std::fs::File::open(file).unwrap());
    let started = Instant::now();
    let report = import_csv(
        &scoped,
        &practice.practice.time_zone,
        kind,
        input,
        false,
        |_| {},
    )
    .await
    .unwrap();
    let took = started.elapsed();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected.first());
    println!(
        "  {:<18} {:>8} rows in {:>7.1} s: {:>7.0} rows/s   (resident {})",
        kind.as_str(),
        report.rows,
        took.as_secs_f64(),
        report.rows as f64 / took.as_secs_f64().max(f64::EPSILON),
        resident_mib()
    );
}

async fn csv_phase(store: &Store, practice: &enamel_demo::DemoPractice, patients: u64) {
    let dir = tempfile::tempdir().unwrap();
    println!(
        "CSV import of {patients} patients (resident {} before)",
        resident_mib()
    );
    let files = [
        (
            ImportKind::Providers,
            write_csv(
                dir.path(),
                "providers.csv",
                "ProvNum,LName,FName,NationalProvID,IsSecondary",
                2,
                |n| format!("{n},Provider{n},Dana,,{}", if n == 2 { "1" } else { "0" }),
            ),
        ),
        (
            ImportKind::Operatories,
            write_csv(
                dir.path(),
                "operatories.csv",
                "OperatoryNum,OpName",
                4,
                |n| format!("{n},Op {n}"),
            ),
        ),
        (
            ImportKind::AppointmentTypes,
            write_csv(
                dir.path(),
                "types.csv",
                "AppointmentTypeNum,AppointmentTypeName,Pattern,CodeStr",
                1,
                |_| "1,Exam and cleaning,//XXXXXX//,D0120 D1110".to_owned(),
            ),
        ),
        (
            ImportKind::Patients,
            write_csv(
                dir.path(),
                "patients.csv",
                "PatNum,LName,FName,Birthdate,WirelessPhone,Email",
                patients,
                |n| {
                    let birth = time::macros::date!(1940 - 01 - 01)
                        + time::Duration::days(i64::try_from(n % 25_000).unwrap());
                    format!(
                        "{n},Bench{n},Pat,{birth},(512) 555-{:04},bench{n}@example.test",
                        n % 10_000
                    )
                },
            ),
        ),
        (
            ImportKind::Appointments,
            write_csv(
                dir.path(),
                "appointments.csv",
                "AptNum,PatNum,ProvNum,Op,AppointmentTypeNum,AptDateTime,Pattern,AptStatus",
                patients / 3,
                |n| {
                    let day = time::macros::date!(2026 - 12 - 01)
                        + time::Duration::days(i64::try_from(n % 60).unwrap());
                    format!(
                        "{n},{},{},{},1,{day} {:02}:00,//XXXXXX//,Scheduled",
                        n * 3,
                        n % 2 + 1,
                        n % 4 + 1,
                        8 + n % 9
                    )
                },
            ),
        ),
    ];
    let started = Instant::now();
    for (kind, file) in &files {
        import_file(store, practice, *kind, file).await;
    }
    println!("  all files in {:.1} s", started.elapsed().as_secs_f64());
}

async fn sync_phase(store: &Store, network: &DemoNetwork, patients: u64) {
    const DEVELOPER: &str = "BenchDeveloperKey";
    const CUSTOMER: &str = "BenchCustomerKey";
    let practice = &network.practices[1];
    let fake = FakeOpenDental::start(DEVELOPER, CUSTOMER).await;
    populate(&fake, i64::try_from(patients).unwrap());
    println!(
        "Open Dental full resync of {patients} patients (resident {} with the fake filled)",
        resident_mib()
    );

    let id = practice.practice.id;
    let seed = Actor::system_for(id, SystemTask::Seed);
    let vendor = VendorName::parse("open-dental").unwrap();
    store
        .scoped(&seed)
        .put_vendor(
            &VendorEntry {
                name: vendor.clone(),
                display_name: "Open Dental".into(),
                services: "schedule sync".into(),
                baa_status: BaaStatus::Executed,
                executed_on: Some(time::macros::date!(2026 - 01 - 01)),
                expires_on: Some(time::macros::date!(2029 - 01 - 01)),
                document_ref: Some("BAA-BENCH".into()),
            },
            store.now(),
        )
        .await
        .unwrap();
    let admin_email = practice
        .users
        .iter()
        .find(|u| u.role() == Role::PracticeAdmin)
        .unwrap()
        .email()
        .clone();
    let admin = store
        .users()
        .find_by_email(&admin_email)
        .await
        .unwrap()
        .unwrap();
    let admin = Actor::human(&admin);
    let scoped = store.scoped(&admin);
    let agent = scoped.create_agent("pms-sync", store.now()).await.unwrap();
    scoped
        .vendor_credentials()
        .unwrap()
        .put(&vendor, CUSTOMER_KEY, &SecretString::from(CUSTOMER))
        .await
        .unwrap();
    scoped.connect_pms(&vendor, agent, 5).await.unwrap();

    let settings = PmsClientSettings {
        base_url: fake.url.clone(),
        developer_key: Some(SecretString::from(DEVELOPER)),
        first_pause: Duration::from_millis(10),
    };
    let started = Instant::now();
    let report = sync_practice(store, &settings, id, true).await.unwrap();
    let took = started.elapsed();
    let read: u64 = report.lists.values().map(|l| l.read).sum();
    let written = report.written();
    let rejected: u64 = report
        .lists
        .values()
        .map(enamel_agents::pms::sync::ListReport::rejected_total)
        .sum();
    println!(
        "  {read} items read, {written} written, {rejected} rejected, {} requests, in {:.1} s: {:.0} items/s   (resident {})",
        fake.requests().len(),
        took.as_secs_f64(),
        read as f64 / took.as_secs_f64().max(f64::EPSILON),
        resident_mib()
    );
    assert_eq!(rejected, 0);

    // The next run, with nothing changed: what an interval costs.
    let started = Instant::now();
    let report = sync_practice(store, &settings, id, false).await.unwrap();
    println!(
        "  an incremental run with nothing changed: {} written in {:.2} s",
        report.written(),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let backend = match std::env::var("ENAMEL_BENCH_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let db = enamel_testkit::fresh_database(backend)
        .await
        .expect("a database (for postgres: ENAMEL_TEST_POSTGRES_URL)");
    let network = DemoNetwork::generate(DEFAULT_SEED);
    enamel_demo::seed(&db.store, &network).await.unwrap();
    println!("backend: {backend:?}");
    csv_phase(
        &db.store,
        &network.practices[0],
        count("ENAMEL_BENCH_PATIENTS", 100_000),
    )
    .await;
    sync_phase(
        &db.store,
        &network,
        count("ENAMEL_BENCH_SYNC_PATIENTS", 10_000),
    )
    .await;
}
