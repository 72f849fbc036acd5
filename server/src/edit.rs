//! Creating, correcting and deleting one initiative: the fields a request
//! gives are merged onto the record **as stored, inside the transaction**
//! that writes the result, so concurrent editors of different fields both
//! keep their change, every history entry's `before` is the previous
//! `after`, and a deleted initiative stays deleted (a later correction gets
//! 404). An `If-Match` precondition (the initiative's ETag) turns a lost
//! race into 412 instead of a silent overwrite.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use geodata::validate::check;
use geodata::{InitiativeRecord, Precision, Taxonomy};

use crate::api::ApiError;
use crate::geocode::{place_one, query_of};
use crate::live::Live;
use crate::store::StoredInitiative;

/// Source of initiatives created through the API (ids `api:1`, `api:2`…).
pub const API_SOURCE: &str = "api";

/// Fields a request may set.
pub const FIELDS: [&str; 14] = [
    "name",
    "brand",
    "category",
    "source_kind",
    "legal_form",
    "siret",
    "address",
    "postcode",
    "commune",
    "insee_code",
    "website",
    "description",
    "lon",
    "lat",
];

/// The ETag of a record as served: a hash of all its fields, quoted.
pub fn etag(record: &InitiativeRecord) -> String {
    let json = serde_json::to_vec(record).expect("a record serialises");
    let digest = Sha256::digest(json);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// Whether an edit moves the initiative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moved {
    No,
    /// New coordinates were given.
    ToCoordinates,
    /// The address changed (or was given without coordinates): geocode it.
    ToAddress,
}

/// Applies the JSON fields to a record and checks it as every source is
/// checked ([`geodata::validate::check`]); the API refuses what an import
/// would repair.
fn apply(
    record: &mut InitiativeRecord,
    fields: &Map<String, Value>,
    taxonomy: &Taxonomy,
) -> Result<Moved, ApiError> {
    let mut address_changed = false;
    for (key, value) in fields {
        let text = match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ if key == "lon" || key == "lat" => None,
            _ => return Err(ApiError::field(key, "a string or null is expected")),
        };
        match key.as_str() {
            "name" => record.name = text.unwrap_or_default(),
            "brand" => record.brand = text,
            "category" => {
                let c = text.unwrap_or_default();
                if !c.trim().is_empty() && taxonomy.get(c.trim()).is_none() {
                    return Err(ApiError::field(
                        "category",
                        format!("unknown category `{c}`; see /api/categories"),
                    ));
                }
                record.category = c;
            }
            "source_kind" => record.source_kind = text,
            "legal_form" => record.legal_form = text,
            "siret" => record.siret = text,
            "address" => (record.address, address_changed) = (text, true),
            "postcode" => (record.postcode, address_changed) = (text, true),
            "commune" => (record.commune, address_changed) = (text, true),
            "insee_code" => (record.insee_code, address_changed) = (text, true),
            "website" => record.website = text,
            "description" => record.description = text,
            "lon" | "lat" => {}
            other => {
                return Err(ApiError::field(
                    other,
                    format!("unknown field; fields: {}", FIELDS.join(", ")),
                ));
            }
        }
    }
    let coordinate = |key: &str, limit: f64| -> Result<Option<f64>, ApiError> {
        match fields.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .filter(|v| v.is_finite() && v.abs() <= limit)
                .map(Some)
                .ok_or_else(|| {
                    ApiError::field(key, format!("a number within ±{limit} is expected"))
                }),
        }
    };
    let (lon, lat) = (coordinate("lon", 180.0)?, coordinate("lat", 90.0)?);
    let moved = match (lon, lat) {
        (Some(x), Some(y)) => {
            (record.lon, record.lat, record.precision) =
                (Some(x), Some(y), Some(Precision::Source));
            Moved::ToCoordinates
        }
        (None, None) if fields.contains_key("lon") || fields.contains_key("lat") => {
            return Err(ApiError::field("lon", "give both lon and lat"));
        }
        (None, None) if address_changed || record.lon.is_none() => Moved::ToAddress,
        (None, None) => Moved::No,
        _ => return Err(ApiError::field("lon", "give both lon and lat")),
    };
    let problems = check(record, taxonomy).map_err(|p| ApiError::field(p.field, p.reason))?;
    if let Some(p) = problems.into_iter().next() {
        return Err(ApiError::field(p.field, p.reason));
    }
    Ok(moved)
}

