//! Checking that bytes are a canonical entry in one pass, without building one.
//!
//! [`Entry::parse_canonical`](crate::entry::Entry::parse_canonical) parses with serde
//! and re-encodes to compare; it is the reference. Verification reads every entry of
//! a log, so it uses this scanner instead: it walks the canonical grammar of
//! docs/audit.md byte by byte (keys in their fixed order, JSON's standard escapes
//! only, integers without leading zeros, lower-case hyphenated UUIDs, `detail` keys
//! strictly ascending) and borrows the three fields verification compares. It accepts
//! exactly what the reference accepts; a test holds the two to that over many
//! mutated entries.

/// What verification needs from a canonical entry, borrowed from its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scanned<'a> {
    pub index: u64,
    /// The `scope` string as written (canonical, so without escapes for any scope
    /// Enamel writes).
    pub scope: &'a [u8],
    /// The `prev` string as written.
    pub prev: &'a [u8],
}

/// The bytes are not a canonical entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NotCanonical;

type Scan<T> = Result<T, NotCanonical>;

/// Scans `bytes` as a canonical entry.
pub fn scan(bytes: &[u8]) -> Result<Scanned<'_>, NotCanonical> {
    // Valid UTF-8 once for the whole entry; the grammar below is ASCII, so any
    // byte above 0x7f it meets is inside a string.
    std::str::from_utf8(bytes).map_err(|_| NotCanonical)?;
    let mut c = Cursor { bytes, at: 0 };
    c.literal(b"{\"action\":")?;
    c.string()?;
    c.literal(b",\"actor_id\":")?;
    c.optional_string()?;
    c.literal(b",\"actor_type\":")?;
    c.string()?;
    c.literal(b",\"correlation_id\":")?;
    c.optional_string()?;
    c.literal(b",\"detail\":")?;
    c.detail()?;
    c.literal(b",\"format\":")?;
    c.integer(u64::from(u32::MAX))?;
    c.literal(b",\"index\":")?;
    let index = c.integer(u64::MAX)?;
    c.literal(b",\"ip_address\":")?;
    c.optional_string()?;
    c.literal(b",\"outcome\":")?;
    c.string()?;
    c.literal(b",\"patient_id\":")?;
    if !c.null() {
        c.uuid()?;
    }
    c.literal(b",\"prev\":")?;
    let prev = c.string()?;
    c.literal(b",\"resource_id\":")?;
    c.optional_string()?;
    c.literal(b",\"resource_type\":")?;
    c.string()?;
    c.literal(b",\"scope\":")?;
    let scope = c.string()?;
    c.literal(b",\"timestamp\":")?;
    c.string()?;
    c.literal(b",\"user_agent\":")?;
    c.optional_string()?;
    c.literal(b"}")?;
    if c.at != bytes.len() {
        return Err(NotCanonical);
    }
    Ok(Scanned { index, scope, prev })
}

