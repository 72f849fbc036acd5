//! OGC API – Features, Part 1 (Core) under `/ogc`, for QGIS (OAPIF), GDAL
//! (`OAPIF:`), ArcGIS and OWSLib: landing page, conformance, the API
//! document (the same one as `/api/openapi.json`, made from the same route
//! table), collections, and their items as GeoJSON pages with `next`/`prev`
//! links; HTML for a person (`f=html`, or a browser's `Accept`).

mod collections;
mod html;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geodata::gaps::{GapQuery, QpvGap, analyse};
use serde::Serialize;
use serde_json::{Value, json};

pub use collections::Collection;
use collections::{Selection, page};

use super::openapi::{Vocabulary, spec};
use super::params::Params;
use super::{ApiError, AppState};

/// Items per page when `limit` is not given, and the most a page holds.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 10_000;

pub const CONFORMANCE: [&str; 4] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
];

const OPENAPI_MEDIA: &str = "application/vnd.oai.openapi+json;version=3.0";
const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";
const HTML: &str = "text/html";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Html,
}

/// `f=json|html`, else what `Accept` prefers (a browser asks for HTML).
fn format(params: &Params, headers: &HeaderMap) -> Result<Format, ApiError> {
    match params.text("f") {
        Some("json") => Ok(Format::Json),
        Some("html") => Ok(Format::Html),
        Some(other) => Err(ApiError::bad("f", format!("`{other}` is not json or html"))),
        None => {
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let html = accept.find("text/html");
            let json = accept.find("json");
            Ok(match (html, json) {
                (Some(h), Some(j)) if h < j => Format::Html,
                (Some(_), None) => Format::Html,
                _ => Format::Json,
            })
        }
    }
}

#[derive(Serialize)]
pub struct Link {
    pub href: String,
    pub rel: &'static str,
    #[serde(rename = "type")]
    pub media: &'static str,
    pub title: String,
}

fn link(href: String, rel: &'static str, media: &'static str, title: &str) -> Link {
    Link {
        href,
        rel,
        media,
        title: title.to_string(),
    }
}

/// The public address of `/ogc`, and whether it came from `Host`.
fn root(state: &AppState, headers: &HeaderMap) -> Result<(String, bool), ApiError> {
    let (base, from_host) = state.edge.public_url.base(headers)?;
    Ok((format!("{base}/ogc"), from_host))
}

/// `self` and `alternate` links of a resource at `href` (no query).
fn self_links(href: &str, format: Format, json_media: &'static str) -> Vec<Link> {
    let (this, other) = match format {
        Format::Json => ((json_media, "json"), (HTML, "html")),
        Format::Html => ((HTML, "html"), (json_media, "json")),
    };
    vec![
        link(
            format!("{href}?f={}", this.1),
            "self",
            this.0,
            "ce document",
        ),
        link(
            format!("{href}?f={}", other.1),
            "alternate",
            other.0,
            &format!("ce document en {}", other.1.to_uppercase()),
        ),
    ]
}

/// The answer in the format asked, typed, varying on `Accept` (and `Host`
/// when URLs come from it).
fn answer(
    format: Format,
    body: &Value,
    json_media: &'static str,
    html: impl FnOnce(&Value) -> String,
    from_host: bool,
) -> Response {
    let (media, bytes) = match format {
        Format::Json => (json_media, serde_json::to_vec(body).expect("JSON")),
        Format::Html => ("text/html; charset=utf-8", html(body).into_bytes()),
    };
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    h.insert(
        header::VARY,
        HeaderValue::from_static(if from_host { "accept, host" } else { "accept" }),
    );
    response
}

/// `GET /ogc`
pub async fn landing(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["f"])?;
    let format = format(&params, &headers)?;
    let (root, from_host) = root(&state, &headers)?;
    let mut links = self_links(&root, format, JSON);
    links.extend([
        link(
            format!("{root}/api"),
            "service-desc",
            OPENAPI_MEDIA,
            "le document OpenAPI 3.0 de l'API",
        ),
        link(
            format!("{root}/api?f=html"),
            "service-doc",
            HTML,
            "la documentation de l'API",
        ),
        link(
            format!("{root}/conformance"),
            "conformance",
            JSON,
            "les classes de conformité",
        ),
        link(
            format!("{root}/collections"),
            "data",
            JSON,
            "les collections",
        ),
    ]);
    let body = json!({
        "title": "ess-map : l'ESS autour des quartiers prioritaires",
        "description": "Initiatives de l'économie sociale et solidaire, quartiers prioritaires de la politique de la ville (QPV), départements et analyse des manques, en OGC API – Features.",
        "links": links,
    });
    Ok(answer(format, &body, JSON, html::landing, from_host))
}

/// `GET /ogc/conformance`
pub async fn conformance(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["f"])?;
    let format = format(&params, &headers)?;
    let (_, from_host) = root(&state, &headers)?;
    let body = json!({ "conformsTo": CONFORMANCE });
    Ok(answer(format, &body, JSON, html::conformance, from_host))
}

