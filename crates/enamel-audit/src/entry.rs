//! Audit events and their canonical encoding.
//!
//! An entry is encoded as JSON with its keys in lexicographic order, no whitespace,
//! integers only and JSON's standard string escaping: the JSON Canonicalization
//! Scheme (RFC 8785) for the values Enamel writes. The leaf hash is computed over
//! those bytes, and the export writes them unchanged, one per line, so an auditor
//! recomputes the tree from the export with any JCS implementation.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use enamel_domain::{ActorType, PracticeId};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::merkle::{Hash, leaf_hash};

/// The format version written in every entry.
pub const FORMAT: u32 = 1;

/// Which log an entry belongs to: a practice's, or the platform's (events of no
/// practice, such as an operator's sign-in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    Platform,
    Practice(PracticeId),
}

impl Scope {
    /// The scope as stored and exported: `platform` or the practice's id.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Platform => "platform".to_owned(),
            Self::Practice(id) => id.to_string(),
        }
    }

    /// Parses [`Scope::key`].
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        if raw == "platform" {
            Some(Self::Platform)
        } else {
            raw.parse().ok().map(Self::Practice)
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

macro_rules! names {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stable name, as stored and exported.
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses the stable name.
            #[must_use]
            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

names!(
    /// What was done.
    Action {
        Read = "read",
        Write = "write",
        Create = "create",
        Delete = "delete",
        Search = "search",
        Export = "export",
        Download = "download",
        Disclose = "disclose",
        SignIn = "sign_in",
        SignOut = "sign_out",
        SecondFactor = "second_factor",
        MfaEnroll = "mfa_enroll",
        Lockout = "lockout",
        Unlock = "unlock",
        SessionEnd = "session_end",
        RoleChange = "role_change",
        Deactivate = "deactivate",
        Invite = "invite",
        InvitationAccept = "invitation_accept",
        TokenCreate = "token_create",
        TokenUse = "token_use",
        TokenRevoke = "token_revoke",
        BreakGlass = "break_glass",
        AccessReview = "access_review",
        SettingChange = "setting_change",
        KeyRotate = "key_rotate",
        KeyShred = "key_shred",
        AuditQuery = "audit_query",
        AuditExport = "audit_export",
        AuditPurge = "audit_purge",
        Notify = "notify",
    }
);

names!(
    /// What kind of resource was touched.
    ResourceType {
        Patient = "patient",
        Referral = "referral",
        Attachment = "attachment",
        Appointment = "appointment",
        Insurance = "insurance",
        VendorCredential = "vendor_credential",
        Practice = "practice",
        User = "user",
        Session = "session",
        Agent = "agent",
        ApiToken = "api_token",
        Invitation = "invitation",
        AccessReview = "access_review",
        Key = "key",
        AuditLog = "audit_log",
        Message = "message",
        Vendor = "vendor",
        Notification = "notification",
        PortalLink = "portal_link",
        Directory = "directory",
        Retention = "retention",
        Job = "job",
    }
);

names!(
    /// How it ended.
    Outcome {
        Success = "success",
        Failure = "failure",
        Partial = "partial",
        Denied = "denied",
    }
);

/// A value in an entry's `detail`: ids, keyed hashes, counts and fixed codes only.
/// There is no variant for free text, so no name, phone, email, birth date or
/// clinical note can be put in an audit entry.
///
/// Encoded with its kind as the key (`{"code":"phone"}`), so a reader never has to
/// guess which kind a value is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Detail {
    Count(u64),
    Ids(Vec<Uuid>),
    /// A keyed hash (HMAC) of an identifier, hex-encoded.
    KeyedHash(String),
    Code(String),
}

/// One audit event, as the writer hands it over: the twelve fields of seed 001's
/// specification plus `detail`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub timestamp: OffsetDateTime,
    pub action: Action,
    pub actor_id: Option<String>,
    pub actor_type: ActorType,
    pub scope: Scope,
    pub patient_id: Option<Uuid>,
    pub resource_type: ResourceType,
    pub resource_id: Option<String>,
    pub outcome: Outcome,
    pub ip_address: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub correlation_id: Option<String>,
    pub detail: BTreeMap<&'static str, Detail>,
}

/// An entry as encoded: the event's fields in key order, plus the entry's index in
/// its log and the previous entry's leaf hash. Field names are sorted, which is the
/// canonical order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub action: String,
    pub actor_id: Option<String>,
    pub actor_type: String,
    pub correlation_id: Option<String>,
    pub detail: BTreeMap<String, Detail>,
    pub format: u32,
    pub index: u64,
    pub ip_address: Option<String>,
    pub outcome: String,
    pub patient_id: Option<Uuid>,
    /// Hex SHA-256 leaf hash of the previous entry; 64 zeros for the first.
    pub prev: String,
    pub resource_id: Option<String>,
    pub resource_type: String,
    pub scope: String,
    /// RFC 3339, UTC, microseconds.
    pub timestamp: String,
    pub user_agent: Option<String>,
}

