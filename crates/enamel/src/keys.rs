//! `enamel keys`: rotation, re-encryption and crypto-shredding.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use enamel_domain::{Practice, PracticeId};
use enamel_store::Store;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::KeysCommand;

pub async fn run(store: &Store, command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Rotate {
            practice,
            reencrypt,
            batch,
        } => {
            for practice in practices(store, practice).await? {
                let key = store.key_admin().rotate(practice.id).await?;
                println!("{}: data key {key} is now current", practice.name.as_str());
                if reencrypt {
                    reencrypt_with_progress(store, &practice, batch).await?;
                }
            }
        }
        KeysCommand::RotateKek { practice } => {
            for practice in practices(store, practice).await? {
                let rewrapped = store.key_admin().rotate_kek(practice.id).await?;
                println!(
                    "{}: {rewrapped} data keys re-wrapped under a new key-encryption key",
                    practice.name.as_str()
                );
            }
        }
        KeysCommand::Shred { practice, yes } => {
            let practice = store
                .practices()
                .get(practice)
                .await
                .context("finding the practice")?;
            confirm_shred(&practice, yes.as_deref())?;
            store.key_admin().shred(practice.id).await?;
            println!(
                "{}: keys destroyed; its encrypted data can no longer be read by anyone",
                practice.name.as_str()
            );
        }
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn practices(store: &Store, only: Option<PracticeId>) -> anyhow::Result<Vec<Practice>> {
    Ok(match only {
        Some(id) => vec![
            store
                .practices()
                .get(id)
                .await
                .context("finding the practice")?,
        ],
        None => store.practices().list().await?,
    })
}

async fn reencrypt_with_progress(
    store: &Store,
    practice: &Practice,
    batch: u32,
) -> anyhow::Result<()> {
    let total = store.key_admin().encrypted_values(practice.id).await?;
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "  re-encrypting {bar:30} {pos}/{len} rows, {per_sec}, {eta} left",
        )
        .expect("a valid template"),
    );
    let outcome = store
        .key_admin()
        .reencrypt(practice.id, batch, |done| {
            bar.set_position(done);
            ControlFlow::Continue(())
        })
        .await?;
    bar.finish_and_clear();
    println!(
        "  {} rows examined, {} rewritten under the current key",
        outcome.examined, outcome.rewritten
    );
    Ok(())
}

/// Shredding cannot be undone: the operator types the practice's name back, or
/// passes it with `--yes` where there is no terminal.
fn confirm_shred(practice: &Practice, yes: Option<&str>) -> anyhow::Result<()> {
    let name = practice.name.as_str();
    let typed = match yes {
        Some(typed) => typed.to_owned(),
        None if std::io::stdin().is_terminal() => {
            print!(
                "This destroys every key of \"{name}\"; its PHI becomes unreadable for good.\nType the practice's name to confirm: "
            );
            std::io::stdout().flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim().to_owned()
        }
        None => bail!("refusing to shred without confirmation: pass --yes \"{name}\""),
    };
    if typed != name {
        bail!("the name given does not match the practice's name; nothing was destroyed");
    }
    Ok(())
}
