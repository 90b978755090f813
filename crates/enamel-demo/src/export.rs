//! A synthetic Open Dental CSV export of one demo office: its patients, the same
//! providers, operatories, appointment and recall types as the demo's schedules, two
//! weeks of appointments around [`EXPORT_TODAY`], a waitlist of 45, recalls and
//! coverage, one file per kind, with Open Dental's column names and statuses. It
//! ships as `docs/import-examples/demo-office/`; a test keeps those files equal to
//! this output, and the binary's suite imports them into a fresh office with no row
//! rejected. Every value is made up (the demo network's synthetic patients).

use std::fmt::Write as _;

use time::{Date, Duration, Weekday};

use crate::DemoNetwork;
use crate::rng::SplitMix64;
use crate::schedule::{DEMO_WAITLIST, PAYERS, RECALLS, TYPES};

/// The day the export is "taken": appointments run a week either side of it.
pub const EXPORT_TODAY: Date = time::macros::date!(2026 - 12 - 07);

/// The files of the export, in the order a first import loads them: (file name, CSV).
///
/// # Panics
/// If `practice` is not an index of the network's practices.
#[must_use]
pub fn open_dental_export(network: &DemoNetwork, practice: usize) -> Vec<(&'static str, String)> {
    let office = &network.practices[practice];
    let patients: Vec<_> = network
        .patients
        .iter()
        .filter(|p| p.practice == office.practice.id)
        .collect();
    let mut rng = SplitMix64::new(0x0D0D_E7A1 + practice as u64);
    let mut files = Vec::new();

    let mut csv = String::from("PatNum,LName,FName,Birthdate,WirelessPhone,Email\n");
    for (n, p) in patients.iter().enumerate() {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{}",
            n + 1,
            field(p.last_name.expose()),
            field(p.first_name.expose()),
            p.birth_date.expose(),
            p.phone.expose().national(),
            p.email.expose().as_str()
        );
    }
    files.push(("patients.csv", csv));

    let dentist = office
        .users
        .iter()
        .find(|u| u.role() == enamel_domain::Role::Dentist)
        .map_or("Demo", |u| {
            let name = u.display_name().as_str();
            name.split(" (").next().unwrap_or(name)
        });
    let dentist = dentist.trim_start_matches("Dr. ");
    let (first, last) = dentist.split_once(' ').unwrap_or(("", dentist));
    files.push((
        "providers.csv",
        format!(
            "ProvNum,LName,FName,NationalProvID,IsSecondary\nDDS1,{},{},,0\nRDH1,Achebe,Rosalind,,1\n",
            field(last),
            field(first)
        ),
    ));
    files.push((
        "operatories.csv",
        "OperatoryNum,OpName\n1,Op 1\n2,Op 2\n3,Op 3\n".to_owned(),
    ));
    let mut csv = String::from("AppointmentTypeNum,AppointmentTypeName,Minutes,CodeStr\n");
    for (id, name, codes, minutes) in TYPES {
        let _ = writeln!(csv, "{id},{name},{minutes},{}", codes.join(" "));
    }
    files.push(("appointment-types.csv", csv));
    let mut csv = String::from("RecallTypeNum,Description,DefaultInterval,TriggerCodes\n");
    for (id, name, codes, interval) in RECALLS {
        let _ = writeln!(csv, "{id},{name},{interval},{}", codes.join(" "));
    }
    files.push(("recall-types.csv", csv));

    files.push(("appointments.csv", appointments(&mut rng, patients.len())));
    files.push(("waitlist.csv", waitlist(&mut rng, patients.len())));
    let (recalls, coverage) = recalls_and_coverage(&mut rng, patients.len());
    files.push(("recalls.csv", recalls));
    files.push(("coverage.csv", coverage));
    files
}

/// A CSV field: quoted when it holds a comma or a quote.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Open Dental's `Pattern`: a character per five minutes.
fn pattern(minutes: u32) -> String {
    let slots = usize::try_from(minutes / 5).unwrap_or(0);
    let mut pattern = "/".repeat(slots);
    if slots > 4 {
        pattern.replace_range(2..slots - 2, &"X".repeat(slots - 4));
    }
    pattern
}

