//! The Web-Mercator tile grid (XYZ, as MapLibre and PMTiles number it):
//! tiles, their bounds, projecting lon/lat into a tile's units, the tiles a
//! point or a box falls in, and an outline as drawn at a zoom. No data here:
//! the territory keeps outlines drawn at each zoom, the tiles module encodes
//! layers, both on this grid.

use geo::{Coord, MultiPolygon, Polygon, Rect, Simplify};

use crate::clusters::{MAX_LAT, tile_at, world_fixed};

/// Tile coordinate units across a tile.
pub const EXTENT: u32 = 4096;
/// Units drawn beyond each edge.
pub const BUFFER: u32 = 64;
/// Deepest zoom served; MapLibre over-zooms beyond.
pub const MAX_ZOOM: u8 = 16;
/// Simplification tolerance, in tile units (1/16 px of a 256 px tile).
const SIMPLIFY_UNITS: f64 = 1.0;

/// A tile of the XYZ grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

/// Why a z/x/y is not a tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    #[error("zoom {0} is outside [0, {MAX_ZOOM}]")]
    Zoom(u32),
    #[error("{axis} {value} is outside [0, {max}] at zoom {z}")]
    Coordinate {
        axis: char,
        value: u32,
        max: u32,
        z: u8,
    },
}

impl TileId {
    /// Checks that z/x/y is a tile of the grid.
    ///
    /// ```
    /// use geodata::tiles::TileId;
    /// assert!(TileId::new(2, 3, 3).is_ok());
    /// assert!(TileId::new(2, 4, 0).is_err());
    /// assert!(TileId::new(17, 0, 0).is_err());
    /// ```
    pub fn new(z: u32, x: u32, y: u32) -> Result<Self, TileError> {
        if z > u32::from(MAX_ZOOM) {
            return Err(TileError::Zoom(z));
        }
        let z = z as u8;
        let max = (1u32 << z) - 1;
        for (axis, value) in [('x', x), ('y', y)] {
            if value > max {
                return Err(TileError::Coordinate {
                    axis,
                    value,
                    max,
                    z,
                });
            }
        }
        Ok(TileId { z, x, y })
    }

    /// This tile's coordinates (units from its top-left corner) of a lon/lat point.
    #[inline]
    pub fn project(&self, c: Coord<f64>) -> Coord<f64> {
        let scale = f64::from(EXTENT) * f64::from(1u32 << self.z);
        let lat = c.y.clamp(-MAX_LAT, MAX_LAT).to_radians();
        let wx = (c.x + 180.0) / 360.0;
        let wy = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
        Coord {
            x: wx * scale - f64::from(self.x) * f64::from(EXTENT),
            y: wy * scale - f64::from(self.y) * f64::from(EXTENT),
        }
    }

    /// The tile plus its buffer, in lon/lat.
    pub fn buffered_bounds(&self) -> Rect<f64> {
        let n = f64::from(1u32 << self.z);
        let margin = f64::from(BUFFER) / f64::from(EXTENT);
        let lon = |x: f64| x / n * 360.0 - 180.0;
        let lat = |y: f64| {
            let t = std::f64::consts::PI * (1.0 - 2.0 * y / n);
            t.sinh().atan().to_degrees()
        };
        let (x0, x1) = (f64::from(self.x) - margin, f64::from(self.x) + 1.0 + margin);
        let (y0, y1) = (f64::from(self.y) - margin, f64::from(self.y) + 1.0 + margin);
        Rect::new(
            Coord {
                x: lon(x0).max(-180.0),
                y: lat(y1.min(n)),
            },
            Coord {
                x: lon(x1).min(180.0),
                y: lat(y0.max(0.0)),
            },
        )
    }
}

/// A lon/lat multipolygon as drawn at zoom `z`: in that zoom's pixel units
/// across the whole world (a tile's units plus its corner), simplified by
/// [`SIMPLIFY_UNITS`], exteriors of positive area once y points down (as
/// MVT wants), then on that zoom's integer grid ([`ZoomOutline`]). Tiles of
/// that zoom only shift it (the tiles module), so a QPV's outline can be
/// made once per zoom and kept.
pub fn at_zoom(lonlat: &MultiPolygon<f64>, z: u8) -> ZoomOutline {
    use geo::MapCoords;
    use geo::orient::{Direction, Orient};
    let world = TileId { z, x: 0, y: 0 };
    let projected: MultiPolygon<f64> = lonlat
        .map_coords(|c| world.project(c))
        .orient(Direction::Default);
    let simplified = MultiPolygon(projected.iter().map(simplify_or_keep).collect());
    ZoomOutline::snapped(&simplified)
}

/// A ring of points on a zoom's integer grid, open (its first point not repeated).
pub type GridRing = Box<[[i32; 2]]>;

