//! The picture of an `image` CAPTCHA: an SVG a person reads and a script cannot
//! simply parse. The characters are not text: each is drawn from a 5×7 dot font
//! as jittered, rotated dots, among noise curves and dots. Rendering costs a few
//! hundred microseconds of CPU, so callers run it on the blocking pool.

use std::fmt::Write;

/// Characters that do not look alike (no 0/O, 1/I/L, 8/B, S/5).
pub const ALPHABET: &[u8] = b"2345679ACDEFHJKMNPRTUVWXY";
/// Characters in an answer.
pub const LENGTH: usize = 5;

/// Rows of a 5×7 dot glyph, top to bottom, most significant bit on the left.
fn glyph(c: u8) -> [u8; 7] {
    match c {
        b'2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        b'3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        b'4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        b'5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        b'6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        b'7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        b'9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        b'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        b'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        b'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        b'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        b'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        b'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        b'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        b'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        b'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        b'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        b'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        b'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        b'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        b'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        b'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        b'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        b'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        b'Y' => [0x11, 0x11, 0x0A, 0x04, 0x04, 0x04, 0x04],
        _ => [0; 7],
    }
}

/// A small fast generator (xorshift64*), seeded from the OS; the picture needs
/// variety, not cryptographic strength (the answer itself comes from [`answer`]).
struct Jitter(u64);

impl Jitter {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `[low, high)`.
    fn between(&mut self, low: f64, high: f64) -> f64 {
        low + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (high - low)
    }
}

/// A random answer from [`ALPHABET`], from the OS's randomness.
pub fn answer() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; LENGTH];
    getrandom::fill(&mut bytes)?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect())
}

/// The SVG picture of `answer`.
pub fn render(answer: &str, seed: u64) -> String {
    let mut rng = Jitter(seed | 1);
    let (width, height) = (220.0, 80.0);
    // Thin noise: it must hinder a script more than a person.
    let mut svg = String::with_capacity(16 * 1024);
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><rect width="100%" height="100%" fill="#f4f1ea"/>"##
    );
    for _ in 0..4 {
        let _ = write!(
            svg,
            r##"<path d="M{:.1} {:.1} Q{:.1} {:.1} {:.1} {:.1}" stroke="#{:06x}" stroke-width="{:.1}" fill="none" opacity=".7"/>"##,
            rng.between(0.0, 30.0),
            rng.between(0.0, height),
            rng.between(50.0, 170.0),
            rng.between(-40.0, height + 40.0),
            rng.between(190.0, width),
            rng.between(0.0, height),
            rng.next() & 0x7f7f7f,
            rng.between(0.8, 1.6)
        );
    }
    for (index, c) in answer.bytes().enumerate() {
        let x0 = 14.0 + index as f64 * 40.0 + rng.between(-4.0, 4.0);
        let y0 = 14.0 + rng.between(-6.0, 6.0);
        let angle = rng.between(-15.0, 15.0);
        let colour = rng.next() & 0x3f3f7f;
        let _ = write!(
            svg,
            r##"<g transform="rotate({angle:.1} {:.1} {:.1})" fill="#{colour:06x}">"##,
            x0 + 12.0,
            y0 + 24.0
        );
        for (row, bits) in glyph(c).iter().enumerate() {
            for column in 0..5 {
                if bits & (0x10 >> column) != 0 {
                    let _ = write!(
                        svg,
                        r#"<circle cx="{:.1}" cy="{:.1}" r="{:.1}"/>"#,
                        x0 + column as f64 * 6.0 + rng.between(-1.2, 1.2),
                        y0 + row as f64 * 7.5 + rng.between(-1.2, 1.2),
                        rng.between(2.1, 2.8)
                    );
                }
            }
        }
        svg.push_str("</g>");
    }
    for _ in 0..60 {
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="{:.1}" fill="#{:06x}" opacity=".6"/>"##,
            rng.between(0.0, width),
            rng.between(0.0, height),
            rng.between(0.5, 1.3),
            rng.next() & 0x7f7f7f
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Whether a typed answer matches: case and surrounding space do not matter.
pub fn matches(expected: &str, typed: &str) -> bool {
    let typed = typed.trim();
    typed.len() == expected.len() && typed.eq_ignore_ascii_case(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_of_the_alphabet_has_a_glyph() {
        for c in ALPHABET {
            assert!(glyph(*c).iter().any(|row| *row != 0), "{}", *c as char);
            assert!(glyph(*c).iter().all(|row| *row < 0x20));
        }
    }

    #[test]
    fn answers_use_the_alphabet() {
        let answer = answer().unwrap();
        assert_eq!(answer.len(), LENGTH);
        assert!(answer.bytes().all(|c| ALPHABET.contains(&c)));
    }

    #[test]
    fn the_picture_does_not_contain_the_answer_as_text() {
        let svg = render("K7M3P", 42);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("K7M3P") && !svg.contains("<text"));
        // Five glyphs, each a group of dots.
        assert_eq!(svg.matches("<g ").count(), 5);
    }

    #[test]
    fn typed_answers_ignore_case_and_spaces_only() {
        assert!(matches("K7M3P", " k7m3p "));
        assert!(!matches("K7M3P", "K7M3"));
        assert!(!matches("K7M3P", "K7M3PP"));
        assert!(!matches("K7M3P", ""));
    }
}
