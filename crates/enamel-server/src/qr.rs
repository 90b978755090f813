//! QR codes as inline SVG (the second-factor enrolment page), drawn from
//! `qrcodegen`'s module grid: no image crate, no script, nothing fetched.

use std::fmt::Write as _;

use qrcodegen::{QrCode, QrCodeEcc};

/// An SVG of `text` as a QR code with a four-module quiet zone.
pub(crate) fn svg(text: &str) -> String {
    let Ok(code) = QrCode::encode_text(text, QrCodeEcc::Medium) else {
        return String::new();
    };
    let size = code.size();
    let border = 4;
    let dimension = size + border * 2;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if code.get_module(x, y) {
                let _ = write!(path, "M{},{}h1v1h-1z", x + border, y + border);
            }
        }
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dimension} {dimension}\" \
         role=\"img\" aria-label=\"QR code for your authenticator app\" shape-rendering=\"crispEdges\">\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/><path d=\"{path}\" fill=\"#000000\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_svg_has_a_path_of_modules_and_a_label() {
        let svg = super::svg("otpauth://totp/Enamel:a?secret=MZXW6YTBOI");
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("aria-label"));
        assert!(svg.matches('M').count() > 100);
    }
}
