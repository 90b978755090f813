//! Enamel's persistence: SQLite (embedded default) and PostgreSQL behind one interface.
//!
//! The backend is picked from the database URL. Each backend has its own numbered SQL
//! migrations, embedded in the binary. Queries are written once where the two dialects
//! agree (`$1` placeholders work on both) and run against whichever pool is open.
//!
//! Practice data is reached through [`Scoped`], built for an [`Actor`](enamel_domain::Actor):
//! every query it runs is limited to the actor's practice, so a caller cannot forget
//! the tenant boundary. The unscoped repositories on [`Store`] hold only what is not
//! PHI (practices and workforce accounts) and serve the system (seeding, sign-in).
//!
//! Encrypted columns are sealed with the practice's current data key from the
//! keyring and opened with the key their header names (`docs/encryption.md`).

pub mod audit;
mod audit_query;
mod db;
mod error;
mod jobs;
mod key_admin;
mod keyring;
mod migrations;
mod pool;
mod repos;
mod retention;
mod scoped;
mod sealed;

pub use audit::{AuditLog, Checkpointed, INDEX_BATCH, Indexed, Outside, StoredEntry};
pub use audit_query::{AuditFilter, AuditPage, Disclosure, MAX_PAGE};
pub use error::StoreError;
pub use jobs::{ClaimedJob, Finished, JobStatus, Jobs, NewJob};
pub use key_admin::{KeyAdmin, Reencrypted};
pub use migrations::MigrationStatus;
pub use pool::{Backend, ConnectOptions, Store};
pub use repos::access::{
    ALERT_NOTE_MAX, AgentInfo, Alert, AlertDetail, AlertResolution, IDLE_FLAG_DAYS, ReviewRow,
    SignOff, TokenInfo,
};
pub use repos::agreements::{
    AGREEMENT_TEXT, AGREEMENT_VERSION, ExecutedAgreement, agreement_sha256,
};
pub use repos::directory::{
    DirectoryQuery, InvitationState, JoinInvitation, Listing, OFFICE_INVITATION,
    OFFICE_INVITATION_DAYS, OfficeInvitation,
};
pub use repos::handover::{
    HandedOverAppointment, HandedOverCoverage, HandedOverRecall, HandedOverReferral,
    HandedOverSchedule, HandedOverWaitlist, Handover,
};
pub use repos::identity::{
    Credentials, EndReason, Identity, Invitation, MfaState, NewSession, SessionInfo, SessionRecord,
    SessionStage, Throttle, ThrottleRule, TokenRecord, throttle_key_for_email,
};
pub use repos::office_settings::{OFFICE_HOURS_MAX, OfficeSettings};
pub use repos::onboarding::{
    ADMIN_INVITATION_HOURS, AdminStatus, PracticeOverview, STAFF_INVITATION,
};
pub use repos::outbox::{
    DELIVER_JOB, DueMessage, MAX_ATTEMPTS, MessageStatus, MessageText, NewMessage, NotQueued,
    Outbox, PATIENT_MESSAGES_PER_DAY,
};
pub use repos::patients::{ConsentSource, MAX_PATIENTS_PER_PAGE, PatientQuery};
pub use repos::practices::PracticeRepo;
pub use repos::recovery::answer::{Confirmation, LinkedOffer, PmsBooking, PmsSlot, WRITEBACK_JOB};
pub use repos::recovery::offers::{Decision, DeferredOffer, NewOffer, Reach, Recorded};
pub use repos::recovery::{
    NewSlot, Offer, OfferStatus, RECOVERY_AGENT_NAME, RECOVERY_SCOPES, RecoverySettings,
    RecoveryTotals, Run, RunDetail, RunStatus, WAVE_JOB, WaveRun, hour_minute_text, recovery_actor,
    wave_job,
};
pub use repos::referrals::{
    AttachmentInfo, DownloadTicket, Purpose as AttachmentPurpose, UploadTicket,
};
pub use repos::referrals::{
    NAME_SEARCH_SCAN, NewReferral, ReferralBox, ReferralDetail, ReferralPage, ReferralQuery,
    ReferralSummary, StepInput, TimelineEntry,
};
pub use repos::referrals::{PORTAL_ATTEMPTS, PORTAL_SESSION_MINUTES, PortalOpening, PortalView};
pub use repos::schedule::pms_sync::{PmsConnection, SyncMark};
pub use repos::schedule::views::{
    ELIGIBILITY, EligibilityRow, FieldRule, NO_SHOW, NoShowRow, RECALL, RecallRow, WORKFLOWS,
    Workflow, minimum_necessary_tables,
};
pub use repos::schedule::{
    Appointment, AppointmentType, CoverageEntry, NewAppointment, NewCoverage, NewRecall,
    NewWaitlistEntry, Operatory, PmsReferences, Provider, RecallEntry, RecallType, Upserted,
    WaitlistEntry, local_day,
};
pub use repos::users::UserRepo;
pub use repos::vendor_credentials::{CredentialInfo, VendorCredentials};
pub use repos::vendors::{Vendor, VendorEntry};
// Domain types this crate's API takes and returns, where its callers have found them.
pub use enamel_domain::{BaaStatus, BreakGlassReason, Channel, MediaType};
pub use retention::{Retained, RetentionPeriods};
pub use scoped::authorize::AuditedAs;
pub use scoped::baa::Outbound;
pub use scoped::{RequestContext, Scoped};
pub use sealed::{ENCRYPTED_COLUMNS, EncryptedColumn};
