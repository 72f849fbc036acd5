//! Accent- and case-insensitive text matching, as French place names need.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Folds text for comparison: decomposed, accents dropped, lower case, runs of
/// anything but letters and digits turned into one space.
///
/// ```
/// assert_eq!(geodata::text::fold("Épinay-sur-Seine"), "epinay sur seine");
/// assert_eq!(geodata::text::fold("  L'Œuvre  "), "l oeuvre");
/// ```
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    // Most names are ASCII: no decomposition needed.
    if text.is_ascii() {
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                out.push(char::from(b.to_ascii_lowercase()));
            } else {
                pending_space = true;
            }
        }
        return out;
    }
    fold_unicode(text, out)
}

/// [`fold`] for any text, appending to `out`.
fn fold_unicode(text: &str, mut out: String) -> String {
    let mut pending_space = false;
    for c in text.nfkd().filter(|c| !is_combining_mark(*c)) {
        if c.is_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            match c {
                'œ' | 'Œ' => out.push_str("oe"),
                'æ' | 'Æ' => out.push_str("ae"),
                _ => out.extend(c.to_lowercase()),
            }
        } else {
            pending_space = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{fold, fold_unicode};

    #[test]
    fn ascii_and_unicode_paths_agree() {
        for t in ["SAINT-DENIS (93)", "  a__b  c ", "L'OEUVRE", "x1-y2", ""] {
            assert_eq!(fold(t), fold_unicode(t, String::new()));
        }
    }

    #[test]
    fn folds_accents_case_and_punctuation() {
        assert_eq!(fold("Goutte d'Or"), "goutte d or");
        assert_eq!(fold("SAINT-DENIS"), fold("saint denis"));
        assert_eq!(fold("Bédier - Boutroux"), "bedier boutroux");
        assert_eq!(fold(""), "");
    }
}
