//! The spatial core on the real QPV and initiative files shipped in `data/`.

mod common;

use geo::{InteriorPoint, coord};
use geodata::{InitiativeFilter, LocationStatus, QpvFilter};

#[test]
fn loads_every_qpv_and_initiative_with_a_summary() {
    let data = common::real();
    println!("{data}");
    let qpvs = data.qpvs();
    // 1,493 codes of the 2024/2025 list plus 105 Occitanie 2015 QPV.
    assert_eq!(qpvs.len(), 1493 + 105);
    assert_eq!(
        qpvs.iter().filter(|q| q.geometry.is_some()).count(),
        298 + 105
    );
    let idf = qpvs
        .iter()
        .filter(|q| q.sources.first().map(String::as_str) == Some("qpv-2024-idf"));
    assert_eq!(idf.count(), 298);
    // Population is joined onto the 2015 codes only.
    let occitanie: Vec<_> = qpvs.iter().filter(|q| q.generation == 2015).collect();
    assert_eq!(occitanie.len(), 105);
    assert!(occitanie.iter().filter(|q| q.population.is_some()).count() >= 100);
    // Every SIAE (3,853) and the 87 French cooperative supermarkets.
    let siae = data
        .initiatives()
        .iter()
        .filter(|x| x.source == "siae")
        .count();
    assert_eq!(siae, 3853);
    let coops = data
        .initiatives()
        .iter()
        .filter(|x| x.source == "supermarches-cooperatifs")
        .count();
    assert_eq!(coops, 87);
    // Rows without coordinates are placed at their commune's centre when it
    // is known (27 SIAE, 1,503 ESAT), else kept unlocated (5 SIAE, and the
    // ESAT of Saint-Pierre-et-Miquelon, which has no commune centre).
    let status = |s: LocationStatus| {
        data.initiatives()
            .iter()
            .filter(|x| x.location.status == s)
            .count()
    };
    assert_eq!(status(LocationStatus::NotLocated), 6);
    assert_eq!(status(LocationStatus::CommuneOnly), 27 + 1503);
    let esat = data.reports().iter().find(|r| r.id == "esat").unwrap();
    assert_eq!(
        (esat.read, esat.loaded, esat.without_location),
        (1504, 1504, 1)
    );
    // Two SIRET of 13 digits, dropped and reported.
    assert_eq!(esat.without_field, 2);
    let coop_report = data
        .reports()
        .iter()
        .find(|r| r.id == "supermarches-cooperatifs")
        .unwrap();
    assert_eq!(
        coop_report.skipped, 43,
        "projects outside France are skipped with a reason"
    );
}

#[test]
fn goutte_d_or_falls_in_qn07511m() {
    let data = common::real();
    let located = data.locate(coord! { x: 2.35313, y: 48.88699 }, 300.0, None);
    assert_eq!(located.status, LocationStatus::Inside);
    assert_eq!(data.qpv(located.qpv.unwrap()).code, "QN07511M");
    assert_eq!(located.distance_m, Some(0.0));
}

#[test]
fn every_outline_s_interior_point_locates_to_its_own_qpv() {
    let data = common::real();
    for (i, qpv) in data.qpvs().iter().enumerate() {
        let Some(outline) = &qpv.geometry else {
            continue;
        };
        let p = outline.lonlat.interior_point().expect("non-empty outline");
        let located = data.locate(p.0, 0.0, Some(qpv.generation));
        assert_eq!(located.status, LocationStatus::Inside, "{}", qpv.code);
        let found = located.qpv.unwrap();
        // Simplified neighbours may overlap; then the point must be in both.
        assert!(
            found.index() == i
                || data.qpv(found).geometry.as_ref().unwrap().covers(p.0) && outline.covers(p.0),
            "{}: located in {}",
            qpv.code,
            data.qpv(found).code
        );
    }
}

