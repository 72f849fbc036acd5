//! `cargo bench -p geodata`: locate, nearby and the gap analysis on the real data.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use geo::{Coord, coord};
use geodata::{Dataset, Manifest, Taxonomy};

fn dataset() -> Dataset {
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data");
    let data_dir = std::env::var_os("ESS_MAP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let manifest = Manifest::from_file(&project.join("manifest.toml")).unwrap();
    let taxonomy = Taxonomy::from_file(&project.join("categories.toml")).unwrap();
    Dataset::load(&data_dir, manifest, taxonomy).unwrap()
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

    let qpv = data.qpv_index_of("QN07511M").unwrap();
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
