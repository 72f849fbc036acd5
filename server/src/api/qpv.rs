//! QPV: list, one, and the initiatives nearby.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use geodata::communes::CommuneCentre;
use geodata::{QpvFilter, QpvId};
use serde_json::{Value, json};

use super::params::Params;
use super::views::{
    Collection, GeoJson, feature_collection, initiative_feature, qpv_feature, qpv_properties,
};
use geodata::conventions::{DEFAULT_RADIUS_M, NEAR_RADIUS_M};

use super::{ApiError, AppState};

/// `GET /api/qpv?departement=&generation=&q=`
pub async fn list(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let data = &state.data();
    let params = Params::new(raw, &["departement", "commune", "generation", "q"])?;
    let departement = params.departement(data)?;
    let generation = params.generation()?;
    let found = data.qpvs_matching(&QpvFilter {
        departement,
        commune: params.text("commune").map(str::to_string),
        generation,
        text: params.text("q").map(str::to_string),
    });
    let qpv: Vec<Value> = found
        .iter()
        .map(|&i| Value::Object(qpv_properties(data, i)))
        .collect();
    Ok(Json(json!({ "count": qpv.len(), "qpv": qpv })))
}

/// `GET /api/qpv/markers?departement=&generation=`: the QPV without an
/// outline, one point per commune and generation at the commune's centre,
/// listing them (what the map draws where it has no outline; the generations
/// in force unless one is asked for). QPV whose commune has no known centre
/// are counted apart (`without_place`).
pub async fn markers(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<GeoJson<Collection<geojson::Feature>>, ApiError> {
    let data = &state.data();
    let params = Params::new(raw, &["departement", "generation"])?;
    let found = data.qpvs_matching(&QpvFilter {
        departement: params.departement(data)?,
        commune: None,
        generation: params.generation()?,
        text: None,
    });
    let mut by_place: BTreeMap<(&str, u16), (&CommuneCentre, Vec<QpvId>)> = BTreeMap::new();
    let mut without_place = 0;
    for i in found {
        let q = data.qpv(i);
        if q.geometry.is_some() {
            continue;
        }
        match data.territory().qpv_commune(i) {
            Some(c) => by_place
                .entry((c.insee.as_str(), q.generation))
                .or_insert_with(|| (c, Vec::new()))
                .1
                .push(i),
            None => without_place += 1,
        }
    }
    let features: Vec<geojson::Feature> = by_place
        .into_iter()
        .map(|((insee, generation), (commune, ids))| {
            let qpv: Vec<Value> = ids
                .iter()
                .map(|&i| json!({ "code": data.qpv(i).code, "name": data.qpv(i).name }))
                .collect();
            let label = match ids.as_slice() {
                [one] => data.qpv(*one).name.clone(),
                many => format!("{} : {} QPV sans contour", commune.name, many.len()),
            };
            // `codes` as `,QN…,QN…,` so that a map filter can ask whether a
            // code is among them by its text.
            let codes: String = ids
                .iter()
                .map(|&i| format!(",{}", data.qpv(i).code))
                .collect::<String>()
                + ",";
            let properties = json!({
                "key": format!("{insee}-{generation}"),
                "commune": insee,
                "commune_name": commune.name,
                "generation": generation,
                "count": ids.len(),
                "code": (ids.len() == 1).then(|| data.qpv(ids[0]).code.clone()),
                "label": label,
                "codes": codes,
                "qpv": qpv,
            });
            geojson::Feature {
                bbox: None,
                geometry: Some(geojson::Geometry::new(geojson::GeometryValue::new_point([
                    commune.centre.x,
                    commune.centre.y,
                ]))),
                id: None,
                properties: properties.as_object().cloned(),
                foreign_members: None,
            }
        })
        .collect();
    Ok(GeoJson(feature_collection(
        features,
        json!({ "without_place": without_place }),
    )))
}

/// `GET /api/qpv/{code}/communes?category=&limit=`: for a QPV without
/// outline, the initiatives of its communes (those the gap analysis counts
/// for it); where they stand against the quartier is not known.
pub async fn communes(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let data = &state.data();
    let params = Params::new(raw, &["category", "limit"])?;
    let i = id_of(&state, &code)?;
    let limit = params.limit()?;
    let categories = params.categories(data)?;
    let mut found: Vec<_> = data
        .in_qpv_communes(data.qpv(i))
        .into_iter()
        .filter(|x| categories.is_empty() || categories.iter().any(|c| c == x.category))
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let total = found.len();
    let features: Vec<_> = found
        .into_iter()
        .take(limit)
        .map(|x| initiative_feature(data, x, None))
        .collect();
    let communes: Vec<&str> = data
        .qpv(i)
        .communes
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    Ok(GeoJson(feature_collection(
        features,
        json!({ "qpv": code, "communes": communes, "total": total, "limit": limit,
                "has_geometry": data.qpv(i).geometry.is_some() }),
    ))
    .into_response())
}

fn id_of(state: &AppState, code: &str) -> Result<QpvId, ApiError> {
    state
        .live
        .territory
        .qpv_by_code(code)
        .ok_or_else(|| ApiError::NotFound(format!("no QPV with code `{code}`")))
}

/// The `radius_m` around a QPV: [`DEFAULT_RADIUS_M`] unless given.
fn radius(params: &Params) -> Result<f64, ApiError> {
    params.radius(DEFAULT_RADIUS_M)
}

/// `GET /api/qpv/{code}`: a Feature, geometry null when no outline is loaded.
pub async fn one(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<GeoJson<geojson::Feature>, ApiError> {
    Params::new(raw, &[])?;
    let i = id_of(&state, &code)?;
    Ok(GeoJson(qpv_feature(&state.data(), i)))
}

/// `GET /api/qpv/{code}/nearby?radius_m=500&category=&limit=`
pub async fn nearby(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let data = &state.data();
    let params = Params::new(raw, &["radius_m", "category", "limit"])?;
    let i = id_of(&state, &code)?;
    let radius_m = radius(&params)?;
    let limit = params.limit()?;
    let categories = params.categories(data)?;
    if categories.len() > 1 {
        return Err(ApiError::bad("category", "one category at a time here"));
    }
    let category = categories.first().map(String::as_str);
    let found = data
        .nearby(i, radius_m, category, limit)
        .map_err(|e| ApiError::NoOutline(e.to_string()))?;
    let features = found
        .iter()
        .map(|(x, d)| initiative_feature(data, x, Some(*d)))
        .collect();
    Ok(GeoJson(feature_collection(
        features,
        json!({ "qpv": code, "radius_m": radius_m, "count": found.len(), "limit": limit }),
    ))
    .into_response())
}

/// `GET /api/qpv/{code}/ring?radius_m=500`: the area within `radius_m` of the
/// outline, as a Feature (the ring the map draws around a selected QPV).
/// Computed on a simplified outline ([`geodata::model::QpvGeometry::grown_by`]),
/// off the async threads, within a time budget, and kept.
pub async fn ring(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["radius_m"])?;
    let id = id_of(&state, &code)?;
    let radius_m = radius(&params)?;
    let territory = state.live.territory.clone();
    if territory.qpv(id).geometry.is_none() {
        return Err(ApiError::NoOutline(format!(
            "QPV {code} has no outline in the loaded data"
        )));
    }
    // The territory never changes while served: revision 0.
    let key = crate::memo::MemoKey {
        route: "/api/qpv/{code}/ring",
        query: format!("{id:?} {}", radius_m.to_bits()),
        revision: 0,
    };
    let body = state
        .memo
        .get(key, &state.heavy, move || {
            let qpv = territory.qpv(id);
            let outline = qpv.geometry.as_ref().expect("checked above");
            let grown = outline.grown_by(radius_m);
            let mut properties = geojson::JsonObject::new();
            properties.insert("code".into(), json!(qpv.code));
            properties.insert("radius_m".into(), json!(radius_m));
            let feature = geojson::Feature {
                bbox: None,
                geometry: Some(geojson::Geometry::new(geojson::GeometryValue::from(&grown))),
                id: None,
                properties: Some(properties),
                foreign_members: None,
            };
            let body = serde_json::to_vec(&feature).expect("JSON");
            let bytes = body.len();
            Ok::<_, ApiError>((Bytes::from(body), bytes))
        })
        .await?;
    let body = Bytes::clone(&body);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/geo+json"),
        )],
        body,
    )
        .into_response())
}