/// The boundary distance of every outline, for the initiatives within 5 km
/// of it (where the local frame is the measure), against measuring every segment with geo in the same local frame.
#[test]
fn boundary_distances_match_measuring_every_segment() {
    use geo::{Distance, Euclidean, MapCoords, Point};
    use geodata::geodesy::LocalFrame;
    let data = common::real();
    let mut checked = 0;
    for q in data.qpvs() {
        let Some(outline) = &q.geometry else { continue };
        let frame = LocalFrame::centred_on(outline.bbox);
        let metric = outline.lonlat.map_coords(|c| frame.project(c));
        for x in data.initiatives().iter() {
            let Some(at) = x.position else { continue };
            if outline.bbox_distance_m(at) > 5000.0 {
                continue;
            }
            let p = Point(frame.project(at));
            let every_segment = metric
                .iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .flat_map(|ring| ring.lines())
                .map(|l| Euclidean.distance(&l, &p))
                .fold(f64::INFINITY, f64::min);
            if every_segment > geodata::model::LOCAL_FRAME_LIMIT_M {
                continue;
            }
            let d = outline.boundary_distance_m(at);
            assert!(
                (d - every_segment).abs() < 1e-6,
                "{} {}: {d} vs {every_segment}",
                q.code,
                x.id
            );
            checked += 1;
        }
    }
    assert!(checked > 8_000, "{checked}");
}

#[test]
fn far_points_are_outside_and_points_near_unoutlined_qpv_are_unknown() {
    let data = common::real();
    for at in [
        coord! { x: -30.0, y: 40.0 }, // the Atlantic
        coord! { x: 2.0, y: 43.5 },   // countryside between Toulouse and Carcassonne
        coord! { x: 3.3, y: 45.0 },   // the Auvergne hills
    ] {
        let located = data.locate(at, 300.0, None);
        assert_eq!(located.status, LocationStatus::Outside, "{at:?}");
        assert_eq!(located.qpv, None);
    }
    // Rennes, Vaulx-en-Velin (Mas du Taureau), Lille (Wazemmes), Bourges:
    // their QPV have no outline here, so nobody knows; never « outside ».
    for (at, departement) in [
        (coord! { x: -1.68, y: 48.11 }, "35"),
        (coord! { x: 4.9326, y: 45.7783 }, "69"),
        (coord! { x: 3.0500, y: 50.6270 }, "59"),
        (coord! { x: 2.35, y: 47.0 }, "18"),
    ] {
        let located = data.territory().locate_explained(at, 300.0, None);
        assert_eq!(located.location.status, LocationStatus::Unknown, "{at:?}");
        assert!(
            located
                .candidates
                .iter()
                .any(|(id, _)| data.qpv(*id).departement == departement),
            "{at:?}: {:?}",
            located.candidates
        );
    }
    // Toulouse: a 2015 outline holds the point, but the QPV in force (2024)
    // have no outline here: unknown, the 2015 perimeter said apart.
    let mirail = data
        .territory()
        .locate_explained(coord! { x: 1.41, y: 43.575 }, 300.0, None);
    assert_eq!(mirail.location.status, LocationStatus::Unknown);
    assert_eq!(
        mirail.superseded.map(|id| data.qpv(id).generation),
        Some(2015)
    );
    // Asked for, the 2015 outline answers.
    let in_2015 = data.locate(coord! { x: 1.41, y: 43.575 }, 300.0, Some(2015));
    assert_eq!(in_2015.status, LocationStatus::Inside);
}

/// The cells that let most points skip the look for unoutlined QPV never
/// hide one: on a grid over metropolitan France, every point whose nearest
/// unoutlined QPV commune is within 20 km (measured against every QPV in
/// force without outline, each of their communes) gets candidates, and only
/// those.
#[test]
fn the_shortcut_for_unoutlined_communes_hides_none() {
    use geo::{Distance, Haversine, Point};
    use geodata::conventions::{UNVERIFIABLE_RADIUS_M, is_current};
    let data = common::real();
    let territory = data.territory();
    let centres: Vec<Point> = data
        .qpvs()
        .iter()
        .enumerate()
        .filter(|(_, q)| q.geometry.is_none() && is_current(q.generation))
        .flat_map(|(_, q)| &q.communes)
        .filter_map(|c| {
            territory
                .communes()
                .find(c.insee.as_deref(), None, Some(&c.name))
        })
        .map(|c| Point::from(c.centre))
        .collect();
    assert!(centres.len() > 500);
    let (mut checked, mut unknown) = (0, 0);
    let mut lat = 41.3;
    while lat < 51.1 {
        let mut lon = -5.2;
        while lon < 9.6 {
            let at = geo::coord! { x: lon, y: lat };
            let within = centres
                .iter()
                .any(|c| Haversine.distance(Point::from(at), *c) <= UNVERIFIABLE_RADIUS_M);
            let found = !territory.unverifiable_near(at, None).is_empty();
            assert_eq!(found, within, "{at:?}");
            checked += 1;
            unknown += usize::from(found);
            lon += 0.037;
        }
        lat += 0.029;
    }
    assert!(
        unknown > 1000 && checked - unknown > 10_000,
        "{unknown} of {checked}"
    );
}

