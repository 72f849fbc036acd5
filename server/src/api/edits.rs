//! The write API: create, correct and delete initiatives, import files.
//! Reads stay public; writes need a bearer token (editor or admin), and each
//! is recorded with who, when and what changed.

use std::collections::HashMap;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use geodata::InitiativeRecord;
use serde_json::{Value, json};

use super::json::Json;
use super::params::Params;
use super::session::Principal;
use super::views::{GeoJson, initiative_feature};
use super::{ApiError, AppState};
use crate::dedupe::Index;
use crate::edit::{self, Creation, EditError, InitiativePatch, etag};
use crate::import::{ImportError, ImportOptions, run_import};
use crate::store::Role;

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        match e {
            EditError::Field { field, message } => ApiError::BadField { field, message },
            EditError::NotFound(m) => ApiError::NotFound(m),
            EditError::Stale(m) => ApiError::PreconditionFailed(m),
            EditError::Conflict(m) => ApiError::Conflict(m),
            EditError::OutOfScope(m) => ApiError::Forbidden(m),
            EditError::Store(e) => ApiError::internal(e),
        }
    }
}

/// The initiative as written, as a Feature with its ETag.
fn written(state: &AppState, record: InitiativeRecord, status: StatusCode) -> Response {
    let tag = etag(&record);
    let data = state.data();
    let x = data.territory().place_record(record).initiative;
    let id = x.id.to_string();
    let mut response = (status, GeoJson(initiative_feature(&data, &x, None))).into_response();
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_str(&tag).expect("hex"));
    if status == StatusCode::CREATED {
        headers.insert(
            header::LOCATION,
            HeaderValue::from_str(&format!("/api/initiatives/{id}"))
                .expect("an id of URL characters"),
        );
    }
    response
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `POST /api/initiatives`: a new initiative (JSON object; `name` required).
pub async fn create(
    State(state): State<AppState>,
    who: Principal,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    who.require(Role::Editor)?;
    let patch = InitiativePatch::from_json(body)?;
    let (live, geocoding) = (state.live.clone(), state.geocoding.clone());
    let record = tokio::task::spawn_blocking(move || {
        let how = Creation {
            source: edit::API_SOURCE,
            merge_into: None,
        };
        edit::create(&live, &geocoding, &patch, &who.actor(), how, |_, _| Ok(()))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(written(&state, record, StatusCode::CREATED))
}

/// `PATCH /api/initiatives/{id}`: the fields given change (`null` clears),
/// merged onto the stored record; `If-Match` makes it conditional. An
/// open-data initiative gets a corrected copy in the store.
pub async fn patch(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    who.require(Role::Editor)?;
    let patch = InitiativePatch::from_json(body)?;
    let (live, geocoding) = (state.live.clone(), state.geocoding.clone());
    let precondition = if_match(&headers);
    let record = tokio::task::spawn_blocking(move || {
        edit::update(
            &live,
            &geocoding,
            &id,
            &patch,
            precondition.as_deref(),
            &who.actor(),
        )
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(written(&state, record, StatusCode::OK))
}

/// `DELETE /api/initiatives/{id}`: hidden from the map and the analysis,
/// kept in the store and its history; `If-Match` makes it conditional.
pub async fn delete(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    who.require(Role::Editor)?;
    let live = state.live.clone();
    let precondition = if_match(&headers);
    tokio::task::spawn_blocking(move || {
        edit::delete(&live, &id, precondition.as_deref(), &who.actor())
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/initiatives/{id}/history` (a token of any role: it names the
/// editors): every change, oldest first.
pub async fn history(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    who.require(Role::Editor)?;
    let live = state.live.clone();
    let key = id.clone();
    let entries = tokio::task::spawn_blocking(move || live.read(|s| s.history(&key)))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    if entries.is_empty() && state.data().initiative(&id).is_none() {
        return Err(ApiError::NotFound(format!("no initiative with id `{id}`")));
    }
    Ok(axum::Json(json!({ "id": id, "history": entries })).into_response())
}

/// `POST /api/initiatives/{id}/verified` (editor): the initiative was
/// checked against the field today (« vérifiée le … »); within the editor's
/// départements.
pub async fn verified(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    who.require(Role::Editor)?;
    let data = state.data();
    let x = data
        .initiative(&id)
        .ok_or_else(|| ApiError::NotFound(format!("no initiative with id `{id}`")))?;
    who.actor().check(&x.to_record())?;
    let live = state.live.clone();
    let at = tokio::task::spawn_blocking(move || {
        live.store()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .mark_verified(&id, &who.name)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok(axum::Json(json!({ "verified_at": at })).into_response())
}

/// `GET /api/adresses?q=&limit=` (signed in): addresses from the configured
/// addok while an editor types one; none, said so, without a geocoder.
pub async fn addresses(
    State(state): State<AppState>,
    who: Principal,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    who.require(Role::Contributor)?;
    let params = Params::new(raw, &["q", "limit"])?;
    let q = params.text("q").unwrap_or_default().trim().to_string();
    if q.chars().count() < 3 || q.len() > 200 || q.chars().any(char::is_control) {
        return Err(ApiError::bad(
            "q",
            "3 to 200 characters, no control character",
        ));
    }
    let limit = params.number("limit", Some(5), 1, 10)?.unwrap_or(5);
    let geocoding = state.geocoding.clone();
    let found = tokio::task::spawn_blocking(move || {
        geocoding
            .addok
            .as_ref()
            .map(|addok| addok.suggest(&q, limit))
    })
    .await
    .map_err(ApiError::internal)?;
    Ok(match found {
        None => axum::Json(json!({ "geocoder": null, "suggestions": [],
            "message": "pas de géocodeur configuré : placez l'initiative sur la carte" })),
        Some(Ok(list)) => axum::Json(json!({ "geocoder": "addok", "suggestions": list })),
        Some(Err(e)) => {
            tracing::warn!("{e}");
            axum::Json(json!({ "geocoder": "addok", "suggestions": [],
                "message": "le géocodeur ne répond pas : placez l'initiative sur la carte" }))
        }
    }
    .into_response())
}

/// `GET /api/import/reports/{id}` (admin): an import's row-by-row report,
/// CSV, from the store (so from any replica, whichever ran the import).
pub async fn report(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    who.require(Role::Admin)?;
    let number: i64 = id
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no import report `{id}`")))?;
    let live = state.live.clone();
    let found = tokio::task::spawn_blocking(move || live.read(|s| s.report(number)))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let (source, at, csv) =
        found.ok_or_else(|| ApiError::NotFound(format!("no import report `{id}`")))?;
    let name = format!("import-{source}-{}.csv", at.replace([':', '-'], ""));
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                axum::http::HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                    .map_err(ApiError::internal)?,
            ),
        ],
        csv,
    )
        .into_response())
}

/// `POST /api/import` (admin, multipart): `file` (CSV, GeoJSON, XLSX or ODS),
/// `source`, optional `dry_run` (`true`) and `mapping` (TOML text). The same
/// pipeline as `ess-map import`; answers its summary. The upload is kept in
/// `state/uploads/` while the import runs, removed after (and at start, if
/// a killed process left one).
pub async fn import(
    State(state): State<AppState>,
    who: Principal,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    who.require(Role::Admin)?;
    let (mut file, mut source, mut dry_run, mut mapping) = (None, None, false, None);
    let multipart = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "the upload is larger than {} MiB",
                super::MAX_IMPORT_BODY / 1024 / 1024
            ))
        } else {
            ApiError::field("multipart", e.body_text())
        }
    };
    while let Some(field) = form.next_field().await.map_err(multipart)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let filename = field.file_name().unwrap_or("upload.csv").to_string();
                let bytes = field.bytes().await.map_err(multipart)?;
                file = Some((filename, bytes));
            }
            "source" | "dry_run" | "mapping" => {
                let text = field.text().await.map_err(multipart)?;
                match name.as_str() {
                    "source" => source = Some(text.trim().to_string()),
                    "dry_run" => dry_run = matches!(text.trim(), "true" | "1" | "on"),
                    _ => {
                        mapping = Some(
                            geodata::import::Mapping::from_toml(&text)
                                .map_err(|e| ApiError::field("mapping", e.to_string()))?,
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
    // Checked before anything is written or locked under its name.
    crate::import::check_source(&source, &state.live.territory)
        .map_err(|e| ApiError::field("source", e.to_string()))?;
    let extension = crate::import::extension_for(&filename);
    let (live, geocoding) = (state.live.clone(), state.geocoding.clone());
    let state_dir = state.state_dir.clone();
    let actor = who.name.clone();
    let summary = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let uploads = state_dir.join("uploads");
        std::fs::create_dir_all(&uploads).map_err(ApiError::internal)?;
        // Removed when dropped, whatever happens below.
        let upload = tempfile::Builder::new()
            .suffix(&format!(".{extension}"))
            .tempfile_in(&uploads)
            .map_err(ApiError::internal)?;
        std::fs::write(upload.path(), &bytes).map_err(ApiError::internal)?;
        let g = &geocoding;
        let shown = live.snapshot();
        let existing = Index::new(shown.data.initiatives().iter().cloned());
        drop(shown);
        let options = ImportOptions {
            existing: &existing,
            workbook_limits: crate::workbook::Limits::UPLOAD,
            profile: None,
            source,
            mapping,
            dry_run,
            actor,
            addok: g.addok.as_ref(),
            min_score: g.min_score,
            reports_dir: state_dir.join("reports"),
            progress: false,
        };
        let mut summary = run_import(live.store(), upload.path(), &options, &live.territory)
            .map_err(|e| match e {
                ImportError::BadSource { .. } => ApiError::field("source", e.to_string()),
                // Named as the client named it: no server path in the answer.
                ImportError::File(e) => ApiError::field(
                    "file",
                    format!("{e:#}").replace(&upload.path().display().to_string(), &filename),
                ),
                // Logged; the answer says no more than that it failed.
                ImportError::Store(e) => ApiError::internal(e),
            })?;
        live.refresh().map_err(ApiError::internal)?;
        summary.file = filename;
        // The report is the client's by its address, not by a server path.
        summary.report = format!("/api/import/reports/{}", summary.report_id);
        Ok(serde_json::to_value(summary).expect("serialisable"))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(axum::Json(summary).into_response())
}

/// `GET /api/import/runs?source=` (admin): the scheduled imports and their
/// latest runs (summary, report, or why it failed), newest first.
pub async fn runs(
    State(state): State<AppState>,
    who: Principal,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    who.require(Role::Admin)?;
    let params = Params::new(raw, &["source"])?;
    let source = params.text("source").map(str::to_string);
    let live = state.live.clone();
    let runs =
        tokio::task::spawn_blocking(move || live.read(|s| s.import_runs(source.as_deref(), 200)))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    let schedules: Vec<Value> = state
        .schedules
        .list
        .iter()
        .map(|s| {
            json!({
                "source": s.source,
                "url": s.url,
                "every_hours": s.every_hours.unwrap_or(crate::config::ScheduledImport::DEFAULT_EVERY_HOURS),
                "profile": s.profile,
                "running": state.schedules.is_running(&s.source),
            })
        })
        .collect();
    Ok(axum::Json(json!({ "schedules": schedules, "runs": runs })).into_response())
}

/// `POST /api/import/runs/{source}` (admin): runs that scheduled import now
/// (202; its run appears in `GET /api/import/runs`); 409 while it runs.
pub async fn run_now(
    State(state): State<AppState>,
    who: Principal,
    Path(source): Path<String>,
) -> Result<Response, ApiError> {
    who.require(Role::Admin)?;
    if state.schedules.get(&source).is_none() {
        return Err(ApiError::NotFound(format!(
            "no scheduled import `{source}`"
        )));
    }
    if state.schedules.is_running(&source) {
        return Err(ApiError::Conflict(format!("`{source}` is being imported")));
    }
    let runner = state.import_runner();
    let started = source.clone();
    tokio::task::spawn_blocking(move || runner.run_now(&started));
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "source": source, "message": "import lancé : son résultat apparaîtra dans la liste des passages" })),
    )
        .into_response())
}
