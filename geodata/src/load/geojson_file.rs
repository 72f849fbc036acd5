//! Reading a GeoJSON FeatureCollection one feature at a time, so that one bad
//! feature is reported and skipped instead of failing the file.

use rayon::prelude::*;
use std::path::Path;

use geojson::{Feature, JsonObject};

use crate::report::{Action, DatasetReport, LoadError, Position};

/// Parses `path` as a FeatureCollection; returns each well-formed feature with
/// its index. Malformed features are reported in `report` and left out.
pub(crate) fn read_features(
    path: &Path,
    report: &mut DatasetReport,
) -> Result<Vec<(usize, Feature)>, LoadError> {
    let bytes = super::file::read_data_file(path)?;
    let features = parse_features(path, &bytes, report)?;
    report.read += features.len();
    Ok(features)
}

/// [`read_features`] of bytes already read from `path`; counts only the
/// malformed features it reports as read.
pub(crate) fn parse_features(
    path: &Path,
    bytes: &[u8],
    report: &mut DatasetReport,
) -> Result<Vec<(usize, Feature)>, LoadError> {
    // The root's members are read as they come (no copy of the features'
    // tree); each feature is then made on every core.
    #[derive(serde::Deserialize)]
    struct Root {
        #[serde(rename = "type")]
        kind: Option<serde_json::Value>,
        features: Option<serde_json::Value>,
    }
    let root: Root = serde_json::from_slice(bytes).map_err(|e| LoadError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let kind = root.kind.as_ref().and_then(|t| t.as_str());
    if kind != Some("FeatureCollection") {
        return Err(LoadError::invalid(
            path,
            Position::File,
            format!(
                "expected a GeoJSON FeatureCollection, found type {}",
                kind.map_or("(none)".to_string(), |k| format!("`{k}`"))
            ),
        ));
    }
    let Some(serde_json::Value::Array(features)) = root.features else {
        return Err(LoadError::invalid(
            path,
            Position::File,
            "FeatureCollection has no `features` array",
        ));
    };
    let made: Vec<Result<Feature, String>> = features
        .into_par_iter()
        .map(|value| serde_json::from_value::<Feature>(value).map_err(|e| e.to_string()))
        .collect();
    let mut out = Vec::with_capacity(made.len());
    for (index, feature) in made.into_iter().enumerate() {
        match feature {
            Ok(feature) => out.push((index, feature)),
            Err(e) => {
                report.read += 1;
                report.issue(
                    Position::Feature(index),
                    None,
                    None,
                    format!("not a valid GeoJSON Feature: {e}"),
                    Action::Skipped,
                )
            }
        }
    }
    Ok(out)
}

/// A property as trimmed text (numbers rendered), `None` when absent or empty.
pub(crate) fn property(properties: Option<&JsonObject>, name: &str) -> Option<String> {
    let value = properties?.get(name)?;
    let text = match value {
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}
