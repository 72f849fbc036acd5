//! Where ess-map finds its data and how it listens: command-line flags first,
//! then environment variables, then a configuration file, then defaults,
//! merged here and nowhere else ([`Settings`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The manifest and taxonomy shipped with ess-map, used unless overridden.
pub const DEFAULT_MANIFEST: &str = include_str!("../../data/manifest.toml");
pub const DEFAULT_CATEGORIES: &str = include_str!("../../data/categories.toml");
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// `None`: a quarter of `max_connections` (at least 16).
    pub max_connections_per_client: Option<usize>,
    pub shutdown_deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            max_connections: 8192,
            max_connections_per_client: None,
            shutdown_deadline: Duration::from_secs(10),
        }
    }
}

/// `ess-map.toml`: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub data: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub manifest: Option<PathBuf>,
    pub categories: Option<PathBuf>,
    /// The web map's folder.
    pub web: Option<PathBuf>,
    /// Folder of the TrueType fonts map labels are made from.
    pub fonts: Option<PathBuf>,
    /// An external basemap style to draw under ess-map's layers. Off by
    /// default: the map then makes no request beyond ess-map.
    pub basemap_style_url: Option<String>,
    /// The IGN Géoplateforme's « Plan IGN » vector style, offered as a
    /// basemap in the web map (default: its official address; only fetched
    /// when a user picks it).
    pub plan_ign_style_url: Option<String>,
    /// A PMTiles archive of the tiles (`ess-map tiles export`) on a static
    /// host or CDN: the web map then reads its unfiltered tiles there (with
    /// the npm `pmtiles` protocol), and only category-filtered ones here.
    /// The host must answer range requests and allow this origin (CORS).
    pub tiles_url: Option<String>,
    /// Which sites may show ess-map's pages in a frame (the web map's
    /// `?embed=1`): the CSP `frame-ancestors` sources, default `*` (any: the
    /// data is public), e.g. `"'self' https://www.ville.example.org"`.
    pub frame_ancestors: Option<String>,
    /// Where ess-map writes (its database, import reports): default `./state`.
    pub state: Option<PathBuf>,
    /// A shared PostgreSQL/PostGIS store (`postgres://user@host/db`) for
    /// several replicas; default: SQLite in the state directory.
    pub store: Option<String>,
    /// Where `ess-map data fetch` puts the national files, searched after
    /// the data directory: default `<state>/downloads`.
    pub downloads: Option<PathBuf>,
    /// An addok geocoder (default: the IGN Géoplateforme); `"none"`: only
    /// the offline commune-centre fallback.
    pub geocoder_url: Option<String>,
    /// Geocoder results scoring lower are placed at the commune's centre.
    pub geocoder_min_score: Option<f64>,
    /// Seconds per geocoder request.
    pub geocoder_timeout_s: Option<f64>,
    /// Write-API tokens given by configuration, stored hashed:
    /// `[[token]] name = "…" role = "editor" sha256 = "…"`.
    #[serde(default)]
    pub token: Vec<ConfigToken>,
    /// The address the public reaches ess-map at (`https://carto.example.org`):
    /// every absolute URL ess-map writes (TileJSON, style) starts with it.
    pub public_url: Option<String>,
    /// Without `public_url`: the `Host` names (`carte.local:8080`) besides
    /// the address listened on for which ess-map writes absolute links
    /// (any other `Host` is refused on the routes that write links).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Whether a reverse proxy in front sets `X-Forwarded-Proto` and
    /// `X-Forwarded-Host` (only then are they believed).
    #[serde(default)]
    pub trust_proxy_headers: bool,
    /// Memory the tile cache may use, in MiB (default 256).
    pub tile_cache_mb: Option<u64>,
    /// Seconds a client has to send a request head (also closes idle
    /// keep-alive connections; default 10).
    pub header_timeout_s: Option<f64>,
    /// Connections open at once (default 8192).
    pub max_connections: Option<usize>,
    /// Connections open at once from one address (an IPv6 /64): default a
    /// quarter of `max_connections`; none behind a trusted proxy
    /// (`trust_proxy_headers`), where every connection comes from the proxy.
    pub max_connections_per_client: Option<usize>,
    /// Seconds requests under way get to finish at shutdown (default 10).
    pub shutdown_deadline_s: Option<f64>,
    /// Gap analyses and rings computed at once (default: the number of cores).
    pub analysis_concurrency: Option<usize>,
    /// Seconds an analysis or a ring may wait and run before the request
    /// answers 503 with `Retry-After` (default 10).
    pub analysis_timeout_s: Option<f64>,
    /// E-mail for invitations and password resets:
    /// `[smtp] url = "smtp://relay.example.org:587?tls=required"` (or
    /// `smtps://…:465`; user and password in the URL) and
    /// `from = "Carte ESS <ne-pas-repondre@example.org>"`. Without it, an
    /// admin hands invitation links over, and resets are asked of an admin.
    pub smtp: Option<SmtpConfig>,
    /// Single sign-on by OpenID Connect (ProConnect): `[openid] issuer =
    /// "https://auth.agentconnect.gouv.fr/api/v2"`, `client_id`,
    /// `client_secret`, optional `label` (« ProConnect ») and `scopes`. The
    /// provider sends people back to `<public_url>/api/session/openid/callback`.
    pub openid: Option<OpenIdConfig>,
    /// OpenStreetMap extracts (`.osm.pbf`) the walking network is built
    /// from, besides `--osm` and those `ess-map data fetch` put in place.
    #[serde(default)]
    pub osm: Vec<PathBuf>,
    /// Walking speed in km/h (default 4.5, OSRM's foot profile's).
    pub walking_speed_kmh: Option<f64>,
    /// INSEE's gridded population (Filosofi 200 m squares, CSV) to weight
    /// a QPV's streets by the people living along them; default: the one
    /// `ess-map data fetch filosofi-carreaux-200m` put in place.
    pub population_grid: Option<PathBuf>,
    /// Inventories re-imported from a URL on a schedule (a network's
    /// published sheet, data·inclusion): `[[scheduled_import]] source = "…"
    /// url = "https://…" every_hours = 24`, optional `profile`
    /// (`data-inclusion`), `mapping` (a mapping file) and `format` (`csv`,
    /// `geojson`, `xlsx`, `ods`, when the URL's name does not say it).
    #[serde(default)]
    pub scheduled_import: Vec<ScheduledImport>,
}

