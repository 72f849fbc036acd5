//! Mapbox Vector Tiles (MVT 2.1) of the QPV, the initiatives and the
//! départements, in the Web Mercator tile grid (XYZ, as MapLibre asks).
//!
//! Encoding and clipping to the tile (plus a buffer, so that neighbouring
//! tiles' polygons join without seams) are done by the `mvt` crate; outlines
//! are simplified for the zoom with geo's Ramer–Douglas–Peucker first.

use std::collections::BTreeMap;

use geo::{BoundingRect, Coord, Rect};
use i_overlay::i_float::int::point::IntPoint;
use i_overlay::i_shape::int::shape::{IntContour, IntShape, IntShapes};
use mvt::{GeomEncoder, GeomType, Tile};

use crate::clusters::{Sums, cell_at, tile_at, world_fixed};
use crate::dataset::Dataset;
use crate::initiative::Initiative;
pub use crate::webmercator::{
    BUFFER, EXTENT, MAX_ZOOM, TileError, TileId, ZoomOutline, at_zoom, tiles_holding, tiles_meeting,
};

/// Initiatives are aggregated into clusters up to this zoom, and each drawn
/// on its own from the next one, unless the tile holds more than
/// [`DENSE_TILE_POINTS`] (a national inventory in a dense city).
pub const CLUSTER_MAX_ZOOM: u8 = 12;
/// Deeper than [`CLUSTER_MAX_ZOOM`], a tile holding more initiatives than
/// this is clustered too: one feature per point would make a tile of
/// megabytes that no browser draws usefully.
pub const DENSE_TILE_POINTS: u32 = 2_000;

/// The tile layers ess-map serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileLayer {
    Qpv,
    Initiatives,
    Departements,
    /// Commune names at their centres, for orientation (from zoom
    /// [`COMMUNES_MIN_ZOOM`]).
    Communes,
}

/// Below this zoom the communes layer is empty: too many names to read.
pub const COMMUNES_MIN_ZOOM: u8 = 9;

impl TileLayer {
    pub const ALL: [TileLayer; 4] = [
        TileLayer::Qpv,
        TileLayer::Initiatives,
        TileLayer::Departements,
        TileLayer::Communes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TileLayer::Qpv => "qpv",
            TileLayer::Initiatives => "initiatives",
            TileLayer::Departements => "departements",
            TileLayer::Communes => "communes",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.name() == name)
    }

    /// Field names and their TileJSON types.
    pub fn fields(self, data: &Dataset) -> BTreeMap<String, &'static str> {
        let mut fields = BTreeMap::new();
        let mut add = |k: &str, t: &'static str| {
            fields.insert(k.to_string(), t);
        };
        match self {
            TileLayer::Qpv => {
                for (k, t) in [
                    ("code", "String"),
                    ("name", "String"),
                    ("commune", "String"),
                    ("departement", "String"),
                    ("generation", "Number"),
                    ("population", "Number"),
                ] {
                    add(k, t);
                }
            }
            TileLayer::Initiatives => {
                for (k, t) in [
                    ("id", "String"),
                    ("name", "String"),
                    ("category", "String"),
                    ("precision", "String"),
                    ("cluster", "Boolean"),
                    ("count", "Number"),
                ] {
                    add(k, t);
                }
                for c in data.taxonomy().all() {
                    add(&format!("n_{}", c.id), "Number");
                }
            }
            TileLayer::Departements => {
                add("code", "String");
                add("name", "String");
            }
            TileLayer::Communes => {
                add("code", "String");
                add("name", "String");
                add("qpv", "Number");
            }
        }
        fields
    }
}

/// The zoom from which QPV carry a label point (the map shows their names
/// from zoom 12).
pub const QPV_LABEL_MIN_ZOOM: u8 = 11;