/// Where an address is: the geocoder, else the commune's centre, else nowhere.
#[derive(Debug, Clone, PartialEq)]
struct Placed {
    lon: Option<f64>,
    lat: Option<f64>,
    precision: Option<Precision>,
    geocoder: Option<String>,
    score: Option<f64>,
}

fn geocode(live: &Live, record: &InitiativeRecord) -> Placed {
    let (query, hint) = query_of(record);
    let g = &live.geocoding;
    let (placement, _) = place_one(
        &query,
        &hint,
        g.addok.as_ref(),
        g.min_score,
        live.communes(),
    );
    match placement {
        Some(p) => Placed {
            lon: Some(p.lon),
            lat: Some(p.lat),
            precision: Some(p.precision),
            geocoder: Some(p.geocoder),
            score: p.score,
        },
        None => Placed {
            lon: None,
            lat: None,
            precision: None,
            geocoder: None,
            score: None,
        },
    }
}

fn address_of(r: &InitiativeRecord) -> [Option<&str>; 4] {
    [
        r.address.as_deref(),
        r.postcode.as_deref(),
        r.commune.as_deref(),
        r.insee_code.as_deref(),
    ]
}

/// A new initiative from `fields` (`name` required); its record as written.
pub fn create(
    live: &Live,
    fields: &Map<String, Value>,
    actor: &str,
) -> Result<InitiativeRecord, ApiError> {
    let mut record = InitiativeRecord {
        source: API_SOURCE.into(),
        ..Default::default()
    };
    if !fields.contains_key("name") {
        return Err(ApiError::field("name", "required"));
    }
    let moved = apply(&mut record, fields, &live.territory.taxonomy)?;
    let placed = (moved == Moved::ToAddress).then(|| geocode(live, &record));
    if let Some(p) = &placed {
        (record.lon, record.lat, record.precision) = (p.lon, p.lat, p.precision);
    }
    live.write(|store| {
        let (written, _) = store.write(|w| {
            record.id = w.next_id(API_SOURCE)?;
            let stored = StoredInitiative {
                record: record.clone(),
                key: None,
                geocoder: placed.as_ref().and_then(|p| p.geocoder.clone()),
                geocode_score: placed.as_ref().and_then(|p| p.score),
                deleted: false,
            };
            w.put(&stored, actor, "create", None)?;
            Ok(record)
        })?;
        Ok(written)
    })
    .map_err(ApiError::internal)
}

/// What an edit or a deletion found.
enum Found {
    Stored(StoredInitiative),
    /// An open-data record never corrected.
    Open(InitiativeRecord),
}

impl Found {
    fn record(&self) -> &InitiativeRecord {
        match self {
            Found::Stored(s) => &s.record,
            Found::Open(r) => r,
        }
    }
}

/// The current record of `id` inside a write: the stored one, else the
/// open-data one; a deleted one is gone (404), as is an unknown id.
fn current(
    w: &mut crate::store::Writer<'_>,
    live: &Live,
    id: &str,
) -> Result<Result<Found, ApiError>, anyhow::Error> {
    Ok(match w.get(id)? {
        Some(s) if s.deleted => Err(ApiError::NotFound(format!("initiative `{id}` was deleted"))),
        Some(s) => Ok(Found::Stored(s)),
        // Not in the store: an open-data record, which never changes.
        None => match live.snapshot().data.initiative(id) {
            Some(x) => Ok(Found::Open(x.to_record())),
            None => Err(ApiError::NotFound(format!("no initiative with id `{id}`"))),
        },
    })
}

fn precondition(if_match: Option<&str>, current: &InitiativeRecord) -> Result<(), ApiError> {
    match if_match {
        Some(wanted)
            if wanted.trim() != "*" && wanted.split(',').all(|t| t.trim() != etag(current)) =>
        {
            Err(ApiError::PreconditionFailed(format!(
                "the initiative changed since that version; it is now {}",
                etag(current)
            )))
        }
        _ => Ok(()),
    }
}

