//! Positions in the Web Mercator world as fixed-point integers, and the
//! per-cell sums that cluster tiles are made of.
//!
//! A cluster's centre is the mean of its members' positions. Kept as integer
//! sums, it is the same whatever the order members were added and removed
//! in, so a tile made after a thousand edits has the same bytes as one made
//! from scratch.

use std::collections::BTreeMap;

use geo::Coord;

/// Web Mercator's latitude limit.
pub const MAX_LAT: f64 = 85.051_128_779_806_59;

/// Cluster cells across a tile side (a cell is 512 units: 32 px of a 256 px tile).
pub const CELLS_PER_TILE_LOG2: u32 = 3;

/// The zoom whose cluster cells are summed in advance: tiles up to this
/// zoom are made from these sums, deeper ones from the points themselves.
pub const SUMMED_ZOOM: u8 = 8;

/// A lon/lat position as world coordinates, `2^32` units across the world,
/// x east and y south from the top-left corner.
pub fn world_fixed(c: Coord<f64>) -> (u32, u32) {
    let lat = c.y.clamp(-MAX_LAT, MAX_LAT).to_radians();
    let wx = (c.x + 180.0) / 360.0;
    let wy = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    let fixed = |w: f64| (w * 4_294_967_296.0).clamp(0.0, 4_294_967_295.0) as u32;
    (fixed(wx), fixed(wy))
}

/// The lon/lat rectangle of the world rectangle `[min, max)`, a little
/// larger (what lies in it is then told by its world coordinates).
pub fn lonlat_of(min: (u32, u32), max: (u64, u64)) -> geo::Rect<f64> {
    let scale = 4_294_967_296.0;
    let lon = |x: f64| x / scale * 360.0 - 180.0;
    let lat = |y: f64| {
        let t = std::f64::consts::PI * (1.0 - 2.0 * y / scale);
        t.sinh().atan().to_degrees()
    };
    let eps = 1e-9;
    // Rows at the world's edge hold every position beyond it (clamped to
    // Web Mercator's latitudes): up to the poles.
    let south = if max.1 >= 1 << 32 {
        -90.0
    } else {
        lat(max.1 as f64) - eps
    };
    let north = if min.1 == 0 {
        90.0
    } else {
        lat(f64::from(min.1)) + eps
    };
    geo::Rect::new(
        Coord {
            x: lon(f64::from(min.0)) - eps,
            y: south,
        },
        Coord {
            x: lon(max.0 as f64) + eps,
            y: north,
        },
    )
}

/// The cluster cell of a world position at zoom `z`.
#[inline]
pub fn cell_at(p: (u32, u32), z: u8) -> (u32, u32) {
    let shift = 32 - u32::from(z) - CELLS_PER_TILE_LOG2;
    (p.0 >> shift, p.1 >> shift)
}

/// The tile of a world position at zoom `z`.
#[inline]
pub fn tile_at(p: (u32, u32), z: u8) -> (u32, u32) {
    if z == 0 {
        return (0, 0);
    }
    let shift = 32 - u32::from(z);
    (p.0 >> shift, p.1 >> shift)
}

/// Members of one category in one cell: how many, and the sums of their
/// world coordinates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sums {
    pub count: u32,
    pub x: u64,
    pub y: u64,
}

impl Sums {
    pub fn add(&mut self, p: (u32, u32)) {
        self.count += 1;
        self.x += u64::from(p.0);
        self.y += u64::from(p.1);
    }

    pub fn remove(&mut self, p: (u32, u32)) {
        self.count -= 1;
        self.x -= u64::from(p.0);
        self.y -= u64::from(p.1);
    }

    pub fn merge(&mut self, other: &Sums) {
        self.count += other.count;
        self.x += other.x;
        self.y += other.y;
    }
}

/// Per cell and category sums at [`SUMMED_ZOOM`].
pub type CellSums = BTreeMap<(u32, u32), BTreeMap<&'static str, Sums>>;

/// One cluster cell of a tile, its members by category.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    pub by_category: BTreeMap<&'static str, Sums>,
}

impl Cluster {
    pub fn total(&self) -> Sums {
        let mut t = Sums::default();
        for s in self.by_category.values() {
            t.merge(s);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_tiles_nest() {
        let p = world_fixed(Coord { x: 2.35, y: 48.85 });
        // Paris is tile 8/129/88.
        assert_eq!(tile_at(p, 8), (129, 88));
        let cell = cell_at(p, 8);
        assert_eq!((cell.0 >> 3, cell.1 >> 3), (129, 88));
        assert_eq!(cell_at(p, 7), (cell.0 >> 1, cell.1 >> 1));
    }
}
