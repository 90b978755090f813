//! No-show recovery's matching (issue 18, docs/no-show-recovery.md): which waitlist
//! entries may be offered an open slot, and in what order. Pure: the store gathers
//! the slot and the candidates (through the no-show view), this decides.
//!
//! An entry **qualifies** for a slot when
//! - its appointment type is the slot's, or either is unspecified;
//! - its length fits in the slot;
//! - its provider preference is "any" or the slot's provider;
//! - the slot's local date is within its earliest and latest dates, and the slot's
//!   weekday and hour suit its availability;
//! - the patient has no other appointment overlapping the visit it would have;
//! - the patient has not declined this slot (or offers for this need);
//! - if it is there to move a booked appointment, that appointment is later than the
//!   slot (an offer to move a visit later is no offer).
//!
//! **Ranking** is a total order, the same for the same input:
//! 1. patients offered any slot in the last 24 hours go after everyone else;
//! 2. then by tier: entries that move a booked appointment earlier, then entries with
//!    no appointment (an unscheduled need), then the rest;
//! 3. then by priority (1 first), then by time on the list (longest first), then by
//!    the entry's id.
//!
//! [`Matcher`] indexes the entries once by provider and type, so that many slots are
//! matched against a long list without reading every entry for every slot.

use std::collections::HashMap;

use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::{AppointmentTypeId, Availability, Minutes, PatientId, ProviderId, WaitlistEntryId};

/// An open slot: whose chair time, when (the practice's local time and the instant),
/// how long, and the type of the visit that left it, if known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSlot {
    pub provider: ProviderId,
    pub kind: Option<AppointmentTypeId>,
    pub local_start: PrimitiveDateTime,
    pub starts_at: OffsetDateTime,
    pub length: Minutes,
}

/// One waitlist entry, with what matching needs to know about its patient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub entry: WaitlistEntryId,
    pub patient: PatientId,
    pub kind: Option<AppointmentTypeId>,
    pub duration: Minutes,
    /// `None`: any provider.
    pub provider: Option<ProviderId>,
    pub earliest: Option<Date>,
    pub latest: Option<Date>,
    pub availability: Availability,
    /// 1 is the most urgent, 9 the least.
    pub priority: u8,
    pub joined_at: OffsetDateTime,
    /// The start of the booked appointment this entry would move, if any.
    pub moves_from: Option<OffsetDateTime>,
    /// The patient's other appointments that hold a slot: start and end.
    pub busy: Vec<(OffsetDateTime, OffsetDateTime)>,
    /// The patient declined this slot, or offers for this need.
    pub declined: bool,
    /// The patient was offered a slot in the last 24 hours.
    pub offered_recently: bool,
}

/// Why an entry is ranked where it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    /// It moves a booked appointment earlier.
    MovesEarlier,
    /// The patient has no appointment for this need.
    Unscheduled,
    Other,
}

impl Candidate {
    /// Whether this entry may be offered `slot`.
    #[must_use]
    pub fn qualifies(&self, slot: &OpenSlot) -> bool {
        if self.declined {
            return false;
        }
        if matches!((self.kind, slot.kind), (Some(want), Some(has)) if want != has) {
            return false;
        }
        if self.duration.get() > slot.length.get() {
            return false;
        }
        if self.provider.is_some_and(|p| p != slot.provider) {
            return false;
        }
        let day = slot.local_start.date();
        if self.earliest.is_some_and(|d| day < d) || self.latest.is_some_and(|d| day > d) {
            return false;
        }
        if !self
            .availability
            .suits(day.weekday(), slot.local_start.hour())
        {
            return false;
        }
        if self.moves_from.is_some_and(|from| from <= slot.starts_at) {
            return false;
        }
        let end = slot.starts_at + self.duration.duration();
        !self
            .busy
            .iter()
            .any(|(from, to)| *from < end && slot.starts_at < *to)
    }

    /// The entry's tier for a slot it qualifies for.
    #[must_use]
    pub const fn tier(&self) -> Tier {
        // `qualifies` has already refused a move to a later slot.
        if self.moves_from.is_some() {
            Tier::MovesEarlier
        } else if self.busy.is_empty() {
            Tier::Unscheduled
        } else {
            Tier::Other
        }
    }

