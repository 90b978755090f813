//! Generating the demo network from a seed.

use enamel_domain::{
    Address, DisplayName, Email, GeoPoint, NewPractice, NewUser, Npi, Phi, PhoneNumber, PracticeId,
    PracticeKind, PracticeName, Role, TimeZone, UserId, UserStatus,
};
use time::{Date, Duration, Month};
use uuid::Uuid;

use crate::names::{FIRST_NAMES, PATIENT_AREA_CODES, STAFF_NAMES, SURNAMES};
use crate::rng::SplitMix64;

/// The seed `enamel serve --demo` and `enamel demo seed` use unless told otherwise.
pub const DEFAULT_SEED: u64 = 0x0E4A_3E1D;

/// How many synthetic patients the demo network has.
const PATIENTS: usize = 3_000;

/// How many patients of its own each specialist office has.
const SPECIALIST_PATIENTS: usize = 60;

/// The offices of the demo network: slug, name, kind, street, city, ZIP, and
/// (approximate, synthetic) latitude and longitude.
#[allow(clippy::type_complexity, reason = "a table of constants")]
const OFFICES: &[(&str, &str, PracticeKind, &str, &str, &str, (f64, f64))] = &[
    (
        "bluebonnet",
        "Bluebonnet Family Dental",
        PracticeKind::General,
        "200 Congress Ave",
        "Austin",
        "78701",
        (30.2653, -97.7445),
    ),
    (
        "riverbend",
        "Riverbend Dental Care",
        PracticeKind::General,
        "15 E Main St",
        "Round Rock",
        "78664",
        (30.5083, -97.6789),
    ),
    (
        "maplestreet",
        "Maple Street Dentistry",
        PracticeKind::General,
        "310 Maple St",
        "San Marcos",
        "78666",
        (29.8833, -97.9414),
    ),
    (
        "lonestar-endo",
        "Lone Star Endodontics",
        PracticeKind::Endodontics,
        "4100 Medical Pkwy",
        "Austin",
        "78756",
        (30.3072, -97.7406),
    ),
    (
        "hillcountry-perio",
        "Hill Country Periodontics",
        PracticeKind::Periodontics,
        "800 S Austin Ave",
        "Georgetown",
        "78626",
        (30.6333, -97.677),
    ),
    (
        "capitol-oms",
        "Capitol Oral Surgery",
        PracticeKind::OralSurgery,
        "3705 Far West Blvd",
        "Austin",
        "78731",
        (30.3552, -97.7541),
    ),
    (
        "pecangrove-ortho",
        "Pecan Grove Orthodontics",
        PracticeKind::Orthodontics,
        "1200 W Pecan St",
        "Pflugerville",
        "78660",
        (30.4394, -97.62),
    ),
    (
        "bluebonnet-kids",
        "Bluebonnet Pediatric Dentistry",
        PracticeKind::PediatricDentistry,
        "2900 W Anderson Ln",
        "Austin",
        "78757",
        (30.3571, -97.7319),
    ),
    (
        "limestone-prosth",
        "Limestone Prosthodontics",
        PracticeKind::Prosthodontics,
        "1011 S Bell Blvd",
        "Cedar Park",
        "78613",
        (30.4849, -97.8214),
    ),
];

/// The practice roles each demo office has one account of.
const PRACTICE_ROLES: [Role; 6] = [
    Role::PracticeAdmin,
    Role::Dentist,
    Role::Hygienist,
    Role::FrontDesk,
    Role::Billing,
    Role::SecurityOfficer,
];

/// One demo office with its staff accounts.
#[derive(Debug, Clone)]
pub struct DemoPractice {
    pub practice: NewPractice,
    pub users: Vec<NewUser>,
    /// Where the office is, for the directory's distance search.
    pub location: GeoPoint,
}

/// A synthetic patient. Every field a scanner looks for is held as PHI, as a real
/// patient's would be.
#[derive(Debug, Clone)]
pub struct SyntheticPatient {
    pub practice: PracticeId,
    pub first_name: Phi<String>,
    pub last_name: Phi<String>,
    pub birth_date: Phi<Date>,
    pub phone: Phi<PhoneNumber>,
    pub email: Phi<Email>,
}

