//! Query parameters, checked: unknown names, bad numbers and out-of-range
//! values are 400 errors that name the parameter.

use std::collections::HashMap;
use std::str::FromStr;

use geo::{Rect, coord};
use geodata::Dataset;

use geodata::conventions::{self, MAX_RADIUS_M};

use super::error::ApiError;
use crate::output::CsvStyle;

/// A request's query parameters, against the names a route accepts.
pub struct Params(HashMap<String, String>);

impl Params {
    /// Rejects any parameter not in `accepted`, and values of blanks alone.
    /// Empty values count as absent.
    pub fn new(raw: HashMap<String, String>, accepted: &[&str]) -> Result<Self, ApiError> {
        if let Some(unknown) = raw.keys().find(|k| !accepted.contains(&k.as_str())) {
            return Err(ApiError::bad(
                unknown,
                format!(
                    "unknown parameter; this route accepts: {}",
                    accepted.join(", ")
                ),
            ));
        }
        // Blanks alone are no value: refused, not read as absent.
        if let Some((name, _)) = raw
            .iter()
            .find(|(_, v)| !v.is_empty() && v.trim().is_empty())
        {
            return Err(ApiError::bad(name, "only blanks; leave it empty or out"));
        }
        Ok(Params(
            raw.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        ))
    }

    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.trim())
    }

    /// A number, `default` when absent, which must lie in `min..=max`.
    pub fn number<T>(
        &self,
        name: &str,
        default: Option<T>,
        min: T,
        max: T,
    ) -> Result<Option<T>, ApiError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        let Some(text) = self.text(name) else {
            return Ok(default);
        };
        let value: T = text
            .parse()
            .map_err(|_| ApiError::bad(name, format!("`{text}` is not a number")))?;
        // `!(a <= b)` also rejects NaN.
        if !(min <= value && value <= max) {
            return Err(ApiError::bad(
                name,
                format!("{value} is outside [{min}, {max}]"),
            ));
        }
        Ok(Some(value))
    }

    /// A required number in `min..=max`.
    pub fn required<T>(&self, name: &str, min: T, max: T) -> Result<T, ApiError>
    where
        T: FromStr + PartialOrd + Copy + std::fmt::Display,
    {
        self.number(name, None, min, max)?
            .ok_or_else(|| ApiError::bad(name, "required"))
    }
}

/// Parameters every route reads the same way, checked against the data.
impl Params {
    /// `category`: known category ids, comma-separated (empty: none given).
    pub fn categories(&self, data: &Dataset) -> Result<Vec<String>, ApiError> {
        self.ids_known_by("category", |id| data.taxonomy().get(id).is_some())
    }

    fn ids_known_by(
        &self,
        name: &str,
        known: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, ApiError> {
        let ids: Vec<String> = self
            .text(name)
            .map(|c| {
                c.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(unknown) = ids.iter().find(|c| !known(c)) {
            return Err(ApiError::bad(
                name,
                format!("unknown category `{unknown}`; see /api/categories"),
            ));
        }
        Ok(ids)
    }

    /// `departement`: a département that has QPV.
    pub fn departement(&self, data: &Dataset) -> Result<Option<String>, ApiError> {
        let departement = self.text("departement").map(|d| d.to_uppercase());
        if let Some(d) = &departement
            && !data.qpvs().iter().any(|q| &q.departement == d)
        {
            return Err(ApiError::bad(
                "departement",
                format!("no QPV in département `{d}`"),
            ));
        }
        Ok(departement)
    }

    /// `bbox`: `minlon,minlat,maxlon,maxlat` in range, min not above max, at
    /// most `max_side` degrees on a side; with `heights`, six numbers too
    /// (OGC API: the heights are ignored).
    pub fn bbox(
        &self,
        max_side: Option<f64>,
        heights: bool,
    ) -> Result<Option<Rect<f64>>, ApiError> {
        let Some(text) = self.text("bbox") else {
            return Ok(None);
        };
        let bad = |m: String| ApiError::bad("bbox", m);
        let values: Vec<f64> = text
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                bad(format!(
                    "`{text}` is not four numbers minlon,minlat,maxlon,maxlat"
                ))
            })?;
        let [min_lon, min_lat, max_lon, max_lat] = match values[..] {
            [a, b, c, d] => [a, b, c, d],
            [a, b, _, c, d, _] if heights => [a, b, c, d],
            _ => {
                return Err(bad(format!(
                    "{} numbers given, expected 4: minlon,minlat,maxlon,maxlat",
                    values.len()
                )));
            }
        };
        for (v, lo, hi, what) in [
            (min_lon, -180.0, 180.0, "longitude"),
            (max_lon, -180.0, 180.0, "longitude"),
            (min_lat, -90.0, 90.0, "latitude"),
            (max_lat, -90.0, 90.0, "latitude"),
        ] {
            if !(lo..=hi).contains(&v) {
                return Err(bad(format!("{what} {v} outside [{lo}, {hi}]")));
            }
        }
        if min_lon > max_lon || min_lat > max_lat {
            return Err(bad(
                "inverted: min must not exceed max (boxes across the antimeridian are not supported)"
                    .to_string(),
            ));
        }
        if let Some(max) = max_side
            && (max_lon - min_lon > max || max_lat - min_lat > max)
        {
            return Err(bad(format!(
                "larger than {max}° on a side; omit bbox to search everywhere"
            )));
        }
        Ok(Some(Rect::new(
            coord! { x: min_lon, y: min_lat },
            coord! { x: max_lon, y: max_lat },
        )))
    }

    /// `qpv`: the code of a known QPV.
    pub fn qpv(&self, data: &Dataset) -> Result<Option<geodata::QpvId>, ApiError> {
        self.text("qpv")
            .map(|code| {
                data.qpv_by_code(code)
                    .ok_or_else(|| ApiError::bad("qpv", format!("no QPV with code `{code}`")))
            })
            .transpose()
    }

    /// `generation`: one of [`conventions::GENERATIONS`].
    pub fn generation(&self) -> Result<Option<u16>, ApiError> {
        let Some(text) = self.text("generation") else {
            return Ok(None);
        };
        match text.parse::<u16>() {
            Ok(g) if conventions::is_generation(g) => Ok(Some(g)),
            _ => Err(ApiError::bad(
                "generation",
                format!("{text} is not one of {}", conventions::generations_text()),
            )),
        }
    }

    /// `limit`: how many items at most, in `[1, MAX_LIMIT]`,
    /// [`super::DEFAULT_LIMIT`] when absent.
    pub fn limit(&self) -> Result<usize, ApiError> {
        Ok(self
            .number("limit", Some(super::DEFAULT_LIMIT), 1, super::MAX_LIMIT)?
            .unwrap_or(super::DEFAULT_LIMIT))
    }

    /// `radius_m`: metres in `[0, MAX_RADIUS_M]`, `default` when absent.
    pub fn radius(&self, default: f64) -> Result<f64, ApiError> {
        Ok(self
            .number("radius_m", Some(default), 0.0, MAX_RADIUS_M)?
            .unwrap_or(default))
    }

    /// `csv`: who reads a CSV answer (`tableur` by default).
    pub fn csv_style(&self) -> Result<CsvStyle, ApiError> {
        match self.text("csv") {
            None => Ok(CsvStyle::Spreadsheet),
            Some(name) => CsvStyle::from_name(name).ok_or_else(|| {
                ApiError::bad(
                    "csv",
                    format!("`{name}` is not one of {}", CsvStyle::NAMES.join(", ")),
                )
            }),
        }
    }
}
