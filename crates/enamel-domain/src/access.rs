//! Emergency access to a restricted record.

/// Why a dentist breaks the glass: a fixed code for the audit log, plus their own
/// words, which are sealed and never put in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakGlassReason {
    EmergencyTreatment,
    CoveringProvider,
    PatientRequest,
    Other,
}

impl BreakGlassReason {
    pub const ALL: [Self; 4] = [
        Self::EmergencyTreatment,
        Self::CoveringProvider,
        Self::PatientRequest,
        Self::Other,
    ];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EmergencyTreatment => "emergency_treatment",
            Self::CoveringProvider => "covering_provider",
            Self::PatientRequest => "patient_request",
            Self::Other => "other",
        }
    }

    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }
}
