//! What the public proposes and the moderators decide: proposals of new
//! initiatives and reports of errors (`/api/proposals`), and the
//! near-matches between sources (`/api/duplicates`). A proposal is public
//! only once accepted; its proposer, if they left an address, is told of
//! the decision by e-mail.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::json::Json;
use super::params::Params;
use super::session::Principal;
use super::{ApiError, AppState, Client};
use crate::edit::{self, Creation, InitiativePatch};
use crate::store::{NewProposal, Proposal, ProposalDecision, Role};

/// Proposals a client may send in an hour (half as many per e-mail address).
pub const PROPOSALS_PER_HOUR: u32 = 10;
/// Source of the initiatives made from accepted proposals.
pub const PROPOSAL_SOURCE: &str = "proposition";
/// A field people never see in the form; what fills it is a robot.
pub const HONEYPOT: &str = "site_web_bis";
const MAX_MESSAGE: usize = 2_000;
const MAX_REASON: usize = 500;
const LISTED: i64 = 500;

fn text_field(
    body: &mut Map<String, Value>,
    key: &str,
    max: usize,
) -> Result<Option<String>, ApiError> {
    match body.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim().to_string();
            if s.chars().count() > max {
                return Err(ApiError::field(key, format!("at most {max} characters")));
            }
            if s.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                return Err(ApiError::field(key, "control characters are not allowed"));
            }
            Ok((!s.is_empty()).then_some(s))
        }
        Some(_) => Err(ApiError::field(key, "a string is expected")),
    }
}

/// A body that may be empty, else a JSON object.
fn optional_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(ApiError::field("body", "a JSON object is expected")),
        Err(e) => Err(ApiError::field("body", format!("not JSON: {e}"))),
    }
}

/// `POST /api/proposals` (public): a new initiative (its fields as
/// `POST /api/initiatives` takes them) or an error report
/// (`{"initiative": ID, "message": …}`), with an optional `email` for the
/// answer. 202 with the proposal's id; nothing is shown until accepted.
pub async fn propose(
    State(state): State<AppState>,
    Client(client): Client,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::field("body", "a JSON object is expected"));
    };
    let email = text_field(&mut body, "email", 254)?
        .map(|e| crate::accounts::normalise_email(&e))
        .transpose()
        .map_err(|e| ApiError::field("email", e.to_string()))?;
    state
        .proposal_limits
        .attempt(client, email.as_deref())
        .map_err(|retry_after_s| ApiError::TooManyRequests {
            message: format!("trop de propositions : réessayez dans {retry_after_s} s"),
            retry_after_s,
        })?;
    let trap = text_field(&mut body, HONEYPOT, 10_000)?;
    let message = text_field(&mut body, "message", MAX_MESSAGE)?;
    let report = text_field(&mut body, "initiative", 200)?;
    let live = state.live.clone();
    let data = state.data();
    let new = match &report {
        Some(id) => {
            let Some(x) = data.initiative(id) else {
                return Err(ApiError::NotFound(format!("no initiative with id `{id}`")));
            };
            if message.is_none() {
                return Err(ApiError::field("message", "say what is wrong (required)"));
            }
            if let Some(k) = body.keys().next() {
                return Err(ApiError::field(
                    k,
                    "an error report takes initiative, message and email",
                ));
            }
            (
                "report",
                None,
                x.departement().map(str::to_string),
                Some(x.category.to_string()),
            )
        }
        None => {
            let fields = Value::Object(body);
            let patch = InitiativePatch::from_json(fields.clone())?;
            let record = edit::check_new(&live, &patch, PROPOSAL_SOURCE)?;
            let placed = geodata::Initiative::new(record, geodata::Location::OUTSIDE);
            (
                "initiative",
                Some(fields),
                placed.departement().map(str::to_string),
                Some(placed.category.to_string()),
            )
        }
    };
    drop(data);
    if let Some(trap) = trap {
        // Answered as any proposal, so that a robot learns nothing.
        tracing::info!(
            "proposal from {client} dropped: the hidden field was filled ({} characters)",
            trap.len()
        );
        return Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({ "id": 0, "status": "pending" })),
        )
            .into_response());
    }
    let (kind, fields, departement, category) = new;
    let id = tokio::task::spawn_blocking(move || {
        live.store()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add_proposal(&NewProposal {
                kind,
                initiative: report.as_deref(),
                fields: fields.as_ref(),
                message: message.as_deref(),
                email: email.as_deref(),
                departement: departement.as_deref(),
                category: category.as_deref(),
            })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "id": id,
            "status": "pending",
            "message": "merci : votre proposition sera relue par un modérateur avant d'être publiée",
        })),
    )
        .into_response())
}