/// Weekdays from a week before to a week after [`EXPORT_TODAY`], the dentist in Op 1
/// and the hygienist in Op 2, about one hour in five left open. Behind: mostly
/// complete, some broken (no-shows), some on the unscheduled list (cancelled);
/// ahead: scheduled, a few cancelled.
fn appointments(rng: &mut SplitMix64, patients: usize) -> String {
    let mut csv = String::from(
        "AptNum,PatNum,ProvNum,Op,AppointmentTypeNum,AptDateTime,Pattern,AptStatus,ProcCodes\n",
    );
    let mut apt = 0_usize;
    let mut day = EXPORT_TODAY - Duration::days(7);
    while day <= EXPORT_TODAY + Duration::days(7) {
        if !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            for (provider, op, hygiene) in [("DDS1", 1, false), ("RDH1", 2, true)] {
                let mut minute = 8 * 60;
                while minute < 17 * 60 {
                    if rng.below(5) == 0 || minute == 12 * 60 {
                        minute += 60;
                        continue;
                    }
                    let kind = if hygiene {
                        if rng.below(4) == 0 { 5 } else { 1 }
                    } else {
                        *rng.pick(&[0, 3, 4, 4])
                    };
                    let (type_id, _, codes, length) = TYPES[kind];
                    let roll = rng.below(100);
                    let status = if day < EXPORT_TODAY {
                        match roll {
                            0..8 => "Broken",
                            8..13 => "UnschedList",
                            _ => "Complete",
                        }
                    } else if roll < 6 {
                        "UnschedList"
                    } else {
                        "Scheduled"
                    };
                    apt += 1;
                    let _ = writeln!(
                        csv,
                        "A{apt},{},{provider},{op},{type_id},{day} {:02}:{:02}:00,{},{status},{}",
                        apt % patients.max(1) + 1,
                        minute / 60,
                        minute % 60,
                        pattern(length),
                        codes.join(" ")
                    );
                    minute += length.max(30);
                }
            }
        }
        day = day.next_day().unwrap_or(day);
    }
    csv
}

/// The waitlist: the last 45 patients, each wanting a usual visit.
fn waitlist(rng: &mut SplitMix64, patients: usize) -> String {
    let days = ["any", "mon,wed,fri", "tue,thu", "mon,tue,wed,thu,fri"];
    let times = ["any", "morning", "afternoon", "morning,afternoon"];
    let mut csv = String::from(
        "WaitlistNum,PatNum,AppointmentTypeNum,Minutes,ProvNum,DateEarliest,DateLatest,Days,Times,Priority\n",
    );
    for n in 0..DEMO_WAITLIST.min(patients) {
        let (type_id, _, _, minutes) = TYPES[[1, 4, 5, 0][n % 4]];
        let provider = ["", "DDS1", "RDH1"][n % 3];
        let latest = if n % 4 == 0 {
            (EXPORT_TODAY + Duration::days(30)).to_string()
        } else {
            String::new()
        };
        let _ = writeln!(
            csv,
            "W{n},{},{type_id},{minutes},{provider},{EXPORT_TODAY},{latest},\"{}\",\"{}\",{}",
            patients - n,
            days[rng.below(days.len())],
            times[rng.below(times.len())],
            1 + rng.below(9)
        );
    }
    csv
}

/// Recalls for the first 150 patients (some overdue, a few disabled) and coverage
/// for five in six of them.
fn recalls_and_coverage(rng: &mut SplitMix64, patients: usize) -> (String, String) {
    let mut recalls =
        String::from("RecallNum,PatNum,RecallTypeNum,DatePrevious,DateDue,IsDisabled\n");
    let mut coverage = String::from(
        "PatPlanNum,PatNum,Ordinal,ElectID,CarrierName,SubscriberID,GroupNum,Relationship\n",
    );
    for n in 0..patients.min(150) {
        let previous =
            EXPORT_TODAY - Duration::days(i64::try_from(30 + rng.below(330)).unwrap_or(30));
        let kind = if n % 10 == 0 { 2 } else { 1 };
        let disabled = u8::from(n % 25 == 24);
        let _ = writeln!(recalls, "R{n},{},{kind},{previous},,{disabled}", n + 1);
        if n % 3 == 0 {
            let _ = writeln!(recalls, "B{n},{},3,{previous},,0", n + 1);
        }
        if n % 6 != 5 {
            let (payer, name) = PAYERS[rng.below(PAYERS.len())];
            let relationship = if n % 4 == 0 { "Spouse" } else { "Self" };
            let _ = writeln!(
                coverage,
                "C{n},{},1,{payer},{name},DEMO{:07},G{},{relationship}",
                n + 1,
                rng.below(10_000_000),
                100 + rng.below(900)
            );
        }
    }
    (recalls, coverage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_are_five_minutes_a_character() {
        assert_eq!(pattern(30), "//XX//");
        assert_eq!(pattern(60).len(), 12);
        assert_eq!(pattern(15), "///");
    }

    /// The shipped example is this output; `ENAMEL_TEST_WRITE_EXAMPLES=1` writes it
    /// again after a deliberate change. A difference is named by file, never shown
    /// (the files hold the demo's synthetic patients, which the canary scan watches
    /// for in test output).
    #[test]
    fn the_shipped_demo_office_export_is_this_output() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../docs/import-examples/demo-office");
        let network = DemoNetwork::generate(crate::DEFAULT_SEED);
        let files = open_dental_export(&network, 0);
        assert_eq!(files.len(), 9);
        if std::env::var("ENAMEL_TEST_WRITE_EXAMPLES").as_deref() == Ok("1") {
            std::fs::create_dir_all(&dir).unwrap();
            for (name, csv) in &files {
                std::fs::write(dir.join(name), csv).unwrap();
            }
        }
        for (name, csv) in &files {
            let shipped = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
            assert!(
                shipped == *csv,
                "docs/import-examples/demo-office/{name} is not the generator's output; \
                 run this test with ENAMEL_TEST_WRITE_EXAMPLES=1 after a deliberate change"
            );
        }
    }
}