    /// The ranking key: smaller goes first.
    fn key(&self) -> (bool, Tier, u8, OffsetDateTime, WaitlistEntryId) {
        (
            self.offered_recently,
            self.tier(),
            self.priority,
            self.joined_at,
            self.entry,
        )
    }
}

/// The entries that qualify for `slot`, best first (see the module's ranking).
#[must_use]
pub fn rank<'a>(slot: &OpenSlot, candidates: &'a [Candidate]) -> Vec<&'a Candidate> {
    let mut found: Vec<&Candidate> = candidates.iter().filter(|c| c.qualifies(slot)).collect();
    found.sort_by_key(|c| c.key());
    found
}

/// The waitlist indexed by provider preference and type, to match many slots.
///
/// The ranking key depends on the entry alone (a move that would go later does not
/// qualify at all), so each group is sorted once; a slot's best entries are then a
/// merge of the groups that can qualify, reading each only until enough qualify.
#[derive(Debug)]
pub struct Matcher<'a> {
    groups: HashMap<(Option<ProviderId>, Option<AppointmentTypeId>), Vec<&'a Candidate>>,
}

impl<'a> Matcher<'a> {
    /// Indexes and sorts `candidates` once.
    #[must_use]
    pub fn new(candidates: &'a [Candidate]) -> Self {
        let mut groups: HashMap<_, Vec<&Candidate>> = HashMap::new();
        for c in candidates {
            groups.entry((c.provider, c.kind)).or_default().push(c);
        }
        for group in groups.values_mut() {
            group.sort_by_key(|c| c.key());
        }
        Self { groups }
    }

    /// The best `limit` entries for `slot`, in the order [`rank`] gives. Only the
    /// groups that can qualify are read: the slot's provider or any, its type or
    /// any (every type, for a slot whose type is unknown).
    #[must_use]
    pub fn best(&self, slot: &OpenSlot, limit: usize) -> Vec<&'a Candidate> {
        // Each group that can qualify, with the position of its next qualifying entry.
        let mut cursors: Vec<(&[&'a Candidate], usize)> = self
            .groups
            .iter()
            .filter(|((provider, kind), _)| {
                provider.is_none_or(|p| p == slot.provider)
                    && (kind.is_none() || slot.kind.is_none() || *kind == slot.kind)
            })
            .map(|(_, group)| (group.as_slice(), 0))
            .collect();
        let next = |group: &[&'a Candidate], from: usize| {
            (from..group.len())
                .find(|&i| group[i].qualifies(slot))
                .unwrap_or(group.len())
        };
        for (group, at) in &mut cursors {
            *at = next(group, 0);
        }
        let mut found = Vec::with_capacity(limit);
        while found.len() < limit {
            let Some((group, at)) = cursors
                .iter_mut()
                .filter(|(group, at)| *at < group.len())
                .min_by_key(|(group, at)| group[*at].key())
            else {
                break;
            };
            found.push(group[*at]);
            *at = next(group, *at + 1);
        }
        found
    }
}

/// The hours in which a patient may be sent an offer, in the patient's (else the
/// practice's) time zone: 08:00 to 21:00 by default. An offer due outside them is
/// deferred to the next opening, never dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendingHours {
    pub from: time::Time,
    pub until: time::Time,
}

impl SendingHours {
    /// 08:00 to 21:00.
    pub const DEFAULT: Self = Self {
        from: time::macros::time!(08:00),
        until: time::macros::time!(21:00),
    };

    /// `now` when it falls within the hours in `zone`; else the next instant they
    /// open (the same day's opening before it, the next day's after), read in the
    /// zone as it is that day, daylight saving included.
    #[must_use]
    pub fn next_open(&self, zone: &crate::TimeZone, now: OffsetDateTime) -> OffsetDateTime {
        let local = zone.local(now);
        let time = local.time();
        if time >= self.from && time < self.until {
            return now;
        }
        let day = if time < self.from {
            local.date()
        } else {
            local.date().next_day().unwrap_or(local.date())
        };
        zone.instant(day.with_time(self.from))
    }
}