/// Whether `text` (an entry's `prev`) is the lower-case hex of `hash`.
#[must_use]
pub fn is_hex_of(text: &[u8], hash: &[u8; 32]) -> bool {
    use crate::entry::HEX_DIGITS as DIGITS;
    text.len() == 64
        && hash.iter().enumerate().all(|(i, byte)| {
            text[2 * i] == DIGITS[usize::from(byte >> 4)]
                && text[2 * i + 1] == DIGITS[usize::from(byte & 0x0f)]
        })
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn literal(&mut self, expected: &[u8]) -> Scan<()> {
        if self.bytes[self.at..].starts_with(expected) {
            self.at += expected.len();
            Ok(())
        } else {
            Err(NotCanonical)
        }
    }

    fn null(&mut self) -> bool {
        self.literal(b"null").is_ok()
    }

    fn optional_string(&mut self) -> Scan<()> {
        if !self.null() {
            self.string()?;
        }
        Ok(())
    }

    /// A string as `serde_json` writes it; returns its contents as written.
    fn string(&mut self) -> Scan<&'a [u8]> {
        self.literal(b"\"")?;
        let start = self.at;
        loop {
            // Jump to the next quote or backslash; what lies before it must hold no
            // raw control character.
            let rest = &self.bytes[self.at..];
            let stop = memchr::memchr2(b'"', b'\\', rest).ok_or(NotCanonical)?;
            if rest[..stop].iter().any(|&b| b < 0x20) {
                return Err(NotCanonical);
            }
            self.at += stop + 1;
            if rest[stop] == b'"' {
                return Ok(&self.bytes[start..self.at - 1]);
            }
            self.escape()?;
        }
    }

    /// After a backslash: the escapes `serde_json` writes, and no others (a control
    /// character without a short form is `\u00` and two lower-case hex digits).
    fn escape(&mut self) -> Scan<()> {
        let byte = self.peek().ok_or(NotCanonical)?;
        self.at += 1;
        match byte {
            b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(()),
            b'u' => {
                let digits = self.bytes.get(self.at..self.at + 4).ok_or(NotCanonical)?;
                self.at += 4;
                let value = match digits {
                    [b'0', b'0', high @ b'0'..=b'1', low] => {
                        ((high - b'0') << 4) | lower_hex_digit(*low)?
                    }
                    _ => return Err(NotCanonical),
                };
                // These five have short forms, which serde_json uses.
                if matches!(value, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                    Err(NotCanonical)
                } else {
                    Ok(())
                }
            }
            _ => Err(NotCanonical),
        }
    }

    /// A non-negative integer without leading zeros, at most `max`.
    fn integer(&mut self, max: u64) -> Scan<u64> {
        let start = self.at;
        let mut value: u64 = 0;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(digit - b'0')))
                .ok_or(NotCanonical)?;
            self.at += 1;
        }
        let digits = self.at - start;
        if digits == 0 || (digits > 1 && self.bytes[start] == b'0') || value > max {
            return Err(NotCanonical);
        }
        Ok(value)
    }

    /// A UUID as the `uuid` crate writes it: lower-case, hyphenated, quoted.
    fn uuid(&mut self) -> Scan<()> {
        let text = self.bytes.get(self.at..self.at + 38).ok_or(NotCanonical)?;
        let (quote_open, inner, quote_close) = (text[0], &text[1..37], text[37]);
        let well_formed = quote_open == b'"'
            && quote_close == b'"'
            && inner.iter().enumerate().all(|(i, &b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => lower_hex_digit(b).is_ok(),
            });
        if !well_formed {
            return Err(NotCanonical);
        }
        self.at += 38;
        Ok(())
    }

    /// `detail`: an object whose keys ascend strictly (as decoded) and whose
    /// values are each one of the four kinds of docs/audit.md.
    fn detail(&mut self) -> Scan<()> {
        self.literal(b"{")?;
        if self.literal(b"}").is_ok() {
            return Ok(());
        }
        let mut previous: Option<Vec<u8>> = None;
        loop {
            let key = unescape(self.string()?);
            if previous.as_ref().is_some_and(|p| *p >= key) {
                return Err(NotCanonical);
            }
            previous = Some(key);
            self.literal(b":")?;
            self.detail_value()?;
            if self.literal(b"}").is_ok() {
                return Ok(());
            }
            self.literal(b",")?;
        }
    }

    fn detail_value(&mut self) -> Scan<()> {
        if self.literal(b"{\"count\":").is_ok() {
            self.integer(u64::MAX)?;
        } else if self.literal(b"{\"ids\":[").is_ok() {
            if self.literal(b"]").is_err() {
                loop {
                    self.uuid()?;
                    if self.literal(b"]").is_ok() {
                        break;
                    }
                    self.literal(b",")?;
                }
            }
        } else if self.literal(b"{\"keyed_hash\":").is_ok() || self.literal(b"{\"code\":").is_ok() {
            self.string()?;
        } else {
            return Err(NotCanonical);
        }
        self.literal(b"}")
    }
}

fn lower_hex_digit(byte: u8) -> Scan<u8> {
    match byte {
        b'0'..=b'9' => Ok(byte - b'0'),
        b'a'..=b'f' => Ok(byte - b'a' + 10),
        _ => Err(NotCanonical),
    }
}

