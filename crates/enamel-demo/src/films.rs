//! Synthetic radiographs for the demo's referrals: a periapical film drawn from
//! nothing (a tooth's crown, pulp and roots over bone), written as a PNG and as a
//! small DICOM file (intra-oral X-ray, explicit VR little endian). No real image or
//! patient is behind them; the DICOM file names its patient `SYNTHETIC^DEMO`.
//!
//! Both encoders are the formats' simplest valid forms: PNG with uncompressed
//! ("stored") deflate blocks, DICOM with only the attributes a viewer needs to show
//! the pixels. A demo file is a few tens of kilobytes either way.

/// A grey-scale image, one byte a pixel, row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Film {
    pub width: u16,
    pub height: u16,
    pub pixels: Vec<u8>,
}

/// A periapical film of one tooth; `variant` moves the tooth and changes its roots,
/// so the demo's files differ from each other.
#[must_use]
pub fn periapical(variant: u32) -> Film {
    let (width, height) = (240_u16, 320_u16);
    let w = f64::from(width);
    let centre = w / 2.0 + f64::from(variant % 5) * 6.0 - 12.0;
    let two_roots = variant.is_multiple_of(2);
    let mut pixels = Vec::with_capacity(usize::from(width) * usize::from(height));
    for row in 0..height {
        for column in 0..width {
            let (x, y) = (f64::from(column), f64::from(row));
            // Bone: a grainy mid-grey, darker towards the film's edges.
            let grain = f64::from(noise(column.into(), row.into(), variant) % 24);
            let vignette = 1.0 - ((x - w / 2.0).abs() / w).powi(2);
            let mut level = 70.0 * vignette + grain;
            // Crown: an ellipse of enamel at the top, brightest.
            let crown = ((x - centre) / 62.0).powi(2) + ((y - 80.0) / 58.0).powi(2);
            if crown <= 1.0 {
                level = 215.0 + grain / 2.0;
                // The pulp chamber inside it.
                if ((x - centre) / 20.0).powi(2) + ((y - 95.0) / 22.0).powi(2) <= 1.0 {
                    level = 110.0 + grain;
                }
            }
            // Roots: tapering bands of dentine below the crown, with their canals.
            if y > 110.0 && y < 290.0 {
                let taper = 1.0 - (y - 110.0) / 220.0;
                let roots: &[f64] = if two_roots { &[-30.0, 30.0] } else { &[0.0] };
                for offset in roots {
                    let axis = centre + offset * (1.0 + (y - 110.0) / 400.0);
                    let distance = (x - axis).abs();
                    if distance < 22.0 * taper {
                        level = if distance < 4.0 * taper {
                            95.0 + grain
                        } else {
                            175.0 + grain / 2.0
                        };
                    }
                }
            }
            pixels.push(grey(level));
        }
    }
    Film {
        width,
        height,
        pixels,
    }
}

/// A level as a pixel: clamped to 0..=255 first, so the cast keeps every value.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn grey(level: f64) -> u8 {
    level.clamp(0.0, 255.0) as u8
}

/// A cheap, repeatable hash for the bone's grain.
fn noise(x: u32, y: u32, seed: u32) -> u32 {
    let mut n = x
        .wrapping_mul(374_761_393)
        .wrapping_add(y.wrapping_mul(668_265_263))
        .wrapping_add(seed.wrapping_mul(2_147_483_647));
    n = (n ^ (n >> 13)).wrapping_mul(1_274_126_177);
    n ^ (n >> 16)
}

