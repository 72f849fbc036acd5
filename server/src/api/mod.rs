//! The HTTP API: small handlers over a shared, read-only [`Dataset`].

mod error;
mod initiatives;
mod locate;
mod meta;
pub mod openapi;
mod params;
mod qpv;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::routing::{MethodRouter, get};
use geodata::Dataset;
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

/// Largest search radius, in metres, for `locate` and `nearby`.
pub const MAX_RADIUS_M: f64 = 5000.0;
/// Largest bounding box side, in degrees, for `/api/initiatives?bbox=`.
pub const MAX_BBOX_DEG: f64 = 5.0;
/// Default and largest page size of initiative lists.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub data: Arc<Dataset>,
}

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
        ("/api/locate", get(locate::locate)),
        ("/api/initiatives", get(initiatives::list)),
        ("/api/initiatives/{id}", get(initiatives::one)),
    ]
}

pub fn router(data: Arc<Dataset>) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |router, (path, handler)| {
            router.route(path, handler)
        })
        .fallback(|| async {
            ApiError::NotFound("no such route; see /api/openapi.json".to_string())
        })
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(AppState { data })
}
