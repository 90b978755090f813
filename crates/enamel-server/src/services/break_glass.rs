//! Breaking the glass: a dentist's time-boxed access to a restricted record, with a
//! reason and a note. The API and the patient's page both call this; the store
//! authorizes it, audits it and alerts the security officer.

use enamel_domain::PatientId;
use enamel_store::{BreakGlassReason, StoreError};
use uuid::Uuid;

use crate::AppState;
use crate::auth::Authenticated;

/// How long a break-glass grant lasts.
pub(crate) const MINUTES: i64 = 60;

/// Grants the actor access to `patient` for [`MINUTES`]; the grant's id.
pub(crate) async fn grant(
    state: &AppState,
    auth: &Authenticated,
    patient: PatientId,
    reason: BreakGlassReason,
    note: &str,
) -> Result<Uuid, StoreError> {
    auth.scoped(&state.store)
        .break_glass(patient, reason, note, MINUTES, state.clock.now())
        .await
}
