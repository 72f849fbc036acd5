//! The gap analysis on the real data, against brute force.

mod common;

use geodata::gaps::{Basis, GapQuery, analyse, summarise};

#[test]
fn counts_and_nearest_distances_match_brute_force() {
    let data = common::real();
    // The generations in force by default; 2015 when asked: never mixed.
    let current = analyse(data, &GapQuery::default());
    assert_eq!(
        current.len(),
        data.qpvs()
            .iter()
            .filter(|q| geodata::conventions::is_current(q.generation))
            .count()
    );
    let replaced = analyse(
        data,
        &GapQuery {
            generation: Some(2015),
            ..Default::default()
        },
    );
    assert!(replaced.iter().all(|r| data.qpv(r.qpv).generation == 2015));
    assert!(current.iter().all(|r| data.qpv(r.qpv).generation != 2015));
    let rows: Vec<_> = current.into_iter().chain(replaced).collect();
    let mut checked = 0;
    // Every third outline keeps the brute force quick in debug builds.
    for row in rows.iter().filter(|r| r.basis == Basis::Outline).step_by(3) {
        let outline = data.qpv(row.qpv).geometry.as_ref().unwrap();
        for f in &row.categories {
            let distances: Vec<f64> = data
                .initiatives()
                .iter()
                .filter(|x| x.category == f.category)
                .filter_map(|x| x.placed_at())
                .map(|p| {
                    if outline.covers(p) {
                        0.0
                    } else {
                        outline.distance_m(p)
                    }
                })
                .collect();
            let within = distances.iter().filter(|d| **d <= 500.0).count();
            let inside = distances.iter().filter(|d| **d == 0.0).count();
            assert_eq!(
                (f.within, f.inside),
                (within, inside),
                "{} {}",
                data.qpv(row.qpv).code,
                f.category
            );
            let nearest = distances.iter().copied().reduce(f64::min);
            match (f.nearest_m, nearest) {
                // Up to 5 km, the same figure; beyond, the nearest is chosen
                // in the QPV's local frame, then measured on the ellipsoid.
                (Some(a), Some(b)) if b <= 5000.0 => assert!((a - b).abs() <= 0.05, "{a} vs {b}"),
                (Some(a), Some(b)) => assert!((a - b).abs() <= 0.05 + b * 1e-3, "{a} vs {b}"),
                (None, None) => {}
                other => panic!("{other:?}"),
            }
            assert_eq!(f.gap, within == 0);
            checked += 1;
        }
        assert_eq!(
            row.within,
            row.categories.iter().map(|c| c.within).sum::<usize>()
        );
        assert_eq!(row.gap, row.within == 0);
    }
    assert!(checked > 1500, "{checked}");
}

#[test]
fn gaps_come_first_by_priority_and_qpv_without_outline_use_communes() {
    let data = common::real();
    let query = GapQuery {
        radius_m: 300.0,
        categories: vec!["insertion_aci".into(), "insertion_ei".into()],
        ..Default::default()
    };
    let all = analyse(data, &query);
    // Outline-based rows first, then those counted by commune: two rankings.
    let split = all.iter().position(|r| r.basis == Basis::Communes).unwrap();
    assert!(all[split..].iter().all(|r| r.basis == Basis::Communes));
    for rows in [&all[..split], &all[split..]] {
        assert!(rows.windows(2).all(|w| w[0].priority >= w[1].priority));
        let first_covered = rows.iter().position(|r| !r.gap).unwrap();
        assert!(rows[..first_covered].iter().all(|r| r.gap));
        assert!(rows[first_covered..].iter().all(|r| r.priority == 0.0));
    }
    let rows = &all;
    let bourg = rows
        .iter()
        .find(|r| data.qpv(r.qpv).code == "QN00101M")
        .unwrap();
    assert_eq!(bourg.basis, Basis::Communes);
    assert_eq!(bourg.nearest_m, None);
    assert_eq!(bourg.categories.len(), 2);
    // Occitanie 2015 QPV have population, so per-10k figures.
    let replaced = analyse(
        data,
        &GapQuery {
            generation: Some(2015),
            ..query.clone()
        },
    );
    let occitanie = replaced
        .iter()
        .find(|r| data.qpv(r.qpv).generation == 2015 && r.within > 0)
        .unwrap();
    assert!(occitanie.per_10k.unwrap() > 0.0);
}

#[test]
fn summaries_add_up() {
    let data = common::real();
    let query = GapQuery {
        departement: Some("93".into()),
        ..Default::default()
    };
    let rows = analyse(data, &query);
    assert_eq!(rows.len(), 75);
    let by_dep = summarise(data, &rows, false);
    assert_eq!(by_dep.len(), 1);
    assert_eq!(by_dep[0].name, "Seine-Saint-Denis");
    assert_eq!(by_dep[0].qpv, 75);
    assert_eq!(by_dep[0].covered, rows.iter().filter(|r| !r.gap).count());
    let by_commune = summarise(data, &rows, true);
    assert!(by_commune.iter().map(|c| c.qpv).sum::<usize>() >= 75);
}

/// `siae` counts every work-integration structure once, whether the map files
/// it by kind (ACI, EI…) or by activity (a régie de quartier run as an ACI).
#[test]
fn the_siae_group_counts_each_structure_once_against_brute_force() {
    let data = common::real();
    const SIAE_KINDS: [&str; 5] = ["ACI", "EI", "EITI", "AI", "ETTI"];
    let query = GapQuery {
        categories: vec!["siae".into(), "insertion_aci".into()],
        ..Default::default()
    };
    let rows = analyse(data, &query);
    let members: Vec<_> = data
        .initiatives()
        .iter()
        .filter(|x| {
            x.source_kind
                .is_some_and(|k| SIAE_KINDS.contains(&k.as_str()))
        })
        .filter_map(|x| x.position.map(|p| (x, p)))
        .collect();
    // Some SIAE are filed by activity, so the group is more than its categories.
    assert!(
        members
            .iter()
            .any(|(x, _)| !x.category.starts_with("insertion_"))
    );
    let mut uncovered = 0;
    for row in rows.iter().filter(|r| r.basis == Basis::Outline) {
        let outline = data.qpv(row.qpv).geometry.as_ref().unwrap();
        let distances: Vec<f64> = members
            .iter()
            .map(|(_, p)| outline.distance_m(*p))
            .collect();
        let within = distances.iter().filter(|d| **d <= 500.0).count();
        let siae = &row.categories[0];
        assert_eq!(siae.category, "siae");
        assert_eq!(siae.within, within, "{}", data.qpv(row.qpv).code);
        assert_eq!(siae.inside, distances.iter().filter(|d| **d == 0.0).count());
        let nearest = distances.iter().copied().fold(f64::INFINITY, f64::min);
        let tolerance = if nearest <= 5000.0 {
            0.05
        } else {
            0.05 + nearest * 1e-3
        };
        assert!((siae.nearest_m.unwrap() - nearest).abs() <= tolerance);
        // ACI are SIAE too: the row counts each structure once.
        assert_eq!(row.within, within);
        assert!(row.categories[1].within <= within);
        uncovered += usize::from(siae.gap);
    }
    assert!(uncovered > 100, "{uncovered}");
}
