//! The HTTP edge: small handlers over the data being served, one module a
//! group of routes; what they share ([`AppState`]) and the route table
//! ([`routes`]) stand apart. Nothing below this module knows HTTP: domain
//! errors become [`ApiError`]s here, by `From`.

mod changes;
mod edits;
mod error;
mod gaps;
pub mod http;
mod initiatives;
mod json;
mod locate;
mod meta;
pub(crate) mod moderation;
pub mod ogc;
pub mod openapi;
mod params;
pub mod public_url;
mod qpv;
mod routes;
mod session;
mod state;
pub(crate) mod tiles;
mod views;
mod walk;

pub use error::ApiError;
pub use routes::router;
#[cfg(test)]
pub use routes::routes;
pub use state::{AppState, Client};

/// The whole HTTP application of `ess-map serve`: the state the settings
/// describe, the routes, the web map's files from `web`.
pub fn app(
    settings: &crate::config::Settings,
    live: std::sync::Arc<crate::live::Live>,
    tiles: std::sync::Arc<crate::tiles::TileCache>,
    web: &std::path::Path,
    bound: std::net::SocketAddr,
    walking: std::sync::Arc<crate::walking::Walking>,
) -> anyhow::Result<axum::Router> {
    let mut state = AppState::from_settings(settings, live, tiles, bound)?;
    state.walking = walking;
    // Scheduled imports run when due, as long as the server runs.
    state.import_runner().spawn_all();
    Ok(router(state, web))
}

/// Largest bounding box side, in degrees, for `/api/initiatives?bbox=`.
pub const MAX_BBOX_DEG: f64 = 5.0;
/// Default and largest page size of initiative lists.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Largest JSON body of an edit.
pub(crate) const MAX_EDIT_BODY: usize = 64 * 1024;
/// Largest file sent to `/api/import`.
pub const MAX_IMPORT_BODY: usize = 32 * 1024 * 1024;
