//! The placed initiatives in a compact binary file, so that a start reads
//! them back instead of reading, checking and placing every row again.
//!
//! The caller gives a `tag` saying what the file was made from (the data
//! files' digests, the program, the store and its revision); a file with
//! another tag, of another format version, truncated or damaged is refused
//! with the reason, never half-read: the caller then loads everything.
//!
//! Layout (little-endian): magic, tag, body length, CRC-32 of the body,
//! body, magic. The body holds the shared values once (categories,
//! communes, sources… as in [`crate::intern`]), the loading reports as
//! JSON, then the initiatives in chunks that are decoded in parallel.
//!
//! ```
//! use geodata::snapshot;
//! let mut file = Vec::new();
//! snapshot::write(&mut file, "tag", 7, &[], &[]).unwrap();
//! let back = snapshot::read(&file[..], file.len() as u64, "tag", 0).unwrap();
//! assert_eq!((back.revision, back.placed.len()), (7, 0));
//! assert!(matches!(snapshot::read(&file[..], file.len() as u64, "other", 0), Err(snapshot::SnapshotError::Stale { .. })));
//! let cut = &file[..file.len() - 1];
//! assert!(matches!(snapshot::read(cut, cut.len() as u64, "tag", 0), Err(snapshot::SnapshotError::Damaged(_))));
//! ```

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::Arc;

use geo::Coord;
use rayon::prelude::*;

use crate::initiative::{Initiative, Precision};
use crate::intern::{Sym, sym};
use crate::model::{Location, LocationStatus, QpvId};
use crate::report::DatasetReport;
use crate::territory::Placed;

/// Bumped whenever the layout or what an initiative holds changes.
const MAGIC: &[u8; 8] = b"ESSPLAC2";
/// Initiatives per chunk: enough to keep every core busy decoding.
const CHUNK: usize = 16_384;
const NONE: u32 = u32::MAX;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a snapshot of this format (another version of ess-map wrote it)")]
    Magic,
    #[error("made from something else ({found})")]
    Stale { found: String },
    #[error("damaged or truncated ({0})")]
    Damaged(&'static str),
}

/// What a snapshot gives back.
pub struct Snapshot {
    /// Where the placed set stands in the caller's history (the store
    /// revision it reflects): kept as given.
    pub revision: i64,
    pub placed: Vec<Placed>,
    pub reports: Vec<DatasetReport>,
}

/// Writes `placed` and `reports`, tagged with `tag`, as of `revision`, to `out`.
pub fn write(
    out: &mut impl Write,
    tag: &str,
    revision: i64,
    placed: &[Placed],
    reports: &[DatasetReport],
) -> std::io::Result<()> {
    let mut shared = Shared::default();
    let chunks: Vec<Vec<u8>> = placed
        .chunks(CHUNK)
        .map(|chunk| {
            let mut buf = Vec::with_capacity(chunk.len() * 160);
            for p in chunk {
                encode(&mut buf, p, &mut shared);
            }
            buf
        })
        .collect();
    let mut body = Vec::new();
    put_u64(&mut body, revision as u64);
    put_u32(&mut body, shared.list.len() as u32);
    for s in &shared.list {
        put_str(&mut body, s);
    }
    let reports = serde_json::to_vec(reports).map_err(std::io::Error::other)?;
    put_u64(&mut body, reports.len() as u64);
    body.extend_from_slice(&reports);
    put_u64(&mut body, placed.len() as u64);
    put_u32(&mut body, chunks.len() as u32);
    for (chunk, bytes) in placed.chunks(CHUNK).zip(&chunks) {
        put_u32(&mut body, chunk.len() as u32);
        put_u64(&mut body, bytes.len() as u64);
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&body);
    for bytes in &chunks {
        crc.update(bytes);
    }
    let body_len = body.len() as u64 + chunks.iter().map(|c| c.len() as u64).sum::<u64>();
    out.write_all(MAGIC)?;
    out.write_all(&(tag.len() as u32).to_le_bytes())?;
    out.write_all(tag.as_bytes())?;
    out.write_all(&body_len.to_le_bytes())?;
    out.write_all(&crc.finalize().to_le_bytes())?;
    out.write_all(&body)?;
    for bytes in &chunks {
        out.write_all(bytes)?;
    }
    out.write_all(MAGIC)
}

