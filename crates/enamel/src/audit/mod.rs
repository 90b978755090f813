//! `enamel audit`: checkpoints, verification, export and proofs.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use enamel_audit::checkpoint::{key_id, unhex};
use enamel_audit::entry::{Scope, hex};
use enamel_audit::verify::Finding;
use enamel_config::Settings;
use enamel_store::{Outside, Store};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{AuditCommand, LogChoice};

mod prove;

use prove::prove;

mod export;

use export::{export, read_export, verify_export};

/// The commands that need no database (verifying an export, which an auditor does
/// with the export and the public key alone); any other command is handed back.
pub fn run_offline(command: AuditCommand) -> anyhow::Result<Result<ExitCode, AuditCommand>> {
    match command {
        AuditCommand::Verify {
            export: Some(dir),
            public_key,
            ..
        } => {
            let pinned = public_key.as_deref().map(read_public_key).transpose()?;
            Ok(Ok(report(verify_export(&dir, pinned.as_deref())?)))
        }
        other => Ok(Err(other)),
    }
}

pub async fn run(
    store: &Store,
    settings: &Settings,
    command: AuditCommand,
) -> anyhow::Result<ExitCode> {
    let code = match command {
        AuditCommand::Checkpoint => checkpoint(store, settings).await?,
        AuditCommand::PublicKey => {
            let key = store.audit().signer().await?.public_key();
            println!("{}", hex(&key));
            println!("fingerprint {}", key_id(&key));
            ExitCode::SUCCESS
        }
        AuditCommand::Verify {
            log, public_key, ..
        } => {
            let pinned = public_key.as_deref().map(read_public_key).transpose()?;
            verify_database(store, &log, &settings.checkpoint_dir(), pinned).await?
        }
        AuditCommand::Reindex { log } => {
            let scope = if log.practice.is_some() || log.platform {
                Some(chosen(&log)?)
            } else {
                None
            };
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("  indexing {pos} entries, {per_sec}")
                    .expect("a valid template"),
            );
            let indexed = store
                .audit()
                .reindex(scope.as_ref(), |done| bar.set_position(done))
                .await?;
            bar.finish_and_clear();
            println!("the query index was rebuilt: {indexed} entries indexed");
            ExitCode::SUCCESS
        }
        AuditCommand::Purge { before } => {
            let date = time::Date::parse(
                &before,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .context("--before takes a date as YYYY-MM-DD")?;
            let signer = store.audit().signer().await?;
            let purged = store
                .audit()
                .purge(
                    &signer,
                    &settings.checkpoint_dir(),
                    date.midnight().assume_utc(),
                    settings.audit.retention_days,
                )
                .await?;
            for p in &purged {
                println!(
                    "{}: removed {} entries; the log now starts at its checkpoint of size {}",
                    p.scope, p.removed, p.kept_from
                );
            }
            println!("{} log(s) purged", purged.len());
            ExitCode::SUCCESS
        }
        AuditCommand::Export { log, out, since } => {
            let scope = chosen(&log)?;
            let since = since.as_deref().map(parse_when).transpose()?;
            export(store, &scope, &out, since).await?;
            ExitCode::SUCCESS
        }
        AuditCommand::Prove {
            log,
            export,
            index,
            consistency,
        } => {
            let (scope, leaves, checkpoints) = if let Some(dir) = export {
                let export = read_export(&dir)?;
                if let Some(start) = &export.start {
                    bail!(
                        "this export starts at index {} (--since); proofs need a whole export",
                        start.tree_size
                    );
                }
                (export.scope, export.leaves, export.checkpoints)
            } else {
                let scope = chosen(&log)?;
                let checkpoints = store.audit().checkpoints(&scope).await?;
                let size = checkpoints.last().map_or(0, |c| c.tree_size);
                (
                    scope,
                    store.audit().leaf_hashes(&scope, size).await?,
                    checkpoints,
                )
            };
            prove(&scope, &leaves, &checkpoints, index, consistency.as_deref())?;
            ExitCode::SUCCESS
        }
    };
    store.close().await;
    Ok(code)
}

