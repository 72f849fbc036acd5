//! `ess-map tiles export`: a PMTiles v3 archive of exactly the tiles the
//! server serves, read back with the reference Python reader (protomaps'
//! `pmtiles` from PyPI) and compared byte for byte with the server's tiles.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use ess_map_e2e::{Server, data_dir, ess_map, python_tool};
use serde_json::Value;

/// Every tile of an archive, decompressed, by (z, x, y); and its header and
/// metadata, as the Python reader gives them.
struct Archive {
    header: Value,
    metadata: Value,
    tiles: BTreeMap<(u8, u32, u32), Vec<u8>>,
}

const READ: &str = r#"
import gzip, json, sys
from pmtiles.reader import MmapSource, Reader, all_tiles
from pmtiles.tile import Compression
with open(sys.argv[1], "rb") as f:
    source = MmapSource(f)
    reader = Reader(source)
    header = reader.header()
    print(json.dumps({"header": {k: str(v) if not isinstance(v, (int, bool)) else v
                                 for k, v in header.items()},
                      "metadata": reader.metadata()}))
    for (z, x, y), data in all_tiles(source):
        if header["tile_compression"] == Compression.GZIP:
            data = gzip.decompress(data)
        print(z, x, y, data.hex())
"#;

fn read(archive: &Path) -> Archive {
    let python = python_tool("pmtiles-venv", &["pmtiles==3.8.1"], "python");
    let out = Command::new(python)
        .args(["-c", READ])
        .arg(archive)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let first: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let mut tiles = BTreeMap::new();
    for line in lines {
        let mut parts = line.split(' ');
        let mut next = || parts.next().unwrap();
        let (z, x, y) = (
            next().parse().unwrap(),
            next().parse().unwrap(),
            next().parse().unwrap(),
        );
        let hex = next();
        let bytes = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        tiles.insert((z, x, y), bytes);
    }
    Archive {
        header: first["header"].clone(),
        metadata: first["metadata"].clone(),
        tiles,
    }
}

fn export(out: &Path, args: &[&str]) {
    let run = ess_map()
        .args(["tiles", "export", "--data"])
        .arg(data_dir())
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// The server's bytes of a layer's tile; empty when it has nothing there.
fn served(s: &Server, layer: &str, (z, x, y): (u8, u32, u32)) -> Vec<u8> {
    let r = s.get(&format!("/tiles/{layer}/{z}/{x}/{y}.mvt"));
    assert!(
        r.status == 200 || r.status == 204,
        "{layer} {z}/{x}/{y}: {}",
        r.status
    );
    r.bytes
}

/// One layer: every archived tile equals the server's, and every tile the
/// server draws over the two territories at zooms 8 and 10 is archived.
#[test]
fn a_one_layer_archive_holds_the_servers_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("qpv.pmtiles");
    export(&file, &["--layers", "qpv", "--maxzoom", "12"]);
    let archive = read(&file);
    assert_eq!(archive.header["version"], 3);
    assert_eq!(archive.header["tile_type"], "TileType.MVT");
    assert_eq!(archive.header["clustered"], true);
    assert_eq!(
        (
            archive.header["min_zoom"].as_u64(),
            archive.header["max_zoom"].as_u64()
        ),
        (Some(0), Some(12))
    );
    let layers = archive.metadata["vector_layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0]["id"], "qpv");
    assert_eq!(layers[0]["fields"]["code"], "String");
    assert!(
        archive.metadata["attribution"]
            .as_str()
            .unwrap()
            .contains("ANCT")
    );
    assert!(archive.tiles.len() > 300, "{} tiles", archive.tiles.len());

    let s = Server::start();
    for (&at, bytes) in &archive.tiles {
        assert_eq!(bytes, &served(&s, "qpv", at), "{at:?}");
    }
    // Île-de-France and Occitanie's boxes.
    for (z, (lon0, lat0, lon1, lat1)) in
        [(8, (-0.5, 42.3, 4.9, 49.3)), (10, (1.4, 48.1, 3.6, 49.3))]
    {
        let corner = |lon: f64, lat: f64| {
            let n = f64::from(1u32 << z);
            let x = ((lon + 180.0) / 360.0 * n) as u32;
            let r = f64::to_radians(lat);
            let y =
                ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as u32;
            (x, y)
        };
        let ((x0, y0), (x1, y1)) = (corner(lon0, lat1), corner(lon1, lat0));
        for x in x0..=x1 {
            for y in y0..=y1 {
                let bytes = served(&s, "qpv", (z, x, y));
                assert_eq!(
                    archive.tiles.get(&(z, x, y)).cloned().unwrap_or_default(),
                    bytes,
                    "{z}/{x}/{y}"
                );
            }
        }
    }
}

/// Every layer in one archive: each tile holds the server's layers one
/// after the other (MVT layers are repeated protobuf fields).
#[test]
fn a_many_layer_archive_joins_the_servers_layers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ess-map.pmtiles");
    export(&file, &["--maxzoom", "9"]);
    let archive = read(&file);
    let ids: Vec<&str> = archive.metadata["vector_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["qpv", "initiatives", "departements", "communes"]);
    let s = Server::start();
    for (&at, bytes) in &archive.tiles {
        let joined: Vec<u8> = ids.iter().flat_map(|l| served(&s, l, at)).collect();
        assert_eq!(bytes, &joined, "{at:?}");
    }
    assert!(
        archive.tiles.contains_key(&(9, 259, 176)),
        "Paris at zoom 9"
    );
}

/// Bad arguments are refused before anything is written.
#[test]
fn bad_export_arguments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.pmtiles");
    for (args, says) in [
        (
            &["--layers", "routes"][..],
            "not one of qpv, initiatives, departements, communes",
        ),
        (&["--maxzoom", "17"][..], "zooms go from 0 to 16"),
        (
            &["--minzoom", "9", "--maxzoom", "3"][..],
            "zooms go from 0 to 16",
        ),
    ] {
        let run = ess_map()
            .args(["tiles", "export", "--data"])
            .arg(data_dir())
            .arg("--out")
            .arg(&file)
            .args(args)
            .output()
            .unwrap();
        assert!(!run.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&run.stderr).contains(says),
            "{args:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(!file.exists());
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing left behind"
    );
}
