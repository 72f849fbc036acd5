//! Geocoding addresses: a client for addok, the engine behind the French
//! national address API (the IGN Géoplateforme's `/geocodage` by default, or
//! any addok an organisation runs), and the offline fallback to the
//! commune's centre.

use std::time::Duration;

use geodata::Precision;
use geodata::communes::CommuneCentres;

/// The national address geocoder since `api-adresse.data.gouv.fr` closed
/// (January 2026): an addok-style API.
pub const DEFAULT_GEOCODER_URL: &str = "https://data.geopf.fr/geocodage";
/// Results scoring lower are not trusted (addok scores run 0–1).
pub const DEFAULT_MIN_SCORE: f64 = 0.5;
/// Rows per batch request: batch endpoints truncate large files, so files
/// are sent in chunks and every row is checked to have come back.
const CHUNK_ROWS: usize = 500;
const ATTEMPTS: u32 = 3;

/// What to geocode: an address line, and filters when known.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub q: String,
    pub postcode: Option<String>,
    pub citycode: Option<String>,
}

/// A geocoder's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub lon: f64,
    pub lat: f64,
    pub score: f64,
    pub precision: Precision,
    pub label: String,
}

/// An address offered while a person types (`Addok::suggest`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Suggestion {
    pub label: String,
    pub lon: f64,
    pub lat: f64,
    /// The address line (number and street), or the place's name.
    pub name: Option<String>,
    pub postcode: Option<String>,
    /// The commune's INSEE code.
    pub citycode: Option<String>,
    pub city: Option<String>,
    /// addok's `housenumber`, `street`, `locality` or `municipality`.
    pub kind: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum GeocodeError {
    #[error("geocoder {url} unreachable or failing after {ATTEMPTS} attempts: {reason}")]
    Unavailable { url: String, reason: String },
    #[error("geocoder {url}: {reason}")]
    Invalid { url: String, reason: String },
}

/// An addok server.
pub struct Addok {
    base: String,
    agent: ureq::Agent,
    batch_agent: ureq::Agent,
}

impl Addok {
    /// `base` without the trailing `/search/`; `timeout` per request (a
    /// batch chunk gets six times as long).
    pub fn new(base: &str, timeout: Duration) -> Addok {
        let agent = |t: Duration| -> ureq::Agent {
            ureq::Agent::config_builder()
                .timeout_global(Some(t))
                .http_status_as_error(false)
                .build()
                .new_agent()
        };
        Addok {
            base: base.trim_end_matches('/').to_string(),
            agent: agent(timeout),
            batch_agent: agent(timeout * 6),
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// `GET /search/?q=`: the best result, if any.
    pub fn search(&self, query: &Query) -> Result<Option<Hit>, GeocodeError> {
        let url = format!("{}/search/", self.base);
        let body = self.with_retries(|| {
            let mut request = self
                .agent
                .get(&url)
                .query("q", &query.q)
                .query("limit", "1");
            if let Some(p) = &query.postcode {
                request = request.query("postcode", p);
            }
            if let Some(c) = &query.citycode {
                request = request.query("citycode", c);
            }
            request.call()
        })?;
        let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| self.invalid(e))?;
        let Some(feature) = json["features"].as_array().and_then(|f| f.first()) else {
            return Ok(None);
        };
        let coordinates = &feature["geometry"]["coordinates"];
        let properties = &feature["properties"];
        let hit = (|| {
            Some(Hit {
                lon: coordinates[0].as_f64()?,
                lat: coordinates[1].as_f64()?,
                score: properties["score"].as_f64()?,
                precision: Precision::from_addok(properties["type"].as_str()?)?,
                label: properties["label"].as_str().unwrap_or_default().to_string(),
            })
        })();
        hit.map(Some)
            .ok_or_else(|| self.invalid("a result without coordinates, score or type"))
    }

    /// `GET /search/?q=&autocomplete=1`: addresses a person may pick while
    /// typing, best first.
    pub fn suggest(&self, q: &str, limit: usize) -> Result<Vec<Suggestion>, GeocodeError> {
        let url = format!("{}/search/", self.base);
        let body = self.with_retries(|| {
            self.agent
                .get(&url)
                .query("q", q)
                .query("limit", limit.to_string())
                .query("autocomplete", "1")
                .call()
        })?;
        let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| self.invalid(e))?;
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        Ok(json["features"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|f| {
                let p = &f["properties"];
                let c = &f["geometry"]["coordinates"];
                Some(Suggestion {
                    label: text(&p["label"])?,
                    lon: c[0].as_f64()?,
                    lat: c[1].as_f64()?,
                    name: text(&p["name"]),
                    postcode: text(&p["postcode"]),
                    citycode: text(&p["citycode"]),
                    city: text(&p["city"]),
                    kind: text(&p["type"]),
                })
            })
            .collect())
    }

