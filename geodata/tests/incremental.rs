//! Changes applied one by one give what building from scratch gives: counts
//! per QPV, gap rows, nearby lists and the bytes of every tile a change
//! touched, whatever the order, batching and compactions.

mod common;

use std::collections::BTreeMap;

use geo::Coord;
use geodata::clusters::{tile_at, world_fixed};
use geodata::gaps::{GapQuery, analyse};
use geodata::tiles::{MAX_ZOOM, TileId, TileLayer, encode};
use geodata::{Dataset, InitiativeRecord, Precision, QpvId, RecordChange};
use proptest::prelude::*;

/// Some real initiatives near QPV (and a few not): a base quick to rebuild.
fn base_records() -> Vec<InitiativeRecord> {
    let data = common::real();
    data.initiatives()
        .iter()
        .filter(|x| x.source != "siae" || x.id.ends_with('7') || x.id.ends_with('3'))
        .map(|x| x.to_record())
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    /// A new initiative near QPV `qpv` (by index among those with an outline).
    Create {
        qpv: usize,
        dx: f64,
        dy: f64,
        category: usize,
        commune_only: bool,
    },
    /// Moves and recategorises the `nth` initiative.
    Edit {
        nth: usize,
        dx: f64,
        dy: f64,
        category: usize,
    },
    Delete {
        nth: usize,
    },
    /// Folds the changes so far into a new base.
    Compact,
    /// Applies what was queued, as one version.
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    let offset = -0.01..0.01f64;
    prop_oneof![
        4 => (0..400usize, offset.clone(), offset.clone(), 0..14usize, prop::bool::weighted(0.2))
            .prop_map(|(qpv, dx, dy, category, commune_only)| Op::Create { qpv, dx, dy, category, commune_only }),
        3 => (0..100_000usize, offset.clone(), offset, 0..14usize)
            .prop_map(|(nth, dx, dy, category)| Op::Edit { nth, dx, dy, category }),
        2 => (0..100_000usize).prop_map(|nth| Op::Delete { nth }),
        1 => Just(Op::Compact),
        2 => Just(Op::Flush),
    ]
}

/// The tiles holding `p` at every zoom.
fn tiles_of(p: Coord<f64>) -> Vec<TileId> {
    (0..=MAX_ZOOM)
        .map(|z| {
            let (x, y) = tile_at(world_fixed(p), z);
            TileId { z, x, y }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    #[test]
    fn incremental_changes_equal_a_full_rebuild(ops in prop::collection::vec(op(), 1..40)) {
        let real = common::real();
        let territory = real.territory().clone();
        let categories: Vec<String> = territory.taxonomy.all().iter().map(|c| c.id.clone()).collect();
        let outlined: Vec<QpvId> = territory
            .qpv_ids()
            .filter(|&q| territory.qpv(q).geometry.is_some())
            .collect();
        let mut records: BTreeMap<String, InitiativeRecord> =
            base_records().into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut data = Dataset::new(territory.clone(), records.values().cloned().collect());
        let mut queued: Vec<RecordChange> = Vec::new();
        let mut touched_positions: Vec<Coord<f64>> = Vec::new();
        let mut touched_qpvs: Vec<QpvId> = Vec::new();
        let mut created = 0;
        for op in ops.iter().chain([&Op::Flush]) {
            match op {
                Op::Create { qpv, dx, dy, category, commune_only } => {
                    let q = outlined[qpv % outlined.len()];
                    let c = territory.qpv(q).geometry.as_ref().unwrap().bbox.center();
                    created += 1;
                    let r = InitiativeRecord {
                        id: format!("test:{created}"),
                        name: format!("Nouvelle initiative {created}"),
                        category: categories[category % categories.len()].clone(),
                        lon: Some(c.x + dx),
                        lat: Some(c.y + dy),
                        precision: Some(if *commune_only { Precision::Municipality } else { Precision::Source }),
                        source: "test".into(),
                        ..Default::default()
                    };
                    records.insert(r.id.clone(), r.clone());
                    queued.push(RecordChange::Put(r));
                }
                Op::Edit { nth, dx, dy, category } => {
                    let id = records.keys().nth(nth % records.len()).unwrap().clone();
                    let r = records.get_mut(&id).unwrap();
                    if let (Some(x), Some(y)) = (r.lon, r.lat) {
                        (r.lon, r.lat) = (Some(x + dx), Some(y + dy));
                    }
                    r.category = categories[category % categories.len()].clone();
                    queued.push(RecordChange::Put(r.clone()));
                }
                Op::Delete { nth } => {
                    let id = records.keys().nth(nth % records.len()).unwrap().clone();
                    records.remove(&id);
                    queued.push(RecordChange::Remove(id));
                }
                Op::Compact => data = data.compacted(),
                Op::Flush => {
                    let (next, touched) = data.apply(std::mem::take(&mut queued));
                    touched_positions.extend(touched.positions);
                    touched_qpvs.extend(touched.qpvs);
                    data = next;
                }
            }
        }
        let full = Dataset::new(territory.clone(), records.values().cloned().collect());

        prop_assert_eq!(data.initiatives().totals(), full.initiatives().totals());
        let ids = |d: &Dataset| d.initiatives().iter().map(|x| x.id.to_string()).collect::<Vec<_>>();
        prop_assert_eq!(ids(&data), ids(&full));
        for q in territory.qpv_ids() {
            prop_assert_eq!(data.qpv_counts(q), full.qpv_counts(q), "{}", territory.qpv(q).code);
        }
        for query in [
            GapQuery::default(),
            GapQuery { radius_m: 1000.0, categories: vec!["siae".into()], ..Default::default() },
        ] {
            prop_assert_eq!(analyse(&data, &query), analyse(&full, &query));
        }
        touched_qpvs.sort_unstable();
        touched_qpvs.dedup();
        for &q in &touched_qpvs {
            let list = |d: &Dataset| {
                d.nearby(q, 2000.0, None, 1000)
                    .unwrap()
                    .into_iter()
                    .map(|(x, m)| (x.id.to_string(), m))
                    .collect::<Vec<_>>()
            };
            prop_assert_eq!(list(&data), list(&full));
        }
        for &p in &touched_positions {
            for tile in tiles_of(p) {
                for layer in [TileLayer::Initiatives, TileLayer::Qpv] {
                    prop_assert_eq!(
                        encode(&data, layer, tile, &[]),
                        encode(&full, layer, tile, &[]),
                        "{:?} {:?}", layer, tile
                    );
                }
                let some = vec![categories[0].clone(), categories[7].clone()];
                prop_assert_eq!(
                    encode(&data, TileLayer::Initiatives, tile, &some),
                    encode(&full, TileLayer::Initiatives, tile, &some)
                );
            }
        }
    }
}