/// GSM 03.38's basic character set: a message of these alone is one byte a
/// character, so 160 of them fit one SMS segment.
const GSM7: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡\
    ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// Whether `text` fits one SMS segment: GSM-7 basic characters only, at most 160.
#[must_use]
pub fn fits_one_segment(text: &str) -> bool {
    text.chars().count() <= 160 && text.chars().all(|c| GSM7.contains(c))
}

/// The text offering a slot by SMS: the patient's first name at most, the
/// practice's name, the day and time (the practice's local time) and the link;
/// never a procedure or a provider. The longest wording that fits one GSM-7 segment
/// is chosen, keeping the opt-out line ("Reply STOP to end", which texts about care
/// must carry) as long as it fits: the name goes first, then the wording gets
/// terse, then a long practice name is shortened; only then is the opt-out line
/// dropped. `None` if even the shortest does not fit (a link too long).
#[must_use]
pub fn offer_sms(
    first_name: &str,
    practice: &str,
    local_start: PrimitiveDateTime,
    link: &str,
) -> Option<String> {
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day padding:none] at [hour repr:12 padding:none]:[minute] [period]"
    );
    let when = local_start.format(&format).ok()?;
    let first = first_name.split_whitespace().next().unwrap_or_default();
    let short: String = practice.chars().take(24).collect();
    let hello = if first.is_empty() {
        String::new()
    } else {
        format!("Hi {first}, ")
    };
    let full = |hello: &str, office: &str, stop: &str| {
        format!("{hello}{office} has an opening {when}. Book it: {link}{stop}")
    };
    let terse = |office: &str, stop: &str| format!("{office}: opening {when}. Book: {link}{stop}");
    let stop = " Reply STOP to end";
    let wordings = [
        full(&hello, practice, stop),
        full("", practice, stop),
        terse(practice, stop),
        terse(&short, stop),
        full(&hello, practice, ""),
        full("", practice, ""),
        terse(&short, ""),
    ];
    wordings.into_iter().find(|text| fits_one_segment(text))
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    type Change = Box<dyn Fn(&mut Candidate)>;

    fn slot(provider: ProviderId) -> OpenSlot {
        // Tuesday 1 December 2026, 10:00 in Chicago (16:00 UTC), an hour.
        OpenSlot {
            provider,
            kind: Some(AppointmentTypeId::generate()),
            local_start: datetime!(2026-12-01 10:00),
            starts_at: datetime!(2026-12-01 16:00 UTC),
            length: Minutes::new(60).unwrap(),
        }
    }

    fn entry(n: u8) -> Candidate {
        Candidate {
            entry: WaitlistEntryId::generate(),
            patient: PatientId::generate(),
            kind: None,
            duration: Minutes::new(60).unwrap(),
            provider: None,
            earliest: None,
            latest: None,
            availability: Availability::parse("any", "any").unwrap(),
            priority: 5,
            joined_at: datetime!(2026-11-01 09:00 UTC) + time::Duration::hours(i64::from(n)),
            moves_from: None,
            busy: Vec::new(),
            declined: false,
            offered_recently: false,
        }
    }

    #[test]
    fn each_rule_can_refuse_an_entry() {
        let dentist = ProviderId::generate();
        let slot = slot(dentist);
        assert!(entry(0).qualifies(&slot));
        let refusals: Vec<(&str, Change)> = vec![
            (
                "too long",
                Box::new(|c| c.duration = Minutes::new(90).unwrap()),
            ),
            (
                "another provider",
                Box::new(|c| c.provider = Some(ProviderId::generate())),
            ),
            (
                "another type",
                Box::new(|c| c.kind = Some(AppointmentTypeId::generate())),
            ),
            (
                "not yet",
                Box::new(|c| c.earliest = Some(date!(2026 - 12 - 02))),
            ),
            (
                "too late",
                Box::new(|c| c.latest = Some(date!(2026 - 11 - 30))),
            ),
            (
                "Tuesdays no",
                Box::new(|c| c.availability = Availability::parse("mon,wed", "any").unwrap()),
            ),
            (
                "mornings no",
                Box::new(|c| c.availability = Availability::parse("any", "afternoon").unwrap()),
            ),
            ("declined", Box::new(|c| c.declined = true)),
            (
                "busy then",
                Box::new(|c| {
                    c.busy = vec![(
                        datetime!(2026-12-01 16:30 UTC),
                        datetime!(2026-12-01 17:30 UTC),
                    )];
                }),
            ),
            (
                "would move later",
                Box::new(|c| c.moves_from = Some(datetime!(2026-11-30 16:00 UTC))),
            ),
        ];
        for (why, change) in refusals {
            let mut c = entry(0);
            change(&mut c);
            assert!(!c.qualifies(&slot), "{why}");
        }
        // The edges fit: the same day as the earliest and latest, an appointment
        // that ends as the slot starts, the slot's own provider and a shorter visit.
        let mut c = entry(0);
        c.earliest = Some(date!(2026 - 12 - 01));
        c.latest = Some(date!(2026 - 12 - 01));
        c.busy = vec![(
            datetime!(2026-12-01 15:00 UTC),
            datetime!(2026-12-01 16:00 UTC),
        )];
        c.provider = Some(dentist);
        c.duration = Minutes::new(30).unwrap();
        assert!(c.qualifies(&slot));
    }

    #[test]
    fn ranking_is_tier_then_priority_then_time_on_the_list_and_recent_offers_last() {
        let dentist = ProviderId::generate();
        let slot = slot(dentist);
        let mut mover = entry(5);
        mover.moves_from = Some(datetime!(2026-12-10 16:00 UTC));
        mover.priority = 9;
        let mut urgent = entry(4);
        urgent.priority = 1;
        let early = entry(1);
        let late = entry(2);
        let mut booked_elsewhere = entry(0);
        booked_elsewhere.busy = vec![(
            datetime!(2026-12-20 16:00 UTC),
            datetime!(2026-12-20 17:00 UTC),
        )];
        booked_elsewhere.priority = 1;
        let mut recent = entry(0);
        recent.moves_from = Some(datetime!(2026-12-10 16:00 UTC));
        recent.priority = 1;
        recent.offered_recently = true;
        let all = vec![
            recent.clone(),
            late.clone(),
            booked_elsewhere.clone(),
            early.clone(),
            urgent.clone(),
            mover.clone(),
        ];
        let order: Vec<WaitlistEntryId> = rank(&slot, &all).iter().map(|c| c.entry).collect();
        assert_eq!(
            order,
            [
                mover.entry,
                urgent.entry,
                early.entry,
                late.entry,
                booked_elsewhere.entry,
                recent.entry
            ]
        );
        // The index gives the same order, cut at the limit.
        let matcher = Matcher::new(&all);
        let best: Vec<WaitlistEntryId> = matcher.best(&slot, 3).iter().map(|c| c.entry).collect();
        assert_eq!(best, order[..3]);
        let every: Vec<WaitlistEntryId> =
            matcher.best(&slot, 100).iter().map(|c| c.entry).collect();
        assert_eq!(every, order);
    }

    #[test]
    fn the_index_agrees_with_the_plain_ranking_on_a_mixed_list() {
        let mut state = 7_u64;
        let mut roll = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) % n
        };
        let providers = [ProviderId::generate(), ProviderId::generate()];
        let kinds = [AppointmentTypeId::generate(), AppointmentTypeId::generate()];
        let mut all = Vec::new();
        for n in 0..400_u16 {
            let mut c = entry(u8::try_from(n % 200).unwrap());
            c.joined_at += time::Duration::minutes(i64::from(n));
            c.provider =
                [None, Some(providers[0]), Some(providers[1])][usize::try_from(roll(3)).unwrap()];
            c.kind = [None, Some(kinds[0]), Some(kinds[1])][usize::try_from(roll(3)).unwrap()];
            c.priority = u8::try_from(1 + roll(9)).unwrap();
            c.duration = Minutes::new([30, 60, 90][usize::try_from(roll(3)).unwrap()]).unwrap();
            c.offered_recently = roll(5) == 0;
            if roll(4) == 0 {
                c.moves_from = Some(
                    datetime!(2026-12-01 16:00 UTC)
                        + time::Duration::days(i64::try_from(roll(5)).unwrap() - 2),
                );
            }
            all.push(c);
        }
        let matcher = Matcher::new(&all);
        for n in 0..40 {
            let mut s = slot(providers[n % 2]);
            s.kind = [None, Some(kinds[0]), Some(kinds[1])][n % 3];
            s.length = Minutes::new([30, 60, 90][n % 3]).unwrap();
            let plain: Vec<WaitlistEntryId> = rank(&s, &all).iter().map(|c| c.entry).collect();
            let indexed: Vec<WaitlistEntryId> =
                matcher.best(&s, 25).iter().map(|c| c.entry).collect();
            assert_eq!(indexed, plain[..plain.len().min(25)], "slot {n}");
        }
    }

    #[test]
    fn an_offer_fits_one_sms_and_names_no_procedure() {
        let at = datetime!(2026-12-01 14:30);
        let link =
            "https://enamel.example/o/AQGTz1x2c3v4b5n6m7a8s9d0fAAAAAA.qwertyuiopasdfghjklzxc";
        let text = offer_sms("Avery Jo", "Lakeside Family Dental", at, link).unwrap();
        // The opt-out line is kept: the name and the long wording give way first.
        assert_eq!(
            text,
            "Lakeside Family Dental: opening Tue Dec 1 at 2:30 PM. Book: \
             https://enamel.example/o/AQGTz1x2c3v4b5n6m7a8s9d0fAAAAAA.qwertyuiopasdfghjklzxc \
             Reply STOP to end"
        );
        assert!(fits_one_segment(&text));
        // A link of the longest kind (a 52-character token) still leaves room for it.
        let longest = format!("https://enamel.example.com/o/{}", "A".repeat(52));
        let text = offer_sms("", "Lakeside Family Dental", at, &longest).unwrap();
        assert!(text.ends_with("Reply STOP to end"), "{text}");
        // A name outside GSM-7 is left out rather than sent as UCS-2 in two segments.
        let text = offer_sms("Zoë", "Lakeside Family Dental", at, link).unwrap();
        assert!(!text.contains("Zo"), "{text}");
        // A short link leaves room for the opt-out line.
        let text = offer_sms("Avery", "Lakeside", at, "https://e.x/o/abc").unwrap();
        assert!(text.starts_with("Hi Avery, "), "{text}");
        assert!(text.ends_with("Reply STOP to end"), "{text}");
        // A link that cannot fit is refused, not cut.
        assert_eq!(offer_sms("Avery", "Lakeside", at, &"x".repeat(150)), None);
    }

    #[test]
    fn offers_wait_for_the_patients_morning_across_midnight_and_daylight_saving() {
        let chicago = crate::TimeZone::parse("America/Chicago").unwrap();
        let hours = SendingHours::DEFAULT;
        // 14:00 CST: now.
        let at = datetime!(2026-11-30 20:00 UTC);
        assert_eq!(hours.next_open(&chicago, at), at);
        // 21:00 CST exactly: closed; tomorrow 08:00 CST (14:00 UTC).
        assert_eq!(
            hours.next_open(&chicago, datetime!(2026-12-01 03:00 UTC)),
            datetime!(2026-12-01 14:00 UTC)
        );
        // 00:30 CST, after midnight: the same day's 08:00.
        assert_eq!(
            hours.next_open(&chicago, datetime!(2026-12-01 06:30 UTC)),
            datetime!(2026-12-01 14:00 UTC)
        );
        // 22:00 CST on Saturday 7 March 2026; clocks spring forward that night, so
        // Sunday's 08:00 is CDT: 13:00 UTC, not 14:00.
        assert_eq!(
            hours.next_open(&chicago, datetime!(2026-03-08 04:00 UTC)),
            datetime!(2026-03-08 13:00 UTC)
        );
        // And back in November: Sunday 1 November 2026's 08:00 is CST again.
        assert_eq!(
            hours.next_open(&chicago, datetime!(2026-11-01 04:30 UTC)),
            datetime!(2026-11-01 14:00 UTC)
        );
    }
}