async fn checkpoint(store: &Store, settings: &Settings) -> anyhow::Result<ExitCode> {
    let signer = store.audit().signer().await?;
    let done = store
        .audit()
        .checkpoint_and_export(&signer, &settings.checkpoint_dir())
        .await?;
    for c in &done.written {
        println!(
            "{}: checkpoint at size {} (root {})",
            c.scope, c.tree_size, c.root
        );
    }
    println!("{} checkpoint(s) signed", done.written.len());
    for scope in &done.refused {
        println!(
            "{scope}: NOT signed: the log's head does not match its entries (run enamel audit verify)"
        );
    }
    Ok(if done.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn chosen(log: &LogChoice) -> anyhow::Result<Scope> {
    match (log.practice, log.platform) {
        (Some(id), false) => Ok(Scope::Practice(id)),
        (None, true) => Ok(Scope::Platform),
        _ => bail!("name a log: --practice ID or --platform"),
    }
}

fn report(result: Result<enamel_audit::verify::Report, Finding>) -> ExitCode {
    match result {
        Ok(r) => {
            let checkpoint = r.last_checkpoint.map_or_else(
                || "no checkpoint yet".to_owned(),
                |s| format!("last signed checkpoint at size {s}"),
            );
            println!(
                "  ok: {} entries from index {}, {} checkpoint(s) matched, {checkpoint}",
                r.entries, r.start, r.checkpoints
            );
            ExitCode::SUCCESS
        }
        Err(finding) => {
            println!("  TAMPERED at index {}: {finding}", finding.index());
            ExitCode::FAILURE
        }
    }
}

/// A public key given as 64 hex digits, or as a file holding them.
fn read_public_key(given: &str) -> anyhow::Result<Vec<u8>> {
    let text = if given.len() == 64 && given.bytes().all(|b| b.is_ascii_hexdigit()) {
        given.to_owned()
    } else {
        std::fs::read_to_string(given)
            .with_context(|| format!("reading the public key from {given}"))?
    };
    unhex(text.trim())
        .filter(|key| key.len() == 32)
        .context("a public key is 32 bytes as 64 hex digits")
}

async fn verify_database(
    store: &Store,
    log: &LogChoice,
    checkpoint_dir: &Path,
    pinned: Option<Vec<u8>>,
) -> anyhow::Result<ExitCode> {
    let own = store.audit().signer().await?.public_key();
    let public_key = pinned.unwrap_or(own.clone());
    if public_key == own {
        println!("checkpoint key fingerprint {}", key_id(&public_key));
    } else {
        println!(
            "checkpoint key fingerprint {} (pinned; this installation signs with {})",
            key_id(&public_key),
            key_id(&own)
        );
    }
    let mut heads = store.audit().heads().await?;
    // A log whose head row was deleted still has entries or checkpoints, and one
    // whose rows were all deleted still has its exported checkpoints.
    let known = store.audit().scopes().await?;
    for scope in known.into_iter().chain(exported_scopes(checkpoint_dir)?) {
        if !heads.iter().any(|(s, _)| *s == scope) {
            heads.push((scope, 0));
        }
    }
    let scopes: Vec<(Scope, u64)> = if log.practice.is_some() || log.platform {
        let scope = chosen(log)?;
        vec![(
            scope,
            heads
                .iter()
                .find(|(s, _)| *s == scope)
                .map_or(0, |(_, n)| *n),
        )]
    } else {
        heads
    };
    let mut code = ExitCode::SUCCESS;
    for (scope, size) in scopes {
        println!("{scope}:");
        let bar = ProgressBar::new(size).with_style(
            ProgressStyle::with_template("  verifying {bar:30} {pos}/{len} entries, {per_sec}")
                .expect("a valid template"),
        );
        let outside = Outside {
            checkpoints: read_lines(&checkpoint_dir.join(format!("{scope}.jsonl")))?,
            purges: read_lines(&checkpoint_dir.join(format!("{scope}.purges.jsonl")))?,
        };
        let verdict = store
            .audit()
            .verify_with(&scope, &public_key, outside, |done| {
                bar.set_position(done);
            })
            .await?;
        bar.finish_and_clear();
        if report(verdict) != ExitCode::SUCCESS {
            code = ExitCode::FAILURE;
        } else if let Some(index) = store.audit().index_disagreement(&scope).await? {
            // The log is sound, but a query could miss an entry or find it under
            // the wrong filter. Only the indexer writes the index and triggers
            // refuse other changes, so this is tampering or a bug: keep the
            // evidence before rebuilding.
            println!(
                "  QUERY INDEX ALTERED at index {index}: the entry is missing from the query \
                 index or indexed with other values, so queries could miss it; copy the \
                 database as evidence, then rebuild the index: enamel audit reindex"
            );
            code = ExitCode::FAILURE;
        }
    }
    Ok(code)
}

/// The logs with checkpoints exported to `dir` (`<scope>.jsonl`).
fn exported_scopes(dir: &Path) -> anyhow::Result<Vec<Scope>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("reading {}", dir.display())),
    };
    let mut scopes = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        let scope = name
            .to_str()
            .and_then(|n| n.strip_suffix(".jsonl"))
            .and_then(Scope::parse);
        scopes.extend(scope);
    }
    Ok(scopes)
}

