//! "Patient not responding": referrals sent this many days ago and still not
//! scheduled are flagged once for both offices, which are told.

use enamel_store::Store;

/// Flags the referrals that crossed the limit by `now`.
pub async fn run(store: &Store, days: i64, now: time::OffsetDateTime) -> anyhow::Result<()> {
    store.flag_not_responding(days, now).await?;
    Ok(())
}
