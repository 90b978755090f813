//! The Open Dental sync (docs/opendental.md): reads a practice's schedule from
//! Open Dental's API, page by page, and writes it through the scoped store as the
//! practice's `pms-sync` agent (`schedule.import`), record by record, with the
//! same mapping as the CSV import.
//!
//! Incremental: lists that take `DateTStamp` (`SecDateTEdit`) are asked for what
//! changed since the last run's server time; lists without that filter but with a
//! change stamp on each item are read whole and only the changed items written;
//! the small lists with neither (operatories, appointment and recall types) are
//! written only when their digest changed. A run that fails part-way resumes each
//! list from its own mark: marks move only when a list was read to its end.

use std::collections::{BTreeMap, HashMap, HashSet};

use enamel_audit::entry::ResourceType;
use enamel_domain::{Actor, AgentId, PracticeId, TimeZone};
use enamel_integrations::opendental::{self, Item, OpenDental, OpenDentalError, Resource};
use enamel_store::{Outbound, PmsReferences, Scoped, StoreError, SyncMark, Upserted};
use serde::Serialize;

use super::records::{FieldMap, ImportKind, RecordError, import_record};

/// The scopes of the `pms-sync` agent: it imports the schedule, nothing else.
pub const AGENT_SCOPES: &[&str] = &["schedule.import"];
/// The agent's name in the practice's list of agents.
pub const AGENT_NAME: &str = "pms-sync";

/// What one list's read did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ListReport {
    /// Items read from Open Dental.
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    /// Read but not written: unchanged, or not on the schedule (a planned
    /// appointment, a deleted patient).
    pub skipped: u64,
    /// Rejected items by reason (the reason names a field, never its value).
    pub rejected: BTreeMap<String, u64>,
}

impl ListReport {
    fn count(&mut self, written: Result<Option<Upserted>, RecordError>) -> Result<(), StoreError> {
        match written {
            Ok(Some(Upserted::Inserted)) => self.inserted += 1,
            Ok(Some(Upserted::Updated)) => self.updated += 1,
            Ok(None) => self.skipped += 1,
            Err(RecordError::Rejected(reason) | RecordError::Unresolved(reason)) => {
                *self.rejected.entry(reason).or_default() += 1;
            }
            Err(RecordError::Store(err)) => return Err(err),
        }
        Ok(())
    }

    /// Rejected items, all reasons.
    #[must_use]
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// What a run did, per list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub lists: BTreeMap<&'static str, ListReport>,
}

impl SyncReport {
    fn list(&mut self, resource: Resource) -> &mut ListReport {
        self.lists.entry(resource.as_str()).or_default()
    }

