//! Keeping the audit log's query index up to date: a loop in every jobs worker
//! that indexes what was appended since the watermark, in batches (docs/audit.md,
//! "Query index"). Queries are complete without it; it keeps them fast.

use enamel_store::{INDEX_BATCH, Store};

/// How long the indexer waits when every log was indexed to its head.
const IDLE: std::time::Duration = std::time::Duration::from_millis(100);

/// Indexes until the task is dropped. A failed round (the database away, say) is
/// logged and tried again after a pause; nothing is lost, since the entries are the
/// truth and the watermark moves only with the rows it covers.
pub async fn run(store: Store) {
    loop {
        let pause = match store.audit().index_round(INDEX_BATCH).await {
            Ok(round) if round.behind > 0 => std::time::Duration::ZERO,
            Ok(_) => IDLE,
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "indexing the audit log failed");
                IDLE * 4
            }
        };
        if pause.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(pause).await;
        }
    }
}
