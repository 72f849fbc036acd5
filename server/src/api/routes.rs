//! The one route table, and the router around it (the web map's files,
//! JSON errors everywhere, frame policy, body timeouts, compression).

use std::path::Path;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::HandlerWithoutStateExt;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{MethodRouter, get, patch, post};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use super::{
    ApiError, AppState, MAX_EDIT_BODY, MAX_IMPORT_BODY, changes, edits, error, gaps, initiatives,
    locate, meta, moderation, ogc, openapi, qpv, session, tiles, walk,
};

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
        ("/api/qpv/markers", get(qpv::markers)),
        ("/api/qpv/counts", get(qpv::counts)),
        ("/api/qpv/{code}", get(qpv::one)),
        ("/api/qpv/{code}/communes", get(qpv::communes)),
        ("/api/qpv/{code}/nearby", get(qpv::nearby)),
        ("/api/qpv/{code}/ring", get(qpv::ring)),
        ("/api/qpv/{code}/isochrone", get(walk::qpv)),
        ("/api/isochrone", get(walk::point)),
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
        ("/api/initiatives/{id}/verified", post(edits::verified)),
        (
            "/api/import",
            post(edits::import)
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BODY))
                .layer(axum::middleware::from_fn(
                    declared_length::<MAX_IMPORT_BODY>,
                )),
        ),
        ("/api/import/reports/{id}", get(edits::report)),
        ("/api/import/runs", get(edits::runs)),
        ("/api/import/runs/{source}", post(edits::run_now)),
        (
            "/api/session",
            get(session::current)
                .post(session::sign_in)
                .delete(session::sign_out)
                .layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        ("/api/session/openid", get(session::openid_start)),
        (
            "/api/session/openid/callback",
            get(session::openid_callback),
        ),
        (
            "/api/password",
            post(session::choose_password).layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        (
            "/api/password/reset",
            post(session::request_reset).layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        (
            "/api/users",
            get(session::users)
                .post(session::invite)
                .layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        (
            "/api/users/{email}",
            patch(session::change_user).layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        (
            "/api/proposals",
            get(moderation::list)
                .post(moderation::propose)
                .layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        (
            "/api/proposals/{id}/accept",
            post(moderation::accept).layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        (
            "/api/proposals/{id}/reject",
            post(moderation::reject).layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        ("/api/duplicates", get(moderation::duplicates)),
        (
            "/api/duplicates/{id}/{decision}",
            post(moderation::decide).layer(DefaultBodyLimit::max(MAX_EDIT_BODY)),
        ),
        ("/api/adresses", get(edits::addresses)),
        ("/api/changes", get(changes::json)),
        ("/api/changes.atom", get(changes::atom)),
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
    let frames = HeaderValue::from_str(&format!("frame-ancestors {}", state.edge.frame_ancestors))
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
