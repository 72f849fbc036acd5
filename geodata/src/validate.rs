//! The one check of an initiative record, whatever produced it (a data file,
//! an import, an edit through the API): text trimmed and bounded, SIRET,
//! postcode, INSEE code and website checked, coordinates checked, the
//! category resolved. Readers report the problems as they must (an import
//! keeps the row without the bad field; the API refuses the request).

use crate::category::Taxonomy;
use crate::initiative::{InitiativeRecord, Precision};
use crate::report::Action;

/// Longest text field, in characters.
pub const MAX_TEXT_CHARS: usize = 2000;

/// What is wrong with one field, and what was done about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub field: &'static str,
    pub reason: String,
    pub action: Action,
}

impl Problem {
    fn new(field: &'static str, reason: impl Into<String>, action: Action) -> Self {
        Problem {
            field,
            reason: reason.into(),
            action,
        }
    }
}

/// A coordinate written as text, with a decimal point or a decimal comma.
///
/// ```
/// assert_eq!(geodata::validate::parse_coordinate(" 2,3531 "), Some(2.3531));
/// assert_eq!(geodata::validate::parse_coordinate("48.88"), Some(48.88));
/// assert_eq!(geodata::validate::parse_coordinate("N48"), None);
/// ```
// Inline across crates: a located table calls it twice a row.
#[inline]
pub fn parse_coordinate(text: &str) -> Option<f64> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(v) => Some(v),
        Err(_) if text.contains(',') => text.replace(',', ".").parse::<f64>().ok(),
        Err(_) => None,
    }
}

/// Checks `record` in place. `Err`: the record cannot be kept (no name, or a
/// name too long). `Ok`: the problems found, each already repaired as its
/// action says (field left empty, or kept without location).
pub fn check(record: &mut InitiativeRecord, taxonomy: &Taxonomy) -> Result<Vec<Problem>, Problem> {
    let mut problems = Vec::new();
    if record.name.chars().count() > MAX_TEXT_CHARS {
        return Err(Problem::new(
            "name",
            format!("longer than {MAX_TEXT_CHARS} characters"),
            Action::Skipped,
        ));
    }
    trim_in_place(&mut record.name);
    if record.name.is_empty() {
        return Err(Problem::new("name", "empty", Action::Skipped));
    }
    if let Some(c) = record.name.chars().find(|c| c.is_control()) {
        return Err(Problem::new(
            "name",
            format!("holds a control character (U+{:04X})", u32::from(c)),
            Action::Skipped,
        ));
    }
    {
        // Bounded as given, then trimmed.
        let mut text_field = |field: &'static str, value: &mut Option<String>| {
            let given = value.take();
            *value = match given {
                Some(v) if v.chars().count() > MAX_TEXT_CHARS => {
                    problems.push(Problem::new(
                        field,
                        format!("longer than {MAX_TEXT_CHARS} characters"),
                        Action::KeptWithoutField,
                    ));
                    None
                }
                // Line breaks and tabs belong in a description; no other
                // control character belongs anywhere.
                Some(v)
                    if v.chars().any(|c| {
                        c.is_control()
                            && !(field == "description" && matches!(c, '\n' | '\r' | '\t'))
                    }) =>
                {
                    let c = v.chars().find(|c| c.is_control()).expect("found");
                    problems.push(Problem::new(
                        field,
                        format!("holds a control character (U+{:04X})", u32::from(c)),
                        Action::KeptWithoutField,
                    ));
                    None
                }
                Some(mut v) => {
                    trim_in_place(&mut v);
                    (!v.is_empty()).then_some(v)
                }
                None => None,
            };
        };
        text_field("brand", &mut record.brand);
        text_field("source_kind", &mut record.source_kind);
        text_field("legal_form", &mut record.legal_form);
        text_field("siret", &mut record.siret);
        text_field("address", &mut record.address);
        text_field("postcode", &mut record.postcode);
        text_field("commune", &mut record.commune);
        text_field("insee_code", &mut record.insee_code);
        text_field("website", &mut record.website);
        text_field("description", &mut record.description);
        text_field("opening_hours", &mut record.opening_hours);
        text_field("source_date", &mut record.source_date);
    }
    let mut keep_if =
        |field: &'static str, value: &mut Option<String>, ok: fn(&str) -> bool, what: &str| {
            if let Some(v) = value.as_deref()
                && !ok(v)
            {
                problems.push(Problem::new(
                    field,
                    format!("`{v}` is not {what}"),
                    Action::KeptWithoutField,
                ));
                *value = None;
            }
        };
    record.siret = record.siret.take().map(without_spaces);
    keep_if("siret", &mut record.siret, |s| digits(s, 14), "14 digits");
    record.postcode = record.postcode.take().map(without_spaces);
    keep_if(
        "postcode",
        &mut record.postcode,
        |s| digits(s, 5),
        "a 5-digit postcode",
    );
    keep_if(
        "insee_code",
        &mut record.insee_code,
        |s| {
            s.len() == 5
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'A' || b == b'B')
        },
        "a 5-character INSEE code",
    );
    keep_if(
        "website",
        &mut record.website,
        is_web_address,
        "a web address (http:// or https:// and a host name, no spaces, quotes or angle brackets)",
    );
    check_position(record, &mut problems);
    resolve_category(record, taxonomy, "");
    Ok(problems)
}