fn proposal_json(p: &Proposal) -> Value {
    let mut v = serde_json::to_value(p).expect("serialisable");
    v["follow_up"] = json!(p.email.is_some());
    v
}

/// `GET /api/proposals?statut=&departement=&categorie=&depuis_jours=`
/// (moderator): the proposals, newest first; pending ones by default.
pub async fn list(
    State(state): State<AppState>,
    who: Principal,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    who.require(Role::Moderator)?;
    let params = Params::new(raw, &["statut", "departement", "categorie", "depuis_jours"])?;
    let status = match params.text("statut").unwrap_or("pending") {
        "all" | "tous" => None,
        s @ ("pending" | "accepted" | "rejected" | "merged") => Some(s.to_string()),
        other => {
            return Err(ApiError::field(
                "statut",
                format!("`{other}`: pending, accepted, rejected, merged or all"),
            ));
        }
    };
    let departement = params.departement(&state.data())?;
    let category = params.text("categorie").map(str::to_string);
    let days = params.number("depuis_jours", None, 1, 3650)?;
    let since = days.map(|d| {
        let now = time::OffsetDateTime::now_utc() - time::Duration::days(d as i64);
        format!(
            "{:04}-{:02}-{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        )
    });
    let live = state.live.clone();
    let all =
        tokio::task::spawn_blocking(move || live.read(|s| s.proposals(status.as_deref(), LISTED)))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    let shown: Vec<Value> = all
        .iter()
        .filter(|p| departement.is_none() || p.departement == departement)
        .filter(|p| category.is_none() || p.category == category)
        .filter(|p| since.as_deref().is_none_or(|s| p.created_at.as_str() >= s))
        .map(proposal_json)
        .collect();
    Ok(axum::Json(json!({ "proposals": shown })).into_response())
}

/// Tells the proposer, if they left an address (after the decision is
/// written; a relay that fails is logged, the decision stands).
fn tell(state: &AppState, p: &Proposal, decision: &str, reason: Option<&str>) {
    let (Some(mailer), Some(to)) = (state.mailer.clone(), p.email.clone()) else {
        return;
    };
    let what = if p.kind == "report" {
        "votre signalement d'erreur"
    } else {
        "votre proposition d'initiative"
    };
    let mut body = format!(
        "Bonjour,\n\n{what} (n° {}) a été {decision} par l'équipe de modération.\n",
        p.id
    );
    if let Some(reason) = reason {
        body.push_str(&format!("\nMotif : {reason}\n"));
    }
    body.push_str("\nMerci de votre contribution.\n");
    let subject = format!("ess-map : {what} n° {}", p.id);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = mailer.send(&to, &subject, body) {
            tracing::warn!("{e:#}");
        }
    });
}

fn pending(live: &crate::live::Live, id: i64) -> Result<Proposal, ApiError> {
    let p = live
        .read(|s| {
            Ok(s.proposals(None, i64::MAX)?
                .into_iter()
                .find(|p| p.id == id))
        })
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::NotFound(format!("no proposal {id}")))?;
    if p.status != "pending" {
        return Err(ApiError::Conflict(format!(
            "proposal {id} was already decided ({})",
            p.status
        )));
    }
    Ok(p)
}

