//! A referral's lifecycle, as an explicit state machine: which step may follow
//! which, and which side (the referring office or the receiving specialist) may take it.

use serde::{Deserialize, Serialize};

use crate::invalid::bounded_text;
use crate::{CdtCode, InvalidValue, Tooth};

/// What the specialist needs to know: why, which procedures, which teeth, and notes.
/// All of it is PHI once tied to a patient.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ClinicalDetails {
    pub reason: String,
    pub cdt_codes: Vec<CdtCode>,
    pub teeth: Vec<Tooth>,
    pub notes: String,
}

impl ClinicalDetails {
    /// Checks the free text and de-duplicates codes and teeth (keeping their order).
    pub fn parse(
        reason: &str,
        mut cdt_codes: Vec<CdtCode>,
        mut teeth: Vec<Tooth>,
        notes: &str,
    ) -> Result<Self, InvalidValue> {
        let reason = bounded_text(reason, "referral reason", 500)?;
        if notes.chars().count() > 10_000 {
            return Err(InvalidValue::new("clinical notes", "is too long"));
        }
        let mut seen = std::collections::HashSet::new();
        cdt_codes.retain(|code| seen.insert(code.clone()));
        let mut seen = std::collections::HashSet::new();
        teeth.retain(|tooth| seen.insert(*tooth));
        if cdt_codes.len() > 20 {
            return Err(InvalidValue::new("CDT codes", "at most 20 per referral"));
        }
        Ok(Self {
            reason,
            cdt_codes,
            teeth,
            notes: notes.trim().to_owned(),
        })
    }
}

/// Where a referral stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// Written by the referring office, not yet disclosed to the specialist.
    Draft,
    /// Sent: the specialist's office can see it.
    Sent,
    /// Opened by the specialist's office.
    Received,
    Accepted,
    Declined,
    Scheduled,
    Completed,
    /// The specialist's report went back to the referring office.
    ReportSent,
    Closed,
    Cancelled,
}

/// The two offices of a referral.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The office that refers the patient (usually a general dentist).
    Referrer,
    /// The office the patient is referred to (usually a specialist).
    Receiver,
}

/// A step in a referral's life.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Send,
    Receive,
    Accept,
    Decline,
    Schedule,
    Complete,
    SendReport,
    Close,
    Cancel,
}

/// A step that is not allowed from where the referral stands, or not for this side.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum IllegalStep {
    #[error("a referral that is {from} cannot be {step}")]
    NotFromHere {
        from: &'static str,
        step: &'static str,
    },
    #[error("only the {allowed} office may do this")]
    WrongSide { allowed: &'static str },
}

impl ReferralStatus {
    pub const ALL: [Self; 10] = [
        Self::Draft,
        Self::Sent,
        Self::Received,
        Self::Accepted,
        Self::Declined,
        Self::Scheduled,
        Self::Completed,
        Self::ReportSent,
        Self::Closed,
        Self::Cancelled,
    ];

    /// The stable name used in storage and the API.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Sent => "sent",
            Self::Received => "received",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Scheduled => "scheduled",
            Self::Completed => "completed",
            Self::ReportSent => "report_sent",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The name a person reads.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Draft => "Draft",
            Self::Sent => "Sent",
            Self::Received => "Received",
            Self::Accepted => "Accepted",
            Self::Declined => "Declined",
            Self::Scheduled => "Scheduled",
            Self::Completed => "Completed",
            Self::ReportSent => "Report sent",
            Self::Closed => "Closed",
            Self::Cancelled => "Cancelled",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == raw.trim())
            .ok_or(InvalidValue::new(
                "referral status",
                "is not a known status",
            ))
    }

    /// Whether the referral is over (nothing more will happen to it).
    #[must_use]
    pub const fn is_finished(self) -> bool {
        matches!(self, Self::Declined | Self::Closed | Self::Cancelled)
    }

    /// Whether the patient should have booked by now if they were going to: the
    /// statuses in which "patient not responding" can be flagged.
    #[must_use]
    pub const fn awaits_scheduling(self) -> bool {
        matches!(self, Self::Sent | Self::Received | Self::Accepted)
    }

    /// Where `step`, taken by `side`, leads from here.
    pub fn apply(self, step: Step, side: Side) -> Result<Self, IllegalStep> {
        if step.side() != side {
            return Err(IllegalStep::WrongSide {
                allowed: match step.side() {
                    Side::Referrer => "referring",
                    Side::Receiver => "receiving",
                },
            });
        }
        let next = match (self, step) {
            (Self::Draft, Step::Send) => Self::Sent,
            (Self::Sent, Step::Receive) => Self::Received,
            (Self::Sent | Self::Received, Step::Accept) => Self::Accepted,
            (Self::Sent | Self::Received, Step::Decline) => Self::Declined,
            // Scheduling again moves the appointment.
            (Self::Accepted | Self::Scheduled, Step::Schedule) => Self::Scheduled,
            (Self::Scheduled, Step::Complete) => Self::Completed,
            (Self::Completed, Step::SendReport) => Self::ReportSent,
            (Self::ReportSent | Self::Declined, Step::Close) => Self::Closed,
            (
                Self::Draft | Self::Sent | Self::Received | Self::Accepted | Self::Scheduled,
                Step::Cancel,
            ) => Self::Cancelled,
            _ => {
                return Err(IllegalStep::NotFromHere {
                    from: self.as_str(),
                    step: step.past_tense(),
                });
            }
        };
        Ok(next)
    }

    /// The steps `side` may take from here, for showing the right buttons.
    #[must_use]
    pub fn steps_for(self, side: Side) -> Vec<Step> {
        Step::ALL
            .into_iter()
            .filter(|step| *step != Step::Receive && self.apply(*step, side).is_ok())
            .collect()
    }
}

