//! The one rule for text that arrives from outside: no control characters (a
//! newline or tab only in free-text fields), and a bound on length. Every JSON
//! body, form and query string is checked against it at the edge, before any
//! handler sees it, so that no NUL reaches PostgreSQL (which refuses it in text)
//! and no control character is stored and rendered back into a page.

/// How a field's text is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextRule {
    /// One line: no control character at all, at most [`LINE_MAX_CHARS`].
    Line,
    /// Free text a person writes (a note, a message, a reason): newlines and tabs
    /// allowed, no other control character, at most [`FREE_MAX_CHARS`].
    Free,
}

/// The most characters of a one-line field.
pub const LINE_MAX_CHARS: usize = 1_000;
/// The most characters of a free-text field (a referral's notes are the longest).
pub const FREE_MAX_CHARS: usize = 10_000;

/// The fields, by name, that hold free text; every other field is one line.
pub const FREE_TEXT_FIELDS: &[&str] = &["body", "note", "notes", "reason", "text", "message"];

impl TextRule {
    /// The rule for a field named `field`.
    #[must_use]
    pub fn for_field(field: &str) -> Self {
        if FREE_TEXT_FIELDS.contains(&field) {
            Self::Free
        } else {
            Self::Line
        }
    }

    /// Checks `value`; the error says which rule it broke, never the value.
    pub fn check(self, value: &str) -> Result<(), &'static str> {
        let (max, allowed): (usize, &[char]) = match self {
            Self::Line => (LINE_MAX_CHARS, &[]),
            Self::Free => (FREE_MAX_CHARS, &['\n', '\r', '\t']),
        };
        if value
            .chars()
            .any(|c| c.is_control() && !allowed.contains(&c))
        {
            return Err(match self {
                Self::Line => "must not contain control characters (such as a line break)",
                Self::Free => "must not contain control characters other than line breaks and tabs",
            });
        }
        if value.chars().count() > max {
            return Err(match self {
                Self::Line => "is too long (at most 1,000 characters)",
                Self::Free => "is too long (at most 10,000 characters)",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_takes_no_control_character_and_free_text_only_line_breaks_and_tabs() {
        assert!(TextRule::Line.check("Lone Star Endodontics").is_ok());
        for bad in ["a\0b", "a\nb", "a\tb", "a\u{1b}[31m", "a\u{7f}", "a\u{85}b"] {
            assert!(TextRule::Line.check(bad).is_err(), "{bad:?}");
        }
        assert!(TextRule::Free.check("first line\r\n\tsecond").is_ok());
        for bad in ["a\0b", "a\u{1b}[31m", "a\u{8}"] {
            assert!(TextRule::Free.check(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn length_is_bounded_in_characters() {
        assert!(TextRule::Line.check(&"é".repeat(LINE_MAX_CHARS)).is_ok());
        assert!(
            TextRule::Line
                .check(&"é".repeat(LINE_MAX_CHARS + 1))
                .is_err()
        );
        assert!(
            TextRule::Free
                .check(&"x".repeat(FREE_MAX_CHARS + 1))
                .is_err()
        );
        assert_eq!(TextRule::for_field("notes"), TextRule::Free);
        assert_eq!(TextRule::for_field("services"), TextRule::Line);
    }
}
