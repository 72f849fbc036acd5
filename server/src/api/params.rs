//! Query parameters, checked: unknown names, bad numbers and out-of-range
//! values are 400 errors that name the parameter.

use std::collections::HashMap;
use std::str::FromStr;

use super::error::ApiError;

/// A request's query parameters, against the names a route accepts.
pub struct Params(HashMap<String, String>);

impl Params {
    /// Rejects any parameter not in `accepted`. Empty values count as absent.
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
        Ok(Params(
            raw.into_iter()
                .filter(|(_, v)| !v.trim().is_empty())
                .collect(),
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
