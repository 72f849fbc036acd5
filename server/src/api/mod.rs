//! The HTTP API: small handlers over the data being served ([`Live`]).

mod edits;
mod error;
mod gaps;
mod initiatives;
mod json;
mod locate;
mod meta;
pub mod ogc;
pub mod openapi;
mod params;
pub mod public_url;
mod qpv;
pub(crate) mod tiles;
mod views;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::HandlerWithoutStateExt;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use geodata::Dataset;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::bounded::{Admission, Bounded};
use crate::glyphs::Glyphs;
use crate::live::{Live, Snapshot};

/// Largest bounding box side, in degrees, for `/api/initiatives?bbox=`.
pub const MAX_BBOX_DEG: f64 = 5.0;
/// Default and largest page size of initiative lists.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Largest JSON body of an edit.
const MAX_EDIT_BODY: usize = 64 * 1024;
/// Largest file sent to `/api/import`.
pub const MAX_IMPORT_BODY: usize = 32 * 1024 * 1024;

/// The Géoplateforme's official « Plan IGN » vector style.
pub const PLAN_IGN_STYLE_URL: &str =
    "https://data.geopf.fr/annexes/ressources/vectorTiles/styles/PLAN.IGN/standard.json";

/// The basemaps the web map offers; none is fetched unless chosen (or
/// configured as the default), so the map stays offline by default.
#[derive(Debug, Clone)]
pub struct Basemaps {
    /// `basemap_style_url` of the configuration: drawn from the start.
    pub configured: Option<String>,
    pub plan_ign: String,
}

/// Bytes of tables (a workbook's unpacked XML, a CSV's size) located at
/// once: what the machine holds in memory while locating them.
pub const TABLE_WORK_BUDGET: u64 = 256 << 20;

/// The client of a request: the peer's address, or behind a trusted proxy
/// (`trust_proxy_headers`) the last address of `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub std::net::IpAddr);

impl axum::extract::FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.public_url.trust_forwarded
            && let Some(ip) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok())
        {
            return Ok(Client(ip));
        }
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Client(peer.unwrap_or(std::net::IpAddr::V4(
            std::net::Ipv4Addr::UNSPECIFIED,
        ))))
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub live: Arc<Live>,
    pub glyphs: Arc<Glyphs>,
    /// Basemaps the web map offers (label, style URL), the first drawn from
    /// the start when the configuration names one (`basemap_style_url`).
    pub basemaps: Basemaps,
    /// Where the web map reads unfiltered tiles: a PMTiles archive's URL
    /// (`tiles_url`), or this server when `None`.
    pub tiles_url: Option<String>,
    /// `Content-Security-Policy: frame-ancestors …` of every HTML page.
    pub frame_ancestors: String,
    /// Gap analyses and rings: a few at a time, within a time budget.
    pub heavy: Arc<Bounded>,
    /// Tables of addresses to locate: admitted by their unpacked bytes
    /// (at most [`TABLE_WORK_BUDGET`] at once), two per client, each up to
    /// ten minutes (geocoding a hundred thousand addresses takes minutes).
    pub tables: Arc<Admission>,
    pub gap_cache: Arc<gaps::GapCache>,
    pub ring_cache: Arc<qpv::RingCache>,
    /// The `gaps` collection of the OGC API, by revision.
    pub ogc_gap_rows: Arc<ogc::GapRows>,
    pub public_url: Arc<public_url::PublicUrl>,
}

impl AppState {
    pub fn new(
        live: Arc<Live>,
        glyphs: Arc<Glyphs>,
        basemaps: Basemaps,
        (permits, budget): (usize, std::time::Duration),
        public_url: public_url::PublicUrl,
    ) -> Self {
        AppState {
            public_url: Arc::new(public_url),
            live,
            glyphs,
            basemaps,
            tiles_url: None,
            frame_ancestors: "*".to_string(),
            heavy: Arc::new(Bounded::new("analysis", permits, budget)),
            tables: Arc::new(Admission::new(
                "table location",
                TABLE_WORK_BUDGET,
                2,
                std::time::Duration::from_secs(5),
                std::time::Duration::from_secs(600),
            )),
            gap_cache: Arc::new(gaps::GapCache::new()),
            ring_cache: Arc::new(qpv::RingCache::new()),
            ogc_gap_rows: Arc::new(ogc::GapRows::new()),
        }
    }

    /// The data as of now (a handler keeps one version throughout).
    pub fn data(&self) -> Dataset {
        self.live.snapshot().data.clone()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.live.snapshot()
    }
}

/// A body whose declared length is over `LIMIT` is refused (413) before any
/// of it is read.
async fn declared_length<const LIMIT: usize>(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, ApiError> {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > LIMIT) {
        return Err(ApiError::TooLarge(format!(
            "the body is larger than {} MiB",
            LIMIT / 1024 / 1024
        )));
    }
    Ok(next.run(request).await)
}