/// An inventory re-imported from a URL on a schedule.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledImport {
    pub source: String,
    pub url: String,
    /// Hours between runs (default 24; at least a minute's worth).
    pub every_hours: Option<f64>,
    pub profile: Option<String>,
    pub mapping: Option<PathBuf>,
    pub format: Option<String>,
}

impl ScheduledImport {
    pub const DEFAULT_EVERY_HOURS: f64 = 24.0;

    /// Checked once, when the configuration is read.
    pub fn check(&self) -> anyhow::Result<()> {
        let every = self.every_hours.unwrap_or(Self::DEFAULT_EVERY_HOURS);
        if !(1.0 / 60.0..=24.0 * 366.0).contains(&every) {
            bail!(
                "scheduled_import `{}`: every_hours {every} is not between 1/60 and 8784",
                self.source
            );
        }
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            bail!("scheduled_import `{}`: url must be http(s)", self.source);
        }
        if let Some(p) = &self.profile
            && p != "data-inclusion"
        {
            bail!(
                "scheduled_import `{}`: profile `{p}`: only data-inclusion",
                self.source
            );
        }
        if let Some(f) = &self.format
            && !["csv", "geojson", "xlsx", "ods"].contains(&f.as_str())
        {
            bail!(
                "scheduled_import `{}`: format `{f}`: csv, geojson, xlsx or ods",
                self.source
            );
        }
        Ok(())
    }

    pub fn every(&self) -> Duration {
        Duration::from_secs_f64(self.every_hours.unwrap_or(Self::DEFAULT_EVERY_HOURS) * 3600.0)
    }
}

/// An OpenID Connect provider (`[openid]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenIdConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub label: Option<String>,
    pub scopes: Option<Vec<String>>,
}

