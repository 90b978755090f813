//! A referral and its steps as staff give them, the same from the API's JSON and the
//! page's form: parsed into the domain's types, then created (and sent, when asked)
//! through the actor-scoped store.

use enamel_domain::{
    CdtCode, ClinicalDetails, PatientId, Phi, PracticeId, ReferralId, Tooth, Urgency,
};
use enamel_store::{NewReferral, StepInput};
use serde::Deserialize;
use time::PrimitiveDateTime;

use crate::ApiError;
use crate::http::extract::parse_id;

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReferralInput {
    pub(crate) patient_id: String,
    pub(crate) receiving_practice_id: String,
    pub(crate) urgency: String,
    pub(crate) reason: String,
    #[serde(default)]
    pub(crate) cdt_codes: Vec<String>,
    #[serde(default)]
    pub(crate) teeth: Vec<String>,
    #[serde(default)]
    pub(crate) notes: String,
    /// Send at once instead of keeping a draft.
    #[serde(default)]
    pub(crate) send: bool,
}

impl ReferralInput {
    pub(crate) fn parse(&self) -> Result<NewReferral, ApiError> {
        let input = self;
        let codes = input
            .cdt_codes
            .iter()
            .map(|c| CdtCode::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let teeth = input
            .teeth
            .iter()
            .map(|t| Tooth::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        let clinical = ClinicalDetails::parse(&input.reason, codes, teeth, &input.notes)?;
        let new = NewReferral {
            id: ReferralId::generate(),
            patient: parse_id::<PatientId>(&input.patient_id)
                .map_err(|_| ApiError::Rejected("no such patient".into()))?,
            receiver: parse_id::<PracticeId>(&input.receiving_practice_id)
                .map_err(|_| ApiError::Rejected("the receiving practice does not exist".into()))?,
            urgency: Urgency::parse(&input.urgency)?,
            clinical: Phi::new(clinical),
        };
        Ok(new)
    }
}

/// A step's words (a reason or the report) and its appointment, given as
/// `YYYY-MM-DDTHH:MM` (what an HTML `datetime-local` input sends).
pub(crate) fn step_input(
    note: Option<String>,
    appointment: Option<&str>,
) -> Result<StepInput, ApiError> {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let appointment = appointment
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            PrimitiveDateTime::parse(a, &format).map_err(|_| {
                ApiError::InvalidInput(enamel_domain::InvalidValue::new(
                    "appointment",
                    "must be YYYY-MM-DDTHH:MM",
                ))
            })
        })
        .transpose()?;
    Ok(StepInput {
        note: note.filter(|n| !n.trim().is_empty()).map(Phi::new),
        appointment: appointment.map(Phi::new),
    })
}