    /// The items written (inserted or updated) across lists.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.lists.values().map(|l| l.inserted + l.updated).sum()
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Vendor(#[from] OpenDentalError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// A code for the connection's last outcome and the logs.
    #[must_use]
    pub fn code(&self) -> String {
        match self {
            Self::Vendor(err) => err.code(),
            Self::Store(StoreError::NoBaa(_)) => "no_executed_baa".to_owned(),
            Self::Store(StoreError::Denied) => "denied".to_owned(),
            Self::Store(StoreError::Conflict(_)) => "already_running".to_owned(),
            Self::Store(_) => "store_failed".to_owned(),
        }
    }
}

/// The `pms-sync` agent of `practice`.
#[must_use]
pub fn agent_actor(agent: AgentId, practice: PracticeId) -> Actor {
    Actor::agent(
        agent,
        practice,
        AGENT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
    )
}

/// How long a run holds its practice: longer than any run (a first full read of a
/// large practice takes minutes); a run whose worker died frees it after this.
const RUN_LEASE: time::Duration = time::Duration::minutes(30);
/// How far back a list keeps re-reading an item that referred to a record not
/// brought in yet, before it waits for the item's next change.
const RETRY_WINDOW: time::Duration = time::Duration::hours(24);

/// One run for the actor's practice against `client` at `now`; `full` reads
/// everything again, ignoring the marks. The practice is held for the run (a second
/// run meanwhile is refused with a conflict); its start, end, outcome (an error as
/// its code) and report, a failed run's too, are recorded on the connection.
pub async fn run(
    scoped: &Scoped<'_>,
    client: &OpenDental,
    full: bool,
    now: time::OffsetDateTime,
) -> Result<SyncReport, SyncError> {
    scoped.pms_sync_started(now + RUN_LEASE).await?;
    let mut report = SyncReport::default();
    let result = run_lists(scoped, client, full, &mut report).await;
    let outcome = match &result {
        Ok(()) => "ok".to_owned(),
        Err(err) => err.code(),
    };
    let counts = serde_json::to_string(&report).unwrap_or_default();
    scoped.pms_sync_finished(&outcome, &counts).await?;
    match &result {
        Ok(()) => tracing::info!(written = report.written(), "the PMS sync ran"),
        Err(err) => tracing::warn!(error = %err.code(), "the PMS sync stopped"),
    }
    result.map(|()| report)
}

async fn run_lists(
    scoped: &Scoped<'_>,
    client: &OpenDental,
    full: bool,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    scoped
        .require_baa(
            client.vendor(),
            Outbound {
                purpose: "pms_sync",
                resource: ResourceType::Practice,
                resource_id: None,
                patient: None,
            },
        )
        .await?;
    let zone = scoped.own_practice().await?.time_zone;
    let marks = if full {
        HashMap::new()
    } else {
        scoped.pms_marks().await?
    };
    // Open Dental's clock as the run starts (providers carry `serverDateTime`, and
    // are no PHI): no list read whole may mark itself later than this.
    let run_start = client.page(Resource::Providers, None, 0).await?.server_time;
    let mut sync = Sync {
        scoped,
        client,
        zone,
        marks,
        run_start,
        report,
        references: PmsReferences::default(),
    };
    for (resource, kind) in [
        (Resource::Providers, ImportKind::Providers),
        (Resource::Operatories, ImportKind::Operatories),
        (Resource::AppointmentTypes, ImportKind::AppointmentTypes),
        (Resource::RecallTypes, ImportKind::RecallTypes),
    ] {
        sync.list(resource, kind).await?;
    }
    // The records below refer to those by PMS id.
    sync.references = scoped.pms_references().await?;
    for (resource, kind) in [
        (Resource::Patients, ImportKind::Patients),
        (Resource::Appointments, ImportKind::Appointments),
        (Resource::Asap, ImportKind::Waitlist),
        (Resource::Recalls, ImportKind::Recalls),
    ] {
        sync.list(resource, kind).await?;
    }
    sync.coverage().await
}

struct Sync<'a> {
    scoped: &'a Scoped<'a>,
    client: &'a OpenDental,
    zone: TimeZone,
    marks: HashMap<String, SyncMark>,
    /// Open Dental's time as the run started.
    run_start: Option<String>,
    report: &'a mut SyncReport,
    references: PmsReferences,
}

/// Open Dental's `yyyy-MM-dd HH:mm:ss`, moved by `by` (unchanged if unreadable).
fn shifted(stamp: &str, by: time::Duration) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(stamp, &format)
        .ok()
        .and_then(|at| (at + by).format(&format).ok())
        .unwrap_or_else(|| stamp.to_owned())
}

/// A list's next mark, as its pages are read.
#[derive(Default)]
struct NextMark {
    server_time: Option<String>,
    newest_stamp: Option<String>,
    digest: u64,
}

impl NextMark {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

    fn new() -> Self {
        Self {
            digest: Self::FNV_OFFSET,
            ..Self::default()
        }
    }