/// Reads a snapshot written by [`write`] with the same `tag` from `input`
/// (`len` bytes long), its QPV ids below `qpv_count` (the territory it was
/// placed on). The initiatives are read a few chunks at a time and decoded
/// on every core: the file is never held whole beside what it holds.
pub fn read(
    mut input: impl Read,
    len: u64,
    tag: &str,
    qpv_count: usize,
) -> Result<Snapshot, SnapshotError> {
    let mut s = Stream {
        input: &mut input,
        left: len,
        crc: None,
    };
    if s.bytes(8, "magic")? != MAGIC {
        return Err(SnapshotError::Magic);
    }
    let tag_len = s.u32("tag")? as u64;
    let found = s.bytes(tag_len, "tag")?;
    if found != tag.as_bytes() {
        return Err(SnapshotError::Stale {
            found: String::from_utf8_lossy(&found).into_owned(),
        });
    }
    let body_len = s.u64("length")?;
    let crc = s.u32("checksum")?;
    // The size first: a truncated file is refused before anything is read.
    if body_len.checked_add(8) != Some(s.left) {
        return Err(SnapshotError::Damaged("length"));
    }
    s.crc = Some(crc32fast::Hasher::new());
    let revision = s.u64("revision")? as i64;
    let shared_len = s.u32("shared values")?;
    let mut shared = Vec::new();
    for _ in 0..shared_len {
        let len = s.u32("shared values")? as u64;
        let bytes = s.bytes(len, "shared values")?;
        let text =
            std::str::from_utf8(&bytes).map_err(|_| SnapshotError::Damaged("shared values"))?;
        shared.push(sym(text));
    }
    let reports_len = s.u64("reports")?;
    let reports = serde_json::from_slice(&s.bytes(reports_len, "reports")?)
        .map_err(|_| SnapshotError::Damaged("reports"))?;
    let count = s.u64("count")?;
    let chunk_count = s.u32("chunks")?;
    let mut table = Vec::new();
    for _ in 0..chunk_count {
        table.push((s.u32("chunks")? as usize, s.u64("chunks")?));
    }
    if table.iter().map(|t| t.0 as u64).sum::<u64>() != count {
        return Err(SnapshotError::Damaged("count"));
    }
    let mut placed = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(len as usize / 64));
    let batch = rayon::current_num_threads().max(1) * 2;
    for chunks in table.chunks(batch) {
        let mut read = Vec::with_capacity(chunks.len());
        for &(n, len) in chunks {
            read.push((n, s.bytes(len, "initiatives")?));
        }
        let decoded: Result<Vec<Vec<Placed>>, SnapshotError> = read
            .into_par_iter()
            .map(|(n, bytes)| {
                let mut r = Reader {
                    bytes: &bytes,
                    at: 0,
                };
                let mut out = Vec::with_capacity(n.min(bytes.len()));
                for _ in 0..n {
                    out.push(decode(&mut r, &shared, qpv_count)?);
                }
                if r.at != bytes.len() {
                    return Err(SnapshotError::Damaged("initiatives"));
                }
                Ok(out)
            })
            .collect();
        for chunk in decoded? {
            placed.extend(chunk);
        }
    }
    let computed = s.crc.take().expect("set").finalize();
    if s.left != 8 || computed != crc {
        return Err(SnapshotError::Damaged("checksum"));
    }
    if s.bytes(8, "end")? != MAGIC {
        return Err(SnapshotError::Damaged("end"));
    }
    Ok(Snapshot {
        revision,
        placed,
        reports,
    })
}

/// The file read in order, each read bounded by what is left of it, the
/// body's checksum kept as it goes.
struct Stream<'i, R> {
    input: &'i mut R,
    left: u64,
    crc: Option<crc32fast::Hasher>,
}

impl<R: Read> Stream<'_, R> {
    fn bytes(&mut self, n: u64, what: &'static str) -> Result<Vec<u8>, SnapshotError> {
        if n > self.left {
            return Err(SnapshotError::Damaged(what));
        }
        let mut buf = vec![0; n as usize];
        self.input
            .read_exact(&mut buf)
            .map_err(|_| SnapshotError::Damaged(what))?;
        self.left -= n;
        if let Some(crc) = &mut self.crc {
            crc.update(&buf);
        }
        Ok(buf)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(
            self.bytes(4, what)?.try_into().expect("4"),
        ))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(
            self.bytes(8, what)?.try_into().expect("8"),
        ))
    }
}

/// The shared values met while writing, each numbered once.
#[derive(Default)]
struct Shared {
    index: HashMap<&'static str, u32>,
    list: Vec<&'static str>,
}

impl Shared {
    fn id(&mut self, s: &'static str) -> u32 {
        *self.index.entry(s).or_insert_with(|| {
            self.list.push(s);
            (self.list.len() - 1) as u32
        })
    }

    fn opt(&mut self, s: Option<&'static str>) -> u32 {
        s.map_or(NONE, |s| self.id(s))
    }
}

fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_f64(buf: &mut Vec<u8>, v: f64) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_u32(buf, s.len() as u32);
    buf.extend_from_slice(s.as_bytes());
}

fn put_opt_str(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => put_str(buf, s),
        None => put_u32(buf, NONE),
    }
}

fn encode(buf: &mut Vec<u8>, p: &Placed, shared: &mut Shared) {
    let i = &*p.initiative;
    put_str(buf, &i.id);
    put_str(buf, &i.name);
    for text in i.texts() {
        put_opt_str(buf, text);
    }
    put_u32(buf, shared.id(i.category.as_str()));
    put_u32(buf, shared.id(i.source.as_str()));
    for value in [
        i.source_kind,
        i.legal_form,
        i.postcode,
        i.commune,
        i.insee_code,
        i.opening_hours,
        i.source_date,
    ] {
        put_u32(buf, shared.opt(value.map(Sym::as_str)));
    }
    match i.position {
        Some(c) => {
            buf.push(1);
            put_f64(buf, c.x);
            put_f64(buf, c.y);
        }
        None => buf.push(0),
    }
    buf.push(match i.precision {
        Precision::Source => 0,
        Precision::Housenumber => 1,
        Precision::Street => 2,
        Precision::Locality => 3,
        Precision::Municipality => 4,
    });
    buf.push(match i.location.status {
        LocationStatus::Inside => 0,
        LocationStatus::Near => 1,
        LocationStatus::Outside => 2,
        LocationStatus::NotLocated => 3,
        LocationStatus::CommuneOnly => 4,
        LocationStatus::Unknown => 5,
    });
    put_u32(buf, i.location.qpv.map_or(NONE, |q| q.0));
    match i.location.distance_m {
        Some(d) => {
            buf.push(1);
            put_f64(buf, d);
        }
        None => buf.push(0),
    }
    put_u32(buf, p.near.len() as u32);
    for (q, d) in &p.near {
        put_u32(buf, q.0);
        put_f64(buf, *d);
    }
}

fn decode(r: &mut Reader<'_>, shared: &[Sym], qpv_count: usize) -> Result<Placed, SnapshotError> {
    let value_of = |i: u32| -> Result<Option<Sym>, SnapshotError> {
        if i == NONE {
            return Ok(None);
        }
        shared
            .get(i as usize)
            .copied()
            .map(Some)
            .ok_or(SnapshotError::Damaged("shared value"))
    };
    let required = |i: u32| value_of(i)?.ok_or(SnapshotError::Damaged("shared value"));
    let qpv = |i: u32| -> Result<QpvId, SnapshotError> {
        if (i as usize) < qpv_count {
            Ok(QpvId(i))
        } else {
            Err(SnapshotError::Damaged("QPV"))
        }
    };
    let boxed = |s: &str| -> Box<str> { s.into() };
    let id = boxed(r.str("id")?);
    let name = boxed(r.str("name")?);
    let mut texts = [None; 6];
    for text in &mut texts {
        *text = r.opt_str("text")?;
    }
    let category = required(r.u32("category")?)?;
    let source = required(r.u32("source")?)?;
    let mut shared_values = [None; 7];
    for value in &mut shared_values {
        *value = value_of(r.u32("shared value")?)?;
    }
    let position = match r.u8("position")? {
        0 => None,
        1 => Some(Coord {
            x: r.f64("position")?,
            y: r.f64("position")?,
        }),
        _ => return Err(SnapshotError::Damaged("position")),
    };
    let precision = match r.u8("precision")? {
        0 => Precision::Source,
        1 => Precision::Housenumber,
        2 => Precision::Street,
        3 => Precision::Locality,
        4 => Precision::Municipality,
        _ => return Err(SnapshotError::Damaged("precision")),
    };
    let status = match r.u8("location")? {
        0 => LocationStatus::Inside,
        1 => LocationStatus::Near,
        2 => LocationStatus::Outside,
        3 => LocationStatus::NotLocated,
        4 => LocationStatus::CommuneOnly,
        5 => LocationStatus::Unknown,
        _ => return Err(SnapshotError::Damaged("location")),
    };
    let located_in = match r.u32("location")? {
        NONE => None,
        i => Some(qpv(i)?),
    };
    let distance_m = match r.u8("location")? {
        0 => None,
        1 => Some(r.f64("location")?),
        _ => return Err(SnapshotError::Damaged("location")),
    };
    let near_count = r.u32("near")? as usize;
    if near_count > r.bytes.len() - r.at {
        return Err(SnapshotError::Damaged("near"));
    }
    let mut near = Vec::with_capacity(near_count);
    for _ in 0..near_count {
        near.push((qpv(r.u32("near")?)?, r.f64("near")?));
    }
    Ok(Placed {
        initiative: Arc::new(Initiative::from_parts(
            id,
            name,
            texts,
            category,
            source,
            shared_values,
            position,
            precision,
            Location {
                status,
                qpv: located_in,
                distance_m,
            },
        )),
        near,
    })
}

