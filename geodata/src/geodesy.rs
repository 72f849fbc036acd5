//! Metres on the ground from WGS84 longitude/latitude.
//!
//! Distances at city scale (a few kilometres) are computed in a local tangent
//! frame: an equirectangular projection centred on the feature, scaled by the
//! WGS84 ellipsoid's radii of curvature at the centre's latitude. Within 5 km of
//! the centre it agrees with the geodesic distance to better than 0.1 % (the
//! tests check it against geographiclib), and it keeps straight segments
//! straight, so point-to-polygon distances are plain Euclidean geometry.

use geo::{Coord, MultiPolygon, Rect};

const WGS84_A: f64 = 6_378_137.0;
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// A local metric frame: x east and y north, in metres, from an origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalFrame {
    origin: Coord<f64>,
    /// Metres per degree of longitude at the origin's latitude.
    metres_per_deg_lon: f64,
    /// Metres per degree of latitude at the origin's latitude.
    metres_per_deg_lat: f64,
}

impl LocalFrame {
    /// The frame centred on `origin` (lon/lat in degrees).
    ///
    /// ```
    /// use geodata::geodesy::LocalFrame;
    /// let paris = LocalFrame::new(geo::coord! { x: 2.35, y: 48.85 });
    /// // One hundredth of a degree of latitude is about 1.11 km.
    /// let p = paris.project(geo::coord! { x: 2.35, y: 48.86 });
    /// assert!((p.y - 1112.0).abs() < 1.0 && p.x.abs() < 1e-9);
    /// ```
    pub fn new(origin: Coord<f64>) -> Self {
        let e2 = WGS84_F * (2.0 - WGS84_F);
        let phi = origin.y.to_radians();
        let w = (1.0 - e2 * phi.sin().powi(2)).sqrt();
        let prime_vertical = WGS84_A / w;
        let meridional = WGS84_A * (1.0 - e2) / (w * w * w);
        let rad = std::f64::consts::PI / 180.0;
        LocalFrame {
            origin,
            metres_per_deg_lon: prime_vertical * phi.cos() * rad,
            metres_per_deg_lat: meridional * rad,
        }
    }

    /// The frame centred on the middle of a bounding box.
    pub fn centred_on(rect: Rect<f64>) -> Self {
        LocalFrame::new(rect.center())
    }

    /// Lon/lat degrees to metres in this frame.
    #[inline]
    pub fn project(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: (c.x - self.origin.x) * self.metres_per_deg_lon,
            y: (c.y - self.origin.y) * self.metres_per_deg_lat,
        }
    }

    /// Metres in this frame back to lon/lat degrees.
    #[inline]
    pub fn unproject(&self, c: Coord<f64>) -> Coord<f64> {
        Coord {
            x: self.origin.x + c.x / self.metres_per_deg_lon,
            y: self.origin.y + c.y / self.metres_per_deg_lat,
        }
    }

    /// A polygon's coordinates in this frame.
    pub fn project_multi_polygon(&self, mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
        use geo::MapCoords;
        mp.map_coords(|c| self.project(c))
    }

    /// Degrees of longitude and latitude that span at least `metres` anywhere
    /// within `rect` (a margin for searching an index kept in degrees).
    pub fn degrees_for(rect: Rect<f64>, metres: f64) -> (f64, f64) {
        // Degrees of longitude shrink towards the poles: use the latitude
        // farthest from the equator, plus 1 % for the curvature left out.
        // A degree of latitude is shortest at the equator.
        let worst_lat = rect.min().y.abs().max(rect.max().y.abs()).min(89.0);
        let poleward = LocalFrame::new(Coord {
            x: 0.0,
            y: worst_lat,
        });
        let equator = LocalFrame::new(Coord { x: 0.0, y: 0.0 });
        let margin = metres * 1.01;
        (
            margin / poleward.metres_per_deg_lon,
            margin / equator.metres_per_deg_lat,
        )
    }

    /// `rect` grown by at least `metres` on every side ([`Self::degrees_for`]):
    /// the box to search an index kept in degrees for what lies within
    /// `metres` of it.
    pub fn search_box(rect: Rect<f64>, metres: f64) -> Rect<f64> {
        let (dlon, dlat) = Self::degrees_for(rect, metres);
        let (min, max) = (rect.min(), rect.max());
        Rect::new(
            Coord {
                x: min.x - dlon,
                y: min.y - dlat,
            },
            Coord {
                x: max.x + dlon,
                y: max.y + dlat,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Geodesic, Point};
    use proptest::prelude::*;

    fn local_distance(a: Coord<f64>, b: Coord<f64>, origin: Coord<f64>) -> f64 {
        let f = LocalFrame::new(origin);
        let (pa, pb) = (f.project(a), f.project(b));
        (pa.x - pb.x).hypot(pa.y - pb.y)
    }

    proptest! {
        // Two points within 5 km of a frame origin anywhere France has QPV
        // (Hexagone and overseas latitudes): within 0.1 % or 0.5 m of geodesic.
        #[test]
        fn local_frame_matches_geodesic_at_city_scale(
            lat0 in prop_oneof![41.0..51.5f64, -21.5..-12.5f64, 3.0..18.5f64],
            lon0 in -61.0..56.0f64,
            offsets in prop::array::uniform4(-0.045..0.045f64),
        ) {
            let origin = Coord { x: lon0, y: lat0 };
            let a = Coord { x: lon0 + offsets[0], y: lat0 + offsets[1] * 0.66 };
            let b = Coord { x: lon0 + offsets[2], y: lat0 + offsets[3] * 0.66 };
            let geodesic = Geodesic.distance(Point(a), Point(b));
            let local = local_distance(a, b, origin);
            prop_assert!((local - geodesic).abs() <= (geodesic * 1e-3).max(0.5),
                "local {local} geodesic {geodesic}");
        }
    }

    #[test]
    fn degree_margin_covers_the_distance() {
        let rect = Rect::new(Coord { x: 2.2, y: 48.8 }, Coord { x: 2.5, y: 49.0 });
        let (dlon, dlat) = LocalFrame::degrees_for(rect, 1000.0);
        let top = Point::new(2.2, 49.0);
        assert!(Geodesic.distance(top, Point::new(2.2 + dlon, 49.0)) >= 1000.0);
        assert!(Geodesic.distance(top, Point::new(2.2, 49.0 + dlat)) >= 1000.0);
    }
}
