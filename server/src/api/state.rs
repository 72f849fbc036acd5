//! What every handler shares.

use std::path::PathBuf;
use std::sync::Arc;

use geodata::Dataset;

use super::ApiError;
use super::public_url::PublicUrl;
use crate::auth::Auth;
use crate::bounded::{Admission, Bounded};
use crate::config::Settings;
use crate::geocode::Geocoding;
use crate::glyphs::Glyphs;
use crate::live::{Live, Snapshot};
use crate::memo::Memo;
use crate::style::MapOptions;
use crate::tiles::TileCache;

/// Bytes of tables (a workbook's unpacked XML, a CSV's size) located at
/// once: what the machine holds in memory while locating them.
pub const TABLE_WORK_BUDGET: u64 = 256 << 20;

/// Settings of the HTTP edge.
#[derive(Debug, Clone)]
pub struct EdgeOptions {
    /// Where absolute links point.
    pub public_url: PublicUrl,
    /// `Content-Security-Policy: frame-ancestors …` of every HTML page.
    pub frame_ancestors: String,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        EdgeOptions {
            public_url: PublicUrl::default(),
            frame_ancestors: "*".to_string(),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The data served, version by version.
    pub live: Arc<Live>,
    /// Tiles made on demand (it follows `live`'s changes).
    pub tiles: Arc<TileCache>,
    /// Answers kept by route, query and revision.
    pub memo: Arc<Memo>,
    /// Gap analyses and rings: a few at a time, within a time budget.
    pub heavy: Arc<Bounded>,
    /// Tables of addresses to locate: admitted by their unpacked bytes
    /// (at most [`TABLE_WORK_BUDGET`] at once), two per client, each up to
    /// ten minutes (geocoding a hundred thousand addresses takes minutes).
    pub tables: Arc<Admission>,
    pub auth: Arc<Auth>,
    /// Sign-in attempts per client and per address.
    pub sign_in_limits: Arc<crate::accounts::AttemptLimits>,
    /// Visitors' proposals per client and per address (an hour's worth).
    pub proposal_limits: Arc<crate::accounts::AttemptLimits>,
    /// The SMTP relay, when configured.
    pub mailer: Option<Arc<crate::mail::Mailer>>,
    /// The single sign-on provider, when configured.
    pub openid: Option<Arc<crate::openid::OpenId>>,
    pub geocoding: Arc<Geocoding>,
    /// Where uploads and reports are written.
    pub state_dir: PathBuf,
    pub glyphs: Arc<Glyphs>,
    /// What the style tells the web map (basemaps, a PMTiles archive).
    pub map: Arc<MapOptions>,
    pub edge: Arc<EdgeOptions>,
    /// The walking network, when one is loaded (or being built).
    pub walking: Arc<crate::walking::Walking>,
    /// Inventories re-imported from a URL on a schedule.
    pub schedules: Arc<crate::scheduled::Schedules>,
}

impl AppState {
    /// The shared state of a server; `(permits, budget)` bound the heavy
    /// work.
    pub fn new(
        live: Arc<Live>,
        tiles: Arc<TileCache>,
        services: (Arc<Auth>, Arc<Geocoding>, PathBuf, Arc<Glyphs>),
        (permits, budget): (usize, std::time::Duration),
    ) -> Self {
        let (auth, geocoding, state_dir, glyphs) = services;
        AppState {
            live,
            tiles,
            memo: Arc::new(Memo::new(crate::memo::MEMO_BUDGET_BYTES)),
            heavy: Arc::new(Bounded::new("analysis", permits, budget)),
            tables: Arc::new(Admission::new(
                "table location",
                TABLE_WORK_BUDGET,
                2,
                std::time::Duration::from_secs(5),
                std::time::Duration::from_secs(600),
            )),
            auth,
            sign_in_limits: Arc::new(crate::accounts::AttemptLimits::default()),
            proposal_limits: Arc::new(crate::accounts::AttemptLimits::new(
                std::time::Duration::from_secs(3600),
                crate::api::moderation::PROPOSALS_PER_HOUR,
                crate::api::moderation::PROPOSALS_PER_HOUR / 2,
            )),
            mailer: None,
            openid: None,
            geocoding,
            state_dir,
            glyphs,
            map: Arc::new(MapOptions::default()),
            edge: Arc::new(EdgeOptions::default()),
            walking: crate::walking::Walking::none(),
            schedules: Arc::new(crate::scheduled::Schedules::new(Vec::new())),
        }
    }

    /// What runs the scheduled imports.
    pub fn import_runner(&self) -> crate::scheduled::Runner {
        crate::scheduled::Runner {
            live: self.live.clone(),
            geocoding: self.geocoding.clone(),
            state_dir: self.state_dir.clone(),
            schedules: self.schedules.clone(),
        }
    }

    /// The state the settings describe, for a server bound to `bound`.
    pub fn from_settings(
        settings: &Settings,
        live: Arc<Live>,
        tiles: Arc<TileCache>,
        bound: std::net::SocketAddr,
    ) -> anyhow::Result<AppState> {
        let config = &settings.config;
        let mut state =
            AppState::new(
                live,
                tiles,
                (
                    Arc::new(Auth::new(config.token.clone())),
                    Arc::new(crate::commands::geocoding(settings)),
                    settings.state_dir(),
                    Glyphs::new(config.fonts.clone().unwrap_or_else(|| {
                        std::path::PathBuf::from(crate::glyphs::DEFAULT_FONTS_DIR)
                    })),
                ),
                settings.analysis_bounds()?,
            );
        state.mailer = config
            .smtp
            .as_ref()
            .map(|smtp| crate::mail::Mailer::new(smtp).map(Arc::new))
            .transpose()?;
        state.openid = config
            .openid
            .clone()
            .map(|o| crate::openid::OpenId::new(o).map(Arc::new))
            .transpose()?;
        state.map = Arc::new(MapOptions {
            basemap: config.basemap_style_url.clone(),
            plan_ign: config
                .plan_ign_style_url
                .clone()
                .unwrap_or_else(|| crate::style::PLAN_IGN_STYLE_URL.to_string()),
            tiles_url: config.tiles_url.clone(),
        });
        let mut edge = EdgeOptions {
            public_url: PublicUrl {
                configured: config.public_url.clone(),
                trust_forwarded: config.trust_proxy_headers,
                allowed_hosts: config
                    .allowed_hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
            },
            ..EdgeOptions::default()
        };
        edge.public_url.listening_on(bound);
        if let Some(frames) = &config.frame_ancestors {
            anyhow::ensure!(
                axum::http::HeaderValue::from_str(frames).is_ok() && !frames.contains([';', ',']),
                "frame_ancestors: {frames:?} is not a list of CSP sources"
            );
            edge.frame_ancestors = frames.clone();
        }
        state.edge = Arc::new(edge);
        state.schedules = Arc::new(crate::scheduled::Schedules::new(
            config.scheduled_import.clone(),
        ));
        Ok(state)
    }

    /// The walking network, or why there is none (an answer to send).
    pub fn walk_network(&self) -> Result<Arc<geodata::walk::access::WalkNetwork>, super::ApiError> {
        self.walking
            .network()
            .ok_or_else(|| super::ApiError::NoWalkNetwork {
                building: matches!(
                    self.walking.state(),
                    crate::walking::WalkState::Building { .. }
                ),
                message: self.walking.unavailable().unwrap_or_default(),
            })
    }

    /// The data as of now (a handler keeps one version throughout).
    pub fn data(&self) -> Dataset {
        self.live.snapshot().data.clone()
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.live.snapshot()
    }
}

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
        if state.edge.public_url.trust_forwarded
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
