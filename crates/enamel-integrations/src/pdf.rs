//! Plain text as a PDF (Helvetica, ASCII, US Letter): a faxed office notice, an
//! executed agreement. Long lines wrap at word boundaries and pages follow one
//! another, so nothing is cut off. Written by hand: a PDF of text lines is a few
//! objects, and a PDF library would be far more than this needs.

/// Characters per line before wrapping (12 pt Helvetica in 6.5 inches).
const WIDTH: usize = 88;
/// Lines per page (16 pt leading in 9.5 inches).
const LINES_PER_PAGE: usize = 42;

/// A PDF of `title` and `body`, paginated.
#[must_use]
pub fn text_pdf(title: &str, body: &str) -> Vec<u8> {
    let lines = wrap(std::iter::once(title).chain(body.lines()));
    let pages: Vec<&[String]> = if lines.is_empty() {
        vec![&[]]
    } else {
        lines.chunks(LINES_PER_PAGE).collect()
    };
    // 1 catalog, 2 pages, 3 font, then a page and its content for each page.
    let page_ids: Vec<usize> = (0..pages.len()).map(|i| 4 + 2 * i).collect();
    let kids = page_ids
        .iter()
        .map(|id| format!("{id} 0 R"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        format!("<< /Type /Pages /Kids [{kids}] /Count {} >>", pages.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    for (page, id) in pages.iter().zip(&page_ids) {
        let mut content = String::from("BT /F1 12 Tf 72 740 Td 16 TL\n");
        for line in *page {
            content.push('(');
            content.push_str(&escape(line));
            content.push_str(") '\n");
        }
        content.push_str("ET");
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {} 0 R \
             /Resources << /Font << /F1 3 0 R >> >> >>",
            id + 1
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The lines, each cut at word boundaries to at most [`WIDTH`] characters.
fn wrap<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out = Vec::new();
    for line in lines {
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.is_empty() && current.len() + 1 + word.len() > WIDTH {
                out.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        out.push(current);
    }
    out
}

/// A line as a PDF string: ASCII only, parentheses and backslashes escaped.
fn escape(line: &str) -> String {
    line.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .flat_map(|c| match c {
            '(' | ')' | '\\' => vec!['\\', c],
            other => vec![other],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_wraps_and_runs_onto_more_pages_with_a_valid_cross_reference() {
        let body = "word ".repeat(2_000);
        let pdf = text_pdf("Title (draft)", &body);
        let text = String::from_utf8(pdf.clone()).unwrap();
        assert!(text.starts_with("%PDF-1.4\n") && text.ends_with("%%EOF\n"));
        let pages = text.matches("/Type /Page ").count();
        assert!(pages > 1, "{pages} pages");
        assert!(text.contains(&format!("/Count {pages}")));
        assert!(text.contains("(Title \\(draft\\)) '"));
        // Every object's offset in the table points at that object.
        let xref_at: usize = text
            .rsplit("startxref\n")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let table = &text[xref_at..];
        for (i, line) in table.lines().skip(3).take(3 + 2 * pages).enumerate() {
            let offset: usize = line[..10].parse().unwrap();
            assert!(
                text[offset..].starts_with(&format!("{} 0 obj", i + 1)),
                "object {}",
                i + 1
            );
        }
        assert!(
            wrap(std::iter::once(body.as_str()))
                .iter()
                .all(|l| l.len() <= WIDTH)
        );
    }
}