/// Encodes one layer of one tile; `None` when the tile holds nothing.
/// `categories` (empty: all) filters the initiatives layer.
pub fn encode(
    data: &Dataset,
    layer: TileLayer,
    tile: TileId,
    categories: &[String],
) -> Option<Vec<u8>> {
    let mut mvt = Tile::new(EXTENT);
    let mut out = mvt.create_layer(layer.name());
    let mut count = 0;
    match layer {
        TileLayer::Qpv => {
            for id in data.qpvs_in(tile.buffered_bounds()) {
                let qpv = data.qpv(id);
                let at_zoom = data.territory().outline_at_zoom(id, tile.z);
                let Some(geom) = encode_polygons(&tile, &at_zoom) else {
                    continue;
                };
                // Its name once, at a point inside the outline, in the one
                // tile holding that point (polygon labels repeat in every
                // tile the outline crosses): from the zoom names are shown.
                let label = (tile.z >= QPV_LABEL_MIN_ZOOM)
                    .then(|| data.territory().qpv_label_point(id))
                    .flatten();
                let mut f = out.into_feature(geom);
                f.set_id(u64::from(id.0));
                f.add_tag_string("code", &qpv.code);
                f.add_tag_string("name", &qpv.name);
                if let Some(c) = qpv.communes.first() {
                    f.add_tag_string("commune", &c.name);
                }
                f.add_tag_string("departement", &qpv.departement);
                f.add_tag_uint("generation", u64::from(qpv.generation));
                if let Some(p) = qpv.population {
                    f.add_tag_uint("population", u64::from(p));
                }
                // No counts: an edit would change every zoom's tiles around
                // it (the web map joins `/api/qpv/counts` as feature state).
                out = f.into_layer();
                count += 1;
                if let Some(at) = label {
                    // With its generation: the web map filters QPV by it.
                    out = named_point(
                        out,
                        tile,
                        at,
                        &qpv.code,
                        &qpv.name,
                        &[("generation", u64::from(qpv.generation))],
                    )
                    .0;
                }
            }
        }
        TileLayer::Departements => {
            for d in data.departements() {
                let Some(bbox) = d.geometry.bounding_rect() else {
                    continue;
                };
                if !intersects(bbox, tile.buffered_bounds()) {
                    continue;
                }
                let Some(geom) = encode_polygons(&tile, &at_zoom(&d.geometry, tile.z)) else {
                    continue;
                };
                let mut f = out.into_feature(geom);
                f.add_tag_string("code", &d.code);
                f.add_tag_string("name", &d.name);
                out = f.into_layer();
                count += 1;
                // Its name once, at a point inside it, in the one tile that
                // holds that point (polygon labels repeat in every tile).
                use geo::InteriorPoint;
                if let Some(at) = d.geometry.interior_point() {
                    out = named_point(out, tile, at.0, &d.code, &d.name, &[]).0;
                }
            }
        }
        TileLayer::Communes if tile.z >= COMMUNES_MIN_ZOOM => {
            // Inside the tile only (no buffer): each name is drawn once.
            let bounds = tile.buffered_bounds();
            let near = |c: Coord<f64>| {
                (bounds.min().x..=bounds.max().x).contains(&c.x)
                    && (bounds.min().y..=bounds.max().y).contains(&c.y)
            };
            for c in data.territory().communes().all() {
                if !near(c.centre) {
                    continue;
                }
                let added;
                // With its number of QPV in force: the map names those first.
                let qpv = u64::from(data.territory().qpv_in_commune(&c.insee));
                (out, added) = named_point(out, tile, c.centre, &c.insee, &c.name, &[("qpv", qpv)]);
                count += usize::from(added);
            }
        }
        TileLayer::Communes => {}
        TileLayer::Initiatives => {
            let cells = cluster_cells(data, tile, categories);
            let points: u32 = cells
                .values()
                .flat_map(|c| c.values())
                .map(|s| s.count)
                .sum();
            if tile.z <= CLUSTER_MAX_ZOOM || points > DENSE_TILE_POINTS {
                out = encode_clusters(data, out, tile, &cells, &mut count);
            } else {
                out = encode_points(data, out, tile, categories, &mut count);
            }
        }
    }
    if count == 0 {
        return None;
    }
    mvt.add_layer(out).expect("layer made by this tile");
    Some(mvt.to_bytes().expect("encoding to memory"))
}

/// Every located initiative of the tile, one feature each, by id.
fn encode_points(
    data: &Dataset,
    mut out: mvt::Layer,
    tile: TileId,
    categories: &[String],
    count: &mut usize,
) -> mvt::Layer {
    let (min, max) = world_bounds(tile);
    for x in data.initiatives_in(crate::clusters::lonlat_of(min, max)) {
        if !categories.is_empty() && !categories.iter().any(|c| c == x.category) {
            continue;
        }
        let at = x.position.expect("indexed initiatives are located");
        // Points are drawn by the tile that holds them (by world
        // coordinates, as clusters are), not its neighbours.
        if tile_at(world_fixed(at), tile.z) == (tile.x, tile.y) {
            out = encode_point(out, x, tile.project(at));
            *count += 1;
        }
    }
    out
}

