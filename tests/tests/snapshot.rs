//! The start-up snapshot (`<state>/snapshot/placed.bin`): a start reads
//! the placed initiatives back and applies the store's changes since;
//! each way it can be stale — the store revision moved, a data file
//! changed, another program, a truncated file, another store — is either
//! caught up or refused and the data read in full, and every answer is the
//! one a full load gives.

use std::path::{Path, PathBuf};
use std::process::Command;

use ess_map_e2e::{binary, data_dir, with_store};

struct Run {
    log: String,
    gaps: serde_json::Value,
}

/// `ess-map gaps --format json` (the whole analysis, which reads every
/// initiative) with `program` on `data` and `state`, logging at info.
fn run_with(program: &Path, data: &Path, state: &Path) -> Run {
    let mut command = Command::new(program);
    with_store(&mut command, state);
    let out = command
        .args(["--geocoder", "none", "--data"])
        .arg(data)
        .arg("--state")
        .arg(state)
        .args(["gaps", "--format", "json", "--radius-m", "1000"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .output()
        .expect("ess-map runs");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{log}");
    Run {
        log,
        gaps: serde_json::from_slice(&out.stdout).expect("JSON"),
    }
}

fn run(data: &Path, state: &Path) -> Run {
    run_with(binary(), data, state)
}

fn snapshot_file(state: &Path) -> PathBuf {
    state.join("snapshot").join("placed.bin")
}

/// The same with no snapshot: what a full load answers.
fn full(data: &Path, state: &Path) -> Run {
    std::fs::remove_file(snapshot_file(state)).expect("a snapshot to remove");
    let r = run(data, state);
    assert!(
        r.log
            .contains("start-up snapshot not used: no snapshot yet"),
        "{}",
        r.log
    );
    r
}

fn used(r: &Run) -> bool {
    r.log
        .contains("initiatives read from the start-up snapshot")
}

fn not_used_because(r: &Run) -> &str {
    let line = r
        .log
        .lines()
        .find(|l| l.contains("start-up snapshot not used"))
        .unwrap_or_else(|| panic!("the snapshot was used:\n{}", r.log));
    assert!(
        r.log.contains("start-up snapshot written"),
        "made again: {}",
        r.log
    );
    line
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A summary that changes when any QPV's figures change.
fn totals(gaps: &serde_json::Value) -> String {
    gaps.to_string()
}

#[test]
fn a_start_uses_its_snapshot_only_when_nothing_it_was_made_from_moved() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_dir(&data_dir(), &data);
    let state = dir.path().join("state");

    // First start: none yet, made.
    let first = run(&data, &state);
    assert!(not_used_because(&first).contains("no snapshot yet"));
    assert!(snapshot_file(&state).is_file());

    // Second start: read back, the same answer.
    let second = run(&data, &state);
    assert!(used(&second), "{}", second.log);
    assert!(
        second.log.contains("store revision 0, 0 changed since"),
        "{}",
        second.log
    );
    assert_eq!(totals(&second.gaps), totals(&first.gaps));

    // The store moved (two initiatives written by an import, one of them
    // inside the Goutte d'Or): the snapshot is used, the changes applied on
    // it, and the answer is the full load's.
    let csv = dir.path().join("new.csv");
    std::fs::write(
        &csv,
        "id,name,category,lon,lat\nn1,Régie de la Goutte d'Or,regie_quartier,2.3531,48.8866\n\
         n2,Recyclerie du Franc-Moisin,recyclerie,2.3667,48.9186\n",
    )
    .unwrap();
    let mut import = Command::new(binary());
    with_store(&mut import, &state);
    let imported = import
        .args(["--geocoder", "none", "--data"])
        .arg(&data)
        .arg("--state")
        .arg(&state)
        .arg("import")
        .arg(&csv)
        .args(["--source", "reseau"])
        .output()
        .unwrap();
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let moved = run(&data, &state);
    assert!(used(&moved), "{}", moved.log);
    assert!(moved.log.contains("2 changed since"), "{}", moved.log);
    assert_ne!(
        totals(&moved.gaps),
        totals(&second.gaps),
        "the import is counted"
    );
    assert_eq!(totals(&moved.gaps), totals(&full(&data, &state).gaps));

    // A data file changed (the cooperative supermarkets, one feature
    // fewer): refused, naming the file; the answer follows the new file.
    let coops = data.join("ess/supermarches_cooperatifs.geojson.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&coops).unwrap()),
        &mut text,
    )
    .unwrap();
    let mut collection: serde_json::Value = serde_json::from_str(&text).unwrap();
    let features = collection["features"].as_array_mut().unwrap();
    let french = features
        .iter()
        .position(|f| f["properties"]["in_france"] == "yes")
        .unwrap();
    features.remove(french);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&coops).unwrap(),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(&mut gz, collection.to_string().as_bytes()).unwrap();
    gz.finish().unwrap();
    let changed = run(&data, &state);
    let why = not_used_because(&changed);
    assert!(why.contains("supermarches_cooperatifs"), "{why}");
    let coop_count = |r: &Run| {
        r.log
            .lines()
            .find(|l| l.contains("supermarches-cooperatifs:"))
            .map(str::to_string)
            .unwrap_or_default()
    };
    assert_ne!(
        coop_count(&changed),
        coop_count(&moved),
        "the new file is read"
    );
    assert_eq!(totals(&changed.gaps), totals(&full(&data, &state).gaps));
    // Touched but the same bytes: still used (the digest is what counts).
    let bytes = std::fs::read(&coops).unwrap();
    std::fs::write(&coops, &bytes).unwrap();
    assert!(used(&run(&data, &state)));

    // Another program (the same one copied: another file, another time).
    let other = dir.path().join("ess-map-other");
    std::fs::copy(binary(), &other).unwrap();
    let rebuilt = run_with(&other, &data, &state);
    assert!(
        not_used_because(&rebuilt).contains("program"),
        "{}",
        rebuilt.log
    );
    assert_eq!(totals(&rebuilt.gaps), totals(&changed.gaps));
    std::fs::remove_file(&other).unwrap();

    // A truncated file, and one byte changed: refused, read in full, made
    // again.
    let run_again = run(&data, &state);
    assert!(!used(&run_again), "made by the other program");
    let file = snapshot_file(&state);
    let whole = std::fs::read(&file).unwrap();
    std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();
    let truncated = run(&data, &state);
    assert!(
        not_used_because(&truncated).contains("damaged or truncated"),
        "{}",
        truncated.log
    );
    assert_eq!(totals(&truncated.gaps), totals(&changed.gaps));
    let mut flipped = std::fs::read(&file).unwrap();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    std::fs::write(&file, &flipped).unwrap();
    let damaged = run(&data, &state);
    assert!(
        not_used_because(&damaged).contains("damaged or truncated"),
        "{}",
        damaged.log
    );
    assert!(used(&run(&data, &state)), "made again");

    // Another store in the same state directory (SQLite: the database
    // removed, a new one made): refused.
    if ess_map_e2e::store_for(&state).is_none() {
        std::fs::remove_file(state.join("ess-map.sqlite")).unwrap();
        let other_store = run(&data, &state);
        assert!(
            not_used_because(&other_store).contains("store"),
            "{}",
            other_store.log
        );
        assert_ne!(
            totals(&other_store.gaps),
            totals(&changed.gaps),
            "the import is gone"
        );
    }
}