/// `GET /qpv/{code}/fiche?radius_m=500`: the QPV's printable fiche (HTML,
/// [`crate::fiche`]), made off the async threads.
pub async fn fiche(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["radius_m"])?;
    let id = id_of(&state, &code)?;
    let radius_m = radius(&params)?;
    let data = state.data();
    let walk = state.walking.network();
    let html = state
        .heavy
        .run(move || crate::fiche::fiche_html(&data, id, radius_m, walk.as_deref()))
        .await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html,
    )
        .into_response())
}

/// `GET /api/qpv/counts?category=`: per QPV drawn (outline loaded, every
/// generation), initiatives inside, within [`NEAR_RADIUS_M`] and the same
/// per 10,000 inhabitants (`null`: population not published), as columns,
/// for the web map's colours. Every category: the counts each edit keeps up
/// to date; some: the gap analysis at that radius, generation by generation
/// (kept per revision). The QPV tiles do not carry these (an edit would move
/// every zoom's QPV tiles around it). Tagged with the store revision (an
/// unchanged answer is 304).
pub async fn counts(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    use axum::http::{HeaderValue, StatusCode, header};
    let params = Params::new(raw, &["category"])?;
    let snapshot = state.snapshot();
    let mut categories = params.categories(&snapshot.data)?;
    categories.sort();
    categories.dedup();
    let tag = format!("\"{}-{}\"", snapshot.revision, categories.join(","));
    let tag = HeaderValue::from_str(&tag).map_err(ApiError::internal)?;
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|given| given == tag)
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    let key = crate::memo::MemoKey {
        route: "/api/qpv/counts",
        query: categories.join(","),
        revision: snapshot.revision,
    };
    let body = state
        .memo
        .get(key, &state.heavy, move || {
            let body = counts_json(&snapshot, categories)?;
            let bytes = body.len();
            Ok::<_, ApiError>((Bytes::from(body), bytes))
        })
        .await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, tag),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Bytes::clone(&body),
    )
        .into_response())
}