/// The SMTP relay (`[smtp]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub url: String,
    pub from: String,
}

/// A bearer token from the configuration file (its SHA-256, hex).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigToken {
    pub name: String,
    pub role: crate::store::Role,
    pub sha256: String,
}

impl ConfigFile {
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let config: ConfigFile =
            toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?;
        config
            .check_durations()
            .with_context(|| format!("invalid config {}", path.display()))?;
        for schedule in &config.scheduled_import {
            schedule
                .check()
                .with_context(|| format!("invalid config {}", path.display()))?;
        }
        Ok(config)
    }
}

impl ConfigFile {
    /// Every duration in seconds is a number of seconds a run can wait
    /// (a negative or infinite one would stop the start).
    fn check_durations(&self) -> anyhow::Result<()> {
        for (name, value) in [
            ("geocoder_timeout_s", self.geocoder_timeout_s),
            ("header_timeout_s", self.header_timeout_s),
            ("shutdown_deadline_s", self.shutdown_deadline_s),
            ("analysis_timeout_s", self.analysis_timeout_s),
        ] {
            if let Some(seconds) = value {
                check_seconds(name, seconds)?;
            }
        }
        Ok(())
    }
}

/// The longest wait a setting may ask for: a day.
const MAX_SECONDS: f64 = 86_400.0;

fn check_seconds(name: &str, seconds: f64) -> anyhow::Result<()> {
    if !(seconds > 0.0 && seconds <= MAX_SECONDS) {
        bail!("{name} = {seconds}: seconds, more than 0 and at most {MAX_SECONDS}");
    }
    Ok(())
}

/// The settings of one run: flags, then environment, then the
/// configuration file, then defaults.
pub struct Settings {
    pub config: ConfigFile,
    data: Option<PathBuf>,
    state: Option<PathBuf>,
    store: Option<String>,
    geocoder: Option<String>,
    pub manifest: Option<PathBuf>,
    pub categories: Option<PathBuf>,
}

impl Settings {
    pub fn new(cli: &crate::Cli) -> anyhow::Result<Settings> {
        let config = match &cli.config {
            Some(path) => ConfigFile::read(path)?,
            None => ConfigFile::default(),
        };
        Ok(Settings {
            data: cli.data.clone(),
            state: cli.state.clone(),
            store: cli.store.clone(),
            geocoder: cli.geocoder.clone(),
            manifest: cli.manifest.clone().or(config.manifest.clone()),
            categories: cli.categories.clone().or(config.categories.clone()),
            config,
        })
    }

