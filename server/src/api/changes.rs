//! « Dernières modifications »: what was added, corrected or removed, when,
//! and by which source or role — never by whom (`GET /api/changes`, and the
//! same as an Atom feed for a network's newsletter, `/api/changes.atom`),
//! optionally for one département.
//!
//! Read from the store's history, the latest [`HISTORY_READ`] changes: an
//! import's rows come as one entry (its source, how many initiatives).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use geodata::{Initiative, InitiativeRecord, Location};
use serde::Serialize;
use serde_json::json;

use super::params::Params;
use super::{ApiError, AppState};
use crate::store::{Account, HistoryAction};

/// How many of the latest changes are read.
pub const HISTORY_READ: i64 = 2_000;
/// Default and largest number of entries answered.
const DEFAULT_CHANGES: usize = 50;
const MAX_CHANGES: usize = 200;

/// One entry of the list.
#[derive(Debug, Serialize)]
pub struct Change {
    pub at: String,
    /// `ajout`, `correction`, `retrait` or `import`.
    pub kind: &'static str,
    /// The initiative (for an import: the last one of its rows read).
    pub initiative: String,
    pub name: String,
    pub category: String,
    pub commune: Option<String>,
    pub departement: Option<String>,
    /// A source (`import « siae »`) or a role (`éditeur`), never a person.
    pub by: String,
    /// How many initiatives (an import's rows; 1 otherwise).
    pub count: usize,
    #[serde(skip)]
    position: Option<(f64, f64)>,
}

/// The role an actor of the history had, as the public may read it.
fn by_whom(
    actor: &str,
    action: HistoryAction,
    record: &InitiativeRecord,
    accounts: &[Account],
) -> String {
    if action == HistoryAction::Import {
        return format!("import « {} »", record.source);
    }
    if actor.starts_with("cli:") {
        return "administrateur (ligne de commande)".into();
    }
    match accounts.iter().find(|a| a.email == actor) {
        Some(a) => a.role.french().into(),
        None => "script (jeton d'écriture)".into(),
    }
}

fn read_changes(
    state: &AppState,
    departement: Option<&str>,
    limit: usize,
) -> anyhow::Result<Vec<Change>> {
    let (history, accounts) = state
        .live
        .read(|s| Ok((s.recent_history(HISTORY_READ)?, s.accounts()?)))?;
    let mut out: Vec<Change> = Vec::new();
    for (id, entry) in history {
        let Some(record) = entry.after.as_ref().or(entry.before.as_ref()) else {
            continue;
        };
        let placed = Initiative::new(record.clone(), Location::OUTSIDE);
        let dep = placed.departement().map(str::to_string);
        if departement.is_some() && dep.as_deref() != departement {
            continue;
        }
        let kind = match entry.action {
            HistoryAction::Create => "ajout",
            HistoryAction::Update => "correction",
            HistoryAction::Delete => "retrait",
            HistoryAction::Import => "import",
        };
        let by = by_whom(&entry.actor, entry.action, record, &accounts);
        // One import run: its rows share a time and a source.
        if let Some(last) = out.last_mut()
            && kind == "import"
            && last.kind == "import"
            && last.at == entry.at
            && last.by == by
        {
            last.count += 1;
            continue;
        }
        if out.len() == limit {
            break;
        }
        out.push(Change {
            at: entry.at,
            kind,
            initiative: id,
            name: record.name.clone(),
            category: record.category.clone(),
            commune: record.commune.clone(),
            departement: dep,
            by,
            count: 1,
            position: record.lon.zip(record.lat),
        });
    }
    Ok(out)
}

async fn changes(
    state: &AppState,
    raw: HashMap<String, String>,
) -> Result<(Vec<Change>, Option<String>), ApiError> {
    let params = Params::new(raw, &["departement", "limit"])?;
    let departement = params.departement(&state.data())?;
    let limit = params
        .number("limit", Some(DEFAULT_CHANGES), 1, MAX_CHANGES)?
        .unwrap_or(DEFAULT_CHANGES);
    let (st, dep) = (state.clone(), departement.clone());
    let list = tokio::task::spawn_blocking(move || read_changes(&st, dep.as_deref(), limit))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok((list, departement))
}

/// `GET /api/changes?departement=&limit=`: the latest changes, newest first.
pub async fn json(
    State(state): State<AppState>,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (list, departement) = changes(&state, raw).await?;
    Ok(axum::Json(json!({ "departement": departement, "changes": list })).into_response())
}

fn xml(text: &str) -> std::borrow::Cow<'_, str> {
    quick_xml::escape::escape(text)
}

/// `GET /api/changes.atom?departement=`: the same, as an Atom 1.0 feed.
pub async fn atom(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(raw): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (list, departement) = changes(&state, raw).await?;
    let (base, _) = state.edge.public_url.base(&headers)?;
    let data = state.data();
    let taxonomy = data.taxonomy();
    let scope = departement
        .as_deref()
        .map(|d| {
            let name = data.territory().departement_name(d).unwrap_or(d);
            format!(" — {name} ({d})")
        })
        .unwrap_or_default();
    let query = departement
        .as_deref()
        .map(|d| format!("?departement={d}"))
        .unwrap_or_default();
    let updated = list
        .first()
        .map_or_else(|| "1970-01-01T00:00:00Z".to_string(), |c| c.at.clone());
    let mut feed = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">
<title>Dernières modifications — ESS et quartiers prioritaires{scope}</title>
<id>{base}/api/changes.atom{query}</id>
<link rel="self" type="application/atom+xml" href="{base}/api/changes.atom{query_xml}"/>
<link rel="alternate" type="text/html" href="{base}/"/>
<updated>{updated}</updated>
<author><name>ess-map</name></author>
"#,
        scope = xml(&scope),
        query_xml = xml(&query),
    );
    for c in &list {
        let kind = match c.kind {
            "ajout" => "Ajout",
            "correction" => "Correction",
            "retrait" => "Retrait",
            _ => "Import",
        };
        let title = if c.count > 1 {
            format!("{kind} : {} initiatives ({})", c.count, c.by)
        } else {
            let place = c
                .commune
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            format!("{kind} : {}{place}", c.name)
        };
        let category = taxonomy
            .get(&c.category)
            .map_or(c.category.as_str(), |t| t.label.as_str());
        let link = match c.position {
            Some((lon, lat)) if c.kind != "retrait" => {
                format!("{base}/?lon={lon:.5}&lat={lat:.5}&z=16")
            }
            _ => format!("{base}/"),
        };
        feed.push_str(&format!(
            "<entry>\n<id>{base}/api/changes/{id}/{at}/{kind_id}</id>\n<title>{title}</title>\n<updated>{at}</updated>\n<link rel=\"alternate\" type=\"text/html\" href=\"{link}\"/>\n<category term=\"{term}\" label=\"{label}\"/>\n<summary>{summary}</summary>\n</entry>\n",
            id = xml(&c.initiative),
            at = c.at,
            kind_id = c.kind,
            title = xml(&title),
            link = xml(&link),
            term = xml(&c.category),
            label = xml(category),
            summary = xml(&format!("{kind} — {category} — par {}", c.by)),
        ));
    }
    feed.push_str("</feed>\n");
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/atom+xml; charset=utf-8"),
        )],
        feed,
    )
        .into_response())
}
