//! Signing audit checkpoints: every log that grew gets a checkpoint over its
//! (checked) head, stored and exported outside the database (docs/audit.md).

use enamel_audit::checkpoint::Signer;
use enamel_store::Store;

/// Signs and exports checkpoints for the logs that grew; a log whose head does not
/// match its entries is refused and named in the log (never signed).
pub async fn run(store: &Store, signer: &Signer, dir: &std::path::Path) -> anyhow::Result<()> {
    let done = store.audit().checkpoint_and_export(signer, dir).await?;
    if !done.written.is_empty() || !done.refused.is_empty() {
        tracing::info!(
            checkpoints = done.written.len(),
            refused = done.refused.len(),
            "audit checkpoints signed"
        );
    }
    Ok(())
}
