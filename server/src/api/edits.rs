//! The write API: create, correct and delete initiatives, import files.
//! Reads stay public; writes need a bearer token (editor or admin), and each
//! is recorded with who, when and what changed.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{FromRequestParts, Multipart, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use geodata::{InitiativeRecord, Precision};
use serde_json::{Map, Value, json};

use super::params::Params;
use super::views::initiative_feature;
use super::{ApiError, AppState};
use crate::geocode::{place_one, query_of};
use crate::import::{ImportOptions, run_import};
use crate::store::{Role, StoredInitiative};

/// Source of initiatives created through the API (ids `api-1`, `api-2`…).
const API_SOURCE: &str = "api";
/// Longest text field accepted.
const MAX_TEXT: usize = 2000;

/// Who is writing: from `Authorization: Bearer <token>`.
pub struct Principal {
    pub name: String,
    pub role: Role,
}

impl Principal {
    fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "token `{}` is {}; this needs {}",
                self.name,
                self.role.as_str(),
                role.as_str()
            )))
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::Unauthorized("writing needs `Authorization: Bearer <token>`".into())
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header is not `Bearer <token>`".into())
            })?;
        let live = state.live.clone();
        let token = token.to_string();
        let found = tokio::task::spawn_blocking(move || live.principal(&token))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        let (name, role) = found.ok_or_else(|| ApiError::Unauthorized("unknown token".into()))?;
        Ok(Principal { name, role })
    }
}