    /// `POST /search/csv/` in chunks: one answer per query, in order.
    pub fn batch(
        &self,
        queries: &[Query],
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<Option<Hit>>, GeocodeError> {
        let mut hits = Vec::with_capacity(queries.len());
        for chunk in queries.chunks(CHUNK_ROWS) {
            hits.extend(self.batch_chunk(chunk)?);
            progress(chunk.len());
        }
        Ok(hits)
    }

    fn batch_chunk(&self, queries: &[Query]) -> Result<Vec<Option<Hit>>, GeocodeError> {
        let mut csv = csv::Writer::from_writer(Vec::new());
        let write = |csv: &mut csv::Writer<Vec<u8>>, r: [&str; 4]| {
            csv.write_record(r).expect("writing to memory")
        };
        write(&mut csv, ["ess_row", "q", "postcode", "citycode"]);
        for (i, q) in queries.iter().enumerate() {
            write(
                &mut csv,
                [
                    &i.to_string(),
                    &q.q,
                    q.postcode.as_deref().unwrap_or(""),
                    q.citycode.as_deref().unwrap_or(""),
                ],
            );
        }
        let file = csv.into_inner().expect("writing to memory");
        let boundary = "ess-map-batch-7f3c9a";
        let mut body = Vec::new();
        let mut field = |name: &str, value: &[u8], filename: Option<&str>| {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        };
        field("data", &file, Some("adresses.csv"));
        // The query column holds postcode and commune already; filter
        // columns (`postcode=`, `citycode=`) make addok-csv 1.1 fail.
        field("columns", b"q", None);
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let url = format!("{}/search/csv/", self.base);
        let text = self.with_retries(|| {
            self.batch_agent
                .post(&url)
                .content_type(format!("multipart/form-data; boundary={boundary}"))
                .send(&body[..])
        })?;
        let text = text.trim_start_matches('\u{feff}');
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(geodata::delimiter_of(text.lines().next().unwrap_or("")))
            .from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| self.invalid(e))?.clone();
        let column = |name: &str| headers.iter().position(|h| h == name);
        let (Some(row), Some(lon), Some(lat), Some(score), Some(kind), label) = (
            column("ess_row"),
            column("result_longitude").or_else(|| column("longitude")),
            column("result_latitude").or_else(|| column("latitude")),
            column("result_score"),
            column("result_type"),
            column("result_label"),
        ) else {
            return Err(self.invalid(format!(
                "unexpected CSV header: {}",
                headers.iter().collect::<Vec<_>>().join(",")
            )));
        };
        let mut hits: Vec<Option<Option<Hit>>> = vec![None; queries.len()];
        for record in reader.records() {
            let record = record.map_err(|e| self.invalid(e))?;
            let field = |i: usize| record.get(i).unwrap_or("").trim();
            let Some(slot) = field(row)
                .parse::<usize>()
                .ok()
                .and_then(|i| hits.get_mut(i))
            else {
                return Err(self.invalid(format!("a row `{}` that was not sent", field(row))));
            };
            let hit = (|| {
                Some(Hit {
                    lon: field(lon).parse().ok()?,
                    lat: field(lat).parse().ok()?,
                    score: field(score).parse().ok()?,
                    precision: Precision::from_addok(field(kind))?,
                    label: label.map(field).unwrap_or_default().to_string(),
                })
            })();
            *slot = Some(hit);
        }
        let missing = hits.iter().filter(|h| h.is_none()).count();
        if missing > 0 {
            return Err(self.invalid(format!(
                "{missing} of {} rows did not come back (truncated answer)",
                queries.len()
            )));
        }
        Ok(hits.into_iter().map(Option::flatten).collect())
    }

    /// Retries transport errors, 429 and 5xx with back-off (0.5 s, 1 s).
    fn with_retries(
        &self,
        send: impl Fn() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<String, GeocodeError> {
        let mut reason = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500 << (attempt - 1)));
            }
            match send() {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    if status == 429 || status >= 500 {
                        reason = format!("HTTP {status}");
                        continue;
                    }
                    if status != 200 {
                        return Err(self.invalid(format!("HTTP {status}")));
                    }
                    return response
                        .body_mut()
                        .with_config()
                        .limit(64 * 1024 * 1024)
                        .read_to_string()
                        .map_err(|e| self.invalid(e));
                }
                Err(e) => reason = e.to_string(),
            }
        }
        Err(GeocodeError::Unavailable {
            url: self.base.clone(),
            reason,
        })
    }

    fn invalid(&self, reason: impl std::fmt::Display) -> GeocodeError {
        GeocodeError::Invalid {
            url: self.base.clone(),
            reason: reason.to_string(),
        }
    }
}

