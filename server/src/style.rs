//! The MapLibre style ess-map serves at `/style.json`: sources, glyphs and
//! layers all on this server, so the map works with no other host.

use serde_json::{Value, json};

use geodata::Dataset;
use geodata::conventions;
use geodata::manifest::DatasetKind;
use geodata::tiles::{MAX_ZOOM, TileLayer};

/// The Géoplateforme's official « Plan IGN » vector style.
pub const PLAN_IGN_STYLE_URL: &str =
    "https://data.geopf.fr/annexes/ressources/vectorTiles/styles/PLAN.IGN/standard.json";

/// What the style tells the web map beyond the data: the basemaps it
/// offers (none fetched unless chosen, or configured as the default, so
/// the map stays offline by default) and where unfiltered tiles are read.
#[derive(Debug, Clone)]
pub struct MapOptions {
    /// `basemap_style_url` of the configuration: drawn from the start.
    pub basemap: Option<String>,
    /// « Plan IGN »'s style.
    pub plan_ign: String,
    /// A PMTiles archive's URL (`tiles_url`); `None`: this server.
    pub tiles_url: Option<String>,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions {
            basemap: None,
            plan_ign: PLAN_IGN_STYLE_URL.to_string(),
            tiles_url: None,
        }
    }
}

/// Classes of the QPV choropleth: initiatives within 500 m (or per 10,000
/// inhabitants, the web map's other measure).
pub const CHOROPLETH_STEPS: [(f64, &str); 5] = [
    (0.0, "#ffffcc"),
    (1.0, "#a1dab4"),
    (3.0, "#41b6c4"),
    (6.0, "#2c7fb8"),
    (10.0, "#253494"),
];

/// A QPV without a figure: population not published (per inhabitant), or
/// counts not yet received.
pub const CHOROPLETH_UNKNOWN: &str = "#d4d4d4";

/// Classes of the « Manques » colours: where the nearest initiative of the
/// chosen kinds is (inside, within the radius, then beyond it up to a
/// distance in metres; `None`: any distance), and the colour of QPV with no
/// distance (analysed by commune). The web map reads them from the style.
/// Covered in blues, gaps from orange to dark red (a diverging scheme read
/// by colour-blind people too): no pale yellow for a gap, which read as
/// harmless.
pub const GAP_CLASSES: [(&str, Option<f64>, &str, &str); 5] = [
    ("inside", Some(0.0), "#2166ac", "dans le quartier"),
    ("within", None, "#92c5de", "dans le rayon"),
    (
        "beyond",
        Some(1000.0),
        "#f4a582",
        "hors du rayon, à moins de 1 km",
    ),
    ("beyond", Some(2000.0), "#d6604d", "de 1 à 2 km"),
    ("beyond", None, "#8b0a1f", "à plus de 2 km"),
];
pub const GAP_UNKNOWN: &str = "#bdbdbd";

/// Where the map opens (lon, lat): Paris.
pub const CENTRE: (f64, f64) = (2.35, 48.86);

/// A layer's tiles on this server as a vector source: the fields the style
/// and its TileJSON (`/tiles/{layer}.json`) share. `query`: the tiles'
/// query string (`?category=…`), or empty.
pub fn tile_source(data: &Dataset, layer: TileLayer, origin: &str, query: &str) -> Value {
    // West, south, east, north; the world when the layer is empty.
    let bounds = geodata::tiles::bounds(data, layer)
        .map(|b| [b.min().x, b.min().y, b.max().x, b.max().y])
        .unwrap_or([-180.0, -85.0511, 180.0, 85.0511]);
    json!({
        "type": "vector",
        "tiles": [format!("{origin}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt{query}", layer.name())],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "attribution": attribution(data, layer),
    })
}

/// The sources of a layer's data with their dates, as HTML-escaped text
/// (the style's sources, the TileJSON documents, the PMTiles metadata).
pub fn attribution(data: &geodata::Dataset, layer: TileLayer) -> String {
    let kinds: &[DatasetKind] = match layer {
        TileLayer::Qpv => &[
            DatasetKind::QpvPolygons,
            DatasetKind::QpvList,
            DatasetKind::QpvPopulation,
        ],
        TileLayer::Initiatives => &[DatasetKind::Initiatives],
        TileLayer::Departements => &[DatasetKind::Departements],
        TileLayer::Communes => &[DatasetKind::Communes],
    };
    let mut lines: Vec<String> = data
        .manifest()
        .datasets
        .iter()
        .filter(|d| kinds.contains(&d.kind))
        .map(|d| {
            // The date the data describes, so that a map shown alone still says it.
            let line = match &d.as_of {
                Some(as_of) if !d.attribution.contains("données") => {
                    format!("{} (données {as_of})", d.attribution)
                }
                _ => d.attribution.clone(),
            };
            line.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        })
        .collect();
    lines.dedup();
    lines.join(" ; ")
}