/// The film as a PNG (8-bit grey-scale).
#[must_use]
pub fn png(film: &Film) -> Vec<u8> {
    let mut raw = Vec::with_capacity(film.pixels.len() + usize::from(film.height));
    for row in film.pixels.chunks(usize::from(film.width)) {
        raw.push(0); // filter type: none
        raw.extend_from_slice(row);
    }
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&u32::from(film.width).to_be_bytes());
    header.extend_from_slice(&u32::from(film.height).to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]); // 8 bits, grey, deflate, adaptive, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, *b"IHDR", &header);
    chunk(&mut out, *b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, *b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
    let length = u32::try_from(data.len()).expect("a demo chunk is small");
    out.extend_from_slice(&length.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(&kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of uncompressed deflate blocks (RFC 1950, RFC 1951 section 3.2.4).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(0xFFFF).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).expect("a block is at most 65535 bytes");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1_u32, 0_u32);
    for byte in data {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// CRC-32 (ISO 3309, the polynomial PNG names), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFF_u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Digital Intra-Oral X-Ray Image Storage, for presentation (DICOM PS3.4).
const INTRA_ORAL_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.1.3";
/// Explicit VR little endian.
const TRANSFER_SYNTAX: &str = "1.2.840.10008.1.2.1";
/// A UUID-derived root (ITU-T X.667, `2.25.`) naming Enamel's demo as the writer.
const IMPLEMENTATION_CLASS: &str = "2.25.160528471234567890123456789012345678";

/// The film as a DICOM Part 10 file: preamble, `DICM`, the file meta group, then
/// the image's attributes and pixels. `instance` makes the SOP instance UID unique.
#[must_use]
pub fn dicom(film: &Film, instance: u128) -> Vec<u8> {
    let instance_uid = format!("2.25.{instance}");
    let mut meta = Vec::new();
    element(&mut meta, (0x0002, 0x0001), *b"OB", &[0, 1]);
    element(
        &mut meta,
        (0x0002, 0x0002),
        *b"UI",
        &uid(INTRA_ORAL_SOP_CLASS),
    );
    element(&mut meta, (0x0002, 0x0003), *b"UI", &uid(&instance_uid));
    element(&mut meta, (0x0002, 0x0010), *b"UI", &uid(TRANSFER_SYNTAX));
    element(
        &mut meta,
        (0x0002, 0x0012),
        *b"UI",
        &uid(IMPLEMENTATION_CLASS),
    );
    let mut out = vec![0_u8; 128];
    out.extend_from_slice(b"DICM");
    let meta_length = u32::try_from(meta.len()).expect("the meta group is small");
    element(
        &mut out,
        (0x0002, 0x0000),
        *b"UL",
        &meta_length.to_le_bytes(),
    );
    out.extend_from_slice(&meta);
    element(
        &mut out,
        (0x0008, 0x0016),
        *b"UI",
        &uid(INTRA_ORAL_SOP_CLASS),
    );
    element(&mut out, (0x0008, 0x0018), *b"UI", &uid(&instance_uid));
    element(&mut out, (0x0008, 0x0060), *b"CS", &text("IO"));
    element(&mut out, (0x0010, 0x0010), *b"PN", &text("SYNTHETIC^DEMO"));
    element(&mut out, (0x0028, 0x0002), *b"US", &1_u16.to_le_bytes());
    element(&mut out, (0x0028, 0x0004), *b"CS", &text("MONOCHROME2"));
    element(
        &mut out,
        (0x0028, 0x0010),
        *b"US",
        &film.height.to_le_bytes(),
    );
    element(
        &mut out,
        (0x0028, 0x0011),
        *b"US",
        &film.width.to_le_bytes(),
    );
    element(&mut out, (0x0028, 0x0100), *b"US", &8_u16.to_le_bytes());
    element(&mut out, (0x0028, 0x0101), *b"US", &8_u16.to_le_bytes());
    element(&mut out, (0x0028, 0x0102), *b"US", &7_u16.to_le_bytes());
    element(&mut out, (0x0028, 0x0103), *b"US", &0_u16.to_le_bytes());
    let mut pixels = film.pixels.clone();
    if pixels.len() % 2 == 1 {
        pixels.push(0);
    }
    element(&mut out, (0x7FE0, 0x0010), *b"OB", &pixels);
    out
}

/// One data element in explicit VR little endian: OB has a reserved field and a
/// 32-bit length, the short VRs a 16-bit length (PS3.5 section 7.1.2).
fn element(out: &mut Vec<u8>, (group, number): (u16, u16), vr: [u8; 2], value: &[u8]) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&number.to_le_bytes());
    out.extend_from_slice(&vr);
    if &vr == b"OB" {
        out.extend_from_slice(&[0, 0]);
        let length = u32::try_from(value.len()).expect("a demo value is small");
        out.extend_from_slice(&length.to_le_bytes());
    } else {
        let length = u16::try_from(value.len()).expect("a short value");
        out.extend_from_slice(&length.to_le_bytes());
    }
    out.extend_from_slice(value);
}

/// A UID value, padded to an even length with a NUL.
fn uid(value: &str) -> Vec<u8> {
    let mut bytes = value.as_bytes().to_vec();
    if bytes.len() % 2 == 1 {
        bytes.push(0);
    }
    bytes
}

/// A text value, padded to an even length with a space.
fn text(value: &str) -> Vec<u8> {
    let mut bytes = value.as_bytes().to_vec();
    if bytes.len() % 2 == 1 {
        bytes.push(b' ');
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crc_and_adler_match_their_published_check_values() {
        // The "123456789" check values of CRC-32 and Adler-32.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let stream = zlib_stored(b"123456789");
        assert_eq!(&stream[stream.len() - 4..], &0x091E_01DE_u32.to_be_bytes());
    }

    #[test]
    fn the_png_is_well_formed() {
        let film = periapical(3);
        let png = png(&film);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 240);
        assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 320);
        // Each chunk's CRC covers its type and data.
        assert_eq!(
            u32::from_be_bytes(png[29..33].try_into().unwrap()),
            crc32(&png[12..29])
        );
        assert!(png.ends_with(b"IEND\xAE\x42\x60\x82"));
        assert_eq!(
            enamel_domain::MediaType::sniff(&png),
            Some(enamel_domain::MediaType::Png)
        );
    }

    #[test]
    fn the_dicom_file_is_recognised_and_holds_the_pixels() {
        let film = periapical(4);
        let part10 = dicom(&film, 42);
        assert_eq!(&part10[128..132], b"DICM");
        assert_eq!(
            enamel_domain::MediaType::sniff(&part10),
            Some(enamel_domain::MediaType::Dicom)
        );
        // The file meta group's length names exactly the elements that follow it.
        let meta_length = u32::from_le_bytes(part10[140..144].try_into().unwrap()) as usize;
        assert_eq!(
            &part10[144 + meta_length..144 + meta_length + 4],
            &[0x08, 0, 0x16, 0]
        );
        assert!(part10.ends_with(&film.pixels));
        assert_eq!(film.pixels.len() % 2, 0);
    }

    #[test]
    fn variants_differ() {
        assert_ne!(periapical(1).pixels, periapical(2).pixels);
        // The crown is brighter than the bone around it.
        let film = periapical(0);
        let at = |x: usize, y: usize| film.pixels[y * 240 + x];
        assert!(at(120 - 50, 60) > at(5, 60) + 80);
    }
}
