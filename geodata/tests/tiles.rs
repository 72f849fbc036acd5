//! Vector tiles decoded with an independent reader (mvt-reader).

mod common;

use geo::{Contains, Coord, Geometry, InteriorPoint, coord};
use geodata::tiles::{BUFFER, EXTENT, TileId, TileLayer, encode};
use mvt_reader::Reader;
use mvt_reader::feature::Value;
use std::collections::BTreeMap;

/// The XYZ tile holding a lon/lat point.
fn tile_at(z: u8, at: Coord<f64>) -> TileId {
    let n = f64::from(1u32 << z);
    let x = ((at.x + 180.0) / 360.0 * n) as u32;
    let lat = at.y.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32;
    TileId::new(u32::from(z), x, y).unwrap()
}

fn decode(bytes: Vec<u8>) -> (Vec<String>, Vec<mvt_reader::feature::Feature>) {
    let reader = Reader::new(bytes).expect("a valid MVT");
    let names = reader.get_layer_names().unwrap();
    let features = reader.get_features(0).unwrap();
    (names, features)
}

fn text(f: &mvt_reader::feature::Feature, key: &str) -> Option<String> {
    match f.properties.as_ref()?.get(key)? {
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn number(f: &mvt_reader::feature::Feature, key: &str) -> Option<f64> {
    match f.properties.as_ref()?.get(key)? {
        Value::UInt(v) => Some(*v as f64),
        Value::Int(v) | Value::SInt(v) => Some(*v as f64),
        Value::Double(v) => Some(*v),
        Value::Float(v) => Some(f64::from(*v)),
        _ => None,
    }
}

fn all_coords(g: &Geometry<f32>) -> Vec<Coord<f32>> {
    use geo::CoordsIter;
    g.coords_iter().collect()
}

#[test]
fn a_qpv_polygon_covers_its_own_pixels_and_stays_within_the_buffer() {
    let data = common::real();
    let goutte = data.qpv_by_code("QN07511M").unwrap();
    let outline = data.qpv(goutte).geometry.as_ref().unwrap();
    let inside = outline.lonlat.interior_point().unwrap().0;
    for z in [10u8, 14, 16] {
        let tile = tile_at(z, inside);
        let (names, features) =
            decode(encode(data, TileLayer::Qpv, tile, &[]).expect("tile has QPV"));
        assert_eq!(names, ["qpv"]);
        let feature = features
            .iter()
            .find(|f| text(f, "code").as_deref() == Some("QN07511M"))
            .expect("Goutte d'Or");
        assert_eq!(text(feature, "name").as_deref(), Some("Goutte D'Or"));
        assert_eq!(number(feature, "generation"), Some(2024.0));
        // No counts: an edit must leave the QPV tiles as they are.
        assert_eq!(number(feature, "initiatives_within_500m"), None);
        assert_eq!(number(feature, "initiatives_inside"), None);
        let limit = -(BUFFER as f32)..=(EXTENT + BUFFER) as f32;
        for f in &features {
            for c in all_coords(&f.geometry) {
                assert!(
                    limit.contains(&c.x) && limit.contains(&c.y),
                    "z{z}: {c:?} beyond the buffer"
                );
            }
        }
        // MVT 2.1 § 4.3.4.4: exterior rings have a positive area in tile
        // coordinates (clockwise on screen), holes a negative one.
        let polygons: Vec<geo::Polygon<f32>> = match &feature.geometry {
            Geometry::Polygon(p) => vec![p.clone()],
            Geometry::MultiPolygon(mp) => mp.0.clone(),
            other => panic!("z{z}: {other:?}"),
        };
        for p in &polygons {
            let exterior = geo::Polygon::new(p.exterior().clone(), vec![]);
            assert!(
                geo::Area::signed_area(&exterior) > 0.0,
                "z{z}: exterior ring winding"
            );
        }
        let pixel = tile.project(inside);
        let pixel = coord! { x: pixel.x as f32, y: pixel.y as f32 };
        let covered = match &feature.geometry {
            Geometry::Polygon(p) => p.contains(&pixel),
            Geometry::MultiPolygon(mp) => mp.contains(&pixel),
            other => panic!("z{z}: {other:?}"),
        };
        assert!(
            covered,
            "z{z}: the QPV's interior pixel {pixel:?} is not covered"
        );
        // A pixel well outside the outline is not covered.
        let away = tile.project(coord! { x: outline.bbox.max().x + 0.002, y: inside.y });
        let away = coord! { x: away.x as f32, y: away.y as f32 };
        if (0.0..EXTENT as f32).contains(&away.x) {
            let covers_away = match &feature.geometry {
                Geometry::Polygon(p) => p.contains(&away),
                Geometry::MultiPolygon(mp) => mp.contains(&away),
                _ => unreachable!(),
            };
            assert!(!covers_away, "z{z}");
        }
    }
}

#[test]
fn initiatives_cluster_at_low_zoom_and_are_distinct_at_high_zoom() {
    let data = common::real();
    let located = data
        .initiatives()
        .iter()
        .filter(|x| x.position.is_some())
        .count();
    // Zoom 0: one tile, every located initiative counted once.
    let (_, world) = decode(
        encode(
            data,
            TileLayer::Initiatives,
            TileId::new(0, 0, 0).unwrap(),
            &[],
        )
        .unwrap(),
    );
    let total: f64 = world
        .iter()
        .map(|f| number(f, "count").unwrap_or(1.0))
        .sum();
    assert_eq!(total as usize, located);
    let clusters: Vec<_> = world
        .iter()
        .filter(|f| f.properties.as_ref().unwrap().contains_key("cluster"))
        .collect();
    assert!(!clusters.is_empty());
    for c in &clusters {
        let per_category: f64 = data
            .taxonomy()
            .all()
            .iter()
            .filter_map(|cat| number(c, &format!("n_{}", cat.id)))
            .sum();
        assert_eq!(per_category, number(c, "count").unwrap());
    }
    // Zoom 14 over the Goutte d'Or: points, one per initiative, with ids.
    let tile = tile_at(14, coord! { x: 2.35313, y: 48.88699 });
    let (_, points) = decode(encode(data, TileLayer::Initiatives, tile, &[]).unwrap());
    assert!(
        points
            .iter()
            .all(|f| text(f, "id").is_some() && text(f, "category").is_some())
    );
    let bounds = tile.buffered_bounds();
    let expected = data.initiatives_in(bounds).into_iter().filter(|x| {
        let p = tile.project(x.position.unwrap());
        (0.0..EXTENT as f64).contains(&p.x) && (0.0..EXTENT as f64).contains(&p.y)
    });
    assert_eq!(points.len(), expected.count());
}

#[test]
fn category_filter_keeps_only_that_category() {
    let data = common::real();
    let france = tile_at(5, coord! { x: 2.35, y: 48.85 });
    let all = decode(encode(data, TileLayer::Initiatives, france, &[]).unwrap()).1;
    let regies = decode(
        encode(
            data,
            TileLayer::Initiatives,
            france,
            &["regie_quartier".into()],
        )
        .unwrap(),
    )
    .1;
    let count = |fs: &[mvt_reader::feature::Feature]| {
        fs.iter()
            .map(|f| number(f, "count").unwrap_or(1.0))
            .sum::<f64>()
    };
    assert!(count(&regies) > 0.0 && count(&regies) < count(&all));
    for f in &regies {
        if let Some(n) = number(f, "count") {
            assert_eq!(number(f, "n_regie_quartier"), Some(n));
        } else {
            assert_eq!(text(f, "category").as_deref(), Some("regie_quartier"));
        }
    }
}

#[test]
fn departements_and_empty_tiles() {
    let data = common::real();
    let (names, deps) = decode(
        encode(
            data,
            TileLayer::Departements,
            tile_at(6, coord! { x: 2.35, y: 48.85 }),
            &[],
        )
        .unwrap(),
    );
    assert_eq!(names, ["departements"]);
    assert!(
        deps.iter()
            .any(|f| text(f, "name").as_deref() == Some("Paris"))
    );
    // Mid-Atlantic: nothing to draw.
    let ocean = tile_at(8, coord! { x: -30.0, y: 40.0 });
    for layer in TileLayer::ALL {
        assert_eq!(encode(data, layer, ocean, &[]), None);
    }
}

/// Every ring of every polygon tile over the QPV territories, at every zoom up
/// to 12, is a closed ring of three points or more with a non-zero area of the
/// sign its role needs: what strict decoders (geozero, maplibre-rs) demand;
/// and each feature's polygons together are valid (OGC rules).
#[test]
fn every_polygon_ring_is_valid_mvt() {
    use geo::Area;
    let data = common::real();
    let mut rings = 0;
    for (lon0, lat0, lon1, lat1) in [(1.6, 48.2, 3.4, 49.2), (-0.1, 42.5, 4.7, 44.5)] {
        for z in 0..=12u8 {
            let a = tile_at(z, coord! { x: lon0, y: lat1 });
            let b = tile_at(z, coord! { x: lon1, y: lat0 });
            for x in a.x..=b.x {
                for y in a.y..=b.y {
                    let tile = TileId::new(u32::from(z), x, y).unwrap();
                    for layer in [TileLayer::Qpv, TileLayer::Departements] {
                        let Some(bytes) = encode(data, layer, tile, &[]) else {
                            continue;
                        };
                        for f in decode(bytes).1 {
                            let polygons = match f.geometry {
                                Geometry::Polygon(p) => vec![p],
                                Geometry::MultiPolygon(mp) => mp.0,
                                // A département's or a QPV's label point.
                                Geometry::Point(_) | Geometry::MultiPoint(_) => continue,
                                other => panic!("{other:?}"),
                            };
                            let whole = geo::MultiPolygon::new(polygons.clone());
                            assert!(
                                geo::Validation::is_valid(&whole),
                                "z{z}/{x}/{y}: {:?}",
                                geo::Validation::validation_errors(&whole)
                            );
                            for p in polygons {
                                for (i, ring) in std::iter::once(p.exterior())
                                    .chain(p.interiors())
                                    .enumerate()
                                {
                                    rings += 1;
                                    assert!(
                                        ring.0.len() >= 4,
                                        "z{z}/{x}/{y}: ring of {} points",
                                        ring.0.len()
                                    );
                                    let area =
                                        geo::Polygon::new(ring.clone(), vec![]).signed_area();
                                    assert!(
                                        if i == 0 { area > 0.0 } else { area < 0.0 },
                                        "z{z}/{x}/{y}: ring {i} area {area}"
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(rings > 1000, "{rings}");
}

/// An initiative beyond Web Mercator's latitudes (a typing error, say) is
/// drawn at the world's edge, alone in its cluster cell, without failing.
#[test]
fn an_initiative_beyond_mercator_latitudes_is_drawn_at_the_edge() {
    let data = common::real();
    let odd = geodata::InitiativeRecord {
        id: "test:1".into(),
        name: "Près du pôle".into(),
        category: "autre".into(),
        lon: Some(-137.7),
        lat: Some(-89.0),
        precision: Some(geodata::Precision::Source),
        source: "test".into(),
        ..Default::default()
    };
    let (data, _) = data.apply(vec![geodata::RecordChange::Put(odd)]);
    for z in 0..=16u8 {
        let n = 1u32 << z;
        let x = ((-137.7 + 180.0) / 360.0 * f64::from(n)) as u32;
        let tile = TileId::new(u32::from(z), x, n - 1).unwrap();
        let (_, features) =
            decode(encode(&data, TileLayer::Initiatives, tile, &[]).expect("drawn"));
        assert!(!features.is_empty(), "zoom {z}");
    }
}

/// Tiles hold valid polygons (OGC rules) at every zoom from 8 to 16 over
/// every outline: the wedge reported at Floréal (QN09339M, 16/33201/22521)
/// by clamping, and the self-crossings and overlapping parts rounding to
/// the tile's integer grid used to make (13 polygons of 8 QPV).
#[test]
fn deep_zoom_qpv_tiles_hold_valid_polygons() {
    use geo::Validation;
    let data = common::real();
    let mut tiles = std::collections::HashSet::new();
    tiles.insert(TileId::new(16, 33201, 22521).unwrap());
    for q in data.qpvs() {
        let Some(g) = q.geometry.as_ref() else {
            continue;
        };
        let b = g.bbox;
        for z in 8..=16u8 {
            let a = tile_at(z, coord! { x: b.min().x, y: b.max().y });
            let c = tile_at(z, coord! { x: b.max().x, y: b.min().y });
            for x in a.x..=c.x {
                for y in a.y..=c.y {
                    tiles.insert(TileId::new(u32::from(z), x, y).unwrap());
                }
            }
        }
    }
    let mut checked = 0;
    let mut invalid = Vec::new();
    for tile in tiles {
        let Some(bytes) = encode(data, TileLayer::Qpv, tile, &[]) else {
            continue;
        };
        for f in decode(bytes).1 {
            let code = text(&f, "code");
            let polygons = match f.geometry {
                Geometry::Polygon(p) => vec![p],
                Geometry::MultiPolygon(mp) => mp.0,
                // A QPV's label point.
                Geometry::Point(_) | Geometry::MultiPoint(_) => continue,
                other => panic!("{other:?}"),
            };
            let mp = geo::MultiPolygon::new(polygons);
            checked += 1;
            if !mp.is_valid() {
                invalid.push(format!("{tile:?} {code:?}: {:?}", mp.validation_errors()));
            }
        }
    }
    assert!(
        invalid.is_empty(),
        "{} invalid of {checked}:\n{}",
        invalid.len(),
        invalid.join("\n")
    );
    assert!(checked > 1000, "{checked}");
}

/// Commune names for orientation: from zoom 9, each commune once, in the
/// tile that holds its centre.
#[test]
fn communes_layer_names_the_communes_from_zoom_9() {
    let data = common::real();
    let saint_denis = coord! { x: 2.3581, y: 48.9362 };
    assert_eq!(
        encode(data, TileLayer::Communes, tile_at(8, saint_denis), &[]),
        None
    );
    let (names, features) =
        decode(encode(data, TileLayer::Communes, tile_at(12, saint_denis), &[]).unwrap());
    assert_eq!(names, ["communes"]);
    let found: Vec<String> = features.iter().filter_map(|f| text(f, "name")).collect();
    assert!(found.iter().any(|n| n == "Saint-Denis"), "{found:?}");
    let mut unique = found.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), found.len(), "each commune once");
    // With its number of QPV in force: the map names those first.
    let qpv = |name: &str| {
        features
            .iter()
            .find(|f| text(f, "name").as_deref() == Some(name))
            .and_then(|f| number(f, "qpv"))
    };
    assert!(
        qpv("Saint-Denis").unwrap() >= 5.0,
        "{:?}",
        qpv("Saint-Denis")
    );
    assert!(features.iter().any(|f| number(f, "qpv") == Some(0.0)));
}

/// A département's name is drawn once: one label point, in one tile of a
/// zoom, whatever the number of tiles its outline covers.
#[test]
fn each_departement_has_one_label_point_per_zoom() {
    let data = common::real();
    for z in [7u8, 9] {
        let a = tile_at(z, coord! { x: 1.4, y: 49.3 });
        let b = tile_at(z, coord! { x: 3.6, y: 48.1 });
        let mut labels: BTreeMap<String, usize> = BTreeMap::new();
        for x in a.x..=b.x {
            for y in a.y..=b.y {
                let tile = TileId::new(u32::from(z), x, y).unwrap();
                let Some(bytes) = encode(data, TileLayer::Departements, tile, &[]) else {
                    continue;
                };
                for f in decode(bytes).1 {
                    if matches!(f.geometry, Geometry::Point(_) | Geometry::MultiPoint(_)) {
                        *labels.entry(text(&f, "code").unwrap()).or_default() += 1;
                    }
                }
            }
        }
        for code in ["75", "77", "78", "91", "92", "93", "94", "95"] {
            assert_eq!(labels.get(code), Some(&1), "z{z} {code}: {labels:?}");
        }
    }
}

/// A QPV's name is drawn once: from zoom 11, one label point per QPV in
/// the tiles its outline crosses, with its generation; none below.
#[test]
fn each_qpv_has_one_label_point() {
    let data = common::real();
    for code in ["QN07511M", "QN09302M"] {
        let id = data.qpv_by_code(code).unwrap();
        let bbox = data.qpv(id).geometry.as_ref().unwrap().bbox;
        for z in [10u8, 11, 13, 15] {
            let a = tile_at(z, coord! { x: bbox.min().x, y: bbox.max().y });
            let b = tile_at(z, coord! { x: bbox.max().x, y: bbox.min().y });
            let mut labels = 0;
            for x in a.x..=b.x {
                for y in a.y..=b.y {
                    let tile = TileId::new(u32::from(z), x, y).unwrap();
                    let Some(bytes) = encode(data, TileLayer::Qpv, tile, &[]) else {
                        continue;
                    };
                    for f in decode(bytes).1 {
                        if matches!(f.geometry, Geometry::Point(_) | Geometry::MultiPoint(_))
                            && text(&f, "code").as_deref() == Some(code)
                        {
                            assert_eq!(number(&f, "generation"), Some(2024.0));
                            labels += 1;
                        }
                    }
                }
            }
            let expected = usize::from(z >= geodata::tiles::QPV_LABEL_MIN_ZOOM);
            assert_eq!(labels, expected, "{code} z{z}");
        }
    }
}