#[test]
fn a_point_just_outside_is_near_at_the_right_distance() {
    use geo::{Distance, Geodesic, Point};
    let data = common::real();
    let i = data.qpv_by_code("QN07511M").unwrap();
    let outline = data.qpv(i).geometry.as_ref().unwrap();
    // Walk north from the top of the bounding box: 0.002° ≈ 222 m.
    let top = outline.bbox.max().y;
    let at = coord! { x: outline.bbox.center().x, y: top + 0.002 };
    let located = data.locate(at, 300.0, None);
    assert_eq!(located.status, LocationStatus::Near);
    let d = located.distance_m.unwrap();
    // The boundary is at most as far as the top of the box, straight south.
    let to_top = Geodesic.distance(Point(at), Point::new(at.x, top));
    assert!(d <= to_top + 0.5 && d > 0.0, "{d} vs {to_top}");
}

#[test]
fn nearby_lists_inside_first_then_by_distance() {
    let data = common::real();
    let i = data.qpv_by_code("QN07511M").unwrap();
    let found = data.nearby(i, 1000.0, None, 500).unwrap();
    assert!(!found.is_empty());
    assert!(found.windows(2).all(|w| w[0].1 <= w[1].1));
    assert!(found.iter().all(|(_, d)| *d <= 1000.0));
    let counts = data.qpv_counts(i).unwrap();
    assert_eq!(
        found.iter().filter(|(_, d)| *d == 0.0).count(),
        counts.inside as usize
    );
    assert_eq!(
        found.iter().filter(|(_, d)| *d <= 500.0).count(),
        counts.within_500m as usize
    );
    // Each initiative found inside locates inside that QPV (or an overlapping one).
    for (x, d) in &found {
        if *d == 0.0 {
            assert_eq!(x.location.status, LocationStatus::Inside, "{}", x.id);
        }
    }
    let only_aci = data.nearby(i, 1000.0, Some("insertion_aci"), 500).unwrap();
    assert!(only_aci.iter().all(|(x, _)| x.category == "insertion_aci"));
    assert!(only_aci.len() < found.len());
    assert_eq!(data.nearby(i, 1000.0, None, 2).unwrap().len(), 2);
}

#[test]
fn a_qpv_without_outline_has_no_nearby_and_says_why() {
    let data = common::real();
    let i = data
        .qpv_by_code("QN00101M")
        .expect("Bourg-en-Bresse is in the national list");
    let qpv = &data.qpv(i);
    assert!(qpv.geometry.is_none());
    assert!(
        qpv.geometry_note
            .as_deref()
            .unwrap()
            .contains("contour non disponible")
    );
    assert_eq!(qpv.communes[0].insee.as_deref(), Some("01053"));
    assert!(data.nearby(i, 500.0, None, 10).is_err());
    assert_eq!(data.qpv_counts(i), None);
}

