//! Well-formed values for the storage tests.

use enamel_domain::{
    Address, DisplayName, Email, NewPractice, NewUser, Npi, PhoneNumber, PracticeId, PracticeKind,
    PracticeName, Role, TimeZone, UserStatus,
};

pub fn practice(name: &str, npi_base: u32) -> NewPractice {
    NewPractice {
        id: PracticeId::generate(),
        name: PracticeName::parse(name).unwrap(),
        kind: PracticeKind::Endodontics,
        npi: Npi::from_base(npi_base).unwrap(),
        address: Address::parse("100 Fixture Way", Some("Suite 2"), "Austin", "TX", "73301")
            .unwrap(),
        phone: PhoneNumber::parse("(512) 555-0100").unwrap(),
        fax: Some(PhoneNumber::parse("(512) 555-0101").unwrap()),
        time_zone: TimeZone::parse("America/Chicago").unwrap(),
    }
}

pub fn user(practice: PracticeId, email: &str, role: Role) -> NewUser {
    NewUser::new(
        Some(practice),
        Email::parse(email).unwrap(),
        DisplayName::parse(email.split('@').next().unwrap()).unwrap(),
        role,
        UserStatus::Active,
    )
    .unwrap()
}