/// A demo account to print for a newcomer.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub email: Email,
    pub role: Role,
    pub practice: Option<String>,
}

/// The whole demo network for one seed.
#[derive(Debug, Clone)]
pub struct DemoNetwork {
    pub practices: Vec<DemoPractice>,
    pub operator: NewUser,
    pub patients: Vec<SyntheticPatient>,
}

impl DemoNetwork {
    /// Generates the network. The same seed gives the same network, ids included.
    #[must_use]
    pub fn generate(seed: u64) -> Self {
        let mut rng = SplitMix64::new(seed);
        let practices: Vec<DemoPractice> = OFFICES
            .iter()
            .enumerate()
            .map(|(i, office)| demo_practice(&mut rng, i, office))
            .collect();
        let operator = NewUser::new(
            None,
            Email::parse("operator@enamel.example.test").expect("a valid email"),
            DisplayName::parse("Platform Operator").expect("a valid name"),
            Role::PlatformOperator,
            UserStatus::Active,
        )
        .expect("an operator belongs to no practice")
        .with_id(UserId::from_uuid(uuid_from(&mut rng)));
        let general: Vec<PracticeId> = practices
            .iter()
            .filter(|p| !p.practice.kind.is_specialty())
            .map(|p| p.practice.id)
            .collect();
        let mut patients: Vec<SyntheticPatient> = (0..PATIENTS)
            .map(|i| synthetic_patient(&mut rng, i, &general))
            .collect();
        // Each specialist keeps a schedule of its own patients too (drawn after the
        // general offices', so those stay the same for a seed).
        for specialist in practices.iter().filter(|p| p.practice.kind.is_specialty()) {
            let home = [specialist.practice.id];
            let start = patients.len();
            patients.extend(
                (start..start + SPECIALIST_PATIENTS).map(|i| synthetic_patient(&mut rng, i, &home)),
            );
        }
        Self {
            practices,
            operator,
            patients,
        }
    }

    /// Every account of the network, operator last, for printing.
    #[must_use]
    pub fn logins(&self) -> Vec<DemoLogin> {
        let mut logins: Vec<DemoLogin> = self
            .practices
            .iter()
            .flat_map(|p| {
                p.users.iter().map(|u| DemoLogin {
                    email: u.email().clone(),
                    role: u.role(),
                    practice: Some(p.practice.name.as_str().to_owned()),
                })
            })
            .collect();
        logins.push(DemoLogin {
            email: self.operator.email().clone(),
            role: self.operator.role(),
            practice: None,
        });
        logins
    }
}

