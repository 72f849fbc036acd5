//! Creating, correcting and deleting one initiative: the fields a request
//! gives are merged onto the record **as stored, inside the transaction**
//! that writes the result, so concurrent editors of different fields both
//! keep their change, every history entry's `before` is the previous
//! `after`, and a deleted initiative stays deleted (a later correction gets
//! 404). An `If-Match` precondition (the initiative's ETag) turns a lost
//! race into 412 instead of a silent overwrite.

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use geodata::validate::check;
use geodata::{InitiativeRecord, Precision, Taxonomy};

use crate::geocode::{place_one, query_of};
use crate::live::Live;
use crate::store::{HistoryAction, StoredInitiative};

/// Source of initiatives created through the API (ids `api:1`, `api:2`…).
pub const API_SOURCE: &str = "api";

/// Why an edit was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// A field of the request cannot be used.
    #[error("field `{field}`: {message}")]
    Field { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// `If-Match` names another version than the current one.
    #[error("{0}")]
    Stale(String),
    /// The edit cannot apply to the current state.
    #[error("{0}")]
    Conflict(String),
    /// The editor may not write there (outside their départements).
    #[error("{0}")]
    OutOfScope(String),
    /// The store failed (or cannot be reached).
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

impl EditError {
    fn field(field: &str, message: impl Into<String>) -> Self {
        EditError::Field {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

/// Who writes: their name (kept in the history) and, for an editor
/// limited to some départements, those.
pub struct Actor<'a> {
    pub name: &'a str,
    /// Empty: everywhere.
    pub departements: &'a [String],
}

impl Actor<'_> {
    /// Refuses a record outside the actor's départements (one whose
    /// département is unknown too: it could be anywhere).
    pub fn check(&self, record: &InitiativeRecord) -> Result<(), EditError> {
        if self.departements.is_empty() {
            return Ok(());
        }
        let placed = geodata::Initiative::new(record.clone(), geodata::Location::OUTSIDE);
        match placed.departement() {
            Some(d) if self.departements.iter().any(|mine| mine == d) => Ok(()),
            Some(d) => Err(EditError::OutOfScope(format!(
                "vous pouvez modifier les initiatives des départements {} ; celle-ci est dans le {d}",
                self.departements.join(", ")
            ))),
            None => Err(EditError::OutOfScope(
                "département inconnu : indiquez le code postal ou le code INSEE de la commune"
                    .into(),
            )),
        }
    }
}

/// A text field of a patch: absent (`None`: unchanged), `null`
/// (`Some(None)`: cleared) or a value.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Where a patch's text goes in a record.
trait TextSlot {
    fn set(&mut self, value: Option<String>);
}

impl TextSlot for String {
    fn set(&mut self, value: Option<String>) {
        *self = value.unwrap_or_default();
    }
}

impl TextSlot for Option<String> {
    fn set(&mut self, value: Option<String>) {
        *self = value;
    }
}

/// The editable text fields, listed once: the patch's fields, named as the
/// record's, and [`InitiativePatch::FIELDS`] (which the API document lists).
macro_rules! initiative_patch {
    ($($field:ident),* $(,)?) => {
        /// The body of `POST`/`PATCH /api/initiatives`: each field absent
        /// (unchanged), `null` (cleared) or given; any other field is refused.
        #[derive(Debug, Default, Clone, PartialEq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct InitiativePatch {
            $(
                #[serde(default, deserialize_with = "present")]
                pub $field: Option<Option<String>>,
            )*
            #[serde(default, deserialize_with = "present")]
            pub lon: Option<Option<f64>>,
            #[serde(default, deserialize_with = "present")]
            pub lat: Option<Option<f64>>,
        }

        impl InitiativePatch {
            /// Every field a request may set.
            pub const FIELDS: &[&str] = &[$(stringify!($field),)* "lon", "lat"];

            /// Copies the text fields given onto `record`.
            fn set_texts(&self, record: &mut InitiativeRecord) {
                $(
                    if let Some(value) = &self.$field {
                        TextSlot::set(&mut record.$field, value.clone());
                    }
                )*
            }
        }
    };
}

initiative_patch!(
    name,
    brand,
    category,
    source_kind,
    legal_form,
    siret,
    address,
    postcode,
    commune,
    insee_code,
    website,
    description,
    opening_hours,
);

impl InitiativePatch {
    /// A request's JSON object as a patch; an error names the field at
    /// fault (each field is tried alone to find it).
    pub fn from_json(body: Value) -> Result<InitiativePatch, EditError> {
        let Value::Object(fields) = body else {
            return Err(EditError::field("body", "a JSON object is expected"));
        };
        match serde_json::from_value(Value::Object(fields.clone())) {
            Ok(patch) => Ok(patch),
            Err(all) => {
                for (key, value) in &fields {
                    let alone: Map<String, Value> =
                        std::iter::once((key.clone(), value.clone())).collect();
                    if let Err(e) = serde_json::from_value::<InitiativePatch>(Value::Object(alone))
                    {
                        let message = if InitiativePatch::FIELDS.contains(&key.as_str()) {
                            match key.as_str() {
                                "lon" | "lat" => "a number or null is expected".to_string(),
                                _ => "a string or null is expected".to_string(),
                            }
                        } else if key == "id" || key == "source" {
                            "id and source cannot change".to_string()
                        } else {
                            format!(
                                "unknown field; fields: {}",
                                InitiativePatch::FIELDS.join(", ")
                            )
                        };
                        let _ = e;
                        return Err(EditError::field(key, message));
                    }
                }
                Err(EditError::field("body", all.to_string()))
            }
        }
    }

    fn address_changed(&self) -> bool {
        self.address.is_some()
            || self.postcode.is_some()
            || self.commune.is_some()
            || self.insee_code.is_some()
    }
}

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

/// Applies a patch to a record and checks it as every source is checked
/// ([`geodata::validate::check`]); the API refuses what an import would
/// repair.
fn apply(
    record: &mut InitiativeRecord,
    patch: &InitiativePatch,
    taxonomy: &Taxonomy,
) -> Result<Moved, EditError> {
    if let Some(Some(c)) = &patch.category
        && !c.trim().is_empty()
        && taxonomy.get(c.trim()).is_none()
    {
        return Err(EditError::field(
            "category",
            format!("unknown category `{c}`; see /api/categories"),
        ));
    }
    patch.set_texts(record);
    let coordinate = |key: &str, given: Option<Option<f64>>, limit: f64| match given {
        None | Some(None) => Ok(None),
        Some(Some(v)) if v.is_finite() && v.abs() <= limit => Ok(Some(v)),
        Some(Some(_)) => Err(EditError::field(
            key,
            format!("a number within ±{limit} is expected"),
        )),
    };
    let (lon, lat) = (
        coordinate("lon", patch.lon, 180.0)?,
        coordinate("lat", patch.lat, 90.0)?,
    );
    let moved = match (lon, lat) {
        (Some(x), Some(y)) => {
            (record.lon, record.lat, record.precision) =
                (Some(x), Some(y), Some(Precision::Source));
            Moved::ToCoordinates
        }
        (None, None) if patch.lon.is_some() || patch.lat.is_some() => {
            return Err(EditError::field("lon", "give both lon and lat"));
        }
        (None, None) if patch.address_changed() || record.lon.is_none() => Moved::ToAddress,
        (None, None) => Moved::No,
        _ => return Err(EditError::field("lon", "give both lon and lat")),
    };
    let problems = check(record, taxonomy).map_err(|p| EditError::field(p.field, p.reason))?;
    if let Some(p) = problems.into_iter().next() {
        return Err(EditError::field(p.field, p.reason));
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

fn geocode(live: &Live, g: &crate::geocode::Geocoding, record: &InitiativeRecord) -> Placed {
    let (query, hint) = query_of(record);
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

/// Checks a patch as a new initiative of `source` (`name` required)
/// without writing or placing it: what a visitor's proposal is held to.
pub fn check_new(
    live: &Live,
    patch: &InitiativePatch,
    source: &str,
) -> Result<InitiativeRecord, EditError> {
    let mut record = InitiativeRecord {
        source: source.into(),
        ..Default::default()
    };
    if patch.name.is_none() {
        return Err(EditError::field("name", "required"));
    }
    apply(&mut record, patch, &live.territory.taxonomy)?;
    Ok(record)
}

/// How a new initiative is written.
pub struct Creation<'a> {
    /// Its source: `api`, or `proposition` for an accepted proposal.
    pub source: &'a str,
    /// Merged at once into this initiative (a moderator's decision).
    pub merge_into: Option<String>,
}

/// A new initiative from a patch (`name` required); its record as written,
/// with `then` run in the same transaction. One with the SIRET of an
/// initiative of another source is merged into it at once (kept, shown and
/// counted as that one); one of a close name within 150 m is queued for a
/// moderator.
pub fn create(
    live: &Live,
    geocoding: &crate::geocode::Geocoding,
    patch: &InitiativePatch,
    actor: &Actor<'_>,
    how: Creation<'_>,
    then: impl FnOnce(&mut crate::store::Writer<'_>, &InitiativeRecord) -> anyhow::Result<()>,
) -> Result<InitiativeRecord, EditError> {
    let mut record = check_new(live, patch, how.source)?;
    let moved = if record.lon.is_some() {
        Moved::ToCoordinates
    } else {
        Moved::ToAddress
    };
    let placed = (moved == Moved::ToAddress).then(|| geocode(live, geocoding, &record));
    if let Some(p) = &placed {
        (record.lon, record.lat, record.precision) = (p.lon, p.lat, p.precision);
    }
    actor.check(&record)?;
    let found = match how.merge_into {
        Some(into) => {
            if live.snapshot().data.initiative(&into).is_none() {
                return Err(EditError::field(
                    "merge_into",
                    format!("no initiative shown with id `{into}`"),
                ));
            }
            crate::dedupe::Matches {
                sure: Some((into, "décision d'un modérateur")),
                near: Vec::new(),
            }
        }
        None => crate::dedupe::find(&live.snapshot().data, &record),
    };
    record.merged_into = found.sure.map(|(id, _)| id);
    live.write(|store| {
        let (written, _) = store.write(|w| {
            record.id = w.next_id(how.source)?;
            let stored = StoredInitiative {
                record: record.clone(),
                key: None,
                geocoder: placed.as_ref().and_then(|p| p.geocoder.clone()),
                geocode_score: placed.as_ref().and_then(|p| p.score),
                deleted: false,
            };
            w.put(&stored, actor.name, HistoryAction::Create, None)?;
            for m in &found.near {
                w.queue_duplicate(&record.id, &m.id, m.score, m.distance_m)?;
            }
            then(w, &record)?;
            Ok(record)
        })?;
        Ok(written)
    })
    .map_err(EditError::Store)
}

/// Shows `id` as `into` from now on (a moderator's decision on two
/// records of one structure): its record is kept, with its source, and
/// marked merged; `then` runs in the same transaction.
pub fn merge(
    live: &Live,
    id: &str,
    into: &str,
    actor: &Actor<'_>,
    then: impl FnOnce(&mut crate::store::Writer<'_>) -> anyhow::Result<()>,
) -> Result<InitiativeRecord, EditError> {
    if id == into {
        return Err(EditError::Conflict(
            "an initiative cannot be merged into itself".into(),
        ));
    }
    if live.snapshot().data.initiative(into).is_none() {
        return Err(EditError::NotFound(format!(
            "no initiative shown with id `{into}` (deleted, or itself merged)"
        )));
    }
    live.write(|store| {
        let (written, _) = store.write(|w| {
            let found = match current(w, live, id) {
                Ok(f) => f,
                Err(e) => return Ok(Err(e)),
            };
            if let Err(e) = actor.check(found.record()) {
                return Ok(Err(e));
            }
            let (before, mut next) = match found {
                Found::Stored(s) => (s.record.clone(), s),
                Found::Open(r) => (
                    r.clone(),
                    StoredInitiative {
                        record: r,
                        key: None,
                        geocoder: None,
                        geocode_score: None,
                        deleted: false,
                    },
                ),
            };
            next.record.merged_into = Some(into.to_string());
            w.put(&next, actor.name, HistoryAction::Update, Some(&before))?;
            then(w)?;
            Ok(Ok(next.record))
        })?;
        Ok(written)
    })
    .map_err(EditError::Store)?
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
fn current(w: &mut crate::store::Writer<'_>, live: &Live, id: &str) -> Result<Found, EditError> {
    match w.get(id)? {
        Some(s) if s.deleted => Err(EditError::NotFound(format!(
            "initiative `{id}` was deleted"
        ))),
        Some(s) => Ok(Found::Stored(s)),
        // Not in the store: an open-data record, which never changes.
        None => match live.snapshot().data.initiative(id) {
            Some(x) => Ok(Found::Open(x.to_record())),
            None => Err(EditError::NotFound(format!("no initiative with id `{id}`"))),
        },
    }
}

fn precondition(if_match: Option<&str>, current: &InitiativeRecord) -> Result<(), EditError> {
    match if_match {
        Some(wanted)
            if wanted.trim() != "*" && wanted.split(',').all(|t| t.trim() != etag(current)) =>
        {
            Err(EditError::Stale(format!(
                "the initiative changed since that version; it is now {}",
                etag(current)
            )))
        }
        _ => Ok(()),
    }
}

/// Corrects `id` with a patch (`null` clears a field); its record as
/// written.
pub fn update(
    live: &Live,
    geocoding: &crate::geocode::Geocoding,
    id: &str,
    patch: &InitiativePatch,
    if_match: Option<&str>,
    actor: &Actor<'_>,
) -> Result<InitiativeRecord, EditError> {
    let taxonomy = &live.territory.taxonomy;
    // Geocoding takes seconds: done before the write, for the address the
    // merge will have; should another editor change that address meanwhile,
    // the merge is made again.
    for _ in 0..3 {
        let seen = live
            .read(|store| store.get(id))?
            .filter(|s| !s.deleted)
            .map(|s| s.record)
            .or_else(|| live.snapshot().data.initiative(id).map(|x| x.to_record()));
        let Some(mut planned) = seen else {
            return Err(EditError::NotFound(format!("no initiative with id `{id}`")));
        };
        let moved = apply(&mut planned, patch, taxonomy)?;
        let placed = (moved == Moved::ToAddress).then(|| geocode(live, geocoding, &planned));
        // Inside the write, a refusal (gone, stale, invalid once merged)
        // rolls it back and is kept here.
        let mut refused = None;
        let written = live.write(|store| {
            Ok(store
                .write(|w| {
                    let outcome = (|| -> Result<Option<InitiativeRecord>, EditError> {
                        let found = current(w, live, id)?;
                        precondition(if_match, found.record())?;
                        let before = found.record().clone();
                        actor.check(&before)?;
                        let mut record = before.clone();
                        let moved = apply(&mut record, patch, taxonomy)?;
                        actor.check(&record)?;
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
                                _ => return Ok(None),
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
                        w.put(&stored, actor.name, HistoryAction::Update, Some(&before))?;
                        Ok(Some(record))
                    })();
                    match outcome {
                        Ok(record) => Ok(record),
                        Err(EditError::Store(e)) => Err(e),
                        Err(e) => {
                            refused = Some(e);
                            Ok(None)
                        }
                    }
                })?
                .0)
        })?;
        if let Some(e) = refused {
            return Err(e);
        }
        if let Some(record) = written {
            return Ok(record);
        }
    }
    Err(EditError::Conflict(
        "the address kept changing under this edit; send it again".into(),
    ))
}

/// Deletes `id` (kept in the store and its history, hidden everywhere).
pub fn delete(
    live: &Live,
    id: &str,
    if_match: Option<&str>,
    actor: &Actor<'_>,
) -> Result<(), EditError> {
    let mut refused = None;
    live.write(|store| {
        store.write(|w| {
            let outcome = (|| -> Result<(), EditError> {
                let found = current(w, live, id)?;
                precondition(if_match, found.record())?;
                actor.check(found.record())?;
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
                w.put(&stored, actor.name, HistoryAction::Delete, Some(&before))?;
                Ok(())
            })();
            match outcome {
                Ok(()) => Ok(()),
                Err(EditError::Store(e)) => Err(e),
                Err(e) => {
                    refused = Some(e);
                    Ok(())
                }
            }
        })?;
        Ok(())
    })?;
    match refused {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