fn counts_json(
    snapshot: &crate::live::Snapshot,
    categories: Vec<String>,
) -> Result<Vec<u8>, ApiError> {
    let data = &snapshot.data;
    let mut code = Vec::new();
    let mut inside = Vec::new();
    let mut within = Vec::new();
    let mut per_10k = Vec::new();
    let mut push = |id: QpvId, i: usize, w: usize| {
        let qpv = data.qpv(id);
        code.push(qpv.code.as_str());
        inside.push(i);
        within.push(w);
        per_10k.push(geodata::conventions::per_10k(
            w as u64,
            qpv.population.map(u64::from),
        ));
    };
    for generation in geodata::conventions::GENERATIONS {
        if categories.is_empty() {
            let drawn = data.qpvs_matching(&QpvFilter {
                generation: Some(generation),
                ..QpvFilter::default()
            });
            for id in drawn {
                if let Some(c) = data.qpv_counts(id) {
                    push(id, c.inside as usize, c.within_500m as usize);
                }
            }
        } else {
            let query = geodata::gaps::GapQuery {
                radius_m: NEAR_RADIUS_M,
                categories: categories.clone(),
                generation: Some(generation),
                ..geodata::gaps::GapQuery::default()
            }
            .checked(data.territory())
            .map_err(|e| ApiError::bad(e.parameter, e.message))?;
            for row in geodata::gaps::analyse(data, &query) {
                if data.qpv(row.qpv).geometry.is_some() {
                    push(row.qpv, row.inside, row.within);
                }
            }
        }
    }
    serde_json::to_vec(&json!({
        "revision": snapshot.revision,
        "radius_m": NEAR_RADIUS_M,
        "categories": categories,
        "code": code,
        "inside": inside,
        "within_500m": within,
        "per_10k": per_10k,
    }))
    .map_err(ApiError::internal)
}