/// Where a row ends up, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub lon: f64,
    pub lat: f64,
    pub precision: Precision,
    /// `addok <url>` or `commune-centre`.
    pub geocoder: String,
    pub score: Option<f64>,
}

/// Why a row was not placed by the geocoder.
#[derive(Debug, Clone, PartialEq)]
pub enum Fallback {
    NoGeocoder,
    Unavailable(String),
    NoResult,
    LowScore(f64),
}

impl std::fmt::Display for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fallback::NoGeocoder => write!(f, "no geocoder configured"),
            Fallback::Unavailable(e) => write!(f, "{e}"),
            Fallback::NoResult => write!(f, "the geocoder found no such address"),
            Fallback::LowScore(s) => {
                write!(f, "the geocoder's best score {s:.2} is below the threshold")
            }
        }
    }
}

impl Fallback {
    /// Said to a planner in a located table's `remarque`.
    pub fn in_french(&self) -> String {
        match self {
            Fallback::NoGeocoder => "pas de géocodeur configuré".into(),
            Fallback::Unavailable(_) => "géocodeur injoignable".into(),
            Fallback::NoResult => "adresse introuvable".into(),
            Fallback::LowScore(s) => format!("adresse incertaine (score {s:.2})"),
        }
    }
}

/// How rows without coordinates get placed: the configured addok (none
/// for `--geocoder none`) and the score below which a result is not
/// trusted.
pub struct Geocoding {
    pub addok: Option<Addok>,
    pub min_score: f64,
}

/// Addresses of a table to locate: through addok, else at their commune's
/// centre (which `locate_table` reports as not located for QPV purposes).
pub struct TableGeocoder<'a> {
    pub addok: Option<&'a Addok>,
    pub min_score: f64,
    pub communes: &'a CommuneCentres,
}

impl crate::locate_table::Geocoder for TableGeocoder<'_> {
    fn geocode(
        &self,
        queries: &[crate::locate_table::AddressQuery],
    ) -> Vec<Result<crate::locate_table::Geocoded, String>> {
        let asked: Vec<(Query, CommuneHint)> = queries
            .iter()
            .map(|a| {
                let line = a.line();
                (
                    Query {
                        q: if line.is_empty() {
                            a.insee.clone().unwrap_or_default()
                        } else {
                            line
                        },
                        postcode: a.postcode.clone(),
                        citycode: a.insee.clone(),
                    },
                    CommuneHint {
                        insee: a.insee.clone(),
                        postcode: a.postcode.clone(),
                        commune: a.commune.clone(),
                    },
                )
            })
            .collect();
        place_all(&asked, self.addok, self.min_score, self.communes, |_| {})
            .into_iter()
            .map(|(placement, fallback)| match placement {
                Some(p) => Ok(crate::locate_table::Geocoded {
                    lon: p.lon,
                    lat: p.lat,
                    score: p.score,
                    precision: p.precision,
                    note: fallback
                        .map(|f| format!("{}, placée au centre de sa commune", f.in_french())),
                }),
                None => Err(format!(
                    "{}, commune inconnue",
                    fallback.map_or("adresse introuvable".into(), |f| f.in_french())
                )),
            })
            .collect()
    }
}

/// Geocodes every query: through addok when given and reachable, else (and
/// for no result or a low score) at the commune's centre. Returns, per
/// query, the placement (if any) and why the geocoder was not used.
pub fn place_all(
    queries: &[(Query, CommuneHint)],
    addok: Option<&Addok>,
    min_score: f64,
    communes: &CommuneCentres,
    mut progress: impl FnMut(usize),
) -> Vec<(Option<Placement>, Option<Fallback>)> {
    let answers: Vec<Result<Option<Hit>, Fallback>> = match addok {
        None => vec![Err(Fallback::NoGeocoder); queries.len()],
        Some(a) => {
            let plain: Vec<Query> = queries.iter().map(|(q, _)| q.clone()).collect();
            match a.batch(&plain, &mut progress) {
                Ok(hits) => hits.into_iter().map(Ok).collect(),
                Err(e) => {
                    tracing::warn!("{e}; placing rows at their commune's centre");
                    vec![Err(Fallback::Unavailable(e.to_string())); queries.len()]
                }
            }
        }
    };
    queries
        .iter()
        .zip(answers)
        .map(|((_, hint), answer)| decide(answer, hint, addok, min_score, communes))
        .collect()
}