const TILE_ROUTE: &str = "/tiles/{layer}/{z}/{x}/{tile}";

/// Every route, with its handler. The OpenAPI document lists the same paths
/// (a test keeps the two equal).
pub fn routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    vec![
        ("/health", get(meta::health)),
        ("/api/datasets", get(meta::datasets)),
        ("/api/categories", get(meta::categories)),
        ("/api/openapi.json", get(openapi::document)),
        ("/api/qpv", get(qpv::list)),
        ("/api/qpv/{code}", get(qpv::one)),
        ("/api/qpv/{code}/nearby", get(qpv::nearby)),
        ("/api/qpv/{code}/ring", get(qpv::ring)),
        ("/qpv/{code}/fiche", get(qpv::fiche)),
        ("/api/locate", get(locate::locate)),
        (
            "/api/locate/table",
            post(locate::table)
                .layer(DefaultBodyLimit::max(locate::MAX_TABLE_BODY))
                .layer(axum::middleware::from_fn(
                    declared_length::<{ locate::MAX_TABLE_BODY }>,
                )),
        ),
        ("/api/gaps", get(gaps::table)),
        ("/api/gaps/summary", get(gaps::summary)),
        ("/api/compare", get(gaps::compare)),
        (
            "/api/initiatives",
            get(initiatives::list)
                .post(edits::create)
                .layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        (
            "/api/initiatives/{id}",
            get(initiatives::one)
                .patch(edits::patch)
                .delete(edits::delete)
                .layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        ("/api/initiatives/export", get(initiatives::export)),
        ("/api/initiatives/{id}/history", get(edits::history)),
        (
            "/api/import",
            post(edits::import)
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BODY))
                .layer(axum::middleware::from_fn(
                    declared_length::<MAX_IMPORT_BODY>,
                )),
        ),
        ("/api/import/reports/{id}", get(edits::report)),
        ("/tiles/{tilejson}", get(tiles::tilejson)),
        (TILE_ROUTE, get(tiles::tile)),
        ("/style.json", get(tiles::style)),
        ("/fonts/{fontstack}/{range}", get(tiles::glyphs)),
        ("/ogc", get(ogc::landing)),
        ("/ogc/conformance", get(ogc::conformance)),
        ("/ogc/api", get(ogc::api)),
        ("/ogc/collections", get(ogc::collections)),
        ("/ogc/collections/{collectionId}", get(ogc::collection)),
        ("/ogc/collections/{collectionId}/items", get(ogc::items)),
        (
            "/ogc/collections/{collectionId}/items/{featureId}",
            get(ogc::item),
        ),
    ]
}

/// The API and tiles, and the web map's files from `web_dir/public` at `/`
/// (with MapLibre GL JS and the PMTiles reader from their npm packages at
/// `/vendor/maplibre-gl/` and `/vendor/pmtiles/`).
/// HTML pages say which sites may frame them (`frame_ancestors`).
fn frame_policy(value: HeaderValue) -> impl Fn(Response) -> std::future::Ready<Response> + Clone {
    move |mut response: Response| {
        let html = response
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        if html {
            response
                .headers_mut()
                .insert(axum::http::header::CONTENT_SECURITY_POLICY, value.clone());
        }
        std::future::ready(response)
    }
}

pub fn router(state: AppState, web_dir: &Path) -> Router {
    let frames = HeaderValue::from_str(&format!("frame-ancestors {}", state.frame_ancestors))
        .unwrap_or_else(|_| HeaderValue::from_static("frame-ancestors *"));
    let not_found =
        || async { ApiError::NotFound("no such route; see /api/openapi.json".to_string()) };
    let maplibre = ServeDir::new(web_dir.join("node_modules/maplibre-gl/dist"))
        .not_found_service(not_found.into_service());
    let pmtiles = ServeDir::new(web_dir.join("node_modules/pmtiles/dist"))
        .not_found_service(not_found.into_service());
    let web = ServeDir::new(web_dir.join("public")).not_found_service(not_found.into_service());
    // Vector tiles, the bulk of the traffic, skip the tracing span and the
    // compression negotiation (they are stored gzipped and answered as is).
    let (tiles, others): (Vec<_>, Vec<_>) = routes()
        .into_iter()
        .partition(|(path, _)| *path == TILE_ROUTE);
    let tiles = tiles
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        })
        .layer(axum::middleware::map_response(error::as_json));
    others
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        })
        .nest_service("/vendor/maplibre-gl", maplibre)
        .nest_service("/vendor/pmtiles", pmtiles)
        .fallback_service(web)
        .layer(axum::middleware::map_response(error::as_json))
        .layer(axum::middleware::map_response(frame_policy(frames)))
        // A client that stops sending the body it announced is cut off.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            std::time::Duration::from_secs(60),
        ))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .merge(tiles)
        .with_state(state)
}