fn uuid_from(rng: &mut SplitMix64) -> Uuid {
    let mut bytes = [0_u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn office_phone(n: usize) -> PhoneNumber {
    PhoneNumber::parse(&format!("512-555-01{n:02}")).expect("a valid demo phone")
}

fn demo_practice(
    rng: &mut SplitMix64,
    index: usize,
    &(slug, name, kind, street, city, zip, (latitude, longitude)): &(
        &str,
        &str,
        PracticeKind,
        &str,
        &str,
        &str,
        (f64, f64),
    ),
) -> DemoPractice {
    let id = PracticeId::from_uuid(uuid_from(rng));
    let npi_base = 290_000_100 + u32::try_from(index).expect("few offices");
    let practice = NewPractice {
        id,
        name: PracticeName::parse(name).expect("a valid name"),
        kind,
        npi: Npi::from_base(npi_base).expect("a nine-digit base"),
        address: Address::parse(street, None, city, "TX", zip).expect("a valid address"),
        phone: office_phone(index * 2),
        fax: Some(office_phone(index * 2 + 1)),
        time_zone: TimeZone::parse("America/Chicago").expect("a US zone"),
    };
    // Distinct names within an office: each role takes a name the office has not used.
    let mut taken: Vec<&str> = Vec::new();
    let users = PRACTICE_ROLES
        .iter()
        .map(|&role| {
            let email = format!("{}@{slug}.example.test", role.as_str().replace('_', "-"));
            let title = if role == Role::Dentist { "Dr. " } else { "" };
            let mut name = *rng.pick(STAFF_NAMES);
            while taken.contains(&name) {
                name = *rng.pick(STAFF_NAMES);
            }
            taken.push(name);
            let display = format!("{title}{name} ({})", role.label());
            NewUser::new(
                Some(id),
                Email::parse(&email).expect("a valid email"),
                DisplayName::parse(&display).expect("a valid name"),
                role,
                UserStatus::Active,
            )
            .expect("practice roles belong to a practice")
            .with_id(UserId::from_uuid(uuid_from(rng)))
        })
        .collect();
    DemoPractice {
        practice,
        users,
        location: GeoPoint::new(latitude, longitude).expect("a valid demo location"),
    }
}

fn synthetic_patient(rng: &mut SplitMix64, index: usize, homes: &[PracticeId]) -> SyntheticPatient {
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(SURNAMES);
    let earliest = Date::from_calendar_date(1940, Month::January, 1).expect("a date");
    let birth_date = earliest + Duration::days(i64::try_from(rng.below(29_000)).expect("small"));
    let area = rng.pick(PATIENT_AREA_CODES);
    let phone = PhoneNumber::parse(&format!("{area}-555-01{:02}", rng.below(100)))
        .expect("a valid synthetic phone");
    let email = Email::parse(&format!("{first}.{last}.{index}@example.test"))
        .expect("a valid synthetic email");
    SyntheticPatient {
        practice: *rng.pick(homes),
        first_name: Phi::new(first.to_owned()),
        last_name: Phi::new(last.to_owned()),
        birth_date: Phi::new(birth_date),
        phone: Phi::new(phone),
        email: Phi::new(email),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_network() {
        let (a, b) = (DemoNetwork::generate(7), DemoNetwork::generate(7));
        assert_eq!(a.practices[0].practice, b.practices[0].practice);
        assert_eq!(a.practices[6].users, b.practices[6].users);
        assert_eq!(a.patients[2_999].email, b.patients[2_999].email);
    }

    #[test]
    fn another_seed_gives_other_ids_and_patients() {
        let (a, b) = (DemoNetwork::generate(7), DemoNetwork::generate(8));
        assert_ne!(a.practices[0].practice.id, b.practices[0].practice.id);
        let same = a
            .patients
            .iter()
            .zip(&b.patients)
            .filter(|(x, y)| x.email == y.email)
            .count();
        assert!(same < 100, "{same} of the patients coincide");
    }

    #[test]
    fn the_network_has_three_general_offices_and_every_specialty_with_every_role() {
        let network = DemoNetwork::generate(DEFAULT_SEED);
        let general = network
            .practices
            .iter()
            .filter(|p| !p.practice.kind.is_specialty());
        assert_eq!(general.count(), 3);
        for kind in PracticeKind::ALL.into_iter().filter(|k| k.is_specialty()) {
            assert!(
                network.practices.iter().any(|p| p.practice.kind == kind),
                "{kind:?}"
            );
        }
        for practice in &network.practices {
            let roles: Vec<Role> = practice.users.iter().map(NewUser::role).collect();
            assert_eq!(roles, PRACTICE_ROLES);
            let mut names: Vec<&str> = practice
                .users
                .iter()
                .map(|u| u.display_name().as_str().trim_start_matches("Dr. "))
                .map(|n| n.split(" (").next().unwrap_or(n))
                .collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), PRACTICE_ROLES.len(), "distinct staff names");
        }
    }

    #[test]
    fn every_patient_is_recognisably_synthetic() {
        let network = DemoNetwork::generate(DEFAULT_SEED);
        assert!(network.patients.len() >= 2_000);
        for patient in &network.patients {
            assert!(SURNAMES.contains(&patient.last_name.expose().as_str()));
            assert!(patient.phone.expose().e164()[5..].starts_with("55501"));
            assert!(patient.email.expose().as_str().ends_with("@example.test"));
            assert!(!patient.phone.expose().e164().starts_with("+1512"));
        }
    }
}