/// A tile's rectangle in world coordinates: `[min, max)`.
fn world_bounds(tile: TileId) -> ((u32, u32), (u64, u64)) {
    let side = 1u64 << (32 - u32::from(tile.z));
    let min = (
        (u64::from(tile.x) * side) as u32,
        (u64::from(tile.y) * side) as u32,
    );
    (
        min,
        (u64::from(tile.x + 1) * side, u64::from(tile.y + 1) * side),
    )
}

fn intersects(a: Rect<f64>, b: Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

/// A point feature with a code, a name (a label) and `extra` numbers (a
/// QPV's generation, a commune's number of QPV), when `at` (lon/lat) falls
/// inside the tile itself (not its buffer): so it is drawn once. Whether it
/// was added.
fn named_point(
    layer: mvt::Layer,
    tile: TileId,
    at: Coord<f64>,
    code: &str,
    name: &str,
    extra: &[(&str, u64)],
) -> (mvt::Layer, bool) {
    let p = tile.project(at);
    let e = f64::from(EXTENT);
    if !((0.0..e).contains(&p.x) && (0.0..e).contains(&p.y)) {
        return (layer, false);
    }
    let geom = GeomEncoder::new(GeomType::Point)
        .point(p.x, p.y)
        .and_then(|g| g.encode())
        .expect("a point inside the tile");
    let mut f = layer.into_feature(geom);
    f.add_tag_string("code", code);
    f.add_tag_string("name", name);
    for &(key, value) in extra {
        f.add_tag_uint(key, value);
    }
    (f.into_layer(), true)
}

fn encode_point(layer: mvt::Layer, x: &Initiative, p: Coord<f64>) -> mvt::Layer {
    let geom = GeomEncoder::new(GeomType::Point)
        .point(p.x, p.y)
        .and_then(|g| g.encode())
        .expect("a point inside the tile");
    let mut f = layer.into_feature(geom);
    f.add_tag_string("id", &x.id);
    f.add_tag_string("name", &x.name);
    f.add_tag_string("category", &x.category);
    f.add_tag_string("precision", x.precision.as_str());
    f.into_layer()
}

/// Aggregates the tile's points into a grid of cells aligned on the tile
/// (8 × 8), so that a cluster never straddles two tiles; a cell of one point
/// stays that point. Up to [`SUMMED_ZOOM`] the cells come from sums kept in
/// advance, deeper from the points themselves; both in integer world
/// coordinates ([`crate::clusters`]), so the bytes depend on the members only.
/// The tile's initiatives summed per cluster cell (8 × 8 per tile) and
/// category, the categories asked for only.
fn cluster_cells(
    data: &Dataset,
    tile: TileId,
    categories: &[String],
) -> BTreeMap<(u32, u32), BTreeMap<&'static str, Sums>> {
    let (min, max) = world_bounds(tile);
    let mut cells = data.initiatives().cluster_cells(tile.z, min, max);
    if !categories.is_empty() {
        for by_category in cells.values_mut() {
            by_category.retain(|c, _| categories.iter().any(|k| k == c));
        }
    }
    cells
}

fn encode_clusters(
    data: &Dataset,
    mut layer: mvt::Layer,
    tile: TileId,
    cells: &BTreeMap<(u32, u32), BTreeMap<&'static str, Sums>>,
    count: &mut usize,
) -> mvt::Layer {
    let shift = 32 - u32::from(tile.z);
    let to_tile = |sum: u64, n: u32, origin: u32| {
        let world = sum as f64 / f64::from(n);
        (world / (1u64 << shift) as f64 - f64::from(origin)) * f64::from(EXTENT)
    };
    for (&cell, by_category) in cells {
        let mut total = Sums::default();
        for s in by_category.values() {
            total.merge(s);
        }
        if total.count == 0 {
            continue;
        }
        *count += 1;
        if total.count == 1 {
            let x = sole_member(data, tile.z, cell, by_category);
            layer = encode_point(layer, x, tile.project(x.position.expect("located")));
            continue;
        }
        let centre = (
            to_tile(total.x, total.count, tile.x),
            to_tile(total.y, total.count, tile.y),
        );
        let geom = GeomEncoder::new(GeomType::Point)
            .point(centre.0, centre.1)
            .and_then(|g| g.encode())
            .expect("a point inside the tile");
        let mut f = layer.into_feature(geom);
        f.add_tag_bool("cluster", true);
        f.add_tag_uint("count", u64::from(total.count));
        for c in data.taxonomy().all() {
            if let Some(s) = by_category.get(c.id.as_str()).filter(|s| s.count > 0) {
                f.add_tag_uint(&format!("n_{}", c.id), u64::from(s.count));
            }
        }
        layer = f.into_layer();
    }
    layer
}