/// A user agent as recorded: at most 256 characters, control characters removed.
fn clean_user_agent(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).take(256).collect()
}

fn actor_type_str(kind: ActorType) -> &'static str {
    match kind {
        ActorType::Human => "human",
        ActorType::Agent => "agent",
        ActorType::System => "system",
    }
}

/// Formats a timestamp as RFC 3339 in UTC with exactly six fractional digits.
#[must_use]
pub fn format_timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

/// Renders bytes as lower-case hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    String::from_utf8(out).expect("hex digits are ASCII")
}

/// Lower-case hex digits, as entries and checkpoints write hashes.
pub(crate) const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends the lower-case hex of `bytes` to `out`.
fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for byte in bytes {
        out.push(HEX_DIGITS[usize::from(byte >> 4)]);
        out.push(HEX_DIGITS[usize::from(byte & 0x0f)]);
    }
}

/// An event encoded before its place in the log is known: the canonical bytes
/// around the two fields that depend on the place, `index` and `prev`. Encoding
/// is most of the cost of an append, and this lets each caller do it on its own
/// task instead of in the writer's serial path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// Up to and including `"index":`.
    before_index: Vec<u8>,
    /// From the comma after the index up to and including `"prev":"`.
    before_prev: Vec<u8>,
    /// From the quote after `prev` to the end.
    after_prev: Vec<u8>,
}

impl Encoded {
    /// Encodes `event` (as [`Entry::new`] then [`Entry::canonical`] would).
    #[must_use]
    pub fn new(event: &Event) -> Self {
        const INDEX: &[u8] = b",\"index\":0,\"ip_address\":";
        const PREV: &[u8] = b",\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"resource_id\":";
        let bytes = Entry::new(event, 0, &[0; 32]).canonical();
        // Inside a JSON string every quote is escaped, so each marker, which
        // contains unescaped quotes, is found only where its keys are.
        let find = |marker: &[u8]| {
            bytes
                .windows(marker.len())
                .position(|w| w == marker)
                .expect("an entry has its index and prev keys")
        };
        let index_at = find(INDEX) + b",\"index\":".len();
        let after_index = index_at + 1;
        let prev_at = find(PREV) + b",\"prev\":\"".len();
        Self {
            before_index: bytes[..index_at].to_vec(),
            before_prev: bytes[after_index..prev_at].to_vec(),
            after_prev: bytes[prev_at + 64..].to_vec(),
        }
    }

    /// The canonical bytes of the entry at `index` after the leaf hash `prev`.
    #[must_use]
    pub fn at(&self, index: u64, prev: &Hash) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            self.before_index.len() + 20 + self.before_prev.len() + 64 + self.after_prev.len(),
        );
        out.extend_from_slice(&self.before_index);
        out.extend_from_slice(index.to_string().as_bytes());
        out.extend_from_slice(&self.before_prev);
        push_hex(&mut out, prev);
        out.extend_from_slice(&self.after_prev);
        out
    }
}

impl Entry {
    /// The entry for `event` at `index`, chained to the previous leaf hash.
    #[must_use]
    pub fn new(event: &Event, index: u64, prev: &Hash) -> Self {
        Self {
            action: event.action.as_str().to_owned(),
            actor_id: event.actor_id.clone(),
            actor_type: actor_type_str(event.actor_type).to_owned(),
            correlation_id: event.correlation_id.clone(),
            detail: event
                .detail
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            format: FORMAT,
            index,
            ip_address: event.ip_address.map(|ip| ip.to_string()),
            outcome: event.outcome.as_str().to_owned(),
            patient_id: event.patient_id,
            prev: hex(prev),
            resource_id: event.resource_id.clone(),
            resource_type: event.resource_type.as_str().to_owned(),
            scope: event.scope.key(),
            timestamp: format_timestamp(event.timestamp),
            user_agent: event.user_agent.as_deref().map(clean_user_agent),
        }
    }

