//! "Patient not responding": the referrals a practice sent this many days ago and
//! still not scheduled are flagged once for both offices, which are told. Runs once
//! a day per referring practice, at its own morning (`runtime::FLAG_AT`).

use enamel_domain::PracticeId;
use enamel_store::Store;

/// Flags the referrals `practice` sent that crossed the limit by `now`.
pub async fn run(
    store: &Store,
    practice: PracticeId,
    days: i64,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    store.flag_not_responding(practice, days, now).await?;
    Ok(())
}
