//! Importing the practice's schedule from CSV (docs/import.md): one kind of record
//! per file, columns named as Open Dental's export names them, read row by row
//! (a file of any size is never whole in memory), each row keyed by the PMS's own
//! id so that re-importing updates and never duplicates. A rejected row is reported
//! by its line number and the reason, never its values. A dry run checks every row
//! and writes nothing. The rows are written by `enamel_agents::pms`, which the
//! Open Dental sync shares.

use std::collections::HashMap;
use std::io::Read;

pub use enamel_agents::pms::ImportKind;
use enamel_agents::pms::{Fields, RecordError, import_record};
use enamel_domain::TimeZone;
use enamel_store::{Scoped, StoreError, Upserted};

/// One rejected row: where, and why (never the row's values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub line: u64,
    pub reason: String,
}

/// What an import did.
#[derive(Clone, Debug, Default)]
pub struct ImportReport {
    pub rows: u64,
    pub inserted: u64,
    pub updated: u64,
    /// Rows a dry run found acceptable (it writes none).
    pub valid: u64,
    pub rejected: Vec<Rejected>,
}

/// Why a whole file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file has no header row")]
    NoHeader,
    #[error("the file lacks the column {0}")]
    MissingColumn(&'static str),
    #[error("the file is not readable CSV near line {0}")]
    Unreadable(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// At most this many rejected rows are listed; the rest are counted.
pub const MAX_LISTED_REJECTIONS: usize = 1_000;

/// Imports a CSV file of `kind` into the actor's practice (`schedule.import`).
/// `progress` is told how many rows are done, every 100 rows and at the end.
///
/// # Errors
/// A file without a header or a required column, unreadable CSV, or a store
/// failure other than a row's own (which rejects the row).
pub async fn import_csv(
    scoped: &Scoped<'_>,
    zone: &TimeZone,
    kind: ImportKind,
    input: impl Read,
    dry_run: bool,
    mut progress: impl FnMut(u64),
) -> Result<ImportReport, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Fields)
        .from_reader(input);
    let headers = reader.headers().map_err(|_| ImportError::NoHeader)?.clone();
    if headers.is_empty() {
        return Err(ImportError::NoHeader);
    }
    let columns: HashMap<String, usize> = headers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                name.trim()
                    .trim_start_matches('\u{feff}')
                    .to_ascii_lowercase(),
                i,
            )
        })
        .collect();
    for required in kind.required() {
        if !columns.contains_key(&required.to_ascii_lowercase()) {
            return Err(ImportError::MissingColumn(required));
        }
    }
    // Refused here, before any row, for an actor who may not import.
    let references = scoped.pms_references().await?;
    let mut report = ImportReport::default();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => return Err(ImportError::Unreadable(line)),
        }
        let line = record.position().map_or(line, csv::Position::line);
        report.rows += 1;
        let row = CsvRow {
            columns: &columns,
            record: &record,
        };
        match import_record(scoped, zone, kind, &row, &references, dry_run).await {
            Ok(Some(Upserted::Inserted)) => report.inserted += 1,
            Ok(Some(Upserted::Updated)) => report.updated += 1,
            Ok(None) => report.valid += 1,
            Err(RecordError::Rejected(reason) | RecordError::Unresolved(reason)) => {
                if report.rejected.len() < MAX_LISTED_REJECTIONS {
                    report.rejected.push(Rejected { line, reason });
                }
            }
            Err(RecordError::Store(err)) => return Err(err.into()),
        }
        if report.rows.is_multiple_of(100) {
            progress(report.rows);
        }
    }
    progress(report.rows);
    Ok(report)
}

/// One CSV row's fields by column name.
struct CsvRow<'a> {
    columns: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Fields for CsvRow<'_> {
    fn field(&self, name: &str) -> Option<&str> {
        self.columns
            .get(&name.to_ascii_lowercase())
            .and_then(|i| self.record.get(*i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}
