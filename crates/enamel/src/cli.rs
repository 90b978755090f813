//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Enamel: referrals and practice agents for dental offices, on a HIPAA-grade backbone.
#[derive(Debug, Parser)]
#[command(name = "enamel", version, about)]
pub struct Cli {
    /// A TOML configuration file (default: the file named by `ENAMEL_CONFIG`, if any).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Act on the demo's own data (its database and keys under `<data_dir>/demo`, its
    /// messages written to `<data_dir>/demo/mailbox`), as `enamel serve --demo` does;
    /// `serve --demo` also seeds the demo network.
    #[arg(long, global = true)]
    pub demo: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrations are applied first).
    Serve {
        /// Listen on this address instead of server.bind (port 0 picks a free port).
        #[arg(long, value_name = "ADDR")]
        bind: Option<SocketAddr>,
        /// Serve HTTP only: background jobs (delivery, checkpoints, flags) are left to
        /// `enamel worker` processes on the same database.
        #[arg(long)]
        no_jobs: bool,
    },
    /// Run background jobs only (delivery, checkpoints, flags), beside any number of
    /// other workers and `enamel serve --no-jobs` processes on the same database.
    Worker,
    /// Apply pending database migrations and report the schema's state.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The synthetic demo network.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Encryption keys: rotation, re-encryption, crypto-shredding.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The tamper-evident audit log: checkpoints, verification, export, proofs.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Practices: onboard one, list them, show one (the platform operator's work).
    #[command(subcommand)]
    Practice(Box<crate::practice::PracticeCommand>),
    /// Bring a practice's schedule in from its practice-management system.
    #[command(subcommand)]
    Import(ImportCommand),
    /// What the practice's security officer shows an auditor.
    #[command(subcommand)]
    Compliance(ComplianceCommand),
}

/// Which audit log: a practice's or the platform's.
#[derive(Debug, clap::Args)]
#[group(multiple = false)]
pub struct LogChoice {
    /// A practice's log.
    #[arg(long, value_name = "ID")]
    pub practice: Option<enamel_domain::PracticeId>,
    /// The platform's log (events of no practice).
    #[arg(long)]
    pub platform: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Sign a checkpoint now for every log that grew, and export it.
    Checkpoint,
    /// Recompute logs against their signed checkpoints; exits 1 at the first problem,
    /// naming its index and kind.
    Verify {
        #[command(flatten)]
        log: LogChoice,
        /// Verify an export directory instead of the database (no database needed).
        #[arg(long, value_name = "DIR", conflicts_with_all = ["practice", "platform"])]
        export: Option<PathBuf>,
        /// The checkpoint key to trust: a file holding it, or its 64 hex digits (what
        /// `enamel audit public-key` printed). Without it an export's own copy is
        /// used, and its fingerprint shown for comparison.
        #[arg(long, value_name = "FILE|HEX")]
        public_key: Option<String>,
    },
    /// Rebuild the query index of one log (or every log) from its entries. The index
    /// is derived data; queries stay complete while it is rebuilt.
    Reindex {
        #[command(flatten)]
        log: LogChoice,
    },
    /// Print the checkpoint signing key's public half and fingerprint, for an
    /// auditor to keep and later pin with `verify --public-key`.
    PublicKey,
    /// Write a log's entries (JSON Lines), checkpoints and public key to a directory.
    Export {
        #[command(flatten)]
        log: LogChoice,
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Only entries from the last signed checkpoint before this date (YYYY-MM-DD) or
        /// time (RFC 3339) onward; the export carries that checkpoint's Merkle frontier,
        /// so it verifies on its own.
        #[arg(long, value_name = "WHEN")]
        since: Option<String>,
    },
    /// Remove entries older than the retention (six years at least), keeping every
    /// log verifiable from its first retained checkpoint.
    Purge {
        /// Remove entries before this date (YYYY-MM-DD), if it is beyond the retention.
        #[arg(long, value_name = "DATE")]
        before: String,
    },
    /// Prove that entry N is in the latest checkpoint, or that checkpoint B extends
    /// checkpoint A (sizes); the proof is checked before it is printed.
    Prove {
        #[command(flatten)]
        log: LogChoice,
        /// Prove from an export directory instead of the database.
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
        #[arg(long, value_name = "N", conflicts_with = "consistency")]
        index: Option<u64>,
        #[arg(long, num_args = 2, value_names = ["A", "B"])]
        consistency: Option<Vec<u64>>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new data key current for one practice (or all); new writes use it and
    /// old values still decrypt. With --reencrypt, rewrite stored values under it.
    Rotate {
        #[arg(long, value_name = "ID")]
        practice: Option<enamel_domain::PracticeId>,
        /// Rewrite existing values under the new key, online and resumably.
        #[arg(long)]
        reencrypt: bool,
        /// Rows per re-encryption transaction.
        #[arg(long, default_value_t = 500)]
        batch: u32,
    },
    /// Re-wrap a practice's (or every practice's) data keys under a new
    /// key-encryption key; no stored value is touched.
    RotateKek {
        #[arg(long, value_name = "ID")]
        practice: Option<enamel_domain::PracticeId>,
    },
    /// Destroy a practice's keys: all of its PHI becomes unreadable, for good.
    Shred {
        #[arg(long, value_name = "ID")]
        practice: enamel_domain::PracticeId,
        /// Confirm without a prompt by giving the practice's exact name.
        #[arg(long, value_name = "PRACTICE NAME")]
        yes: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets redacted) and check it.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import one CSV file of one kind (columns as Open Dental exports them;
    /// docs/import.md). Re-importing updates by the PMS's ids, never duplicates.
    /// Rejected rows are listed by line number and reason, never their values.
    Csv {
        #[arg(long, value_name = "ID")]
        practice: enamel_domain::PracticeId,
        /// patients, providers, operatories, appointment-types, recall-types,
        /// appointments, waitlist, recalls or coverage.
        #[arg(long)]
        kind: String,
        /// Check every row and write nothing.
        #[arg(long)]
        dry_run: bool,
        file: PathBuf,
    },
    /// Sync a connected practice from Open Dental now, as its `pms-sync` agent
    /// (docs/opendental.md): what changed since the last run, or everything with
    /// `--full`. The practice's administrator connects it on its "Open Dental" page.
    Opendental {
        #[arg(long, value_name = "ID")]
        practice: enamel_domain::PracticeId,
        /// Read every list whole, ignoring where the last run stopped.
        #[arg(long)]
        full: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ComplianceCommand {
    /// Print, for each practice agent's workflow, the fields it reads and those it
    /// must not (seed 001's tables), generated from the declarations its views are
    /// built from. docs/minimum-necessary.md holds the same output.
    MinimumNecessary,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Seed the demo network into the configured database (idempotent).
    Seed {
        #[arg(long, default_value_t = enamel_demo::DEFAULT_SEED)]
        seed: u64,
        /// Only the offices, accounts, registries and patients: no referrals,
        /// messages or portal visits (and so no queued notices).
        #[arg(long)]
        network_only: bool,
    },
    /// Scan files (or `-` for standard input) for any demo patient's PHI; exits 1 on
    /// a finding, printing where and what kind, never the value.
    Scan {
        #[arg(long, default_value_t = enamel_demo::DEFAULT_SEED)]
        seed: u64,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}