/// `GET /ogc/api`: the API document (`f=html`: a page listing its paths).
pub async fn api(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["f"])?;
    let format = format(&params, &headers)?;
    let (_, from_host) = root(&state, &headers)?;
    let body = spec(&Vocabulary::of(&state.data()));
    Ok(answer(format, &body, OPENAPI_MEDIA, html::api, from_host))
}

/// A collection's description, as listed and alone.
fn collection_json(state: &AppState, collection: Collection, root: &str, format: Format) -> Value {
    let data = state.data();
    let href = format!("{root}/collections/{}", collection.id());
    let mut links = self_links(&href, format, JSON);
    links.extend([
        link(
            format!("{href}/items?f=json"),
            "items",
            GEOJSON,
            "les entités en GeoJSON",
        ),
        link(
            format!("{href}/items?f=html"),
            "items",
            HTML,
            "les entités en HTML",
        ),
    ]);
    let mut extent = json!({});
    if let Some(b) = collection.extent(&data) {
        extent["spatial"] = json!({
            "bbox": [[b.min().x, b.min().y, b.max().x, b.max().y]],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        });
    }
    if let Some((start, end)) = collection.interval(&data) {
        extent["temporal"] = json!({
            "interval": [[start, end]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        });
    }
    json!({
        "id": collection.id(),
        "title": collection.title(),
        "description": collection.description(),
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "extent": extent,
        "filters": collection.filters(),
        "links": links,
    })
}

/// `GET /ogc/collections`
pub async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["f"])?;
    let format = format(&params, &headers)?;
    let (root, from_host) = root(&state, &headers)?;
    let listed: Vec<Value> = Collection::ALL
        .into_iter()
        .map(|c| collection_json(&state, c, &root, format))
        .collect();
    let body = json!({
        "links": self_links(&format!("{root}/collections"), format, JSON),
        "collections": listed,
    });
    Ok(answer(format, &body, JSON, html::collections, from_host))
}

/// `GET /ogc/collections/{collectionId}`
pub async fn collection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["f"])?;
    let format = format(&params, &headers)?;
    let collection = Collection::from_id(&id)?;
    let (root, from_host) = root(&state, &headers)?;
    let body = collection_json(&state, collection, &root, format);
    Ok(answer(format, &body, JSON, html::collection, from_host))
}

/// The rows of the default gap analysis at this snapshot (computed off the
/// async threads, within the analysis budget, once per revision).
async fn gap_rows(
    state: &AppState,
    collection: Collection,
    categories: Vec<String>,
    generation: Option<u16>,
) -> Result<(Arc<crate::live::Snapshot>, Arc<Vec<QpvGap>>), ApiError> {
    let snapshot = state.snapshot();
    if collection != Collection::Gaps {
        return Ok((snapshot, Arc::new(Vec::new())));
    }
    let query = GapQuery {
        categories,
        generation,
        ..GapQuery::default()
    }
    .checked(&state.live.territory)
    .map_err(|e| ApiError::bad(e.parameter, e.message))?;
    let for_rows = snapshot.clone();
    let key = crate::memo::MemoKey {
        route: "/ogc/collections/gaps",
        query: format!("{} {:?}", query.categories.join(","), query.generation),
        revision: snapshot.revision,
    };
    let rows = state
        .memo
        .get(key, &state.heavy, move || {
            let rows = analyse(&for_rows.data, &query);
            let bytes = rows.len() * std::mem::size_of::<QpvGap>() * 4;
            Ok::<_, ApiError>((rows, bytes))
        })
        .await?;
    Ok((snapshot, rows))
}

