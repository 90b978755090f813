//! `enamel import csv`: a practice's schedule from its PMS's CSV export, run as
//! Enamel's `seed` task by whoever holds the deployment's configuration (the same
//! import as the administrator's upload page). Prints counts and the rejected rows'
//! line numbers and reasons; never a value from the file.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use enamel_domain::{Actor, PracticeId, SystemTask};
use enamel_server::import::{ImportKind, MAX_LISTED_REJECTIONS, import_csv};
use enamel_store::Store;
use indicatif::{ProgressBar, ProgressStyle};

/// Counts the bytes read, for the progress bar.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

pub async fn csv(
    store: &Store,
    practice: PracticeId,
    kind: &str,
    dry_run: bool,
    file: &Path,
) -> anyhow::Result<ExitCode> {
    let kind = ImportKind::parse(kind)?;
    let zone = store
        .practices()
        .get(practice)
        .await
        .context("finding the practice")?
        .time_zone;
    let opened =
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let size = opened.metadata().map_or(0, |m| m.len());
    let read = Arc::new(AtomicU64::new(0));
    let input = std::io::BufReader::with_capacity(
        256 * 1024,
        Counted {
            inner: opened,
            read: Arc::clone(&read),
        },
    );
    let bar = ProgressBar::new(size).with_style(
        ProgressStyle::with_template("  {bar:30} {bytes}/{total_bytes} {msg}, {eta} left")
            .expect("a valid template"),
    );
    let actor = Actor::system_for(practice, SystemTask::Seed);
    let scoped = store.scoped(&actor);
    let report = import_csv(&scoped, &zone, kind, input, dry_run, |rows| {
        bar.set_position(read.load(Ordering::Relaxed));
        bar.set_message(format!("{rows} rows"));
    })
    .await?;
    bar.finish_and_clear();
    if dry_run {
        println!(
            "Dry run of {} {}: {} rows, {} would be imported, {} rejected. Nothing was written.",
            report.rows,
            kind.as_str(),
            report.rows,
            report.valid,
            report.rows - report.valid
        );
    } else {
        println!(
            "Imported {}: {} rows, {} added, {} updated, {} rejected.",
            kind.as_str(),
            report.rows,
            report.inserted,
            report.updated,
            report.rows - report.inserted - report.updated
        );
    }
    for rejected in &report.rejected {
        println!("  line {}: {}", rejected.line, rejected.reason);
    }
    if report.rejected.len() == MAX_LISTED_REJECTIONS {
        println!("  (only the first {MAX_LISTED_REJECTIONS} rejected rows are listed)");
    }
    store.close().await;
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// `enamel import opendental`: one sync now; prints each list's counts and the
/// rejection reasons (field names, never values).
pub async fn opendental(
    store: &Store,
    settings: &enamel_config::Settings,
    practice: PracticeId,
    full: bool,
) -> anyhow::Result<ExitCode> {
    use enamel_agents::jobs::pms_sync::{PmsClientSettings, sync_practice};
    let client = PmsClientSettings::from_settings(&settings.pms)?;
    let report = match sync_practice(store, &client, practice, full).await {
        Ok(report) => report,
        Err(err) => {
            eprintln!("The sync stopped: {err} ({}).", err.code());
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "{:<18} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "list", "read", "added", "updated", "skipped", "rejected"
    );
    for (list, counts) in &report.lists {
        println!(
            "{list:<18} {:>8} {:>8} {:>8} {:>8} {:>8}",
            counts.read,
            counts.inserted,
            counts.updated,
            counts.skipped,
            counts.rejected_total()
        );
        for (reason, count) in &counts.rejected {
            println!("    {count} rejected: {reason}");
        }
    }
    let rejected: u64 = report
        .lists
        .values()
        .map(enamel_agents::pms::sync::ListReport::rejected_total)
        .sum();
    Ok(if rejected > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