/// `POST /api/proposals/{id}/accept` (moderator), optional body:
/// `{"edits": {field: value…}}` changes fields first (of the proposed
/// initiative, or of the reported one), `{"merge_into": ID}` keeps a
/// proposed initiative as another source of an initiative already shown.
pub async fn accept(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    who.require(Role::Moderator)?;
    let mut body = optional_object(&body)?;
    let edits = match body.remove("edits") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(ApiError::field("edits", "an object of fields is expected")),
    };
    let merge_into = text_field(&mut body, "merge_into", 200)?;
    if let Some(k) = body.keys().next() {
        return Err(ApiError::field(k, "accept takes edits and merge_into"));
    }
    let (st, geocoding) = (state.clone(), state.geocoding.clone());
    let (proposal, status, initiative) =
        tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            let live = &st.live;
            let p = pending(live, id)?;
            let actor = who.actor();
            let by = who.name.clone();
            if p.kind == "report" {
                let target = p.initiative.clone().expect("a report names its initiative");
                if merge_into.is_some() {
                    return Err(ApiError::field(
                        "merge_into",
                        "only for a proposed initiative",
                    ));
                }
                if !edits.is_empty() {
                    let patch = InitiativePatch::from_json(Value::Object(edits))?;
                    edit::update(live, &geocoding, &target, &patch, None, &actor)?;
                }
                live.write(|s| {
                    s.write(|w| {
                        if w.proposal(id)?.is_none_or(|p| p.status != "pending") {
                            anyhow::bail!("proposal {id} was decided meanwhile");
                        }
                        let decision = ProposalDecision {
                            status: "accepted",
                            reason: None,
                            by: &by,
                            initiative: None,
                        };
                        w.decide_proposal(id, &decision)
                    })
                    .map(|_| ())
                })
                .map_err(|e| ApiError::Conflict(format!("{e:#}")))?;
                return Ok((p, "accepted", target));
            }
            let mut fields = match p.fields.clone() {
                Some(Value::Object(m)) => m,
                _ => {
                    return Err(ApiError::internal(anyhow::anyhow!(
                        "proposal {id} has no fields"
                    )));
                }
            };
            fields.extend(edits);
            let patch = InitiativePatch::from_json(Value::Object(fields))?;
            let status = if merge_into.is_some() {
                "merged"
            } else {
                "accepted"
            };
            let how = Creation {
                source: PROPOSAL_SOURCE,
                merge_into,
            };
            let record = edit::create(live, &geocoding, &patch, &actor, how, |w, record| {
                if w.proposal(id)?.is_none_or(|p| p.status != "pending") {
                    anyhow::bail!("proposal {id} was decided meanwhile");
                }
                w.decide_proposal(
                    id,
                    &ProposalDecision {
                        status,
                        reason: None,
                        by: &by,
                        initiative: Some(&record.id),
                    },
                )
            })?;
            Ok((p, status, record.merged_into.clone().unwrap_or(record.id)))
        })
        .await
        .map_err(ApiError::internal)??;
    let said = match status {
        "merged" => "fusionnée avec une initiative déjà sur la carte",
        _ if proposal.kind == "report" => "acceptée",
        _ => "acceptée et publiée",
    };
    tell(&state, &proposal, said, None);
    Ok(axum::Json(json!({ "id": id, "status": status, "initiative": initiative })).into_response())
}

/// `POST /api/proposals/{id}/reject` (moderator): `{"reason": …}` required,
/// told to the proposer.
pub async fn reject(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Result<Response, ApiError> {
    who.require(Role::Moderator)?;
    let Value::Object(mut body) = body else {
        return Err(ApiError::field("body", "a JSON object is expected"));
    };
    let reason = text_field(&mut body, "reason", MAX_REASON)?
        .ok_or_else(|| ApiError::field("reason", "required: it is told to the proposer"))?;
    let st = state.clone();
    let r = reason.clone();
    let proposal = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let p = pending(&st.live, id)?;
        st.live
            .write(|s| {
                s.write(|w| {
                    w.decide_proposal(
                        id,
                        &ProposalDecision {
                            status: "rejected",
                            reason: Some(&r),
                            by: &who.name,
                            initiative: None,
                        },
                    )
                })
                .map(|_| ())
            })
            .map_err(ApiError::internal)?;
        Ok(p)
    })
    .await
    .map_err(ApiError::internal)??;
    tell(&state, &proposal, "refusée", Some(&reason));
    Ok(axum::Json(json!({ "id": id, "status": "rejected", "reason": reason })).into_response())
}

/// One side of a near-match, as a moderator compares them.
fn side(state: &AppState, stored: &HashMap<String, geodata::InitiativeRecord>, id: &str) -> Value {
    let data = state.data();
    let record = match data.initiative(id) {
        Some(x) => Some(x.to_record()),
        None => stored.get(id).cloned(),
    };
    match record {
        Some(r) => json!({
            "id": id,
            "name": r.name,
            "source": r.source,
            "source_date": r.source_date,
            "siret": r.siret,
            "address": r.address,
            "commune": r.commune,
            "category": r.category,
            "lon": r.lon,
            "lat": r.lat,
            "merged_into": r.merged_into,
        }),
        None => json!({ "id": id, "gone": true }),
    }
}

