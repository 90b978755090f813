//! The patient's portal link: issued once, sent through the outbox by the patient's
//! preferred channel; the API and the referral page both send it this way.

use crate::auth::Authenticated;
use crate::{ApiError, AppState};
use enamel_crypto::link::SignedLink;
use enamel_domain::ReferralId;
use time::Duration;
use uuid::Uuid;

/// Signs a portal link for the referral's patient, valid for 24 hours, and queues
/// it to them; answers when it expires.
pub(crate) async fn issue_link(
    state: &AppState,
    auth: &Authenticated,
    id: ReferralId,
) -> Result<time::OffsetDateTime, ApiError> {
    let now = state.clock.now();
    let expires_at = now + Duration::hours(24);
    let link = Uuid::now_v7();
    let token = state.store.link_signer().await?.sign(SignedLink {
        id: link,
        expires_at: expires_at.unix_timestamp(),
    });
    auth.scoped(&state.store)
        .send_portal_link(id, link, &format!("/p/{token}"), expires_at, now)
        .await?;
    Ok(expires_at)
}