/// One address, through addok's `/search/` (an edit through the API).
pub fn place_one(
    query: &Query,
    hint: &CommuneHint,
    addok: Option<&Addok>,
    min_score: f64,
    communes: &CommuneCentres,
) -> (Option<Placement>, Option<Fallback>) {
    let answer = match addok {
        None => Err(Fallback::NoGeocoder),
        Some(a) => a.search(query).map_err(|e| {
            tracing::warn!("{e}; placing at the commune's centre");
            Fallback::Unavailable(e.to_string())
        }),
    };
    decide(answer, hint, addok, min_score, communes)
}

/// The geocoder's hit when good enough, else the commune's centre.
fn decide(
    answer: Result<Option<Hit>, Fallback>,
    hint: &CommuneHint,
    addok: Option<&Addok>,
    min_score: f64,
    communes: &CommuneCentres,
) -> (Option<Placement>, Option<Fallback>) {
    let fallback = match answer {
        Ok(Some(hit)) if hit.score >= min_score => {
            return (
                Some(Placement {
                    lon: hit.lon,
                    lat: hit.lat,
                    precision: hit.precision,
                    geocoder: format!("addok {}", addok.map_or("", |a| a.url())),
                    score: Some(hit.score),
                }),
                None,
            );
        }
        Ok(Some(hit)) => Fallback::LowScore(hit.score),
        Ok(None) => Fallback::NoResult,
        Err(f) => f,
    };
    let centre = communes
        .find(
            hint.insee.as_deref(),
            hint.postcode.as_deref(),
            hint.commune.as_deref(),
        )
        .map(|c| Placement {
            lon: c.centre.x,
            lat: c.centre.y,
            precision: Precision::Municipality,
            geocoder: "commune-centre".into(),
            score: None,
        });
    (centre, Some(fallback))
}

/// The query and commune hint of a record's address.
pub fn query_of(r: &geodata::InitiativeRecord) -> (Query, CommuneHint) {
    let q = [
        r.address.as_deref(),
        r.postcode.as_deref(),
        r.commune.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    (
        Query {
            q: if q.is_empty() { r.name.clone() } else { q },
            postcode: r.postcode.clone(),
            citycode: r.insee_code.clone(),
        },
        CommuneHint {
            insee: r.insee_code.clone(),
            postcode: r.postcode.clone(),
            commune: r.commune.clone(),
        },
    )
}

/// What finds a row's commune when the address cannot be placed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommuneHint {
    pub insee: Option<String>,
    pub postcode: Option<String>,
    pub commune: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A geocoder that answers every request with `body` (HTTP 200, CSV).
    fn answering(body: &'static str) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut request = [0u8; 65536];
                let _ = stream.read(&mut request);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        url
    }

    fn queries(n: usize) -> Vec<Query> {
        (0..n)
            .map(|i| Query {
                q: format!("{i} rue de la Paix Paris"),
                postcode: None,
                citycode: None,
            })
            .collect()
    }

    #[test]
    fn a_truncated_batch_answer_is_an_error_not_missing_rows() {
        // Two rows sent, one came back.
        let url = answering(
            "\u{feff}ess_row,q,postcode,citycode,latitude,longitude,result_label,result_score,result_type\n\
             0,0 rue de la Paix Paris,,,48.869,2.331,0 Rue de la Paix 75002 Paris,0.9,housenumber\n",
        );
        let addok = Addok::new(&url, Duration::from_secs(2));
        let err = addok.batch(&queries(2), |_| {}).unwrap_err();
        assert!(
            err.to_string().contains("1 of 2 rows did not come back"),
            "{err}"
        );
    }

    #[test]
    fn a_complete_batch_answer_keeps_row_order_score_and_precision() {
        let url = answering(
            "ess_row,q,postcode,citycode,latitude,longitude,result_label,result_score,result_type\n\
             1,1 rue de la Paix Paris,,,,,,,\n\
             0,0 rue de la Paix Paris,,,48.869,2.331,0 Rue de la Paix 75002 Paris,0.91,street\n",
        );
        let addok = Addok::new(&url, Duration::from_secs(2));
        let hits = addok.batch(&queries(2), |_| {}).unwrap();
        let first = hits[0].as_ref().unwrap();
        assert_eq!(
            (first.lon, first.lat, first.score, first.precision),
            (2.331, 48.869, 0.91, Precision::Street)
        );
        assert_eq!(hits[1], None);
    }
}
