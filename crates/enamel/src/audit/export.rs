//! Exporting a log for an auditor, and verifying an export with no database: the entries, checkpoints and public key in files, checked by enamel-audit's verifier.

use super::{Start, purged_start, read_lines, start_before};
use anyhow::Context as _;
use enamel_audit::checkpoint::{Checkpoint, key_id, unhex};
use enamel_audit::entry::{Scope, hex};
use enamel_audit::merkle::{self, Hash};
use enamel_audit::purge::{PurgeRecord, purge_covers};
use enamel_audit::verify::{Finding, Verifier};
use enamel_store::Store;
use std::io::{BufRead as _, Write as _};
use std::path::Path;

pub(super) async fn export(
    store: &Store,
    scope: &Scope,
    out: &Path,
    since: Option<time::OffsetDateTime>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let start = match since {
        Some(since) => start_before(store, scope, since).await?,
        None => None,
    };
    let start_file = out.join("start.json");
    // A log whose oldest entries were purged starts at its purge point, vouched
    // for by the signed purge records written beside it.
    let start = match start {
        Some(start) => Some(start),
        None => purged_start(store, scope).await?,
    };
    match &start {
        Some(start) => std::fs::write(&start_file, serde_json::to_string(start)?)?,
        None if start_file.exists() => std::fs::remove_file(&start_file)?,
        None => {}
    }
    let purges = store.audit().purge_records(scope).await?;
    let mut lines = String::new();
    for record in &purges {
        lines.push_str(&serde_json::to_string(record)?);
        lines.push('\n');
    }
    std::fs::write(out.join("purges.jsonl"), lines)?;
    let first = start.as_ref().map_or(0, |s| s.tree_size);
    let mut entries = std::io::BufWriter::new(std::fs::File::create(out.join("entries.jsonl"))?);
    let mut from = first;
    let mut count = 0_u64;
    loop {
        let page = store.audit().entries(scope, from, 5_000).await?;
        let Some(last) = page.last().map(|e| e.index) else {
            break;
        };
        for entry in &page {
            entries.write_all(&entry.entry)?;
            entries.write_all(b"\n")?;
            count += 1;
        }
        from = last + 1;
    }
    entries.flush()?;
    let mut checkpoints =
        std::io::BufWriter::new(std::fs::File::create(out.join("checkpoints.jsonl"))?);
    for checkpoint in store.audit().checkpoints(scope).await? {
        if checkpoint.tree_size >= first {
            writeln!(checkpoints, "{}", serde_json::to_string(&checkpoint)?)?;
        }
    }
    checkpoints.flush()?;
    let signer = store.audit().signer().await?;
    std::fs::write(
        out.join("public-key.hex"),
        format!("{}\n", hex(&signer.public_key())),
    )?;
    std::fs::write(out.join("scope"), format!("{scope}\n"))?;
    if first > 0 {
        println!(
            "exported {count} entries of {scope} from index {first} (its checkpoint's frontier in start.json) to {}",
            out.display()
        );
    } else {
        println!("exported {count} entries of {scope} to {}", out.display());
    }
    Ok(())
}

/// An export read back, with its leaf hashes, for proofs.
pub(super) struct Export {
    pub(super) scope: Scope,
    /// Where a partial export (`--since`) starts.
    pub(super) start: Option<Start>,
    pub(super) leaves: Vec<Hash>,
    pub(super) checkpoints: Vec<Checkpoint>,
}

/// An export's files other than its entries.
pub(super) struct ExportFiles {
    pub(super) scope: Scope,
    /// Where a partial export (`--since`, or a purged log) starts.
    pub(super) start: Option<Start>,
    public_key: Vec<u8>,
    pub(super) checkpoints: Vec<Checkpoint>,
    pub(super) purges: Vec<PurgeRecord>,
}

pub(super) fn read_export(dir: &Path) -> anyhow::Result<Export> {
    let files = read_export_files(dir)?;
    let file = std::fs::File::open(dir.join("entries.jsonl")).context("reading entries.jsonl")?;
    // Proofs need only the leaf hashes: hash each line as it is read.
    let mut leaves = Vec::new();
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line?;
        if !line.is_empty() {
            leaves.push(merkle::leaf_hash(&line));
        }
    }
    Ok(Export {
        scope: files.scope,
        start: files.start,
        leaves,
        checkpoints: files.checkpoints,
    })
}