pub fn style(data: &Dataset, map: &MapOptions, origin: &str) -> Value {
    let categories = data.taxonomy().all();
    let mut colour_by_category = vec![json!("match"), json!(["get", "category"])];
    for c in categories {
        colour_by_category.push(json!(c.id));
        colour_by_category.push(json!(c.color));
    }
    colour_by_category.push(json!("#525252"));
    let step = |input: Value| {
        let mut e = vec![json!("step"), input, json!(CHOROPLETH_STEPS[0].1)];
        for (threshold, colour) in &CHOROPLETH_STEPS[1..] {
            e.push(json!(threshold));
            e.push(json!(colour));
        }
        Value::Array(e)
    };
    // Each QPV's figure is its feature state `value` (set by the web map from
    // /api/qpv/counts, for the measure and categories chosen): the tiles
    // carry no counts, and a new figure recolours without re-laying out a
    // tile. Grey while it has none.
    let value = json!(["feature-state", "value"]);
    let stepped = step(value.clone());
    let choropleth = json!([
        "case",
        ["==", ["typeof", value], "number"],
        stepped,
        CHOROPLETH_UNKNOWN
    ]);
    let mut basemaps = vec![json!({ "id": "plan-ign", "label": "Plan IGN", "url": map.plan_ign })];
    if let Some(url) = &map.basemap {
        basemaps.insert(
            0,
            json!({ "id": "config", "label": "Fond configuré", "url": url }),
        );
    }
    // From the archive on its static host when there is one (read by the
    // npm `pmtiles` protocol the web map registers), else from here, with
    // the TileJSON's fields in the style itself: the map asks for its first
    // tiles as soon as it has the style, not one round trip (four documents)
    // later.
    let source = |layer: TileLayer| match &map.tiles_url {
        Some(url) => json!({ "type": "vector", "url": format!("pmtiles://{url}") }),
        None => tile_source(data, layer, origin, ""),
    };
    let mut qpv_source = source(TileLayer::Qpv);
    qpv_source["promoteId"] = json!("code");
    // Communes holding QPV first (the more, the earlier), a size larger:
    // Toulouse or Lille do not give way to a village.
    let holds_qpv = json!([">", ["coalesce", ["get", "qpv"], 0], 0]);
    let commune_labels = json!({
        "text-field": ["get", "name"], "text-font": ["DejaVu Sans"],
        "symbol-sort-key": ["-", 0, ["coalesce", ["get", "qpv"], 0]],
        "text-size": ["interpolate", ["linear"], ["zoom"],
                      10, ["case", holds_qpv.clone(), 12, 10],
                      14, ["case", holds_qpv, 15, 13]],
        "text-max-width": 8,
    });
    json!({
        "version": 8,
        "name": "ess-map",
        "metadata": {
            "ess-map:basemap": map.basemap,
            "ess-map:basemaps": basemaps,
            "ess-map:tiles-url": map.tiles_url,
            "ess-map:choropleth": CHOROPLETH_STEPS.iter().map(|(t, c)| json!({ "from": t, "color": c })).collect::<Vec<_>>(),
            "ess-map:choropleth-unknown": CHOROPLETH_UNKNOWN,
            "ess-map:gap-classes": GAP_CLASSES.iter().map(|(place, up_to, c, label)| json!({ "place": place, "up_to_m": up_to, "color": c, "label": label })).collect::<Vec<_>>(),
            "ess-map:gap-unknown": GAP_UNKNOWN,
            "ess-map:walk": { "minutes": geodata::walk::WALK_CHOICES_MIN, "default": geodata::walk::DEFAULT_MINUTES,
                              "max": geodata::walk::MAX_MINUTES, "cut_radius_m": geodata::walk::access::CUT_RADIUS_M },
            // The conventions the web map follows, from their one place.
            "ess-map:generations": { "all": conventions::GENERATIONS, "current": conventions::CURRENT_GENERATIONS },
            "ess-map:radius": { "default": conventions::DEFAULT_RADIUS_M, "max": conventions::MAX_RADIUS_M,
                                "rings": conventions::RINGS_M, "near": conventions::NEAR_RADIUS_M },
            "ess-map:categories": categories.iter().map(|c| json!({ "id": c.id, "label": c.label, "color": c.color })).collect::<Vec<_>>(),
        },
        "center": [CENTRE.0, CENTRE.1],
        "zoom": 9,
        "glyphs": format!("{origin}/fonts/{{fontstack}}/{{range}}.pbf"),
        "sources": {
            "departements": source(TileLayer::Departements),
            // `code` is the id feature state is set by.
            "qpv": qpv_source,
            "initiatives": source(TileLayer::Initiatives),
            "communes": source(TileLayer::Communes),
            "radius": { "type": "geojson", "data": { "type": "FeatureCollection", "features": [] } },
            // The area reachable on foot from the chosen QPV (« Manques » à
            // pied), filled by the web map from /api/qpv/{code}/isochrone.
            "walk": { "type": "geojson", "data": { "type": "FeatureCollection", "features": [] } },
            "qpv-communes": { "type": "geojson", "data": { "type": "FeatureCollection", "features": [] } },
            // The rows of a table located by « Adresses en QPV » (the web map
            // fills it from the answer; nothing is kept on the server).
            "adresses": { "type": "geojson", "data": { "type": "FeatureCollection", "features": [] } },
        },
        "layers": [
            { "id": "background", "type": "background", "paint": { "background-color": "#f3f1ec" } },
            { "id": "departements-fill", "type": "fill", "source": "departements", "source-layer": "departements",
              "paint": { "fill-color": "#ffffff", "fill-opacity": 0.9 } },
            { "id": "departements-line", "type": "line", "source": "departements", "source-layer": "departements",
              "paint": { "line-color": "#8c8c8c", "line-width": ["interpolate", ["linear"], ["zoom"], 5, 0.6, 12, 1.5] } },
            { "id": "departements-label", "type": "symbol", "source": "departements", "source-layer": "departements",
              "minzoom": 7, "maxzoom": 11, "filter": ["==", ["geometry-type"], "Point"],
              "layout": { "text-field": ["get", "name"], "text-font": ["DejaVu Sans"], "text-size": 12 },
              "paint": { "text-color": "#6b6b6b", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } },
            { "id": "qpv-fill", "type": "fill", "source": "qpv", "source-layer": "qpv",
              "paint": { "fill-color": choropleth, "fill-opacity": 0.75 } },
            { "id": "qpv-line", "type": "line", "source": "qpv", "source-layer": "qpv",
              "paint": { "line-color": "#3f3f3f", "line-width": ["interpolate", ["linear"], ["zoom"], 8, 0.4, 14, 1.6] } },
            // QPV names on their outlines, for orientation.
            // Their label points (one per QPV, in one tile) only: a polygon's
            // label would repeat in every tile it crosses.
            { "id": "qpv-label", "type": "symbol", "source": "qpv", "source-layer": "qpv", "minzoom": 12,
              "filter": ["==", ["geometry-type"], "Point"],
              "layout": { "text-field": ["get", "name"], "text-font": ["DejaVu Sans Bold"], "text-size": 12,
                          "text-max-width": 8 },
              "paint": { "text-color": "#5a1a1a", "text-halo-color": "#ffffff", "text-halo-width": 1.8 } },
            // Commune names for orientation: above the QPV (placed before their
            // labels, which give way), under the initiatives.
            { "id": "communes-label", "type": "symbol", "source": "communes", "source-layer": "communes",
              "minzoom": 10,
              "layout": commune_labels,
              "paint": { "text-color": "#5f5f5f", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } },
            { "id": "qpv-selected", "type": "line", "source": "qpv", "source-layer": "qpv",
              "filter": ["==", ["get", "code"], ""],
              "paint": { "line-color": "#c51b1b", "line-width": 3.5 } },
            { "id": "walk-fill", "type": "fill", "source": "walk",
              "paint": { "fill-color": "#1a9850", "fill-opacity": 0.15 } },
            { "id": "walk-line", "type": "line", "source": "walk",
              "paint": { "line-color": "#1a7a40", "line-width": 2 } },
            { "id": "radius-ring", "type": "line", "source": "radius",
              "paint": { "line-color": "#c51b1b", "line-width": 2, "line-dasharray": [2, 2] } },
            { "id": "initiative-clusters", "type": "circle", "source": "initiatives", "source-layer": "initiatives",
              "filter": ["has", "cluster"],
              "paint": {
                  "circle-color": "#3b3b3b", "circle-opacity": 0.85,
                  "circle-radius": ["step", ["get", "count"], 9, 10, 12, 50, 16, 200, 21],
                  "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5 } },
            { "id": "initiative-cluster-count", "type": "symbol", "source": "initiatives", "source-layer": "initiatives",
              "filter": ["has", "cluster"],
              "layout": { "text-field": ["to-string", ["get", "count"]], "text-font": ["DejaVu Sans Bold"],
                          "text-size": 12, "text-allow-overlap": true },
              "paint": { "text-color": "#ffffff" } },
            { "id": "initiative-points", "type": "circle", "source": "initiatives", "source-layer": "initiatives",
              "filter": ["!", ["has", "cluster"]],
              // A commune centre (precision municipality) is a hollow ring
              // in the category's colour: not an address.
              "paint": {
                  "circle-color": ["case", ["==", ["get", "precision"], "municipality"], "#ffffff", colour_by_category.clone()],
                  "circle-radius": ["interpolate", ["linear"], ["zoom"], 5, 4, 14, 6, 17, 9],
                  "circle-stroke-color": ["case", ["==", ["get", "precision"], "municipality"], colour_by_category, "#ffffff"],
                  "circle-stroke-width": ["case", ["==", ["get", "precision"], "municipality"], 2.5, 1.5] } },
            { "id": "initiative-labels", "type": "symbol", "source": "initiatives", "source-layer": "initiatives",
              "filter": ["!", ["has", "cluster"]], "minzoom": 15,
              "layout": { "text-field": ["get", "name"], "text-font": ["DejaVu Sans"], "text-size": 11,
                          "text-offset": [0, 1.2], "text-anchor": "top", "text-max-width": 10 },
              "paint": { "text-color": "#222222", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } },
            // QPV known by their communes only: one marker per commune (and
            // generation), above the initiatives, which would hide it, at
            // its centre, listing them (the web map fills this
            // source from /api/qpv/markers); the number of QPV inside it.
            { "id": "qpv-communes", "type": "circle", "source": "qpv-communes",
              "paint": { "circle-color": "#ffffff",
                         "circle-radius": ["interpolate", ["linear"], ["zoom"], 5, ["case", [">", ["get", "count"], 1], 5, 3], 12, ["case", [">", ["get", "count"], 1], 11, 7]],
                         "circle-stroke-color": "#3f3f3f", "circle-stroke-width": 1.5 } },
            { "id": "qpv-communes-count", "type": "symbol", "source": "qpv-communes", "minzoom": 8,
              "filter": [">", ["get", "count"], 1],
              "layout": { "text-field": ["to-string", ["get", "count"]], "text-font": ["DejaVu Sans Bold"],
                          "text-size": 10, "text-allow-overlap": true },
              "paint": { "text-color": "#3f3f3f" } },
            { "id": "qpv-communes-label", "type": "symbol", "source": "qpv-communes", "minzoom": 10,
              "layout": { "text-field": ["get", "label"], "text-font": ["DejaVu Sans"], "text-size": 11,
                          "text-offset": [0, 1.3], "text-anchor": "top", "text-max-width": 10 },
              "paint": { "text-color": "#3f3f3f", "text-halo-color": "#ffffff", "text-halo-width": 1.5 } },
            // The selected QPV's commune marker, ringed (`codes` is
            // `,QN…,QN…,`: the web map asks for `,CODE,` in it).
            { "id": "qpv-communes-selected", "type": "circle", "source": "qpv-communes",
              "filter": ["in", ",-,", ["get", "codes"]],
              "paint": { "circle-opacity": 0, "circle-radius": ["interpolate", ["linear"], ["zoom"], 5, 8, 12, 15],
                         "circle-stroke-color": "#c51b1b", "circle-stroke-width": 3.5 } },
            // Located rows, coloured by what they are: in a QPV, near,
            // outside, not verifiable (no outline loaded).
            { "id": "adresses-points", "type": "circle", "source": "adresses",
              "paint": { "circle-color": ["match", ["get", "status"], "inside", "#2166ac", "near", "#67a9cf", "unknown", "#ffffff", "#8c8c8c"],
                         "circle-radius": ["interpolate", ["linear"], ["zoom"], 5, 3, 14, 6],
                         "circle-stroke-color": ["match", ["get", "status"], "unknown", "#e08214", "#1d1d1d"],
                         "circle-stroke-width": ["match", ["get", "status"], "unknown", 2.5, 1] } },
        ],
    })
}
