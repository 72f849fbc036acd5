//! Locates a file of points against the Île-de-France QPV outlines, single
//! threaded, and times it: the ess-map side of `bench/locate_vs_geopandas.py`.
//!
//! Usage: `locate_points DATA_DIR POINTS.f64 OUT.csv`, where POINTS.f64 holds
//! little-endian (lon, lat) f64 pairs. Prints one JSON line of timings and
//! writes, per point, the QPV containing it and the nearest within 300 m.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use geo::Coord;
use geodata::{Dataset, Manifest, Taxonomy};

const REPEATS: usize = 3;

fn main() {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [data_dir, points_path, out_path] = &args[..] else {
        eprintln!("usage: locate_points DATA_DIR POINTS.f64 OUT.csv");
        std::process::exit(2);
    };
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data");
    let mut manifest = Manifest::from_file(&project.join("manifest.toml")).expect("manifest");
    manifest.datasets.retain(|d| d.id == "qpv-2024-idf");
    let taxonomy = Taxonomy::from_file(&project.join("categories.toml")).expect("taxonomy");
    let data = Dataset::load(data_dir, manifest, taxonomy).expect("QPV load");

    let bytes = std::fs::read(points_path).expect("points file");
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let points: Vec<Coord<f64>> = values
        .chunks_exact(2)
        .map(|p| Coord { x: p[0], y: p[1] })
        .collect();

    let time = |radius_m: f64| {
        let mut best = f64::INFINITY;
        let mut result = Vec::new();
        for _ in 0..REPEATS {
            let started = Instant::now();
            result = points
                .iter()
                .map(|&p| data.locate(p, radius_m, None))
                .collect::<Vec<_>>();
            best = best.min(started.elapsed().as_secs_f64());
        }
        (best, result)
    };
    let (contain_s, contained) = time(0.0);
    let (near_s, near) = time(300.0);

    let mut out = std::io::BufWriter::new(std::fs::File::create(out_path).expect("output"));
    writeln!(out, "contain_code,near_code,near_distance_m").unwrap();
    let code = |q: Option<geodata::QpvId>| q.map_or("", |i| data.qpv(i).code.as_str());
    for (c, n) in contained.iter().zip(&near) {
        let d = n.distance_m.map_or(String::new(), |d| format!("{d:.3}"));
        writeln!(out, "{},{},{}", code(c.qpv), code(n.qpv), d).unwrap();
    }
    println!(
        "{{\"points\": {}, \"contain_s\": {contain_s}, \"near300_s\": {near_s}}}",
        points.len()
    );
}