struct Reader<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> Reader<'b> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'b [u8], SnapshotError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(SnapshotError::Damaged(what))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, SnapshotError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4"),
        ))
    }

    fn f64(&mut self, what: &'static str) -> Result<f64, SnapshotError> {
        Ok(f64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8"),
        ))
    }

    fn str(&mut self, what: &'static str) -> Result<&'b str, SnapshotError> {
        let len = self.u32(what)? as usize;
        std::str::from_utf8(self.take(len, what)?).map_err(|_| SnapshotError::Damaged(what))
    }

    fn opt_str(&mut self, what: &'static str) -> Result<Option<&'b str>, SnapshotError> {
        let len = self.u32(what)?;
        if len == NONE {
            return Ok(None);
        }
        let bytes = self.take(len as usize, what)?;
        std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| SnapshotError::Damaged(what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::initiative::InitiativeRecord;

    fn placed(id: &str, lon: Option<f64>, near: Vec<(QpvId, f64)>) -> Placed {
        let record = InitiativeRecord {
            id: id.into(),
            name: format!("Régie « {id} »"),
            category: "regie_quartier".into(),
            source: "test".into(),
            commune: Some("Saint-Denis".into()),
            postcode: Some("93200".into()),
            siret: lon.map(|_| "12345678900011".into()),
            description: Some("ligne 1\nligne 2".into()),
            lon,
            lat: lon.map(|_| 48.93),
            ..Default::default()
        };
        let location = Location {
            status: if near.is_empty() {
                LocationStatus::Outside
            } else {
                LocationStatus::Near
            },
            qpv: near.first().map(|n| n.0),
            distance_m: near.first().map(|n| n.1),
        };
        Placed {
            initiative: Arc::new(Initiative::new(record, location)),
            near,
        }
    }

    fn same(a: &Placed, b: &Placed) -> bool {
        let (x, y) = (&*a.initiative, &*b.initiative);
        format!("{x:?}") == format!("{y:?}")
            && std::ptr::eq(x.category.as_str(), y.category.as_str())
            && a.near == b.near
    }

    #[test]
    fn every_field_comes_back_across_chunks() {
        let all: Vec<Placed> = (0..CHUNK + 10)
            .map(|i| {
                let near = if i % 3 == 0 {
                    vec![(QpvId(1), 12.5), (QpvId(0), 480.0)]
                } else {
                    vec![]
                };
                placed(
                    &format!("t-{i}"),
                    (i % 5 != 0).then_some(2.35 + i as f64 * 1e-6),
                    near,
                )
            })
            .collect();
        let reports = vec![DatasetReport::new(
            "siae",
            std::path::Path::new("ess/siae.csv"),
        )];
        let mut file = Vec::new();
        write(&mut file, "t", 3, &all, &reports).unwrap();
        let back = read(&file[..], file.len() as u64, "t", 2).unwrap();
        assert_eq!(back.placed.len(), all.len());
        assert!(all.iter().zip(&back.placed).all(|(a, b)| same(a, b)));
        assert_eq!(back.reports[0].id, "siae");
        // A QPV id beyond the territory read back is refused, not trusted.
        assert!(matches!(
            read(&file[..], file.len() as u64, "t", 1),
            Err(SnapshotError::Damaged("QPV"))
        ));
    }

    #[test]
    fn a_changed_byte_or_a_cut_is_refused() {
        let all = vec![placed("a", Some(2.3), vec![(QpvId(0), 0.0)])];
        let mut file = Vec::new();
        write(&mut file, "t", 0, &all, &[]).unwrap();
        let middle = file.len() / 2;
        let mut flipped = file.clone();
        flipped[middle] ^= 0x40;
        assert!(matches!(
            read(&flipped[..], flipped.len() as u64, "t", 1),
            Err(SnapshotError::Damaged(_))
        ));
        for cut in [0, 5, 12, middle, file.len() - 1] {
            let part = &file[..cut];
            assert!(read(part, cut as u64, "t", 1).is_err(), "cut at {cut}");
            // A file shorter than it says, as read from a disk that fails.
            assert!(
                read(part, file.len() as u64, "t", 1).is_err(),
                "cut at {cut}"
            );
        }
    }
}