/// Corrects `id` with `fields` (`null` clears a field); its record as written.
pub fn update(
    live: &Live,
    id: &str,
    fields: &Map<String, Value>,
    if_match: Option<&str>,
    actor: &str,
) -> Result<InitiativeRecord, ApiError> {
    if fields.contains_key("id") || fields.contains_key("source") {
        return Err(ApiError::field("id", "id and source cannot change"));
    }
    let taxonomy = &live.territory.taxonomy;
    // Geocoding takes seconds: done before the write, for the address the
    // merge will have; should another editor change that address meanwhile,
    // the merge is made again.
    for _ in 0..3 {
        let seen = live
            .read(|store| store.get(id))
            .map_err(ApiError::internal)?
            .filter(|s| !s.deleted)
            .map(|s| s.record)
            .or_else(|| live.snapshot().data.initiative(id).map(|x| x.to_record()));
        let Some(mut planned) = seen else {
            return Err(ApiError::NotFound(format!("no initiative with id `{id}`")));
        };
        let moved = apply(&mut planned, fields, taxonomy)?;
        let placed = (moved == Moved::ToAddress).then(|| geocode(live, &planned));
        let outcome = live
            .write(|store| {
                Ok(store
                    .write(|w| {
                        let found = match current(w, live, id)? {
                            Ok(found) => found,
                            Err(e) => return Ok(Err(e)),
                        };
                        if let Err(e) = precondition(if_match, found.record()) {
                            return Ok(Err(e));
                        }
                        let before = found.record().clone();
                        let mut record = before.clone();
                        let moved = match apply(&mut record, fields, taxonomy) {
                            Ok(m) => m,
                            Err(e) => return Ok(Err(e)),
                        };
                        let (mut geocoder, mut score) = match &found {
                            Found::Stored(s) => (s.geocoder.clone(), s.geocode_score),
                            Found::Open(_) => (None, None),
                        };
                        if moved == Moved::ToAddress {
                            match &placed {
                                Some(p) if address_of(&record) == address_of(&planned) => {
                                    (record.lon, record.lat, record.precision) =
                                        (p.lon, p.lat, p.precision);
                                    (geocoder, score) = (p.geocoder.clone(), p.score);
                                }
                                // The address moved under us: plan again.
                                _ => return Ok(Ok(None)),
                            }
                        } else if moved == Moved::ToCoordinates {
                            (geocoder, score) = (None, None);
                        }
                        let key = match found {
                            Found::Stored(s) => s.key,
                            Found::Open(_) => None,
                        };
                        let stored = StoredInitiative {
                            record: record.clone(),
                            key,
                            geocoder,
                            geocode_score: score,
                            deleted: false,
                        };
                        w.put(&stored, actor, "update", Some(&before))?;
                        Ok(Ok(Some(record)))
                    })?
                    .0)
            })
            .map_err(ApiError::internal)?;
        match outcome? {
            Some(record) => return Ok(record),
            None => continue,
        }
    }
    Err(ApiError::Conflict(
        "the address kept changing under this edit; send it again".into(),
    ))
}

/// Deletes `id` (kept in the store and its history, hidden everywhere).
pub fn delete(live: &Live, id: &str, if_match: Option<&str>, actor: &str) -> Result<(), ApiError> {
    live.write(|store| {
        Ok(store
            .write(|w| {
                let found = match current(w, live, id)? {
                    Ok(found) => found,
                    Err(e) => return Ok(Err(e)),
                };
                if let Err(e) = precondition(if_match, found.record()) {
                    return Ok(Err(e));
                }
                let before = found.record().clone();
                let stored = match found {
                    Found::Stored(s) => StoredInitiative { deleted: true, ..s },
                    Found::Open(r) => StoredInitiative {
                        record: r,
                        key: None,
                        geocoder: None,
                        geocode_score: None,
                        deleted: true,
                    },
                };
                w.put(&stored, actor, "delete", Some(&before))?;
                Ok(Ok(()))
            })?
            .0)
    })
    .map_err(ApiError::internal)?
}
