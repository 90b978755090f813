//! Fixed word lists for synthetic people and offices.

/// Common first names; alone they identify no one, so the scanner does not flag them.
pub(crate) const FIRST_NAMES: &[&str] = &[
    "Avery", "Blake", "Carmen", "Dana", "Elena", "Felix", "Grace", "Hector", "Iris", "Jonah",
    "Keiko", "Luis", "Maya", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Samuel", "Tara", "Uma",
    "Victor", "Wendy", "Xavier", "Yara", "Zane", "Amara", "Bruno", "Chloe", "Diego", "Esther",
    "Farah", "Gideon", "Hana", "Ivan", "Jade", "Kofi", "Lena", "Mateo", "Noor",
];

/// Invented surnames that belong to no real person: any of them in a log is a leak.
pub(crate) const SURNAMES: &[&str] = &[
    "Testwell",
    "Samplesby",
    "Demoford",
    "Mockridge",
    "Dummington",
    "Fictionale",
    "Synthwick",
    "Placeholt",
    "Examplar",
    "Pretendsen",
    "Madeupson",
    "Fauxley",
    "Shamwell",
    "Imaginor",
    "Simulatto",
    "Proxleigh",
    "Stubbington",
    "Fixturo",
    "Canaryson",
    "Seedwell",
    "Mockingham",
    "Falsetti",
    "Pseudovich",
    "Nullsworth",
];

/// Texas area codes for patients. The demo's offices use 512, which is not here,
/// so an office number can never be mistaken for a patient's.
pub(crate) const PATIENT_AREA_CODES: &[u16] = &[
    214, 254, 281, 325, 361, 409, 430, 432, 469, 682, 713, 737, 806, 817, 830, 832, 903, 915, 936,
    940, 956, 972, 979,
];

/// Staff names: workforce, not patients, and not in the scanner's list.
pub(crate) const STAFF_NAMES: &[&str] = &[
    "Jordan Ellis",
    "Morgan Reyes",
    "Casey Nguyen",
    "Riley Okafor",
    "Taylor Brandt",
    "Jamie Castillo",
    "Alex Moreau",
    "Sam Whitaker",
    "Drew Fontaine",
    "Robin Takeda",
    "Parker Lindqvist",
    "Hayden Osei",
];