/// The records of a JSON Lines file kept outside the database (checkpoints or
/// purge records), none if it does not exist. Their signatures are checked with
/// the others. A last line without its newline that is not a record is a write
/// torn by a crash: it is named and left out. Any other line that is not a record
/// is refused as altered.
fn read_lines<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let torn_tail = !text.is_empty() && !text.ends_with('\n');
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    let mut records = Vec::with_capacity(lines.len());
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(_) if torn_tail && n + 1 == lines.len() => {
                println!(
                    "  note: the last line of {} is torn (a write cut short by a crash) and was left out",
                    path.display()
                );
            }
            Err(_) => anyhow::bail!(
                "line {} of {} is not a signed record (altered?)",
                n + 1,
                path.display()
            ),
        }
    }
    Ok(records)
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 time.
fn parse_when(raw: &str) -> anyhow::Result<time::OffsetDateTime> {
    let raw = raw.trim();
    if let Ok(at) = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
    {
        return Ok(at);
    }
    time::Date::parse(
        raw,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(|d| d.midnight().assume_utc())
    .context("--since takes a date as YYYY-MM-DD or a time as RFC 3339")
}

/// Where a partial export starts: the last checkpoint signed before `since`, with
/// the frontier and last leaf hash stored beside it (`start.json`).
#[derive(serde::Serialize, serde::Deserialize)]
struct Start {
    tree_size: u64,
    frontier: enamel_audit::merkle::Frontier,
    /// Hex leaf hash of the entry before `tree_size`.
    last_leaf: String,
}

async fn start_before(
    store: &Store,
    scope: &Scope,
    since: time::OffsetDateTime,
) -> anyhow::Result<Option<Start>> {
    let checkpoints = store.audit().checkpoints(scope).await?;
    let before = checkpoints.iter().rev().find(|c| {
        time::OffsetDateTime::parse(&c.timestamp, &time::format_description::well_known::Rfc3339)
            .is_ok_and(|at| at < since)
    });
    let Some(checkpoint) = before else {
        return Ok(None);
    };
    let (frontier, last_leaf) = store
        .audit()
        .resume_point(scope, checkpoint.tree_size)
        .await?
        .context("the checkpoint's frontier is missing: run enamel audit verify")?;
    Ok(Some(Start {
        tree_size: checkpoint.tree_size,
        frontier,
        last_leaf: hex(&last_leaf),
    }))
}

/// Where a purged log's export starts: its first entry, from the checkpoint there.
async fn purged_start(store: &Store, scope: &Scope) -> anyhow::Result<Option<Start>> {
    let first = store.audit().entries(scope, 0, 1).await?;
    let Some(first) = first.first().map(|e| e.index).filter(|i| *i > 0) else {
        return Ok(None);
    };
    let (frontier, last_leaf) = store
        .audit()
        .resume_point(scope, first)
        .await?
        .context("the purged log's first checkpoint is missing: run enamel audit verify")?;
    Ok(Some(Start {
        tree_size: first,
        frontier,
        last_leaf: hex(&last_leaf),
    }))
}
