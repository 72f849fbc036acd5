//! `cargo run --release -p gen-national -- SCALE [SEED]` writes
//! `target/national-<SCALE>x/`: a synthetic national data set in the
//! schemas of the official files, so that ess-map's own loaders read it.
//!
//! - Every QPV of the national list (1,493) gets an outline in the ANCT 2024
//!   schema: a real outline shape from the shipped files, moved to its
//!   commune's centre (QPV of one commune spread around it), densified to
//!   the vertex counts of unsimplified outlines (log-uniform 200–3,000
//!   vertices; one, in Marseille, 50,000). The 105 Occitanie 2015 outlines
//!   are kept as they are.
//! - `SCALE` × 3,940 initiatives in the SIAE file's schema: half jittered
//!   copies of real SIAE (±0.02°), half around the centres of communes
//!   that have QPV (±0.01°), categories taken from the SIAE list.
//! - The other shipped files copied, and a `manifest.toml` naming them.
//!
//! Seeded: the same SCALE and SEED give the same files.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Value, json};

/// splitmix64: small, seeded, good enough to spread synthetic points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn gunzip(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_end(&mut out)?;
    Ok(out)
}

type Ring = Vec<[f64; 2]>;
type Shape = Vec<Vec<Ring>>;

fn shapes(geojson: &Value) -> Vec<Shape> {
    geojson["features"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| serde_json::from_value::<Shape>(f["geometry"]["coordinates"].clone()).ok())
        .collect()
}

fn vertices(shape: &Shape) -> usize {
    shape.iter().flatten().map(Vec::len).sum()
}

