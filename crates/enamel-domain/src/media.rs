//! The kinds of file a referral may carry.

use serde::Serialize;

/// The kinds of file a referral may carry, recognized by their first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum MediaType {
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "application/pdf")]
    Pdf,
    #[serde(rename = "application/dicom")]
    Dicom,
}

impl MediaType {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Pdf => "application/pdf",
            Self::Dicom => "application/dicom",
        }
    }

    /// Parses [`MediaType::as_str`].
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Jpeg, Self::Png, Self::Pdf, Self::Dicom]
            .into_iter()
            .find(|m| m.as_str() == raw)
    }

    /// Bytes needed to recognize any of the kinds (DICOM's marker is at 128).
    pub const SNIFF_LEN: usize = 132;

    /// The kind `head` (the file's first bytes) is, judged by content alone, never
    /// by name: JPEG `FF D8 FF`, PNG's 8-byte signature, `%PDF-`, and DICOM's
    /// 128-byte preamble followed by `DICM`.
    #[must_use]
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(Self::Png)
        } else if head.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if head.len() >= 132 && &head[128..132] == b"DICM" {
            Some(Self::Dicom)
        } else {
            None
        }
    }

    /// Whether a browser may show it inline as a preview.
    #[must_use]
    pub const fn is_image(self) -> bool {
        matches!(self, Self::Jpeg | Self::Png)
    }
}
