//! Service health, the datasets loaded and the category taxonomy.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use geodata::LocationStatus;
use serde_json::{Value, json};

use super::params::Params;
use super::{ApiError, AppState};

/// `GET /health`: what is loaded, where QPV outlines exist, and the store.
pub async fn health(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    Params::new(raw, &[])?;
    let snapshot = state.snapshot();
    let data = &snapshot.data;
    let store = state.live.store_health();
    let totals = data.initiatives().totals();
    let commune_only = totals.status(LocationStatus::CommuneOnly);
    let located = totals.all - totals.status(LocationStatus::NotLocated) - commune_only;
    Ok(Json(json!({
        "status": "ok",
        "qpv": data.qpvs().len(),
        "qpv_with_outline": data.qpvs().iter().filter(|q| q.geometry.is_some()).count(),
        "outlines": data.outline_coverage(),
        "initiatives": totals.all,
        "initiatives_located": located,
        // Placed at their commune's centre: on the map, not against QPV.
        "initiatives_commune_only": commune_only,
        "initiatives_by_source": totals.by_source,
        "store": {
            "revision": snapshot.revision,
            "pending_changes": data.initiatives().pending(),
            "kind": store["kind"],
            "location": store["location"],
            // false: writes answer 503 until the database is back; reads go on.
            "reachable": store["reachable"],
        },
        // Outlines drawn at low zooms are made in the background after start.
        "tile_outlines_ready": data.territory().tile_outlines_ready(),
        "datasets": data.reports().iter().map(|r| json!({
            "id": r.id,
            "title": data.manifest().get(&r.id).map(|d| d.title.clone()),
            "kind": data.manifest().get(&r.id).map(|d| d.kind),
            "as_of": data.manifest().get(&r.id).and_then(|d| d.as_of.clone()),
            "read": r.read,
            "loaded": r.loaded,
            "skipped": r.skipped,
            "repaired": r.repaired,
            "without_location": r.without_location,
            "notes": r.notes,
        })).collect::<Vec<_>>(),
    })))
}

/// `GET /api/categories`: the taxonomy, with how many initiatives each
/// category and each group (for the gap analysis) has.
pub async fn categories(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    Params::new(raw, &[])?;
    let data = state.data();
    let taxonomy = data.taxonomy();
    let counts = &data.initiatives().totals().by_kind;
    let categories: Vec<Value> = taxonomy
        .all()
        .iter()
        .map(|c| {
            json!({
                "id": c.id,
                "label": c.label,
                "description": c.description,
                "color": c.color,
                "source_kinds": c.source_kinds,
                "initiatives": counts.get(c.id.as_str()).copied().unwrap_or(0),
            })
        })
        .collect();
    let groups: Vec<Value> = taxonomy
        .groups()
        .iter()
        .map(|g| {
            json!({
                "id": g.id,
                "label": g.label,
                "description": g.description,
                "categories": g.categories,
                "source_kinds": g.source_kinds,
                "initiatives": counts.get(g.id.as_str()).copied().unwrap_or(0),
            })
        })
        .collect();
    Ok(Json(json!({ "categories": categories, "groups": groups })))
}

/// `GET /api/datasets`: each dataset of the manifest (source, licence,
/// attribution) with what loading it found, every issue included.
pub async fn datasets(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    Params::new(raw, &[])?;
    let data = &state.data();
    let datasets: Vec<Value> = data
        .manifest()
        .datasets
        .iter()
        .map(|entry| {
            let report = data.reports().iter().find(|r| r.id == entry.id);
            json!({
                "id": entry.id,
                "kind": entry.kind,
                "title": entry.title,
                "territory": entry.territory,
                "file": entry.file,
                "source_url": entry.source_url,
                "licence": entry.licence,
                "attribution": entry.attribution,
                "as_of": entry.as_of,
                "report": report.map(|r| json!({
                    "read": r.read,
                    "loaded": r.loaded,
                    "skipped": r.skipped,
                    "repaired": r.repaired,
                    "without_location": r.without_location,
                    "without_field": r.without_field,
                    "notes": r.notes,
                    "issues": r.issues.iter().map(|i| json!({
                        "position": i.position,
                        "key": i.key,
                        "field": i.field,
                        "reason": i.reason,
                        "action": i.action,
                        "text": i.to_string(),
                    })).collect::<Vec<_>>(),
                })),
            })
        })
        .collect();
    Ok(Json(json!({ "datasets": datasets })))
}