pub(super) fn read_export_files(dir: &Path) -> anyhow::Result<ExportFiles> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .with_context(|| format!("reading {name} in {}", dir.display()))
    };
    let scope =
        Scope::parse(read("scope")?.trim()).context("the export's scope file is malformed")?;
    let public_key =
        unhex(read("public-key.hex")?.trim()).context("the export's public key is malformed")?;
    let checkpoints = read_lines(&dir.join("checkpoints.jsonl"))?;
    let purges = read_lines(&dir.join("purges.jsonl"))?;
    let start = match std::fs::read_to_string(dir.join("start.json")) {
        Ok(text) => {
            Some(serde_json::from_str(&text).context("the export's start.json is malformed")?)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => return Err(err).context("reading start.json"),
    };
    Ok(ExportFiles {
        scope,
        start,
        public_key,
        checkpoints,
        purges,
    })
}

/// Verifies an export with nothing but its own files and, when `pinned`, the
/// auditor's own copy of the public key, reading its entries in runs (memory stays
/// bounded whatever the export's size). An export with entries but no signed
/// checkpoint proves nothing and is reported as unverifiable.
pub(super) fn verify_export(
    dir: &Path,
    pinned: Option<&[u8]>,
) -> anyhow::Result<Result<enamel_audit::verify::Report, Finding>> {
    const RUN: usize = 16_384;
    let export = read_export_files(dir)?;
    println!("{} (export {}):", export.scope, dir.display());
    let public_key = if let Some(key) = pinned {
        let shipped = if key == export.public_key.as_slice() {
            "the export's own copy is the same key"
        } else {
            "the export's own copy is a DIFFERENT key and is ignored"
        };
        println!(
            "  checkpoint key fingerprint {} (pinned; {shipped})",
            key_id(key)
        );
        key.to_vec()
    } else {
        println!(
            "  checkpoint key fingerprint {} (the export's own copy: compare it with the \
             fingerprint your organisation keeps, or pin it with --public-key)",
            key_id(&export.public_key)
        );
        export.public_key.clone()
    };
    let has_checkpoints = !export.checkpoints.is_empty();
    let verifier = match export.start {
        None => Verifier::new(&export.scope, &public_key, export.checkpoints),
        Some(start) => {
            let last_leaf: Hash = unhex(&start.last_leaf)
                .and_then(|b| b.try_into().ok())
                .context("the export's start.json has a malformed leaf hash")?;
            if purge_covers(
                &export.purges,
                &export.scope.key(),
                start.tree_size,
                &public_key,
            ) {
                println!(
                    "  (the log's entries before index {} were purged after the retention, by a signed record)",
                    start.tree_size
                );
            } else {
                println!("  (a partial export, from index {})", start.tree_size);
            }
            Verifier::resume(
                &export.scope,
                &public_key,
                export.checkpoints,
                start.frontier,
                last_leaf,
            )
        }
    };
    let mut verifier = match verifier {
        Ok(v) => v,
        Err(finding) => return Ok(Err(finding)),
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let file = std::fs::File::open(dir.join("entries.jsonl")).context("reading entries.jsonl")?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut run: Vec<Vec<u8>> = Vec::with_capacity(RUN);
    let mut entries = 0_u64;
    loop {
        run.clear();
        let mut line = Vec::new();
        while run.len() < RUN && reader.read_until(b'\n', &mut line)? > 0 {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            if !line.is_empty() {
                run.push(std::mem::take(&mut line));
            }
            line.clear();
        }
        if run.is_empty() {
            break;
        }
        entries += run.len() as u64;
        if let Err(finding) = verifier.push_all(&run, None, threads) {
            return Ok(Err(finding));
        }
    }
    if entries > 0 && !has_checkpoints {
        anyhow::bail!(
            "UNVERIFIABLE: the export has {entries} entries but no signed checkpoint, so nothing \
             vouches for them (was checkpoints.jsonl emptied?)"
        );
    }
    Ok(verifier.finish())
}