/// The shape moved so that its bounding box is centred on `centre`, its
/// rings densified until it has about `target` vertices.
fn placed(shape: &Shape, centre: [f64; 2], target: usize) -> Shape {
    let all = shape.iter().flatten().flatten();
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for p in all {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    let shift = [
        centre[0] - (lo[0] + hi[0]) / 2.0,
        centre[1] - (lo[1] + hi[1]) / 2.0,
    ];
    let factor = (target as f64 / vertices(shape) as f64).ceil().max(1.0) as usize;
    let round = |v: f64| (v * 1e7).round() / 1e7;
    shape
        .iter()
        .map(|polygon| {
            polygon
                .iter()
                .map(|ring| {
                    let mut out = Vec::with_capacity(ring.len() * factor);
                    for w in ring.windows(2) {
                        for i in 0..factor {
                            let t = i as f64 / factor as f64;
                            out.push([
                                round(w[0][0] + (w[1][0] - w[0][0]) * t + shift[0]),
                                round(w[0][1] + (w[1][1] - w[0][1]) * t + shift[1]),
                            ]);
                        }
                    }
                    out.push(out[0]);
                    out.dedup();
                    out
                })
                .collect()
        })
        .collect()
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let scale: usize = args
        .get(1)
        .context("usage: gen-national SCALE [SEED]")?
        .parse()
        .context("SCALE: a whole number (1, 10, 100, 250)")?;
    let seed: u64 = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let data = root.join("data");
    let out = root.join(format!("target/national-{scale}x"));
    std::fs::create_dir_all(out.join("qpv"))?;
    std::fs::create_dir_all(out.join("ess"))?;
    let mut rng = Rng(seed);

    // Commune centres.
    let mut centres: HashMap<String, [f64; 2]> = HashMap::new();
    let communes = gunzip(&data.join("qpv/communes-centroids.csv.gz"))?;
    for row in csv::Reader::from_reader(&communes[..]).deserialize::<HashMap<String, String>>() {
        let row = row?;
        let at = [row["longitude"].parse()?, row["latitude"].parse()?];
        centres.insert(row["code"].clone(), at);
    }

    // Outlines for every QPV of the national list.
    let mut real: Vec<Shape> = Vec::new();
    for file in [
        "qpv/qpv-2024-idf.geojson.gz",
        "qpv/qpv-2015-occitanie.geojson.gz",
    ] {
        real.extend(shapes(&serde_json::from_slice(&gunzip(&data.join(file))?)?));
    }
    let list = gunzip(&data.join("qpv/qpv-2024-list.csv.gz"))?;
    let mut features = Vec::new();
    let mut per_commune: HashMap<String, usize> = HashMap::new();
    let mut qpv_communes: Vec<[f64; 2]> = Vec::new();
    let mut total_vertices = 0;
    let mut big_done = false;
    for row in csv::Reader::from_reader(&list[..]).deserialize::<HashMap<String, String>>() {
        let row = row?;
        let first = row["insee_com"]
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        let Some(&centre) = centres.get(&first) else {
            continue;
        };
        qpv_communes.push(centre);
        // The k-th QPV of a commune goes on a spiral around its centre, 1.5 km apart.
        let k = per_commune.entry(first).or_default();
        let angle = *k as f64 * 2.4;
        let radius = 0.013 * (*k as f64).sqrt();
        *k += 1;
        let at = [
            centre[0] + radius * angle.cos() * 1.5,
            centre[1] + radius * angle.sin(),
        ];
        let target = if !big_done && row["insee_com"].starts_with("13055") {
            big_done = true;
            std::fs::write(out.join("largest-outline.txt"), &row["code_qp"])?;
            50_000
        } else {
            (200.0 * 15f64.powf(rng.unit())) as usize
        };
        let shape = placed(&real[rng.below(real.len())], at, target);
        total_vertices += vertices(&shape);
        features.push(json!({
            "type": "Feature",
            "properties": {
                "code_qp": row["code_qp"], "lib_qp": row["lib_qp"], "lib_com": row["lib_com"],
                "insee_dep": row["insee_dep"], "insee_com": row["insee_com"],
            },
            "geometry": { "type": "MultiPolygon", "coordinates": shape },
        }));
    }
    let outlines = features.len();
    std::fs::write(
        out.join("qpv/qpv-2024-national.geojson"),
        serde_json::to_vec(&json!({ "type": "FeatureCollection", "features": features }))?,
    )?;

    // Initiatives: the SIAE schema, SCALE × 3,940 rows.
    let siae = gunzip(&data.join("ess/siae_lemarche.csv.gz"))?;
    let mut reader = csv::Reader::from_reader(&siae[..]);
    let headers = reader.headers()?.clone();
    let rows: Vec<csv::StringRecord> = reader
        .records()
        .filter_map(Result::ok)
        .filter(|r| !r[headers.iter().position(|h| h == "lon").unwrap()].is_empty())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id, lon, lat, name) = (col("id"), col("lon"), col("lat"), col("name"));
    let mut writer = csv::Writer::from_path(out.join("ess/siae_lemarche.csv"))?;
    writer.write_record(&headers)?;
    let n = scale * 3940;
    for i in 0..n {
        let source = &rows[rng.below(rows.len())];
        let mut record: Vec<String> = source.iter().map(str::to_string).collect();
        let (x, y) = if i % 2 == 0 {
            (
                source[lon].parse::<f64>()? + rng.range(-0.02, 0.02),
                source[lat].parse::<f64>()? + rng.range(-0.02, 0.02),
            )
        } else {
            let c = qpv_communes[rng.below(qpv_communes.len())];
            (c[0] + rng.range(-0.01, 0.01), c[1] + rng.range(-0.01, 0.01))
        };
        record[id] = format!("synthetic-{i}");
        record[name] = format!("{} {i}", source[name].trim());
        record[lon] = format!("{x:.6}");
        record[lat] = format!("{y:.6}");
        writer.write_record(&record)?;
    }
    writer.flush()?;

    // The rest as shipped (the loaders read `.gz`).
    for file in [
        "qpv/qpv-2015-occitanie.geojson.gz",
        "qpv/qpv-2024-list.csv.gz",
        "qpv/qpv-2015-insee-demographie.csv.gz",
        "qpv/departements-metropole-simplifie.geojson.gz",
        "qpv/communes-centroids.csv.gz",
        "ess/esat_finess.csv.gz",
        "ess/supermarches_cooperatifs.geojson.gz",
    ] {
        std::fs::copy(data.join(file), out.join(file))?;
    }
    let manifest = std::fs::read_to_string(data.join("manifest.toml"))?
        .replace(
            "file = \"qpv/qpv-2024-idf.geojson\"",
            "file = \"qpv/qpv-2024-national.geojson\"",
        )
        .replace(
            "territory = \"Île-de-France\"",
            "territory = \"France (synthétique : formes réelles déplacées)\"",
        );
    let mut m = std::fs::File::create(out.join("manifest.toml"))?;
    m.write_all(manifest.as_bytes())?;
    println!(
        "{}: {outlines} outlines ({total_vertices} vertices), {n} initiatives; run with --data {0} --manifest {0}/manifest.toml",
        out.display()
    );
    Ok(())
}