impl Step {
    pub const ALL: [Self; 9] = [
        Self::Send,
        Self::Receive,
        Self::Accept,
        Self::Decline,
        Self::Schedule,
        Self::Complete,
        Self::SendReport,
        Self::Close,
        Self::Cancel,
    ];

    /// The side that takes this step.
    #[must_use]
    pub const fn side(self) -> Side {
        match self {
            Self::Send | Self::Close | Self::Cancel => Side::Referrer,
            Self::Receive
            | Self::Accept
            | Self::Decline
            | Self::Schedule
            | Self::Complete
            | Self::SendReport => Side::Receiver,
        }
    }

    /// The stable name used in the API and the timeline.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Receive => "receive",
            Self::Accept => "accept",
            Self::Decline => "decline",
            Self::Schedule => "schedule",
            Self::Complete => "complete",
            Self::SendReport => "send_report",
            Self::Close => "close",
            Self::Cancel => "cancel",
        }
    }

    /// The button a person presses.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Send => "Send to specialist",
            Self::Receive => "Mark received",
            Self::Accept => "Accept",
            Self::Decline => "Decline",
            Self::Schedule => "Record appointment",
            Self::Complete => "Mark treatment completed",
            Self::SendReport => "Send report to referring office",
            Self::Close => "Close referral",
            Self::Cancel => "Cancel referral",
        }
    }

    const fn past_tense(self) -> &'static str {
        match self {
            Self::Send => "sent",
            Self::Receive => "received",
            Self::Accept => "accepted",
            Self::Decline => "declined",
            Self::Schedule => "scheduled",
            Self::Complete => "completed",
            Self::SendReport => "reported on",
            Self::Close => "closed",
            Self::Cancel => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|step| step.as_str() == raw.trim())
            .ok_or(InvalidValue::new("referral step", "is not a known step"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_story_walks_from_draft_to_closed() {
        let walk = [
            (Step::Send, Side::Referrer, ReferralStatus::Sent),
            (Step::Receive, Side::Receiver, ReferralStatus::Received),
            (Step::Accept, Side::Receiver, ReferralStatus::Accepted),
            (Step::Schedule, Side::Receiver, ReferralStatus::Scheduled),
            (Step::Schedule, Side::Receiver, ReferralStatus::Scheduled),
            (Step::Complete, Side::Receiver, ReferralStatus::Completed),
            (Step::SendReport, Side::Receiver, ReferralStatus::ReportSent),
            (Step::Close, Side::Referrer, ReferralStatus::Closed),
        ];
        let mut status = ReferralStatus::Draft;
        for (step, side, expected) in walk {
            status = status.apply(step, side).unwrap();
            assert_eq!(status, expected);
        }
        assert!(status.is_finished());
    }

    #[test]
    fn each_step_belongs_to_one_side() {
        assert_eq!(
            ReferralStatus::Sent.apply(Step::Accept, Side::Referrer),
            Err(IllegalStep::WrongSide {
                allowed: "receiving"
            })
        );
        assert!(
            ReferralStatus::Draft
                .apply(Step::Send, Side::Receiver)
                .is_err()
        );
    }

    #[test]
    fn cancelling_is_possible_only_before_completion() {
        for status in ReferralStatus::ALL {
            let allowed = status.apply(Step::Cancel, Side::Referrer).is_ok();
            let before_completion = matches!(
                status,
                ReferralStatus::Draft
                    | ReferralStatus::Sent
                    | ReferralStatus::Received
                    | ReferralStatus::Accepted
                    | ReferralStatus::Scheduled
            );
            assert_eq!(allowed, before_completion, "{status:?}");
        }
    }

    #[test]
    fn no_step_leaves_a_closed_or_cancelled_referral() {
        for side in [Side::Referrer, Side::Receiver] {
            assert!(ReferralStatus::Closed.steps_for(side).is_empty());
            assert!(ReferralStatus::Cancelled.steps_for(side).is_empty());
        }
    }

    #[test]
    fn a_report_cannot_come_before_treatment() {
        let err = ReferralStatus::Scheduled
            .apply(Step::SendReport, Side::Receiver)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "a referral that is scheduled cannot be reported on"
        );
    }

    #[test]
    fn statuses_and_steps_round_trip_through_their_names() {
        for status in ReferralStatus::ALL {
            assert_eq!(ReferralStatus::parse(status.as_str()), Ok(status));
        }
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Ok(step));
        }
    }
}
