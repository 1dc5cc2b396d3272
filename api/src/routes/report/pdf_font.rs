//! The PDF report's fonts: DejaVu Sans and DejaVu Sans Bold from the system (Debian package
//! `fonts-dejavu-core`, which `deploy/setup.sh` installs), read once per process. A TrueType font with the
//! whole of Latin-1 and more, so umlauts, `ß`, `€`, `²`, `CO₂` and `−` print as they are; krilla embeds
//! only the glyphs used. Widths come from the same shaper krilla draws with (rustybuzz), so a
//! right-aligned figure ends where it should.

use std::sync::OnceLock;

use krilla::text::Font;

/// Where Debian (first), Fedora and Arch put DejaVu Sans.
const DIRS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu-sans-fonts",
    "/usr/share/fonts/TTF",
];

/// One face: for krilla (drawing) and rustybuzz (measuring).
pub(super) struct Face {
    /// What krilla draws with.
    pub font: Font,
    shaper: rustybuzz::Face<'static>,
}

impl Face {
    fn load(file: &str) -> Option<Face> {
        let bytes = DIRS
            .iter()
            .find_map(|d| std::fs::read(format!("{d}/{file}")).ok())?;
        // Read once per process and kept for its lifetime (two files of < 1 MB).
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        Some(Face {
            font: Font::new(bytes.into(), 0)?,
            shaper: rustybuzz::Face::from_slice(bytes, 0)?,
        })
    }

    /// Width of `text` at `size` pt, as drawn.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let mut buf = rustybuzz::UnicodeBuffer::new();
        buf.push_str(text);
        let out = rustybuzz::shape(&self.shaper, &[], buf);
        let units: i32 = out.glyph_positions().iter().map(|p| p.x_advance).sum();
        units as f32 * size / self.shaper.units_per_em() as f32
    }

    /// `text`, cut and ended with `…` when wider than `max` pt at `size`.
    pub fn fit(&self, text: &str, size: f32, max: f32) -> String {
        if self.width(text, size) <= max {
            return text.to_string();
        }
        let mut s: String = text.to_string();
        while s.pop().is_some() {
            let cut = format!("{}…", s.trim_end());
            if self.width(&cut, size) <= max {
                return cut;
            }
        }
        String::new()
    }

    /// `text` broken at spaces into lines of at most `max` pt at `size` (a word wider than a line stands
    /// alone on its line).
    pub fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if !line.is_empty() && self.width(&candidate, size) > max {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }
}

/// The regular and the bold face.
pub(super) struct Fonts {
    pub regular: Face,
    pub bold: Face,
}

/// What the PDF says when its font is missing.
pub(super) const MISSING: &str = "the PDF report's font (DejaVu Sans, Debian package fonts-dejavu-core)";

/// The fonts, read on first use; `None` when either file is not installed.
pub(super) fn fonts() -> Option<&'static Fonts> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            Some(Fonts {
                regular: Face::load("DejaVuSans.ttf")?,
                bold: Face::load("DejaVuSans-Bold.ttf")?,
            })
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_fit_and_wrap() {
        let f = &fonts()
            .expect("fonts-dejavu-core is installed (deploy/setup.sh)")
            .regular;
        let w = f.width("Gebäude", 10.0);
        assert!(w > 30.0 && w < 50.0, "{w}");
        assert!((f.width("Gebäude Gebäude", 10.0) - 2.0 * w - f.width(" ", 10.0)).abs() < 0.5);
        assert_eq!(f.fit("Rathaus", 10.0, 100.0), "Rathaus");
        let cut = f.fit("Kultur- und Veranstaltungsgebäude", 10.0, 60.0);
        assert!(cut.ends_with('…') && f.width(&cut, 10.0) <= 60.0, "{cut}");
        let lines = f.wrap("eins zwei drei vier fünf sechs", 10.0, 60.0);
        assert!(
            lines.len() > 1 && lines.iter().all(|l| f.width(l, 10.0) <= 60.0),
            "{lines:?}"
        );
        assert_eq!(lines.join(" "), "eins zwei drei vier fünf sechs");
    }
}