    fn see(&mut self, resource: Resource, page: &opendental::Page) {
        if self.server_time.is_none() {
            // The first page's time: whatever changed while the rest were read is
            // newer than it, and is read again next run.
            self.server_time.clone_from(&page.server_time);
        }
        for item in &page.items {
            if let Some(field) = resource.stamp_field() {
                if let Some(stamp) = opendental::text(item, field)
                    && self.newest_stamp.as_ref().is_none_or(|n| stamp > *n)
                {
                    self.newest_stamp = Some(stamp);
                }
            } else {
                // FNV-1a over the item's JSON, for the small lists without stamps
                // only: a digest to tell an unchanged list, not a security measure.
                let mut item = item.clone();
                item.remove("serverDateTime");
                for byte in serde_json::to_vec(&item).unwrap_or_default() {
                    self.digest ^= u64::from(byte);
                    self.digest = self.digest.wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
    }

    /// The list's next mark. A list the server filtered resumes from the first
    /// page's server time. A list read whole resumes from the run's start: every
    /// item was read after it, so one changed since carries a later stamp (without
    /// the run's start, from the newest stamp seen). Nothing read: the old mark stands.
    fn mark(self, old: &SyncMark, server_filtered: bool, run_start: Option<&str>) -> SyncMark {
        let watermark = if server_filtered {
            self.server_time
        } else if self.newest_stamp.is_some() {
            run_start.map(str::to_owned).or(self.newest_stamp)
        } else {
            None
        };
        SyncMark {
            watermark: watermark.or_else(|| old.watermark.clone()),
            digest: Some(format!("{:016x}", self.digest)),
        }
    }
}

impl Sync<'_> {
    /// Whether an item of a list read whole was already written by an earlier run:
    /// its stamp is older than that run's mark.
    fn seen(&self, resource: Resource, item: &Item) -> bool {
        let Some(watermark) = self
            .marks
            .get(resource.as_str())
            .and_then(|m| m.watermark.as_deref())
        else {
            return false;
        };
        resource
            .stamp_field()
            .and_then(|f| opendental::text(item, f))
            .is_some_and(|stamp| stamp.as_str() < watermark)
    }

    /// `mark`, held back to `unresolved` (the oldest stamp of an item that referred
    /// to a record not brought in yet), so the next run reads that item again; but
    /// not further back than [`RETRY_WINDOW`] before the run.
    fn hold(&self, mut mark: SyncMark, unresolved: Option<String>) -> SyncMark {
        if let Some(stamp) = unresolved {
            let floor = self
                .run_start
                .as_deref()
                .map(|start| shifted(start, -RETRY_WINDOW));
            let held = mark
                .watermark
                .take()
                .map_or(stamp.clone(), |w| w.min(stamp));
            mark.watermark = Some(match floor {
                Some(floor) => held.max(floor),
                None => held,
            });
        }
        mark
    }

    /// Reads one list to its end and writes its items as `kind`; then moves its mark.
    async fn list(&mut self, resource: Resource, kind: ImportKind) -> Result<(), SyncError> {
        let old = self
            .marks
            .get(resource.as_str())
            .cloned()
            .unwrap_or_default();
        let server_filtered = resource.changed_since().is_some();
        // A second's overlap: Open Dental's stamps are whole seconds.
        let since = old
            .watermark
            .as_deref()
            .map(|w| shifted(w, -time::Duration::SECOND));
        let mut next = NextMark::new();
        let mut pending = Vec::new();
        let mut unresolved: Option<String> = None;
        let mut pages = self.client.pages(resource, since.as_deref());
        while let Some(page) = pages.next().await? {
            next.see(resource, &page);
            if resource.stamp_field().is_none() {
                // Written once the whole list is read and found changed.
                pending.extend(page.items);
                continue;
            }
            for item in &page.items {
                if let Some(stamp) = self.item(resource, kind, item, !server_filtered).await?
                    && unresolved.as_ref().is_none_or(|u| stamp < *u)
                {
                    unresolved = Some(stamp);
                }
            }
        }
        let mark = next.mark(&old, server_filtered, self.run_start.as_deref());
        if !pending.is_empty() {
            if mark.digest == old.digest {
                self.report.list(resource).read += pending.len() as u64;
                self.report.list(resource).skipped += pending.len() as u64;
            } else {
                for item in &pending {
                    self.item(resource, kind, item, false).await?;
                }
            }
        }
        let mark = self.hold(mark, unresolved);
        self.scoped.set_pms_mark(resource.as_str(), &mark).await?;
        Ok(())
    }

    /// Writes one item, unless it is not on the schedule or (`check_seen`, for a
    /// list read whole) an earlier run wrote it. Returns the item's stamp when it
    /// referred to a record not brought in yet.
    async fn item(
        &mut self,
        resource: Resource,
        kind: ImportKind,
        item: &Item,
        check_seen: bool,
    ) -> Result<Option<String>, SyncError> {
        self.report.list(resource).read += 1;
        let fields = match fields(resource, item) {
            Some(fields) if !(check_seen && self.seen(resource, item)) => fields,
            _ => {
                self.report.list(resource).skipped += 1;
                return Ok(None);
            }
        };
        let written = import_record(
            self.scoped,
            &self.zone,
            kind,
            &fields,
            &self.references,
            false,
        )
        .await;
        let unresolved = matches!(written, Err(RecordError::Unresolved(_)));
        self.report.list(resource).count(written)?;
        Ok(unresolved
            .then(|| {
                resource
                    .stamp_field()
                    .and_then(|f| opendental::text(item, f))
            })
            .flatten())
    }

    /// Coverage is Open Dental's patient plans joined to their subscriptions,
    /// plans and carriers; a plan is written when it or its subscription changed.
    /// The joined lists' marks move only after every plan was written.
    async fn coverage(&mut self) -> Result<(), SyncError> {
        let (carriers, carriers_mark) = self.whole(Resource::Carriers, "CarrierNum").await?;
        let (plans, plans_mark) = self.whole(Resource::InsPlans, "PlanNum").await?;
        // Subscriptions hold the member id: kept only for this join, by number.
        let (subs, subs_mark) = self.whole(Resource::InsSubs, "InsSubNum").await?;
        let mut changed_subs = HashSet::new();
        for (num, sub) in &subs {
            if !self.seen(Resource::InsSubs, sub) {
                changed_subs.insert(num.clone());
            }
        }
        let old = self
            .marks
            .get(Resource::PatPlans.as_str())
            .cloned()
            .unwrap_or_default();
        let mut next = NextMark::new();
        let mut unresolved: Option<String> = None;
        let mut pages = self.client.pages(Resource::PatPlans, None);
        while let Some(page) = pages.next().await? {
            next.see(Resource::PatPlans, &page);
            for patplan in &page.items {
                self.report.list(Resource::PatPlans).read += 1;
                let sub_num = opendental::text(patplan, "InsSubNum").unwrap_or_default();
                if self.seen(Resource::PatPlans, patplan) && !changed_subs.contains(&sub_num) {
                    self.report.list(Resource::PatPlans).skipped += 1;
                    continue;
                }
                let sub = subs.get(&sub_num);
                let plan = sub
                    .and_then(|s| opendental::text(s, "PlanNum"))
                    .and_then(|n| plans.get(&n));
                let carrier = plan
                    .and_then(|p| opendental::text(p, "CarrierNum"))
                    .and_then(|n| carriers.get(&n));
                let mut fields = item_fields(patplan);
                for (source, names) in [
                    (sub, &["SubscriberID"][..]),
                    (plan, &["GroupNum"][..]),
                    (carrier, &["CarrierName", "ElectID"][..]),
                ] {
                    for name in names {
                        if let Some(value) = source.and_then(|s| opendental::text(s, name)) {
                            fields.set(name, value);
                        }
                    }
                }
                let written = import_record(
                    self.scoped,
                    &self.zone,
                    ImportKind::Coverage,
                    &fields,
                    &self.references,
                    false,
                )
                .await;
                if matches!(written, Err(RecordError::Unresolved(_)))
                    && let Some(stamp) = opendental::text(patplan, "SecDateTEdit")
                    && unresolved.as_ref().is_none_or(|u| stamp < *u)
                {
                    unresolved = Some(stamp);
                }
                self.report.list(Resource::PatPlans).count(written)?;
            }
        }
        let mark = next.mark(&old, false, self.run_start.as_deref());
        let mark = self.hold(mark, unresolved);
        self.scoped
            .set_pms_mark(Resource::PatPlans.as_str(), &mark)
            .await?;
        for (resource, mark) in [
            (Resource::Carriers, carriers_mark),
            (Resource::InsPlans, plans_mark),
            (Resource::InsSubs, subs_mark),
        ] {
            self.scoped.set_pms_mark(resource.as_str(), &mark).await?;
        }
        Ok(())
    }

    /// A whole list by its key field, and the mark it will move to.
    async fn whole(
        &mut self,
        resource: Resource,
        key: &str,
    ) -> Result<(HashMap<String, Item>, SyncMark), SyncError> {
        let old = self
            .marks
            .get(resource.as_str())
            .cloned()
            .unwrap_or_default();
        let mut next = NextMark::new();
        let mut all = HashMap::new();
        let mut pages = self.client.pages(resource, None);
        while let Some(page) = pages.next().await? {
            next.see(resource, &page);
            for item in page.items {
                if let Some(num) = opendental::text(&item, key) {
                    all.insert(num, item);
                }
            }
        }
        self.report.list(resource).read += all.len() as u64;
        Ok((all, next.mark(&old, false, self.run_start.as_deref())))
    }
}

/// An item's fields as text, by Open Dental's names.
fn item_fields(item: &Item) -> FieldMap {
    let mut fields = FieldMap::default();
    for name in item.keys() {
        if let Some(value) = opendental::text(item, name) {
            fields.set(name, value);
        }
    }
    fields
}

/// The item's fields as the record mapping reads them, or `None` for an item that
/// is not on the schedule: a deleted patient; a planned appointment or a note; an
/// unscheduled one with no time.
fn fields(resource: Resource, item: &Item) -> Option<FieldMap> {
    let mut fields = item_fields(item);
    let status = opendental::text(item, "AptStatus").unwrap_or_default();
    let start = opendental::text(item, "AptDateTime").unwrap_or_default();
    let has_time = start
        .get(..4)
        .and_then(|y| y.parse::<i32>().ok())
        .is_some_and(|y| y > 1900);
    match resource {
        Resource::Patients => {
            // Deleted, or deceased (never to be contacted): not brought in.
            if matches!(
                opendental::text(item, "PatStatus").as_deref(),
                Some("Deleted" | "Deceased")
            ) {
                return None;
            }
            // Open Dental keeps ISO 639-2 codes; Enamel a language tag.
            let language = match opendental::text(item, "Language").as_deref() {
                Some("eng" | "en") => "en",
                Some("spa" | "es") => "es",
                Some("vie" | "vi") => "vi",
                Some("zho" | "chi" | "zh") => "zh",
                _ => "",
            };
            fields.set("Language", language);
        }
        // The statuses are read by the shared mapping (`UnschedList` is cancelled);
        // here only what is not on a schedule is left out rather than rejected.
        Resource::Appointments
            if !has_time
                || !matches!(
                    status.as_str(),
                    "Scheduled" | "Complete" | "Broken" | "ASAP" | "UnschedList"
                ) =>
        {
            return None;
        }
        Resource::Asap => {
            // The ASAP list as the waitlist: each entry keyed by its appointment.
            let apt = opendental::text(item, "AptNum")?;
            if !matches!(status.as_str(), "Scheduled" | "UnschedList" | "ASAP") {
                return None;
            }
            fields.set("WaitlistNum", format!("asap-{apt}"));
            fields.set("Priority", "5");
        }
        Resource::RecallTypes => {
            if let Some(codes) = opendental::text(item, "Procedures") {
                fields.set("TriggerCodes", codes);
            }
        }
        _ => {}
    }
    Some(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pms::Fields as _;

    fn item(json: &str) -> Item {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn appointments_off_the_schedule_are_skipped_and_statuses_mapped() {
        let planned =
            item(r#"{"AptNum": 1, "AptStatus": "Planned", "AptDateTime": "0001-01-01 00:00:00"}"#);
        assert!(fields(Resource::Appointments, &planned).is_none());
        let unscheduled = item(
            r#"{"AptNum": 2, "AptStatus": "UnschedList", "AptDateTime": "2026-12-01 09:00:00"}"#,
        );
        // Kept, for the shared mapping to read as cancelled.
        let mapped = fields(Resource::Appointments, &unscheduled).unwrap();
        assert_eq!(mapped.field("aptstatus"), Some("UnschedList"));
        let timeless = item(
            r#"{"AptNum": 3, "AptStatus": "UnschedList", "AptDateTime": "0001-01-01 00:00:00"}"#,
        );
        assert!(fields(Resource::Appointments, &timeless).is_none());
    }

    #[test]
    fn the_asap_list_becomes_waitlist_entries_keyed_by_appointment() {
        let asap = item(
            r#"{"AptNum": 77, "PatNum": 5, "AptStatus": "Scheduled", "Pattern": "//XX//", "Priority": "ASAP"}"#,
        );
        let mapped = fields(Resource::Asap, &asap).unwrap();
        assert_eq!(mapped.field("WaitlistNum"), Some("asap-77"));
        assert_eq!(mapped.field("Priority"), Some("5"));
        let done = item(r#"{"AptNum": 78, "PatNum": 5, "AptStatus": "Complete"}"#);
        assert!(fields(Resource::Asap, &done).is_none());
    }

    #[test]
    fn deleted_patients_are_skipped_and_languages_made_tags() {
        let deleted = item(r#"{"PatNum": 1, "PatStatus": "Deleted"}"#);
        assert!(fields(Resource::Patients, &deleted).is_none());
        let spanish = item(r#"{"PatNum": 2, "PatStatus": "Patient", "Language": "spa"}"#);
        assert_eq!(
            fields(Resource::Patients, &spanish)
                .unwrap()
                .field("Language"),
            Some("es")
        );
    }

    #[test]
    fn the_mark_is_the_first_pages_server_time_or_else_the_newest_stamp() {
        let page = |server: Option<&str>, stamps: &[&str]| opendental::Page {
            items: stamps
                .iter()
                .map(|s| item(&format!(r#"{{"DateTStamp": "{s}"}}"#)))
                .collect(),
            server_time: server.map(str::to_owned),
        };
        let mut next = NextMark::new();
        next.see(
            Resource::Recalls,
            &page(None, &["2026-11-30 08:00:05", "2026-11-30 08:00:09"]),
        );
        next.see(Resource::Recalls, &page(None, &["2026-11-30 08:00:07"]));
        // A list read whole resumes from the run's start, when it is known.
        let mut started = NextMark::new();
        started.see(Resource::Recalls, &page(None, &["2026-11-30 08:00:09"]));
        assert_eq!(
            started
                .mark(&SyncMark::default(), false, Some("2026-11-30 08:00:06"))
                .watermark
                .as_deref(),
            Some("2026-11-30 08:00:06")
        );
        assert_eq!(
            next.mark(&SyncMark::default(), false, None)
                .watermark
                .as_deref(),
            Some("2026-11-30 08:00:09")
        );
        assert_eq!(
            shifted("2026-11-30 00:00:00", -time::Duration::SECOND),
            "2026-11-29 23:59:59"
        );
        assert_eq!(shifted("not a time", time::Duration::SECOND), "not a time");
        let mut next = NextMark::new();
        next.see(
            Resource::Patients,
            &page(Some("2026-11-30 09:00:00"), &["2026-11-30 08:00:01"]),
        );
        next.see(Resource::Patients, &page(Some("2026-11-30 09:00:03"), &[]));
        assert_eq!(
            next.mark(&SyncMark::default(), true, None)
                .watermark
                .as_deref(),
            Some("2026-11-30 09:00:00")
        );
        // Nothing read: the old mark stands.
        let old = SyncMark {
            watermark: Some("w".into()),
            digest: None,
        };
        assert_eq!(
            NextMark::new().mark(&old, true, None).watermark.as_deref(),
            Some("w")
        );
    }
}
