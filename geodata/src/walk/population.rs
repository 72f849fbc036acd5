//! Where people live, to weight a QPV's streets: INSEE's gridded population
//! (« données carroyées » of Filosofi, 200 m squares), read from its
//! published CSV (`Idcar_200m` — `CRS3035RES200mN2029800E4252400`, the
//! square's south-west corner in ETRS89-LAEA, EPSG:3035 — and `Ind`, the
//! individuals counted). Squares in another frame (the overseas files) are
//! counted and left out: only metropolitan France's frame is read here.

use std::path::{Path, PathBuf};

use geo::Coord;

/// The side of a square, in metres.
pub const SQUARE_M: f64 = 200.0;

/// Inhabited 200 m squares, sorted by key.
#[derive(Debug, Clone, Default)]
pub struct PopulationGrid {
    squares: Vec<(u64, f32)>,
    /// The file's name, said with every answer that used it.
    pub source: String,
    pub people: f64,
    /// Squares in another frame than EPSG:3035 (overseas), not read.
    pub other_frames: usize,
}

/// A grid file that cannot be read: which file, line and field, and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {reason}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct PopulationError {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub reason: String,
}

fn key(east_m: f64, north_m: f64) -> u64 {
    let (e, n) = (
        (east_m / SQUARE_M).floor() as i64,
        (north_m / SQUARE_M).floor() as i64,
    );
    ((e as u64 & 0xffff_ffff) << 32) | (n as u64 & 0xffff_ffff)
}

/// ETRS89 longitude/latitude to ETRS89-LAEA Europe (EPSG:3035) metres:
/// Lambert azimuthal equal-area on the GRS80 ellipsoid, centred at 52° N
/// 10° E (false easting 4,321,000 m, northing 3,210,000 m), by Snyder's
/// formulas (« Map Projections — A Working Manual », 1987, p. 187).
///
/// ```
/// // PROJ (pyproj) gives 3,760,536.82 m E, 2,888,771.02 m N for Paris.
/// let (e, n) = geodata::walk::population::laea_europe(geo::coord! { x: 2.35, y: 48.85 });
/// assert!((e - 3_760_536.82).abs() < 0.01 && (n - 2_888_771.02).abs() < 0.01);
/// ```
pub fn laea_europe(at: Coord<f64>) -> (f64, f64) {
    const A: f64 = 6_378_137.0;
    const F: f64 = 1.0 / 298.257_222_101;
    let e2 = F * (2.0 - F);
    let e = e2.sqrt();
    let q = |phi: f64| {
        let s = phi.sin();
        (1.0 - e2)
            * (s / (1.0 - e2 * s * s) - (1.0 / (2.0 * e)) * ((1.0 - e * s) / (1.0 + e * s)).ln())
    };
    let qp = q(std::f64::consts::FRAC_PI_2);
    let rq = A * (qp / 2.0).sqrt();
    let phi1 = 52f64.to_radians();
    let beta1 = (q(phi1) / qp).asin();
    let m1 = phi1.cos() / (1.0 - e2 * phi1.sin().powi(2)).sqrt();
    let d = A * m1 / (rq * beta1.cos());
    let beta = (q(at.y.to_radians()) / qp).clamp(-1.0, 1.0).asin();
    let dl = (at.x - 10.0).to_radians();
    let b =
        rq * (2.0 / (1.0 + beta1.sin() * beta.sin() + beta1.cos() * beta.cos() * dl.cos())).sqrt();
    let x = b * d * beta.cos() * dl.sin();
    let y = (b / d) * (beta1.cos() * beta.sin() - beta1.sin() * beta.cos() * dl.cos());
    (4_321_000.0 + x, 3_210_000.0 + y)
}

/// The south-west corner of a square from its `Idcar_200m`, when it is in
/// EPSG:3035.
fn corner(id: &str) -> Option<(f64, f64)> {
    let rest = id.strip_prefix("CRS3035RES200mN")?;
    let (north, east) = rest.split_once('E')?;
    Some((east.parse().ok()?, north.parse().ok()?))
}