    /// The canonical bytes: what is hashed, stored and exported.
    #[must_use]
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an entry always serializes")
    }

    /// Parses canonical bytes back, and checks that they are canonical: re-encoding
    /// gives the same bytes. Anything else is tampering or corruption.
    pub fn parse_canonical(bytes: &[u8]) -> Result<Self, &'static str> {
        let entry: Self = serde_json::from_slice(bytes).map_err(|_| "not a valid entry")?;
        // Re-encode into a buffer of the same size and compare, without a second
        // allocation per entry in the common case.
        let mut encoded = Vec::with_capacity(bytes.len());
        serde_json::to_writer(&mut encoded, &entry).map_err(|_| "not a valid entry")?;
        if encoded != bytes {
            return Err("not in canonical form");
        }
        Ok(entry)
    }

    /// The leaf hash of the canonical bytes.
    #[must_use]
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.canonical())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn event() -> Event {
        Event {
            timestamp: datetime!(2026-01-12 22:00:00.000123 UTC),
            action: Action::Read,
            actor_id: Some("0193f1c2-7a6b-7c3d-9e4f-0123456789ab".into()),
            actor_type: ActorType::Human,
            scope: Scope::Practice(PracticeId::from_uuid(Uuid::from_u128(1))),
            patient_id: Some(Uuid::from_u128(2)),
            resource_type: ResourceType::Patient,
            resource_id: Some(Uuid::from_u128(2).to_string()),
            outcome: Outcome::Success,
            ip_address: Some("192.0.2.1".parse().unwrap()),
            user_agent: Some("dental-agent-router/1.0".into()),
            correlation_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            detail: BTreeMap::from([("fields", Detail::Code("phone".into()))]),
        }
    }

    /// The test vector of docs/audit.md: an entry's canonical bytes and leaf hash.
    #[test]
    fn the_documented_test_vector_holds() {
        let entry = Entry::new(&event(), 0, &[0; 32]);
        let canonical = String::from_utf8(entry.canonical()).unwrap();
        assert_eq!(
            canonical,
            concat!(
                r#"{"action":"read","actor_id":"0193f1c2-7a6b-7c3d-9e4f-0123456789ab","#,
                r#""actor_type":"human","correlation_id":"4bf92f3577b34da6a3ce929d0e0e4736","#,
                r#""detail":{"fields":{"code":"phone"}},"format":1,"index":0,"ip_address":"192.0.2.1","#,
                r#""outcome":"success","patient_id":"00000000-0000-0000-0000-000000000002","#,
                r#""prev":"0000000000000000000000000000000000000000000000000000000000000000","#,
                r#""resource_id":"00000000-0000-0000-0000-000000000002","resource_type":"patient","#,
                r#""scope":"00000000-0000-0000-0000-000000000001","#,
                r#""timestamp":"2026-01-12T22:00:00.000123Z","user_agent":"dental-agent-router/1.0"}"#
            )
        );
        assert_eq!(
            hex(&entry.leaf_hash()),
            hex(&leaf_hash(canonical.as_bytes()))
        );
    }

    #[test]
    fn an_event_encoded_ahead_gives_the_entry_at_any_place() {
        let mut tricky = event();
        // Values that contain the markers' text, escaped as JSON strings are.
        tricky.actor_id = Some(r#","index":0,"ip_address":"#.into());
        tricky.correlation_id = Some(r#","prev":"0000","resource_id":"#.into());
        tricky.user_agent = None;
        tricky.ip_address = None;
        for event in [event(), tricky] {
            let encoded = Encoded::new(&event);
            for (index, prev) in [(0, [0; 32]), (7, [0xab; 32]), (u64::MAX, [0xff; 32])] {
                assert_eq!(
                    encoded.at(index, &prev),
                    Entry::new(&event, index, &prev).canonical()
                );
            }
        }
    }

    #[test]
    fn canonical_bytes_parse_back_and_anything_else_is_refused() {
        let entry = Entry::new(&event(), 5, &[7; 32]);
        let bytes = entry.canonical();
        assert_eq!(Entry::parse_canonical(&bytes).unwrap(), entry);
        let spaced = String::from_utf8(bytes.clone())
            .unwrap()
            .replace(":\"read\"", ": \"read\"");
        assert!(Entry::parse_canonical(spaced.as_bytes()).is_err());
        let extra = String::from_utf8(bytes)
            .unwrap()
            .replacen('{', "{\"name\":\"x\",", 1);
        assert!(
            Entry::parse_canonical(extra.as_bytes()).is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn user_agents_are_bounded_and_stripped_of_control_characters() {
        let mut e = event();
        e.user_agent = Some(format!("evil\n{}", "x".repeat(1000)));
        let entry = Entry::new(&e, 0, &[0; 32]);
        let agent = entry.user_agent.unwrap();
        assert_eq!(agent.len(), 256);
        assert!(!agent.contains('\n'));
    }

    #[test]
    fn names_round_trip() {
        for action in [Action::Read, Action::Disclose, Action::AuditPurge] {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Scope::parse("platform"), Some(Scope::Platform));
        let practice = Scope::Practice(PracticeId::generate());
        assert_eq!(Scope::parse(&practice.key()), Some(practice));
    }
}