/// A polygon on a zoom's integer grid: its exterior ring, then its holes.
pub type GridPolygon = Box<[GridRing]>;

/// An outline as tiles of one zoom draw it: polygons of rings of points in
/// whole units of that zoom's world grid (a tile's units plus its corner's),
/// a point repeating the one before it dropped, rings not closed (MVT closes
/// them). A tile shifts it by its corner, a whole number, so snapping here
/// or after the shift gives the same grid; two `i32` a point instead of two
/// `f64` halves what the kept zooms of a national territory weigh (world
/// units at zoom 16 are below 2^28).
///
/// ```
/// use geo::{MultiPolygon, polygon};
/// let square = MultiPolygon(vec![polygon![
///     (x: 2.30, y: 48.80), (x: 2.40, y: 48.80), (x: 2.40, y: 48.90), (x: 2.30, y: 48.90),
/// ]]);
/// let drawn = geodata::webmercator::at_zoom(&square, 10);
/// assert_eq!(drawn.polygons().len(), 1);
/// assert_eq!(drawn.polygons()[0][0].len(), 4);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZoomOutline {
    polygons: Box<[GridPolygon]>,
    /// The box of the unsnapped points: what is smaller than a unit is not
    /// drawn.
    bbox: Option<Rect<f64>>,
}

impl ZoomOutline {
    /// Points of world units on the integer grid.
    pub fn snapped(polygons: &MultiPolygon<f64>) -> ZoomOutline {
        use geo::BoundingRect;
        let ring = |line: &geo::LineString<f64>| -> Box<[[i32; 2]]> {
            let mut out: Vec<[i32; 2]> = Vec::with_capacity(line.0.len());
            for c in &line.0 {
                let p = [c.x.round() as i32, c.y.round() as i32];
                if out.last() != Some(&p) {
                    out.push(p);
                }
            }
            if out.len() > 1 && out.first() == out.last() {
                out.pop();
            }
            out.into_boxed_slice()
        };
        ZoomOutline {
            polygons: polygons
                .iter()
                .map(|p| {
                    std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .map(ring)
                        .collect()
                })
                .collect(),
            bbox: polygons.bounding_rect(),
        }
    }

    /// Polygons, each its exterior then its holes.
    pub fn polygons(&self) -> &[GridPolygon] {
        &self.polygons
    }

    /// The box of the points before they were snapped; `None` when empty.
    pub fn bbox(&self) -> Option<Rect<f64>> {
        self.bbox
    }
}

/// Simplified, unless that would collapse a small polygon to nothing.
pub(crate) fn simplify_or_keep(polygon: &Polygon<f64>) -> Polygon<f64> {
    let simplified = polygon.simplify(SIMPLIFY_UNITS);
    if simplified.exterior().0.len() >= 4 {
        simplified
    } else {
        polygon.clone()
    }
}

/// The tiles of zoom `z` that draw an initiative at `p`: the one holding it
/// by world coordinates (clusters and points are drawn by it) and, at an
/// edge, the one its projection falls in (they agree but there).
pub fn tiles_holding(p: Coord<f64>, z: u8) -> Vec<TileId> {
    let (x, y) = tile_at(world_fixed(p), z);
    let t = TileId { z, x, y };
    let mut out = vec![t];
    let q = t.project(p);
    let e = f64::from(EXTENT);
    let side = |v: f64| {
        if v < 0.0 {
            -1
        } else if v >= e {
            1
        } else {
            0
        }
    };
    let (dx, dy) = (side(q.x), side(q.y));
    if (dx, dy) != (0, 0) {
        let n = 1i64 << z;
        let (nx, ny) = (i64::from(x) + dx, i64::from(y) + dy);
        if (0..n).contains(&nx) && (0..n).contains(&ny) {
            out.push(TileId {
                z,
                x: nx as u32,
                y: ny as u32,
            });
        }
    }
    out
}

/// The tiles of zoom `z` a lon/lat box meets, and one more around them for
/// the buffer drawn beyond each tile's edges.
pub fn tiles_meeting(bbox: Rect<f64>, z: u8) -> impl Iterator<Item = TileId> {
    let (lo, hi) = (bbox.min(), bbox.max());
    let (x0, y0) = tile_at(world_fixed(Coord { x: lo.x, y: hi.y }), z);
    let (x1, y1) = tile_at(world_fixed(Coord { x: hi.x, y: lo.y }), z);
    let last = (1u32 << z) - 1;
    (x0.saturating_sub(1)..=(x1 + 1).min(last)).flat_map(move |x| {
        (y0.saturating_sub(1)..=(y1 + 1).min(last)).map(move |y| TileId { z, x, y })
    })
}