/// The bytes a canonical string's contents stand for (already checked by
/// [`Cursor::string`]), to order `detail` keys as the map that wrote them did.
fn unescape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied();
    while let Some(byte) = bytes.next() {
        if byte != b'\\' {
            out.push(byte);
            continue;
        }
        match bytes.next() {
            Some(b'b') => out.push(0x08),
            Some(b'f') => out.push(0x0c),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'u') => {
                let digits: Vec<u8> = bytes.by_ref().take(4).collect();
                let value = digits.iter().try_fold(0_u8, |v, &d| {
                    Ok::<_, NotCanonical>((v << 4) | lower_hex_digit(d)?)
                });
                out.push(value.unwrap_or_default());
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use enamel_domain::{ActorType, PracticeId};
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;
    use crate::entry::{Action, Detail, Encoded, Entry, Event, Outcome, ResourceType, Scope};
    use crate::merkle::leaf_hash;

    /// A small deterministic generator (xorshift64*), so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap()
        }

        fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
    }

    /// Strings with everything a canonical encoder must get right.
    const AWKWARD: &[&str] = &[
        "",
        "plain",
        "quote \" and backslash \\",
        "tab\tnew\nline\r",
        "bell \u{7} null \u{0} unit \u{1f} del \u{7f}",
        "é, 歯, 🦷",
        "slash / and <html>",
    ];

    fn event(rng: &mut Rng) -> Event {
        let mut detail = BTreeMap::new();
        let keys = ["fields", "returned", "count", "hash", "zeta", "a"];
        for _ in 0..rng.below(4) {
            let value = match rng.below(4) {
                0 => Detail::Count(rng.next() >> rng.below(64)),
                1 => Detail::Ids(
                    (0..rng.below(3))
                        .map(|_| Uuid::from_u128(u128::from(rng.next())))
                        .collect(),
                ),
                2 => Detail::KeyedHash((*rng.pick(AWKWARD)).to_owned()),
                _ => Detail::Code((*rng.pick(AWKWARD)).to_owned()),
            };
            detail.insert(*rng.pick(&keys), value);
        }
        let optional = |rng: &mut Rng| (rng.below(3) > 0).then(|| (*rng.pick(AWKWARD)).to_owned());
        Event {
            timestamp: datetime!(2026-01-12 22:00:00.000123 UTC),
            action: *rng.pick(&[Action::Read, Action::Search, Action::Disclose]),
            actor_id: optional(rng),
            actor_type: *rng.pick(&[ActorType::Human, ActorType::Agent, ActorType::System]),
            scope: if rng.below(2) == 0 {
                Scope::Platform
            } else {
                Scope::Practice(PracticeId::from_uuid(Uuid::from_u128(u128::from(
                    rng.next(),
                ))))
            },
            patient_id: (rng.below(2) == 0).then(|| Uuid::from_u128(u128::from(rng.next()) << 64)),
            resource_type: ResourceType::Patient,
            resource_id: optional(rng),
            outcome: *rng.pick(&[Outcome::Success, Outcome::Denied]),
            ip_address: (rng.below(2) == 0).then(|| "2001:db8::1".parse().unwrap()),
            user_agent: optional(rng),
            correlation_id: optional(rng),
            detail,
        }
    }

    /// One random edit of the kinds tampering and corruption produce.
    fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
        const INTERESTING: &[u8] =
            b"{}[]:,\"\\ 0123456789abcdefABCDEF-nulbtrfuxz\x00\x1f\x7f\xc3\xa9";
        let mut out = bytes.to_vec();
        let at = rng.below(out.len());
        match rng.below(6) {
            0 => out[at] = *rng.pick(INTERESTING),
            1 => {
                out.remove(at);
            }
            2 => out.insert(at, *rng.pick(INTERESTING)),
            3 => out[at] ^= 1 << rng.below(8),
            4 => {
                let end = (at + 1 + rng.below(12)).min(out.len());
                let copy = out[at..end].to_vec();
                let to = rng.below(out.len());
                out.splice(to..to, copy);
            }
            _ => out.truncate(at),
        }
        out
    }

    fn same_verdict(bytes: &[u8]) {
        let reference = Entry::parse_canonical(bytes);
        let scanned = scan(bytes);
        match (&reference, &scanned) {
            (Ok(entry), Ok(fields)) => {
                assert_eq!(entry.index, fields.index);
                // As written; an escape can only stand for a character that hex and
                // scope keys never contain, so comparing as written is comparing the
                // values.
                assert_eq!(entry.scope.as_bytes(), unescape(fields.scope));
                assert_eq!(entry.prev.as_bytes(), unescape(fields.prev));
            }
            (Err(_), Err(_)) => {}
            _ => panic!(
                "the scanner and the reference disagree ({:?} vs {:?}) on {}",
                reference.is_ok(),
                scanned.is_ok(),
                String::from_utf8_lossy(bytes)
            ),
        }
    }

    #[test]
    fn the_scanner_accepts_exactly_what_the_reference_accepts() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut accepted_mutations = 0;
        for i in 0..3_000 {
            let (event, prev) = (event(&mut rng), [u8::try_from(i % 256).unwrap(); 32]);
            let entry = Entry::new(&event, rng.next() >> rng.below(64), &prev);
            let bytes = entry.canonical();
            // The writer's way of encoding gives the same bytes.
            assert_eq!(Encoded::new(&event).at(entry.index, &prev), bytes);
            let fields = scan(&bytes).expect("a canonical entry scans");
            assert_eq!(fields.index, entry.index);
            for _ in 0..20 {
                let mutated = mutate(&mut rng, &bytes);
                same_verdict(&mutated);
                if mutated != bytes && Entry::parse_canonical(&mutated).is_ok() {
                    accepted_mutations += 1;
                }
            }
        }
        // Some edits leave a canonical entry (a digit changed, a letter in a string):
        // those are for the hashes to catch. The test must have seen both kinds.
        assert!(accepted_mutations > 100, "{accepted_mutations}");
    }

    #[test]
    fn hand_picked_near_misses_are_refused_by_both() {
        let entry = Entry::new(&event(&mut Rng(7)), 12, &[0xab; 32]);
        let text = String::from_utf8(entry.canonical()).unwrap();
        let near_misses = [
            text.replace("\"index\":12", "\"index\":012"),
            text.replace("\"index\":12", "\"index\":-12"),
            text.replace("\"index\":12", "\"index\":12.0"),
            text.replace("\"index\":12", "\"index\":18446744073709551616"),
            text.replace("\"format\":1", "\"format\":4294967296"),
            text.replace("\"index\":12", "\"index\": 12"),
            format!("{text}\n"),
            format!(" {text}"),
            text.replacen("\"action\":\"", "\"action\":\"\\u0041", 1),
            text.replacen("\"action\":\"", "\"action\":\"\\/", 1),
            text.replacen("\"action\":\"", "\"action\":\"\\u000a", 1),
            text.replacen("\"action\":\"", "\"action\":\"\\u001F", 1),
            text.replacen(
                "\"detail\":{",
                "\"detail\":{\"b\":{\"count\":1},\"a\":{\"count\":1},",
                1,
            ),
            text.replacen(
                "\"detail\":{",
                "\"detail\":{\"a\":{\"count\":1},\"a\":{\"count\":1},",
                1,
            ),
            text.replacen("\"detail\":{", "\"detail\":{\"a\":{\"text\":\"x\"},", 1),
        ];
        for miss in &near_misses {
            assert!(scan(miss.as_bytes()).is_err(), "{miss}");
            same_verdict(miss.as_bytes());
        }
        let fine = text.replacen("\"detail\":{", "\"detail\":{\"\\u0001\":{\"count\":1},", 1);
        if entry.detail.keys().all(|k| k.as_str() > "\u{1}") {
            same_verdict(fine.as_bytes());
            assert!(scan(fine.as_bytes()).is_ok(), "{fine}");
        }
    }

    #[test]
    fn hex_comparison_matches_hex_encoding() {
        let hash = leaf_hash(b"x");
        assert!(is_hex_of(crate::entry::hex(&hash).as_bytes(), &hash));
        assert!(!is_hex_of(
            crate::entry::hex(&hash).to_uppercase().as_bytes(),
            &hash
        ));
        assert!(!is_hex_of(
            &crate::entry::hex(&hash).as_bytes()[..62],
            &hash
        ));
        assert!(!is_hex_of(
            crate::entry::hex(&leaf_hash(b"y")).as_bytes(),
            &hash
        ));
    }
}