#[test]
fn initiatives_filter_by_text_category_bbox_and_qpv() {
    let data = common::real();
    let by_text = data.initiatives_matching(&InitiativeFilter {
        text: Some("REGIE  quartier saint-denis".into()),
        ..Default::default()
    });
    assert!(!by_text.is_empty());
    for x in &by_text {
        let text = geodata::text::fold(&format!(
            "{} {}",
            x.name,
            x.commune.as_deref().unwrap_or_default()
        ));
        assert!(
            text.contains("regie") && text.contains("saint denis"),
            "{text}"
        );
    }
    let accents = data.initiatives_matching(&InitiativeFilter {
        text: Some("Créteil".into()),
        ..Default::default()
    });
    let plain = data.initiatives_matching(&InitiativeFilter {
        text: Some("CRETEIL".into()),
        ..Default::default()
    });
    assert_eq!(accents.len(), plain.len());
    assert!(!plain.is_empty());

    let paris = geo::Rect::new(coord! { x: 2.25, y: 48.81 }, coord! { x: 2.42, y: 48.91 });
    let in_paris = data.initiatives_matching(&InitiativeFilter {
        bbox: Some(paris),
        categories: vec!["insertion_aci".into()],
        ..Default::default()
    });
    assert!(!in_paris.is_empty());
    for x in &in_paris {
        let p = x.position.unwrap();
        assert!(
            paris.min().x <= p.x
                && p.x <= paris.max().x
                && paris.min().y <= p.y
                && p.y <= paris.max().y
        );
        assert_eq!(x.category, "insertion_aci");
    }
    let q = data.qpv_by_code("QN07511M").unwrap();
    let by_qpv = data.initiatives_matching(&InitiativeFilter {
        qpv: Some(q),
        ..Default::default()
    });
    assert!(!by_qpv.is_empty());
    assert!(by_qpv.iter().all(|x| x.location.qpv == Some(q)));
}

#[test]
fn qpv_filter_by_departement_generation_and_text() {
    let data = common::real();
    let seine_saint_denis = data.qpvs_matching(&QpvFilter {
        departement: Some("93".into()),
        ..Default::default()
    });
    assert_eq!(seine_saint_denis.len(), 75);
    let toulouse = data.qpvs_matching(&QpvFilter {
        generation: Some(2015),
        text: Some("toulouse".into()),
        ..Default::default()
    });
    assert!(!toulouse.is_empty());
    assert!(toulouse.iter().all(|&i| data.qpv(i).generation == 2015));
    let goutte = data.qpvs_matching(&QpvFilter {
        text: Some("goutte d'or".into()),
        ..Default::default()
    });
    assert!(goutte.iter().any(|&i| data.qpv(i).code == "QN07511M"));
}

mod against_brute_force {
    use super::common;
    use geo::Coord;
    use geodata::LocationStatus;
    use proptest::prelude::*;

    /// What `locate` must answer, by checking every QPV outline.
    fn brute_force(at: Coord<f64>, radius_m: f64) -> (LocationStatus, Option<usize>, f64) {
        let data = common::real();
        let mut best: Option<(usize, f64)> = None;
        for (i, q) in data.qpvs().iter().enumerate() {
            // The generations in force, by default.
            if !geodata::conventions::is_current(q.generation) {
                continue;
            }
            let Some(outline) = &q.geometry else { continue };
            if outline.covers(at) {
                return (LocationStatus::Inside, Some(i), 0.0);
            }
            let d = outline.distance_m(at);
            if d <= radius_m && best.is_none_or(|(_, b)| d < b) {
                best = Some((i, d));
            }
        }
        match best {
            Some((i, d)) => (LocationStatus::Near, Some(i), d),
            // Outside every outline: unknown near a QPV without one.
            None if !data.territory().unverifiable_near(at, None).is_empty() => {
                (LocationStatus::Unknown, None, 0.0)
            }
            None => (LocationStatus::Outside, None, 0.0),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        // Île-de-France and Occitanie boxes, and beyond their edges.
        #[test]
        fn locate_agrees_with_checking_every_outline(
            at in prop_oneof![
                (1.5..3.5f64, 48.1..49.3f64),
                (-0.2..4.8f64, 42.5..44.6f64),
            ],
            radius_m in prop_oneof![Just(0.0), 0.0..2000.0f64],
        ) {
            let at = Coord { x: at.0, y: at.1 };
            let located = common::real().locate(at, radius_m, None);
            let (status, qpv, d) = brute_force(at, radius_m);
            prop_assert_eq!(located.status, status);
            if status == LocationStatus::Near {
                // Equal distances may name either QPV.
                prop_assert!((located.distance_m.unwrap() - d).abs() < 1e-9);
            } else if status == LocationStatus::Inside {
                let found = located.qpv.unwrap();
                prop_assert!(found.index() == qpv.unwrap()
                    || common::real().qpv(found).geometry.as_ref().unwrap().covers(at));
            }
        }
    }
}