/// `GET /api/duplicates?statut=pending|decided|all` (moderator): the
/// near-matches found between sources, both records side by side.
pub async fn duplicates(
    State(state): State<AppState>,
    who: Principal,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    who.require(Role::Moderator)?;
    let params = Params::new(raw, &["statut"])?;
    let wanted = params.text("statut").unwrap_or("pending").to_string();
    if !matches!(wanted.as_str(), "pending" | "decided" | "all") {
        return Err(ApiError::field("statut", "pending, decided or all"));
    }
    let live = state.live.clone();
    let (list, stored) = tokio::task::spawn_blocking(move || {
        live.read(|s| {
            let list = s.duplicates(10_000)?;
            // The merged sides are no longer shown: read from the store.
            let mut stored = HashMap::new();
            for d in list
                .iter()
                .filter(|d| d.decision.as_deref() == Some("merged"))
            {
                if let Some(r) = s.get(&d.a)? {
                    stored.insert(d.a.clone(), r.record);
                }
            }
            Ok((list, stored))
        })
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let shown: Vec<Value> = list
        .into_iter()
        .filter(|d| match wanted.as_str() {
            "pending" => d.decision.is_none(),
            "decided" => d.decision.is_some(),
            _ => true,
        })
        .take(LISTED as usize)
        .map(|d| {
            let mut v = serde_json::to_value(&d).expect("serialisable");
            v["a"] = side(&state, &stored, &d.a);
            v["b"] = side(&state, &stored, &d.b);
            v
        })
        .collect();
    Ok(axum::Json(json!({ "duplicates": shown })).into_response())
}

/// `POST /api/duplicates/{id}/merge` (moderator): one structure, shown and
/// counted as `b` (or as `a` with `{"keep": "a"}`); the other record is
/// kept with its source. `POST /api/duplicates/{id}/distinct`: two
/// structures, never proposed again.
pub async fn decide(
    State(state): State<AppState>,
    who: Principal,
    Path((id, decision)): Path<(i64, String)>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    who.require(Role::Moderator)?;
    let keep_a = match optional_object(&body)?.get("keep") {
        None | Some(Value::Null) => false,
        Some(Value::String(k)) if k == "b" => false,
        Some(Value::String(k)) if k == "a" => true,
        Some(_) => return Err(ApiError::field("keep", "`a` or `b`")),
    };
    let decision = match decision.as_str() {
        "merge" => "merged",
        "distinct" => "distinct",
        other => {
            return Err(ApiError::NotFound(format!(
                "no decision `{other}`: merge or distinct"
            )));
        }
    };
    let st = state.clone();
    let answer = tokio::task::spawn_blocking(move || -> Result<Value, ApiError> {
        let live = &st.live;
        let found = live
            .read(|s| Ok(s.duplicates(i64::MAX)?.into_iter().find(|d| d.id == id)))
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::NotFound(format!("no duplicate {id}")))?;
        if let Some(done) = &found.decision {
            return Err(ApiError::Conflict(format!(
                "duplicate {id} was already decided ({done})"
            )));
        }
        let by = who.name.clone();
        let record_decision = move |w: &mut crate::store::Writer<'_>| {
            if w.duplicate(id)?.is_none_or(|d| d.decision.is_some()) {
                anyhow::bail!("duplicate {id} was decided meanwhile");
            }
            w.decide_duplicate(id, decision, &by)
        };
        if decision == "distinct" {
            live.write(|s| s.write(record_decision).map(|_| ()))
                .map_err(|e| ApiError::Conflict(format!("{e:#}")))?;
            return Ok(json!({ "id": id, "decision": decision }));
        }
        let (hidden, shown) = if keep_a {
            (&found.b, &found.a)
        } else {
            (&found.a, &found.b)
        };
        edit::merge(live, hidden, shown, &who.actor(), record_decision)?;
        Ok(json!({ "id": id, "decision": decision, "shown": shown, "merged": hidden }))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(axum::Json(answer).into_response())
}
