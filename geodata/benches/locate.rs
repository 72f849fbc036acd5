//! `cargo bench -p geodata`: locate, nearby, the gap analysis and QPV tiles
//! on the real data.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use geo::{Coord, coord};
use geodata::{Dataset, Manifest, Taxonomy};

fn data_dir() -> PathBuf {
    std::env::var_os("ESS_MAP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data"))
}

fn dataset() -> Dataset {
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data");
    let manifest = Manifest::from_file(&project.join("manifest.toml")).unwrap();
    let taxonomy = Taxonomy::from_file(&project.join("categories.toml")).unwrap();
    Dataset::load(&data_dir(), manifest, taxonomy).unwrap()
}

/// Seeded uniform points over the Île-de-France QPV bounding box (xorshift,
/// to keep the benchmark free of a random-number dependency).
fn random_points(n: usize) -> Vec<Coord<f64>> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n)
        .map(|_| coord! { x: 1.670 + next() * (3.298 - 1.670), y: 48.267 + next() * (49.153 - 48.267) })
        .collect()
}

fn bench(c: &mut Criterion) {
    let data = dataset();
    let goutte_d_or = coord! { x: 2.35313, y: 48.88699 };
    let near_goutte_d_or = coord! { x: 2.3545, y: 48.8925 };
    let countryside = coord! { x: 2.0, y: 48.4 };

    let mut single = c.benchmark_group("locate one point, 300 m");
    for (name, at) in [
        ("inside", goutte_d_or),
        ("near", near_goutte_d_or),
        ("outside", countryside),
    ] {
        single.bench_function(name, |b| b.iter(|| data.locate(black_box(at), 300.0, None)));
    }
    single.finish();

    let points = random_points(100_000);
    let mut batch = c.benchmark_group("locate 100k random IDF points");
    batch.throughput(Throughput::Elements(points.len() as u64));
    for radius in [0.0, 300.0] {
        batch.bench_function(format!("radius {radius} m"), |b| {
            b.iter(|| {
                points
                    .iter()
                    .filter(|p| data.locate(**p, radius, None).qpv.is_some())
                    .count()
            })
        });
    }
    batch.finish();

    let qpv = data.qpv_by_code("QN07511M").unwrap();
    let mut nearby = c.benchmark_group("nearby QN07511M");
    for radius in [500.0, 2000.0] {
        nearby.bench_function(format!("{radius} m"), |b| {
            b.iter(|| {
                data.nearby(black_box(qpv), radius, None, 1000)
                    .unwrap()
                    .len()
            })
        });
    }
    nearby.finish();

    let mut gaps = c.benchmark_group("gap analysis, every QPV");
    for (name, categories) in [
        ("all categories", vec![]),
        ("ACI only", vec!["insertion_aci".to_string()]),
    ] {
        let query = geodata::gaps::GapQuery {
            categories,
            ..Default::default()
        };
        gaps.bench_function(name, |b| {
            b.iter(|| geodata::gaps::analyse(&data, &query).len())
        });
    }
    gaps.finish();

    // SYNTHETIC: every real located initiative copied 100 times, each copy
    // moved by a seeded random offset of up to ±0.02° (about 2 km); QPV are
    // the real ones. Labelled as such in BENCHMARKS.md.
    let synthetic = synthetic_dataset(&data, 100);
    let mut scaled = c.benchmark_group("gap analysis, every QPV, 100x synthetic initiatives");
    scaled.sample_size(10);
    let query = geodata::gaps::GapQuery::default();
    scaled.bench_function("all categories", |b| {
        b.iter(|| geodata::gaps::analyse(&synthetic, &query).len())
    });
    scaled.finish();
}

/// The real QPV with `factor` jittered copies of every located initiative,
/// loaded through the ordinary loader from a CSV written to a temporary folder.
fn synthetic_dataset(data: &Dataset, factor: usize) -> Dataset {
    let dir = std::env::temp_dir().join(format!("ess-map-bench-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("qpv")).unwrap();
    let real = data_dir();
    for file in ["qpv/qpv-2024-idf.geojson", "qpv/qpv-2015-occitanie.geojson"] {
        // The shipped data is gzip-compressed; the loader reads either.
        let gz = format!("{file}.gz");
        let (from, to) = if real.join(file).exists() {
            (file, file)
        } else {
            (gz.as_str(), gz.as_str())
        };
        std::fs::copy(real.join(from), dir.join(to)).unwrap();
    }
    let mut csv = String::from("id,name,kind,lon,lat\n");
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    for x in data.initiatives().iter() {
        let Some(p) = x.position else { continue };
        for k in 0..factor {
            let kind = x.source_kind.as_deref().unwrap_or("");
            let (lon, lat) = (p.x + next() * 0.04, p.y + next() * 0.04);
            csv.push_str(&format!(
                "{}-{k},\"{}\",{kind},{lon:.6},{lat:.6}\n",
                x.id,
                x.name.replace('"', "'")
            ));
        }
    }
    std::fs::write(dir.join("synthetic.csv"), csv).unwrap();
    let manifest = Manifest::from_toml(
        "[[dataset]]\nid = \"qpv-2024-idf\"\nkind = \"qpv_polygons\"\nfile = \"qpv/qpv-2024-idf.geojson\"\ntitle = \"t\"\nterritory = \"t\"\nsource_url = \"u\"\nlicence = \"l\"\nattribution = \"a\"\n\
         [[dataset]]\nid = \"qpv-2015-occitanie\"\nkind = \"qpv_polygons\"\nfile = \"qpv/qpv-2015-occitanie.geojson\"\ntitle = \"t\"\nterritory = \"t\"\nsource_url = \"u\"\nlicence = \"l\"\nattribution = \"a\"\n\
         [[dataset]]\nid = \"synthetic\"\nkind = \"initiatives\"\nfile = \"synthetic.csv\"\ntitle = \"SYNTHETIC\"\nterritory = \"t\"\nsource_url = \"u\"\nlicence = \"l\"\nattribution = \"a\"\n",
    )
    .unwrap();
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data");
    let taxonomy = Taxonomy::from_file(&project.join("categories.toml")).unwrap();
    let synthetic = Dataset::load(&dir, manifest, taxonomy).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    synthetic
}

/// The tiles covering Paris and the petite couronne at a zoom.
fn paris_tiles(z: u8) -> Vec<geodata::tiles::TileId> {
    let n = f64::from(1u32 << z);
    let column = |lon: f64| ((lon + 180.0) / 360.0 * n) as u32;
    let row = |lat: f64| {
        let lat = f64::to_radians(lat);
        ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32
    };
    let mut tiles = Vec::new();
    for x in column(2.2)..=column(2.5) {
        for y in row(49.0)..=row(48.8) {
            tiles.push(geodata::tiles::TileId::new(u32::from(z), x, y).unwrap());
        }
    }
    tiles
}

fn tiles(c: &mut Criterion) {
    use geodata::tiles::{TileLayer, encode};
    let data = dataset();
    let mut group = c.benchmark_group("QPV tiles over Paris, cold");
    for z in [12u8, 14, 16] {
        let tiles = paris_tiles(z);
        group.throughput(Throughput::Elements(tiles.len() as u64));
        group.bench_function(format!("zoom {z}, {} tiles", tiles.len()), |b| {
            b.iter(|| {
                tiles
                    .iter()
                    .filter_map(|&t| encode(&data, TileLayer::Qpv, black_box(t), &[]))
                    .count()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, tiles);
criterion_main!(benches);