impl PopulationGrid {
    /// Reads a Filosofi 200 m CSV (`;` or `,`), by its published column
    /// names (case ignored): `Idcar_200m` and `Ind`.
    pub fn read(path: &Path) -> Result<PopulationGrid, PopulationError> {
        let error = |line: Option<u64>, reason: String| PopulationError {
            file: path.to_path_buf(),
            line,
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| error(None, e.to_string()))?;
        let first_line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
        let delimiter = if first_line.contains(&b';') {
            b';'
        } else {
            b','
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(bytes.as_slice());
        let headers = reader
            .headers()
            .map_err(|e| error(Some(1), e.to_string()))?
            .clone();
        let column = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim().trim_matches('"').eq_ignore_ascii_case(name))
                .ok_or_else(|| error(Some(1), format!("no column `{name}` (the Filosofi 200 m squares have `Idcar_200m` and `Ind`)")))
        };
        let (id_at, people_at) = (column("Idcar_200m")?, column("Ind")?);
        let mut grid = PopulationGrid {
            source: path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            ..PopulationGrid::default()
        };
        for (i, record) in reader.records().enumerate() {
            let line = i as u64 + 2;
            let record = record.map_err(|e| error(Some(line), e.to_string()))?;
            let id = record.get(id_at).unwrap_or_default().trim();
            let Some((east, north)) = corner(id) else {
                if id.starts_with("CRS") {
                    grid.other_frames += 1;
                    continue;
                }
                return Err(error(
                    Some(line),
                    format!("Idcar_200m: `{id}` is not a square's id (CRS3035RES200mN…E…)"),
                ));
            };
            let text = record
                .get(people_at)
                .unwrap_or_default()
                .trim()
                .replace(',', ".");
            let people: f64 = text
                .parse()
                .ok()
                .filter(|p: &f64| p.is_finite() && *p >= 0.0)
                .ok_or_else(|| {
                    error(
                        Some(line),
                        format!("Ind: `{text}` is not a number of people"),
                    )
                })?;
            grid.people += people;
            grid.squares
                .push((key(east + 1.0, north + 1.0), people as f32));
        }
        grid.squares.sort_unstable_by_key(|&(k, _)| k);
        Ok(grid)
    }

    pub fn squares(&self) -> usize {
        self.squares.len()
    }

    /// The square a point lies in (its key), and its population (0 when the
    /// square is not listed: no one counted there).
    pub fn square_at(&self, at: Coord<f64>) -> (u64, f32) {
        let (e, n) = laea_europe(at);
        let k = key(e, n);
        let people = self
            .squares
            .binary_search_by_key(&k, |&(key, _)| key)
            .map_or(0.0, |i| self.squares[i].1);
        (k, people)
    }

    pub fn heap_bytes(&self) -> usize {
        self.squares.len() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laea_agrees_with_proj() {
        // Reference values from PROJ 9 (pyproj, EPSG:4326 → EPSG:3035).
        for (lon, lat, e, n) in [
            (7.4246, 43.7384, 4_113_070.414, 2_295_705.274),
            (-1.5, 47.2, 3_452_946.162, 2_743_841.048),
        ] {
            let (x, y) = laea_europe(Coord { x: lon, y: lat });
            assert!((x - e).abs() < 0.01 && (y - n).abs() < 0.01, "{x} {y}");
        }
    }

    #[test]
    fn reads_the_published_columns_and_refuses_what_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("carreaux.csv");
        std::fs::write(
            &path,
            "Idcar_200m;Idcar_1km;I_est_200;Ind;Men\nCRS3035RES200mN2888600E3760400;x;1;215.5;100\nCRS5490RES200mN1796800E695200;x;1;12;5\n",
        )
        .unwrap();
        let grid = PopulationGrid::read(&path).unwrap();
        assert_eq!((grid.squares(), grid.other_frames), (1, 1));
        // Paris (3,760,536.8 E, 2,888,771.0 N) is in that square.
        assert_eq!(grid.square_at(Coord { x: 2.35, y: 48.85 }).1, 215.5);
        assert_eq!(grid.square_at(Coord { x: 2.36, y: 48.85 }).1, 0.0);
        std::fs::write(
            &path,
            "Idcar_200m;Ind\nCRS3035RES200mN2888600E3760400;beaucoup\n",
        )
        .unwrap();
        let e = PopulationGrid::read(&path).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("Ind"), "{e}");
        std::fs::write(&path, "id;pop\n").unwrap();
        assert!(
            PopulationGrid::read(&path)
                .unwrap_err()
                .to_string()
                .contains("Idcar_200m")
        );
    }
}