    /// The data directory: `--data`, else `$ESS_MAP_DATA`, else the config
    /// file's `data`, else `./data` (a checkout's shipped data), else the
    /// `data/` of the sources the binary was built from.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let chosen = self
            .data
            .clone()
            .or_else(|| std::env::var_os("ESS_MAP_DATA").map(PathBuf::from))
            .or_else(|| self.config.data.clone());
        if let Some(dir) = chosen {
            if !dir.is_dir() {
                bail!("data directory {} does not exist", dir.display());
            }
            return Ok(dir);
        }
        let shipped = [
            PathBuf::from("data"),
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../data"),
        ];
        if let Some(dir) = shipped.iter().find(|d| d.join("manifest.toml").is_file()) {
            return Ok(dir.clone());
        }
        bail!(
            "no data directory: pass --data DIR, set ESS_MAP_DATA, or set `data` in the config file.\n\
             The directory must hold the files named in data/manifest.toml (for instance \
             qpv/qpv-2024-idf.geojson); each entry there gives the official download address \
             (ANCT QPV outlines and list on data.gouv.fr, Insee population, SIAE list)."
        )
    }

    /// The state directory: `--state`, else `$ESS_MAP_STATE`, else the
    /// config file's `state`, else `./state`.
    pub fn state_dir(&self) -> PathBuf {
        self.state
            .clone()
            .or_else(|| std::env::var_os("ESS_MAP_STATE").map(PathBuf::from))
            .or_else(|| self.config.state.clone())
            .unwrap_or_else(|| PathBuf::from("state"))
    }

    /// The store: `--store` (or `$ESS_MAP_STORE`), else the config file's
    /// `store`, else SQLite in the state directory.
    pub fn store(&self) -> crate::store::StoreLocation {
        let url = self.store.clone().or_else(|| self.config.store.clone());
        crate::store::StoreLocation::new(url.as_deref(), &self.state_dir())
    }

    /// Where `ess-map data fetch` puts the national files: the config
    /// file's `downloads`, else `<state>/downloads`.
    pub fn downloads_dir(&self) -> PathBuf {
        self.config
            .downloads
            .clone()
            .unwrap_or_else(|| self.state_dir().join("downloads"))
    }

    /// Where data files are looked for: the data directory, then the
    /// downloads directory.
    pub fn data_dirs(&self) -> anyhow::Result<geodata::DataDirs> {
        Ok(geodata::DataDirs::new([
            self.data_dir()?,
            self.downloads_dir(),
        ]))
    }

    /// The data manifest: the file given, else the one built in.
    pub fn manifest(&self) -> anyhow::Result<geodata::Manifest> {
        let text = text_or_default(self.manifest.as_deref(), DEFAULT_MANIFEST)?;
        geodata::Manifest::from_toml(&text).map_err(|e| anyhow::anyhow!("data manifest: {e}"))
    }

    pub fn geocoder_url(&self) -> String {
        self.geocoder
            .clone()
            .or(self.config.geocoder_url.clone())
            .unwrap_or_else(|| crate::geocode::DEFAULT_GEOCODER_URL.to_string())
    }

    pub fn geocoder_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.config.geocoder_timeout_s.unwrap_or(10.0))
    }

    pub fn geocoder_min_score(&self) -> f64 {
        self.config
            .geocoder_min_score
            .unwrap_or(crate::geocode::DEFAULT_MIN_SCORE)
    }

    pub fn limits(&self) -> Limits {
        let default = Limits::default();
        let secs = |v: Option<f64>, d: Duration| v.map_or(d, Duration::from_secs_f64);
        Limits {
            header_timeout: secs(self.config.header_timeout_s, default.header_timeout),
            max_connections: self
                .config
                .max_connections
                .unwrap_or(default.max_connections),
            max_connections_per_client: self
                .config
                .max_connections_per_client
                .or(self.config.trust_proxy_headers.then_some(usize::MAX)),
            shutdown_deadline: secs(self.config.shutdown_deadline_s, default.shutdown_deadline),
        }
    }

    /// How many analyses at once, and how long each may take:
    /// `$ESS_MAP_ANALYSIS_TIMEOUT_S`, else the configuration's
    /// `analysis_timeout_s`, else 10 s.
    pub fn analysis_bounds(&self) -> anyhow::Result<(usize, Duration)> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let timeout_s = match std::env::var("ESS_MAP_ANALYSIS_TIMEOUT_S") {
            Ok(text) => {
                let seconds = text.trim().parse::<f64>().map_err(|_| {
                    anyhow::anyhow!(
                        "ESS_MAP_ANALYSIS_TIMEOUT_S = {text:?}: not a number of seconds"
                    )
                })?;
                check_seconds("ESS_MAP_ANALYSIS_TIMEOUT_S", seconds)?;
                seconds
            }
            Err(_) => self.config.analysis_timeout_s.unwrap_or(10.0),
        };
        Ok((
            self.config.analysis_concurrency.unwrap_or(cores),
            Duration::from_secs_f64(timeout_s),
        ))
    }

    pub fn tile_cache_bytes(&self) -> u64 {
        self.config
            .tile_cache_mb
            .map_or(crate::tiles::DEFAULT_BUDGET_BYTES, |mb| mb * 1024 * 1024)
    }
}

/// Text of the manifest or taxonomy: the file given, else the built-in one.
pub fn text_or_default(path: Option<&Path>, default: &str) -> anyhow::Result<String> {
    match path {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
        }
        None => Ok(default.to_string()),
    }
}

/// `./web` when it holds the web map (a checkout), else the `web/` of the
/// sources the binary was built from.
pub fn default_web_dir() -> PathBuf {
    let here = PathBuf::from("web");
    if here.join("public").is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web")
}
