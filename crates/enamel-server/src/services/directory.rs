//! Searching the directory of practices: the rules on a search that the API and the
//! new-referral page share.

use crate::ApiError;

/// A search radius: a positive number of kilometres, at most 1,000.
pub(crate) fn within_km(km: f64) -> Result<f64, ApiError> {
    if km > 0.0 && km <= 1_000.0 {
        Ok(km)
    } else {
        Err(ApiError::InvalidInput(enamel_domain::InvalidValue::new(
            "within_km",
            "must be more than 0 and at most 1000",
        )))
    }
}