/// A web address as written on a web page: `http` or `https`, a host
/// name, and nothing a browser would have to escape (no space, no quote,
/// no angle bracket, no backslash).
///
/// ```
/// use geodata::validate::is_web_address;
/// assert!(is_web_address("https://www.regie-quartier.fr/nous-contacter?x=1#a"));
/// assert!(!is_web_address("https://x.example/\"><script>alert(4)</script>"));
/// assert!(!is_web_address("http://a b"));
/// assert!(!is_web_address("javascript:alert(1)"));
/// assert!(!is_web_address("https://"));
/// ```
pub fn is_web_address(text: &str) -> bool {
    if text.len() > 2000
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"<>\\^`{|}".contains(c))
    {
        return false;
    }
    match url::Url::parse(text) {
        Ok(u) => {
            matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| !h.is_empty())
                && u.username().is_empty()
                && u.password().is_none()
        }
        Err(_) => false,
    }
}

fn trim_in_place(s: &mut String) {
    if s.trim().len() != s.len() {
        *s = s.trim().to_string();
    }
}

fn without_spaces(s: String) -> String {
    if s.contains(' ') {
        s.replace(' ', "")
    } else {
        s
    }
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Both coordinates or none, finite, in range, not the (0, 0) placeholder.
fn check_position(record: &mut InitiativeRecord, problems: &mut Vec<Problem>) {
    let reason = match (record.lon, record.lat) {
        (None, None) => None,
        (Some(_), None) => Some(("lat", "longitude given without latitude".to_string())),
        (None, Some(_)) => Some(("lon", "latitude given without longitude".to_string())),
        (Some(x), Some(y)) if !x.is_finite() || !y.is_finite() => Some((
            "lon/lat",
            format!("coordinates ({x}, {y}) are not finite numbers"),
        )),
        (Some(x), _) if !(-180.0..=180.0).contains(&x) => {
            Some(("lon", format!("longitude {x} outside [-180, 180]")))
        }
        (_, Some(y)) if !(-90.0..=90.0).contains(&y) => {
            Some(("lat", format!("latitude {y} outside [-90, 90]")))
        }
        (Some(x), Some(y)) if x == 0.0 && y == 0.0 => Some((
            "lon/lat",
            "coordinates (0, 0) are a placeholder, not a place".to_string(),
        )),
        _ => None,
    };
    if let Some((field, reason)) = reason {
        problems.push(Problem::new(field, reason, Action::KeptWithoutLocation));
        (record.lon, record.lat) = (None, None);
    }
    record.precision = match (record.lon, record.precision) {
        (None, _) => None,
        (Some(_), None) => Some(Precision::Source),
        (Some(_), p) => p,
    };
}

/// The category: a category id, or a label, as given; else found from the
/// source kind and words of the name, brand and `hints` ([`Taxonomy::classify`]).
/// A category value that is neither id nor label is taken as the source's
/// kind (`ACI`, `ESAT`).
pub fn resolve_category(record: &mut InitiativeRecord, taxonomy: &Taxonomy, hints: &str) {
    let given = std::mem::take(&mut record.category);
    let given = given.trim();
    if !given.is_empty() {
        if let Some(c) = taxonomy.named(given) {
            record.category = c.id.clone();
            return;
        }
        if record.source_kind.is_none() {
            record.source_kind = Some(given.to_string());
        }
    }
    let text = format!(
        "{} {} {hints}",
        record.name,
        record.brand.as_deref().unwrap_or_default()
    );
    record.category = taxonomy
        .classify(record.source_kind.as_deref().unwrap_or(""), &text)
        .id
        .clone();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taxonomy() -> Taxonomy {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/categories.toml");
        Taxonomy::from_file(&path).unwrap()
    }

    #[test]
    fn one_check_for_every_field() {
        let mut r = InitiativeRecord {
            name: "  Garage solidaire  ".into(),
            siret: Some("123 456 789 00012".into()),
            postcode: Some("6910".into()),
            insee_code: Some("2A004".into()),
            website: Some("www.example.org".into()),
            description: Some("x".repeat(MAX_TEXT_CHARS + 1)),
            lon: Some(0.0),
            lat: Some(0.0),
            category: "ESAT".into(),
            ..Default::default()
        };
        let problems = check(&mut r, &taxonomy()).unwrap();
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["description", "postcode", "website", "lon/lat"]);
        assert_eq!(r.name, "Garage solidaire");
        assert_eq!(r.siret.as_deref(), Some("12345678900012"));
        assert_eq!(r.insee_code.as_deref(), Some("2A004"));
        assert_eq!((r.lon, r.lat, r.precision), (None, None, None));
        // Keywords of the name win over the kind.
        assert_eq!(r.category, "garage_mobilite");
        assert_eq!(r.source_kind.as_deref(), Some("ESAT"));
        let mut nameless = InitiativeRecord::default();
        assert_eq!(check(&mut nameless, &taxonomy()).unwrap_err().field, "name");
    }

    #[test]
    fn control_characters_and_scripts_are_refused() {
        let mut r = InitiativeRecord {
            name: "Régie\0".into(),
            ..Default::default()
        };
        assert_eq!(check(&mut r, &taxonomy()).unwrap_err().field, "name");
        let mut r = InitiativeRecord {
            name: "Régie".into(),
            address: Some("1 rue\u{7}".into()),
            description: Some("Ouvert\tlundi\nfermé dimanche".into()),
            website: Some("https://x.example/\"><script>alert(4)</script>".into()),
            ..Default::default()
        };
        let problems = check(&mut r, &taxonomy()).unwrap();
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["address", "website"]);
        assert_eq!(
            r.description.as_deref(),
            Some("Ouvert\tlundi\nfermé dimanche")
        );
        assert_eq!(r.website, None);
    }

    #[test]
    fn labels_and_ids_name_categories() {
        let mut r = InitiativeRecord {
            name: "X".into(),
            category: "Épicerie solidaire".into(),
            lon: Some(2.35),
            lat: Some(48.85),
            ..Default::default()
        };
        check(&mut r, &taxonomy()).unwrap();
        assert_eq!(r.category, "epicerie_solidaire");
        assert_eq!(r.precision, Some(Precision::Source));
    }
}