/// The one initiative of a cluster cell holding one (of the categories kept).
fn sole_member<'a>(
    data: &'a Dataset,
    z: u8,
    cell: (u32, u32),
    by_category: &BTreeMap<&'static str, Sums>,
) -> &'a Initiative {
    let shift = 32 - u32::from(z) - 3;
    let min = (cell.0 << shift, cell.1 << shift);
    let max = (
        (u64::from(cell.0) + 1) << shift,
        (u64::from(cell.1) + 1) << shift,
    );
    data.initiatives_in(crate::clusters::lonlat_of(min, max))
        .into_iter()
        .find(|x| {
            by_category
                .get(x.category.as_str())
                .is_some_and(|s| s.count == 1)
                && cell_at(world_fixed(x.position.expect("located")), z) == cell
        })
        .expect("a cell of one holds one initiative")
}

/// Polygons at the tile's zoom ([`at_zoom`]) as MVT polygon geometry in
/// this tile: shifted to it, snapped to whole tile units and cut to the tile
/// and its buffer ([`snapped_in_window`]).
fn encode_polygons(tile: &TileId, at_zoom: &ZoomOutline) -> Option<mvt::GeomData> {
    let (dx, dy) = (
        f64::from(tile.x) * f64::from(EXTENT),
        f64::from(tile.y) * f64::from(EXTENT),
    );
    let b = f64::from(BUFFER);
    let e = f64::from(EXTENT);
    // Polygons wholly outside the tile and its buffer draw nothing, nor do
    // those smaller than a tile unit (1/16 of a pixel).
    let bbox = at_zoom.bbox()?;
    if bbox.width() < 1.0 && bbox.height() < 1.0 {
        return None;
    }
    if bbox.max().x - dx < -b
        || bbox.min().x - dx > e + b
        || bbox.max().y - dy < -b
        || bbox.min().y - dy > e + b
    {
        return None;
    }
    // Without a box, the encoder adds no clipping points of its own: the
    // points are already cut to the window.
    let mut encoder = GeomEncoder::new(GeomType::Polygon);
    let mut rings = 0;
    let mut last = None;
    {
        for shape in snapped_in_window(at_zoom, dx, dy) {
            // The exterior first, then its holes, as MVT wants them.
            for ring in shape.iter().filter(|r| r.len() >= 3) {
                // The encoder drops a ring's MoveTo when its first point is
                // the previous ring's last (a hole touching its exterior, as
                // OGC allows): start such a ring one point further.
                let start = usize::from(last.as_ref() == ring.first());
                for p in ring[start..].iter().chain(&ring[..start]) {
                    encoder.add_point(f64::from(p.x), f64::from(p.y)).ok()?;
                }
                last = ring[start..].iter().chain(&ring[..start]).last().copied();
                encoder.complete_geom().ok()?;
                rings += 1;
            }
        }
    }
    if rings == 0 {
        return None;
    }
    let geom = encoder.encode().ok()?;
    (!geom.is_empty()).then_some(geom)
}

