//! Font glyphs (signed distance fields in protobuf, as MapLibre asks) made
//! from TrueType fonts on this machine, so that map labels need no server
//! but ess-map. Each 256-character range is rendered once and kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use pbf_font_tools::prost::Message;

/// Where fonts are looked for when the configuration names no directory
/// (Debian's fonts-dejavu-core).
pub const DEFAULT_FONTS_DIR: &str = "/usr/share/fonts/truetype/dejavu";

/// The font stacks the style uses, and their files.
pub const FONTS: [(&str, &str); 2] = [
    ("DejaVu Sans", "DejaVuSans.ttf"),
    ("DejaVu Sans Bold", "DejaVuSans-Bold.ttf"),
];

pub struct Glyphs {
    dir: PathBuf,
    ranges: Mutex<HashMap<(String, u32), Bytes>>,
}

/// Why a glyph range cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum GlyphError {
    #[error("unknown font stack `{0}`; served: DejaVu Sans, DejaVu Sans Bold")]
    UnknownFont(String),
    #[error("range `{0}` is not START-END, 256 code points from a multiple of 256")]
    BadRange(String),
    #[error(
        "font file {0} is missing (install fonts-dejavu-core or set `fonts` in the configuration)"
    )]
    Missing(PathBuf),
    #[error("rendering glyphs failed: {0}")]
    Render(String),
}

impl Glyphs {
    pub fn new(dir: PathBuf) -> Arc<Self> {
        for (_, file) in FONTS {
            if !dir.join(file).is_file() {
                tracing::warn!(
                    "font {} not found: map labels will be missing",
                    dir.join(file).display()
                );
            }
        }
        Arc::new(Glyphs {
            dir,
            ranges: Mutex::new(HashMap::new()),
        })
    }

    /// `fontstack` as in the style (a comma-separated list: the first known
    /// font is used), `range` as `0-255.pbf`.
    pub fn range(&self, fontstack: &str, range: &str) -> Result<Bytes, GlyphError> {
        let (name, file) = fontstack
            .split(',')
            .map(str::trim)
            .find_map(|f| FONTS.iter().find(|(n, _)| *n == f))
            .ok_or_else(|| GlyphError::UnknownFont(fontstack.to_string()))?;
        let start = parse_range(range).ok_or_else(|| GlyphError::BadRange(range.to_string()))?;
        let key = (name.to_string(), start);
        if let Some(hit) = self.ranges.lock().expect("glyph lock").get(&key) {
            return Ok(hit.clone());
        }
        let bytes = render(&self.dir.join(file), name, start)?;
        self.ranges
            .lock()
            .expect("glyph lock")
            .insert(key, bytes.clone());
        Ok(bytes)
    }
}

fn parse_range(range: &str) -> Option<u32> {
    let (start, end) = range.strip_suffix(".pbf")?.split_once('-')?;
    let (start, end): (u32, u32) = (start.parse().ok()?, end.parse().ok()?);
    (start % 256 == 0 && end == start + 255 && end <= 65535).then_some(start)
}

fn render(path: &Path, name: &str, start: u32) -> Result<Bytes, GlyphError> {
    if !path.is_file() {
        return Err(GlyphError::Missing(path.to_path_buf()));
    }
    // MapLibre's glyph conventions: 24 px, 3 px buffer, radius 8, cutoff 0.25.
    let mut glyphs = pbf_font_tools::glyph_range_for_font(path, start, start + 255, 24, 8, 0.25)
        .map_err(|e| GlyphError::Render(e.to_string()))?;
    for stack in &mut glyphs.stacks {
        stack.name = name.to_string();
        stack.range = format!("{start}-{}", start + 255);
    }
    Ok(Bytes::from(glyphs.encode_to_vec()))
}