/// `GET /ogc/collections/{collectionId}/items?bbox=&limit=&offset=&<filter>=&f=`
pub async fn items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let collection = Collection::from_id(&id)?;
    // The filters of every collection are accepted on each (one document
    // describes them all); one that does not apply to this collection is
    // ignored, as the document says.
    let mut accepted = vec!["f", "bbox", "limit", "offset"];
    for c in Collection::ALL {
        for f in c.filters() {
            if !accepted.contains(f) {
                accepted.push(f);
            }
        }
    }
    let params = Params::new(raw, &accepted)?;
    let format = format(&params, &headers)?;
    let limit = params
        .number("limit", Some(DEFAULT_LIMIT), 1, MAX_LIMIT)?
        .unwrap_or(DEFAULT_LIMIT);
    let offset = params
        .number("offset", Some(0), 0, usize::MAX)?
        .unwrap_or(0);
    // Checked as the rest of the API checks them.
    let data = state.data();

    // Checked on every collection (as the document describes them), used
    // only where they apply.
    params.departement(&data)?;
    let asked_qpv = params.qpv(&data)?;
    let applies = |name: &str| collection.filters().contains(&name);
    // Checked on every collection, though only some use it.
    if let Some(c) = params.text("category")
        && let Some(unknown) = c
            .split(',')
            .map(str::trim)
            .find(|k| !k.is_empty() && !state.live.territory.taxonomy.is_kind(k))
    {
        return Err(ApiError::bad(
            "category",
            format!("unknown category `{unknown}`; see /api/categories"),
        ));
    }
    // The gap analysis takes groups (`siae`) too.
    let gap_categories: Vec<String> = match (collection, params.text("category")) {
        (Collection::Gaps, Some(c)) => c.split(',').map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let selection = Selection {
        bbox: params.bbox(None, true)?,
        qpv: if applies("qpv") { asked_qpv } else { None },
        categories: if collection == Collection::Initiatives {
            params.categories(&data)?
        } else {
            Vec::new()
        },
        properties: collection
            .filters()
            .iter()
            .filter_map(|&name| Some((name.to_string(), params.text(name)?.to_string())))
            .collect(),
    };
    let (root, from_host) = root(&state, &headers)?;
    // Checked on every collection (the document describes it so), used
    // where it applies.
    let asked_generation = params.generation()?;
    let generation = if collection.filters().contains(&"generation") {
        asked_generation
    } else {
        None
    };
    let (snapshot, rows) = gap_rows(&state, collection, gap_categories, generation).await?;
    let found = page(
        &snapshot.data,
        collection,
        &selection,
        &rows,
        (offset, limit),
    )?;
    let returned = found.features.len();

    // The links repeat every parameter but the page's own.
    let href = format!("{root}/collections/{}/items", collection.id());
    let mut kept: Vec<(String, String)> = selection.properties.clone().into_iter().collect();
    kept.sort();
    if let Some(b) = params.text("bbox") {
        kept.insert(0, ("bbox".into(), b.to_string()));
    }
    let query = |f: &str, offset: usize| {
        let mut q = url_encode(&kept);
        for (k, v) in [
            ("limit", limit.to_string()),
            ("offset", offset.to_string()),
            ("f", f.to_string()),
        ] {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(&format!("{k}={v}"));
        }
        format!("{href}?{q}")
    };
    let (this, other) = match format {
        Format::Json => ((GEOJSON, "json"), (HTML, "html")),
        Format::Html => ((HTML, "html"), (GEOJSON, "json")),
    };
    let mut links = vec![
        link(query(this.1, offset), "self", this.0, "cette page"),
        link(
            query(other.1, offset),
            "alternate",
            other.0,
            &format!("cette page en {}", other.1.to_uppercase()),
        ),
        link(
            format!("{root}/collections/{}?f=json", collection.id()),
            "collection",
            JSON,
            collection.title(),
        ),
    ];
    if offset.saturating_add(returned) < found.matched {
        links.push(link(
            query(this.1, offset + returned),
            "next",
            this.0,
            "page suivante",
        ));
    }
    if offset > 0 {
        links.push(link(
            query(this.1, offset.saturating_sub(limit)),
            "prev",
            this.0,
            "page précédente",
        ));
    }
    let time_stamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a time formats");
    let body = json!({
        "type": "FeatureCollection",
        "features": found.features,
        "numberMatched": found.matched,
        "numberReturned": returned,
        "timeStamp": time_stamp,
        "links": links,
    });
    let title = collection.title();
    Ok(answer(
        format,
        &body,
        GEOJSON,
        |b| html::items(title, offset, b),
        from_host,
    ))
}

/// `GET /ogc/collections/{collectionId}/items/{featureId}`
pub async fn item(
    State(state): State<AppState>,
    Path((id, feature_id)): Path<(String, String)>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let collection = Collection::from_id(&id)?;
    let params = Params::new(raw, &["f"])?;
    let format = format(&params, &headers)?;
    let (root, from_host) = root(&state, &headers)?;
    let (snapshot, rows) = gap_rows(&state, collection, Vec::new(), None).await?;
    let feature =
        collections::one(&snapshot.data, collection, &feature_id, &rows).ok_or_else(|| {
            ApiError::NotFound(format!(
                "no feature `{feature_id}` in the collection {}",
                collection.id()
            ))
        })?;
    let href = format!(
        "{root}/collections/{}/items/{}",
        collection.id(),
        url_escape(&feature_id)
    );
    let mut links = self_links(&href, format, GEOJSON);
    links.push(link(
        format!("{root}/collections/{}?f=json", collection.id()),
        "collection",
        JSON,
        collection.title(),
    ));
    let mut body = serde_json::to_value(&feature).expect("JSON");
    body["links"] = serde_json::to_value(links).expect("JSON");
    let title = collection.title();
    Ok(answer(
        format,
        &body,
        GEOJSON,
        |b| html::item(title, b),
        from_host,
    ))
}

/// Percent-encodes what a query value or path segment may not hold.
fn url_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~,:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn url_encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", url_escape(k), url_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}