/// Polygons shifted by (`dx`, `dy`) into a tile, on the tile's integer grid
/// and cut to the tile and its buffer, as valid polygons (OGC rules):
/// exteriors of positive area with y pointing down, holes negative.
///
/// Rounding to whole units alone can make a valid outline cross itself
/// where two of its edges pass within a unit of each other; cutting with
/// float coordinates and rounding afterwards can too. So both are one
/// integer overlay (i_overlay, which geo's boolean operations use): the
/// vertices are snapped first, then self-crossings are resolved and the
/// polygons intersected with the tile's window exactly, on that grid (parts
/// that snapping made overlap are joined). A polygon cut vertex by vertex (clamped) would instead bend the edges
/// crossing into the tile and draw wedges at deep zooms.
fn snapped_in_window(polygons: &ZoomOutline, dx: f64, dy: f64) -> IntShapes {
    use i_overlay::core::fill_rule::FillRule;
    use i_overlay::core::overlay::{IntOverlayOptions, Overlay};
    use i_overlay::core::overlay_rule::OverlayRule;
    use i_overlay::core::simplify::Simplify;
    use i_overlay::core::solver::Solver;
    // The points are on the zoom's grid already (`ZoomOutline`), repeats
    // dropped, rings open; a tile's corner is a whole number of units, and
    // world units at zoom 16 are below 2^28: the shifted ones fit an i32.
    let (dx, dy) = (dx as i32, dy as i32);
    let shift = |ring: &[[i32; 2]]| -> IntContour {
        ring.iter()
            .map(|&[x, y]| IntPoint::new(x - dx, y - dy))
            .collect()
    };
    let shapes: IntShapes = polygons
        .polygons()
        .iter()
        .map(|polygon| -> IntShape {
            polygon
                .iter()
                .map(|ring| shift(ring))
                .filter(|c| c.len() >= 3)
                .collect()
        })
        .filter(|shape| !shape.is_empty())
        .collect();
    if shapes.is_empty() {
        return Vec::new();
    }
    let (lo, hi) = (-(BUFFER as i32), (EXTENT + BUFFER) as i32);
    let inside = shapes
        .iter()
        .flat_map(|shape| &shape[0])
        .all(|p| (lo..=hi).contains(&p.x) && (lo..=hi).contains(&p.y));
    // OGC-valid output: a hole that snapping made touch its exterior stays a
    // hole instead of turning the exterior into a self-touching ring.
    let options = IntOverlayOptions::ogc();
    let mut out = if inside {
        shapes.simplify(FillRule::NonZero, options)
    } else {
        let window = vec![vec![
            IntPoint::new(lo, lo),
            IntPoint::new(hi, lo),
            IntPoint::new(hi, hi),
            IntPoint::new(lo, hi),
        ]];
        Overlay::with_shapes_options(&shapes, &[window], options, Solver::default())
            .overlay(OverlayRule::Intersect, FillRule::NonZero)
    };
    // MVT reads a ring's role from its winding: exteriors of positive area
    // (clockwise on a screen, y pointing down), holes negative. The
    // overlay's holes of OGC output do not always come reversed.
    for shape in &mut out {
        for (i, ring) in shape.iter_mut().enumerate() {
            if (twice_area(ring) > 0) != (i == 0) {
                ring.reverse();
            }
        }
    }
    out
}

fn twice_area(ring: &[IntPoint]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            i64::from(a.x) * i64::from(b.y) - i64::from(b.x) * i64::from(a.y)
        })
        .sum()
}

/// The tiles of zoom `z` in which a layer may draw something, sorted: those
/// its features meet ([`tiles_holding`], [`tiles_meeting`]). What an export
/// walks instead of the layer's bounds, which overseas départements
/// stretch across half the world.
pub fn tiles_with_data(data: &Dataset, layer: TileLayer, z: u8) -> Vec<TileId> {
    let mut tiles: Vec<TileId> = match layer {
        TileLayer::Qpv => data
            .qpvs()
            .iter()
            .filter_map(|q| Some(q.geometry.as_ref()?.bbox))
            .flat_map(|b| tiles_meeting(b, z))
            .collect(),
        TileLayer::Initiatives => data
            .initiatives()
            .iter()
            .filter_map(|x| x.position)
            .flat_map(|p| tiles_holding(p, z))
            .collect(),
        TileLayer::Departements => data
            .departements()
            .iter()
            .filter_map(|d| d.geometry.bounding_rect())
            .flat_map(|b| tiles_meeting(b, z))
            .collect(),
        TileLayer::Communes if z >= COMMUNES_MIN_ZOOM => data
            .territory()
            .communes()
            .all()
            .iter()
            .flat_map(|c| tiles_meeting(Rect::new(c.centre, c.centre), z))
            .collect(),
        TileLayer::Communes => Vec::new(),
    };
    tiles.sort_unstable_by_key(|t| (t.x, t.y));
    tiles.dedup();
    tiles
}

/// The extent of a layer's data, lon/lat.
pub fn bounds(data: &Dataset, layer: TileLayer) -> Option<Rect<f64>> {
    let merge = |a: Rect<f64>, b: Rect<f64>| {
        Rect::new(
            Coord {
                x: a.min().x.min(b.min().x),
                y: a.min().y.min(b.min().y),
            },
            Coord {
                x: a.max().x.max(b.max().x),
                y: a.max().y.max(b.max().y),
            },
        )
    };
    match layer {
        TileLayer::Qpv => data
            .qpvs()
            .iter()
            .filter_map(|q| Some(q.geometry.as_ref()?.bbox))
            .reduce(merge),
        TileLayer::Initiatives => data.initiatives().bounds(),
        TileLayer::Departements => data
            .departements()
            .iter()
            .filter_map(|d| d.geometry.bounding_rect())
            .reduce(merge),
        TileLayer::Communes => data
            .territory()
            .communes()
            .all()
            .iter()
            .map(|c| Rect::new(c.centre, c.centre))
            .reduce(merge),
    }
}