/// `POST /api/initiatives`: a new initiative (JSON object; `name` required).
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    who.require(Role::Editor)?;
    let fields = object(body)?;
    let data = state.data();
    let mut record = InitiativeRecord {
        source: API_SOURCE.into(),
        ..Default::default()
    };
    let moved = apply(&mut record, &fields, &data.taxonomy)?;
    if record.name.is_empty() {
        return Err(ApiError::field("name", "required"));
    }
    let live = state.live.clone();
    let actor = who.name.clone();
    let id = tokio::task::spawn_blocking(move || {
        let (geocoder, score) = place(&live, &mut record, moved);
        live.with_store(|store| {
            store.write(|w| {
                record.id = w.next_id(API_SOURCE)?;
                let stored = StoredInitiative {
                    record: record.clone(),
                    key: None,
                    geocoder,
                    geocode_score: score,
                    deleted: false,
                };
                w.put(&stored, &actor, "create", None)?;
                Ok(record.id.clone())
            })
        })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let data = state.data();
    let x = data.initiative(&id).expect("just committed");
    let mut response = (
        StatusCode::CREATED,
        Json(initiative_feature(&data, x, None)),
    )
        .into_response();
    response.headers_mut().insert(
        header::LOCATION,
        format!("/api/initiatives/{id}").parse().expect("ASCII id"),
    );
    Ok(response)
}

/// `PATCH /api/initiatives/{id}`: the fields given change (`null` clears);
/// an open-data initiative gets a corrected copy in the store.
pub async fn patch(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    who.require(Role::Editor)?;
    let fields = object(body)?;
    if fields.contains_key("id") || fields.contains_key("source") {
        return Err(ApiError::field("id", "id and source cannot change"));
    }
    let data = state.data();
    let current = data
        .initiative(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no initiative with id `{id}`")))?;
    let before = current.to_record();
    let mut record = before.clone();
    let moved = apply(&mut record, &fields, &data.taxonomy)?;
    if record.name.is_empty() {
        return Err(ApiError::field("name", "cannot be empty"));
    }
    let live = state.live.clone();
    let actor = who.name.clone();
    tokio::task::spawn_blocking(move || {
        live.with_store(|store| {
            let old = store.get(&record.id)?;
            let (mut geocoder, mut score) = old
                .as_ref()
                .map_or((None, None), |o| (o.geocoder.clone(), o.geocode_score));
            if moved != Moved::No {
                (geocoder, score) = place(&live, &mut record, moved);
            }
            let stored = StoredInitiative {
                key: old.and_then(|o| o.key),
                record,
                geocoder,
                geocode_score: score,
                deleted: false,
            };
            store.write(|w| w.put(&stored, &actor, "update", Some(&before)))
        })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let data = state.data();
    let x = data.initiative(&id).expect("just committed");
    Ok(Json(initiative_feature(&data, x, None)).into_response())
}

/// `DELETE /api/initiatives/{id}`: hidden from the map and the analysis,
/// kept in the store and its history.
pub async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    who.require(Role::Editor)?;
    let data = state.data();
    let current = data
        .initiative(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no initiative with id `{id}`")))?;
    let before = current.to_record();
    let live = state.live.clone();
    let actor = who.name.clone();
    tokio::task::spawn_blocking(move || {
        live.with_store(|store| {
            let old = store.get(&before.id)?;
            let stored = StoredInitiative {
                record: before.clone(),
                key: old.as_ref().and_then(|o| o.key.clone()),
                geocoder: old.as_ref().and_then(|o| o.geocoder.clone()),
                geocode_score: old.and_then(|o| o.geocode_score),
                deleted: true,
            };
            store.write(|w| w.put(&stored, &actor, "delete", Some(&before)))
        })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/initiatives/{id}/history`: every change, oldest first.
pub async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    Params::new(raw, &[])?;
    let live = state.live.clone();
    let key = id.clone();
    let entries = tokio::task::spawn_blocking(move || live.with_store(|s| s.history(&key)))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    if entries.is_empty() && state.data().initiative(&id).is_none() {
        return Err(ApiError::NotFound(format!("no initiative with id `{id}`")));
    }
    Ok(Json(json!({ "id": id, "history": entries })))
}

/// `POST /api/import` (admin, multipart): `file` (CSV or GeoJSON),
/// `source`, optional `dry_run` (`true`) and `mapping` (TOML text). The same
/// pipeline as `ess-map import`; answers its summary.
pub async fn import(
    State(state): State<AppState>,
    who: Principal,
    mut form: Multipart,
) -> Result<Json<Value>, ApiError> {
    who.require(Role::Admin)?;
    let (mut file, mut source, mut dry_run, mut mapping) = (None, None, false, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::field("multipart", e.to_string()))?
    {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let filename = field.file_name().unwrap_or("upload.csv").to_string();
                let bytes = field
                    .bytes()
                    .await
                    .map_err(|e| ApiError::field("file", e.to_string()))?;
                file = Some((filename, bytes));
            }
            "source" | "dry_run" | "mapping" => {
                let text = field
                    .text()
                    .await
                    .map_err(|e| ApiError::field(&name, e.to_string()))?;
                match name.as_str() {
                    "source" => source = Some(text.trim().to_string()),
                    "dry_run" => dry_run = matches!(text.trim(), "true" | "1" | "on"),
                    _ => {
                        mapping = Some(
                            geodata::import::Mapping::from_toml(&text)
                                .map_err(|e| ApiError::field("mapping", e))?,
                        )
                    }
                }
            }
            other => {
                return Err(ApiError::field(
                    other,
                    "unknown field; send file, source, dry_run, mapping",
                ));
            }
        }
    }
    let (filename, bytes) = file.ok_or_else(|| ApiError::field("file", "required"))?;
    let source = source.ok_or_else(|| ApiError::field("source", "required"))?;
    let extension = if filename.to_lowercase().ends_with("json") {
        "geojson"
    } else {
        "csv"
    };
    let live = state.live.clone();
    let actor = who.name.clone();
    let summary = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let uploads = live.state_dir.join("uploads");
        std::fs::create_dir_all(&uploads).map_err(ApiError::internal)?;
        let upload = tempfile::Builder::new()
            .suffix(&format!(".{extension}"))
            .tempfile_in(&uploads)
            .map_err(ApiError::internal)?;
        std::fs::write(upload.path(), &bytes).map_err(ApiError::internal)?;
        let g = &live.geocoding;
        let options = ImportOptions {
            source,
            mapping,
            dry_run,
            actor,
            addok: g.addok.as_ref(),
            min_score: g.min_score,
            communes: &g.communes,
            reports_dir: live.state_dir.join("reports"),
            progress: false,
        };
        let taxonomy = live.snapshot().data.taxonomy.clone();
        let mut summary = live
            .with_store(|store| run_import(store, upload.path(), &options, &taxonomy))
            .map_err(|e| ApiError::field("file", format!("{e:#}")))?;
        summary.file = filename;
        Ok(serde_json::to_value(summary).expect("serialisable"))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(summary))
}

fn object(body: Value) -> Result<Map<String, Value>, ApiError> {
    match body {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::field("body", "a JSON object is expected")),
    }
}

/// Whether an edit moves the initiative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moved {
    No,
    /// New coordinates were given.
    ToCoordinates,
    /// The address changed (or was given without coordinates): geocode it.
    ToAddress,
}

/// Applies the JSON fields to a record, checking each.
fn apply(
    record: &mut InitiativeRecord,
    fields: &Map<String, Value>,
    taxonomy: &geodata::Taxonomy,
) -> Result<Moved, ApiError> {
    let mut address_changed = false;
    for (key, value) in fields {
        let text = || -> Result<Option<String>, ApiError> {
            match value {
                Value::Null => Ok(None),
                Value::String(s) if s.chars().count() > MAX_TEXT => Err(ApiError::field(
                    key,
                    format!("longer than {MAX_TEXT} characters"),
                )),
                Value::String(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
                _ => Err(ApiError::field(key, "a string or null is expected")),
            }
        };
        let digits = |n: usize| -> Result<Option<String>, ApiError> {
            let v = text()?.map(|s| s.replace(' ', ""));
            match v {
                Some(s) if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) => {
                    Err(ApiError::field(key, format!("`{s}` is not {n} digits")))
                }
                other => Ok(other),
            }
        };
        match key.as_str() {
            "name" => record.name = text()?.unwrap_or_default(),
            "category" => {
                let c = text()?.unwrap_or_default();
                if !c.is_empty() && taxonomy.get(&c).is_none() {
                    return Err(ApiError::field(
                        "category",
                        format!("unknown category `{c}`; see /api/categories"),
                    ));
                }
                record.category = c;
            }
            "source_kind" => record.source_kind = text()?,
            "legal_form" => record.legal_form = text()?,
            "siret" => record.siret = digits(14)?,
            "address" => (record.address, address_changed) = (text()?, true),
            "postcode" => (record.postcode, address_changed) = (digits(5)?, true),
            "commune" => (record.commune, address_changed) = (text()?, true),
            "insee_code" => (record.insee_code, address_changed) = (text()?, true),
            "website" => {
                let w = text()?;
                if w.as_ref()
                    .is_some_and(|w| !(w.starts_with("https://") || w.starts_with("http://")))
                {
                    return Err(ApiError::field(
                        "website",
                        "must start with http:// or https://",
                    ));
                }
                record.website = w;
            }
            "description" => record.description = text()?,
            "lon" | "lat" => {}
            other => {
                return Err(ApiError::field(
                    other,
                    "unknown field; fields: name, category, source_kind, legal_form, siret, address, postcode, commune, insee_code, website, description, lon, lat",
                ));
            }
        }
    }
    let coordinate = |key: &str, limit: f64| -> Result<Option<f64>, ApiError> {
        match fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|v| v.is_finite() && v.abs() <= limit)
                .map(Some)
                .ok_or_else(|| {
                    ApiError::field(key, format!("a number within ±{limit} is expected"))
                }),
        }
    };
    let (lon, lat) = (coordinate("lon", 180.0)?, coordinate("lat", 90.0)?);
    match (lon, lat) {
        (Some(x), Some(y)) => {
            (record.lon, record.lat, record.precision) =
                (Some(x), Some(y), Some(Precision::Source));
            Ok(Moved::ToCoordinates)
        }
        (None, None) if fields.contains_key("lon") || fields.contains_key("lat") => {
            Err(ApiError::field("lon", "give both lon and lat"))
        }
        (None, None) if address_changed || record.lon.is_none() => Ok(Moved::ToAddress),
        (None, None) => Ok(Moved::No),
        _ => Err(ApiError::field("lon", "give both lon and lat")),
    }
}

/// Places a record whose address changed: geocoder, else commune centre.
fn place(
    live: &crate::live::Live,
    record: &mut InitiativeRecord,
    moved: Moved,
) -> (Option<String>, Option<f64>) {
    if moved != Moved::ToAddress {
        return (None, None);
    }
    let (query, hint) = query_of(record);
    let g = &live.geocoding;
    let (placement, _) = place_one(&query, &hint, g.addok.as_ref(), g.min_score, &g.communes);
    match placement {
        Some(p) => {
            (record.lon, record.lat, record.precision) =
                (Some(p.lon), Some(p.lat), Some(p.precision));
            (Some(p.geocoder), p.score)
        }
        None => {
            (record.lon, record.lat, record.precision) = (None, None, None);
            (None, None)
        }
    }
}
