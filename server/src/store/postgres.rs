//! The shared store: PostgreSQL with PostGIS, for several replicas on one
//! database. Same schema as SQLite's, migration by migration, plus a
//! `geometry(Point, 4326)` column with a GiST index so that a planner can
//! open the store itself in QGIS.
//!
//! Writes are serialised by a transaction-level advisory lock taken first
//! (what SQLite's `IMMEDIATE` does); each commit announces itself on the
//! [`CHANNEL`] (`LISTEN/NOTIFY`, payload: the revision and ids) so that the other
//! replicas apply it at once; the `revision` table stays the truth for a
//! replica that missed notifications. A lost connection is opened again on
//! the next call; while the database cannot be reached, calls fail with
//! [`StoreUnavailable`] (writes answer 503) and reads are served from what
//! the replica holds.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use geodata::InitiativeRecord;
use postgres::{Client, GenericClient, NoTls, Transaction};

use super::{
    Account, AccountChange, HistoryAction, HistoryEntry, NewAccount, NewSession, NewTicket, Role,
    StoredInitiative, TicketPurpose,
};
use super::{Duplicate, ImportRun, NewProposal, Proposal, ProposalDecision};

/// The notification channel of committed writes.
pub const CHANNEL: &str = "ess_map_changes";

/// The advisory lock key every write takes ("ess-map" in ASCII).
const WRITE_LOCK: i64 = 0x0065_7373_2d6d_6170;

/// The schema, one migration per version, in step with SQLite's.
const MIGRATIONS: &[&str] = &[
    "CREATE EXTENSION IF NOT EXISTS postgis;
    CREATE TABLE initiative (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        key TEXT,
        record JSONB NOT NULL,
        geocoder TEXT,
        geocode_score DOUBLE PRECISION,
        deleted_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        geom geometry(Point, 4326)
    );
    CREATE UNIQUE INDEX initiative_source_key ON initiative(source, key);
    CREATE INDEX initiative_geom ON initiative USING GIST (geom);
    CREATE TABLE history (
        seq BIGSERIAL PRIMARY KEY,
        initiative_id TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'import')),
        before JSONB,
        after JSONB
    );
    CREATE INDEX history_initiative ON history(initiative_id, seq);
    CREATE TABLE token (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('editor', 'admin')),
        sha256 TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE revision (n BIGINT NOT NULL);
    INSERT INTO revision VALUES (0);",
    "CREATE TABLE change (revision BIGINT NOT NULL, initiative_id TEXT NOT NULL);
    CREATE INDEX change_revision ON change(revision);
    INSERT INTO change SELECT (SELECT n FROM revision), id FROM initiative;",
    "CREATE TABLE import_report (
        id BIGSERIAL PRIMARY KEY,
        source TEXT NOT NULL,
        at TEXT NOT NULL,
        csv TEXT NOT NULL
    );",
    "CREATE TABLE account (
        id BIGSERIAL PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        name TEXT,
        role TEXT NOT NULL CHECK (role IN ('contributor', 'editor', 'moderator', 'admin')),
        departements TEXT NOT NULL DEFAULT '',
        password_hash TEXT,
        disabled_at TEXT,
        created_at TEXT NOT NULL
    );
    CREATE TABLE session (
        sha256 TEXT PRIMARY KEY,
        account_id BIGINT NOT NULL REFERENCES account(id),
        csrf TEXT NOT NULL,
        expires BIGINT NOT NULL
    );
    CREATE INDEX session_account ON session(account_id);
    CREATE TABLE ticket (
        sha256 TEXT PRIMARY KEY,
        account_id BIGINT NOT NULL REFERENCES account(id),
        purpose TEXT NOT NULL CHECK (purpose IN ('invitation', 'reset')),
        expires BIGINT NOT NULL
    );
    ALTER TABLE token DROP CONSTRAINT token_role_check;
    ALTER TABLE token ADD CONSTRAINT token_role_check
        CHECK (role IN ('contributor', 'editor', 'moderator', 'admin'));",
    "CREATE TABLE verification (
        initiative_id TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL
    );",
    // Which store this is (see the SQLite store's v6).
    "CREATE TABLE store_identity (id TEXT NOT NULL);
    INSERT INTO store_identity VALUES (md5(random()::text || clock_timestamp()::text));",
    // Near-matches, proposals, merged records (see the SQLite store's v7).
    "CREATE TABLE duplicate (
        id BIGSERIAL PRIMARY KEY,
        a TEXT NOT NULL,
        b TEXT NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        distance_m DOUBLE PRECISION NOT NULL,
        found_at TEXT NOT NULL,
        decision TEXT CHECK (decision IN ('merged', 'distinct')),
        decided_by TEXT,
        decided_at TEXT,
        UNIQUE (a, b)
    );
    CREATE TABLE proposal (
        id BIGSERIAL PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('initiative', 'report')),
        initiative_id TEXT,
        record JSONB,
        message TEXT,
        email TEXT,
        departement TEXT,
        category TEXT,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'accepted', 'rejected', 'merged')),
        reason TEXT,
        decided_by TEXT,
        decided_at TEXT
    );
    CREATE INDEX proposal_status ON proposal(status, id);
    CREATE INDEX initiative_merged_into ON initiative((record->>'merged_into'));",
    // The runs of scheduled imports (see the SQLite store's v8).
    "CREATE TABLE import_run (
        id BIGSERIAL PRIMARY KEY,
        source TEXT NOT NULL,
        url TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('imported', 'failed')),
        summary JSONB,
        report_id BIGINT,
        error TEXT
    );
    CREATE INDEX import_run_source ON import_run(source, id);",
];

/// The database cannot be reached: try again later.
#[derive(Debug, thiserror::Error)]
#[error("the store's database cannot be reached ({0})")]
pub struct StoreUnavailable(pub String);

/// A connection URL without its password, for logs.
pub fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

pub struct PgStore {
    url: String,
    client: Mutex<Option<Client>>,
    reachable: AtomicBool,
}

/// UTC, RFC 3339, to the second, as SQLite's `strftime` writes it.
const NOW: &str = "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";

impl PgStore {
    /// Connects and migrates (two replicas starting at once migrate one
    /// after the other, under an advisory lock).
    pub fn open(url: &str) -> anyhow::Result<PgStore> {
        let store = PgStore {
            url: url.to_string(),
            client: Mutex::new(None),
            reachable: AtomicBool::new(false),
        };
        store
            .with(|client| {
                let mut tx = client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&(WRITE_LOCK + 1)])?;
                tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (v INTEGER NOT NULL)")?;
                let version: i64 = tx
                    .query_one("SELECT count(*) FROM schema_version", &[])?
                    .get(0);
                for (v, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                    tx.batch_execute(sql).with_context(|| {
                        format!("store migration {} (PostGIS is needed)", v + 1)
                    })?;
                    tx.execute("INSERT INTO schema_version VALUES ($1)", &[&(v as i32 + 1)])?;
                }
                tx.commit()?;
                Ok(())
            })
            .with_context(|| format!("cannot open the store {}", without_password(url)))?;
        Ok(store)
    }

    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// Runs `work` on the connection, opening it (again) first if needed.
    /// A connection error marks the store unreachable and drops the
    /// connection, to be opened again on the next call.
    fn with<T>(&self, work: impl FnOnce(&mut Client) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let mut held = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if held.as_ref().is_none_or(Client::is_closed) {
            match Client::connect(&self.url, NoTls) {
                Ok(c) => *held = Some(c),
                Err(e) => {
                    self.reachable.store(false, Ordering::Relaxed);
                    return Err(StoreUnavailable(e.to_string()).into());
                }
            }
        }
        let client = held.as_mut().expect("connected above");
        match work(client) {
            Ok(out) => {
                self.reachable.store(true, Ordering::Relaxed);
                Ok(out)
            }
            Err(e) => {
                if client.is_closed() || is_connection_error(&e) {
                    *held = None;
                    self.reachable.store(false, Ordering::Relaxed);
                    return Err(StoreUnavailable(format!("{e:#}")).into());
                }
                Err(e)
            }
        }
    }

    #[cfg(test)]
    pub fn revision(&self) -> anyhow::Result<i64> {
        self.with(|c| Ok(c.query_one("SELECT n FROM revision", &[])?.get(0)))
    }

    /// This store's own random id, made when it was created.
    pub fn identity(&self) -> anyhow::Result<String> {
        self.with(|c| Ok(c.query_one("SELECT id FROM store_identity", &[])?.get(0)))
    }

    pub fn all(&self) -> anyhow::Result<(i64, Vec<StoredInitiative>)> {
        self.with(|c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .start()?;
            let now: i64 = tx.query_one("SELECT n FROM revision", &[])?.get(0);
            let all = select(&mut tx, "", &[])?;
            tx.commit()?;
            Ok((now, all))
        })
    }

    pub fn changes_since(&self, revision: i64) -> anyhow::Result<(i64, Vec<StoredInitiative>)> {
        self.with(|c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .start()?;
            let now: i64 = tx.query_one("SELECT n FROM revision", &[])?.get(0);
            if now == revision {
                return Ok((now, Vec::new()));
            }
            let changed = select(
                &mut tx,
                "WHERE id IN (SELECT initiative_id FROM change WHERE revision > $1)",
                &[&revision],
            )?;
            tx.commit()?;
            Ok((now, changed))
        })
    }

    pub fn get(&self, id: &str) -> anyhow::Result<Option<StoredInitiative>> {
        self.with(|c| Ok(select(c, "WHERE id = $1", &[&id])?.into_iter().next()))
    }

    pub fn of_source(&self, source: &str) -> anyhow::Result<Vec<StoredInitiative>> {
        self.with(|c| select(c, "WHERE source = $1", &[&source]))
    }

    pub fn write<T>(
        &mut self,
        work: impl FnOnce(&mut super::Writer<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, i64)> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let now: String = tx.query_one(&format!("SELECT {NOW}"), &[])?.get(0);
            let mut writer = super::Writer::Postgres(PgWriter {
                tx,
                now,
                last_number: Default::default(),
                changed: BTreeSet::new(),
            });
            let out = work(&mut writer)?;
            let super::Writer::Postgres(PgWriter {
                mut tx, changed, ..
            }) = writer
            else {
                unreachable!("made above")
            };
            let revision: i64 = tx
                .query_one("UPDATE revision SET n = n + 1 RETURNING n", &[])?
                .get(0);
            let ids: Vec<&str> = changed.iter().map(String::as_str).collect();
            tx.execute(
                "INSERT INTO change (revision, initiative_id) SELECT $1, unnest($2::text[])",
                &[&revision, &ids],
            )?;
            // Delivered to the listening replicas when (and if) this commits:
            // `revision:id,id,…`, the ids left out past NOTIFY's 8,000 bytes
            // (replicas read them from `change` anyway).
            let mut payload = format!("{revision}:{}", ids.join(","));
            if payload.len() > 7_900 {
                payload = format!("{revision}:");
            }
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])?;
            tx.commit()?;
            Ok((out, revision))
        })
    }

    pub fn history(&self, id: &str) -> anyhow::Result<Vec<HistoryEntry>> {
        self.with(|c| {
            let rows = c.query(
                "SELECT at, actor, action, before, after FROM history WHERE initiative_id = $1 ORDER BY seq",
                &[&id],
            )?;
            let record = |v: Option<serde_json::Value>| -> anyhow::Result<Option<InitiativeRecord>> {
                v.map(serde_json::from_value).transpose().map_err(Into::into)
            };
            rows.iter()
                .map(|r| {
                    Ok(HistoryEntry {
                        at: r.get(0),
                        actor: r.get(1),
                        action: HistoryAction::from_name(r.get(2))?,
                        before: record(r.get(3))?,
                        after: record(r.get(4))?,
                    })
                })
                .collect()
        })
    }

    pub fn insert_account(&mut self, new: &NewAccount) -> anyhow::Result<i64> {
        self.with(|c| {
            let row = c
                .query_one(
                    &format!(
                        "INSERT INTO account (email, name, role, departements, created_at)
                         VALUES ($1, $2, $3, $4, {NOW}) RETURNING id"
                    ),
                    &[
                        &new.email,
                        &new.name,
                        &new.role.as_str(),
                        &new.departements.join(","),
                    ],
                )
                .with_context(|| format!("an account for {} exists already", new.email))?;
            Ok(row.get(0))
        })
    }

    pub fn accounts(&self) -> anyhow::Result<Vec<Account>> {
        self.with(|c| {
            c.query(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM account ORDER BY email"),
                &[],
            )?
            .iter()
            .map(account_row)
            .collect()
        })
    }

    pub fn account_by_email(&self, email: &str) -> anyhow::Result<Option<Account>> {
        self.with(|c| {
            c.query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE email = $1"),
                &[&email],
            )?
            .as_ref()
            .map(account_row)
            .transpose()
        })
    }

    pub fn update_account(&mut self, id: i64, change: &AccountChange) -> anyhow::Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let end_sessions = |tx: &mut postgres::Transaction<'_>| -> anyhow::Result<()> {
                tx.execute("DELETE FROM session WHERE account_id = $1", &[&id])?;
                tx.execute("DELETE FROM ticket WHERE account_id = $1", &[&id])?;
                Ok(())
            };
            match change {
                AccountChange::Password(hash) => {
                    tx.execute(
                        "UPDATE account SET password_hash = $2 WHERE id = $1",
                        &[&id, hash],
                    )?;
                    end_sessions(&mut tx)?;
                }
                AccountChange::Role(role, departements) => {
                    tx.execute(
                        "UPDATE account SET role = $2, departements = $3 WHERE id = $1",
                        &[&id, &role.as_str(), &departements.join(",")],
                    )?;
                }
                AccountChange::Disabled(disabled) => {
                    tx.execute(
                        &format!(
                            "UPDATE account SET disabled_at = CASE WHEN $2 THEN {NOW} END WHERE id = $1"
                        ),
                        &[&id, disabled],
                    )?;
                    end_sessions(&mut tx)?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    pub fn insert_session(&mut self, session: &NewSession<'_>) -> anyhow::Result<()> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("DELETE FROM session WHERE expires <= $1", &[&session.now])?;
            tx.execute(
                "INSERT INTO session (sha256, account_id, csrf, expires) VALUES ($1, $2, $3, $4)",
                &[
                    &session.sha256,
                    &session.account_id,
                    &session.csrf,
                    &session.expires,
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    pub fn session(&self, sha256: &str, now: i64) -> anyhow::Result<Option<(Account, String)>> {
        let columns = ACCOUNT_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        self.with(|c| {
            c.query_opt(
                &format!(
                    "SELECT {columns}, s.csrf FROM session s JOIN account a ON a.id = s.account_id
                     WHERE s.sha256 = $1 AND s.expires > $2 AND a.disabled_at IS NULL"
                ),
                &[&sha256, &now],
            )?
            .map(|r| Ok((account_row(&r)?, r.get(8))))
            .transpose()
        })
    }

    pub fn delete_session(&mut self, sha256: &str) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM session WHERE sha256 = $1", &[&sha256])?;
            Ok(())
        })
    }

    pub fn insert_ticket(&mut self, ticket: &NewTicket<'_>) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO ticket (sha256, account_id, purpose, expires) VALUES ($1, $2, $3, $4)",
                &[
                    &ticket.sha256,
                    &ticket.account_id,
                    &ticket.purpose.as_str(),
                    &ticket.expires,
                ],
            )?;
            Ok(())
        })
    }

    pub fn take_ticket(
        &mut self,
        sha256: &str,
        purpose: TicketPurpose,
        now: i64,
    ) -> anyhow::Result<Option<Account>> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            let account = tx
                .query_opt(
                    "DELETE FROM ticket WHERE sha256 = $1 AND purpose = $2 RETURNING account_id, expires",
                    &[&sha256, &purpose.as_str()],
                )?
                .filter(|r| r.get::<_, i64>(1) > now)
                .map(|r| r.get::<_, i64>(0));
            let found = match account {
                Some(id) => tx
                    .query_opt(
                        &format!(
                            "SELECT {ACCOUNT_COLUMNS} FROM account WHERE id = $1 AND disabled_at IS NULL"
                        ),
                        &[&id],
                    )?
                    .as_ref()
                    .map(account_row)
                    .transpose()?,
                None => None,
            };
            tx.commit()?;
            Ok(found)
        })
    }

    pub fn mark_verified(&mut self, id: &str, actor: &str) -> anyhow::Result<String> {
        self.with(|c| {
            Ok(c.query_one(
                &format!(
                    "INSERT INTO verification (initiative_id, at, actor) VALUES ($1, {NOW}, $2)
                     ON CONFLICT (initiative_id) DO UPDATE SET at = excluded.at, actor = excluded.actor RETURNING at"
                ),
                &[&id, &actor],
            )?
            .get(0))
        })
    }

    pub fn verified_at(&self, id: &str) -> anyhow::Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT at FROM verification WHERE initiative_id = $1",
                &[&id],
            )?
            .map(|r| r.get(0)))
        })
    }

    pub fn recent_history(&self, limit: i64) -> anyhow::Result<Vec<(String, HistoryEntry)>> {
        self.with(|c| {
            let rows = c.query(
                "SELECT initiative_id, at, actor, action, before, after FROM history ORDER BY seq DESC LIMIT $1",
                &[&limit],
            )?;
            rows.iter()
                .map(|r| {
                    let text = |v: Option<serde_json::Value>| v.map(|v| v.to_string());
                    Ok((
                        r.get(0),
                        super::history_entry(
                            r.get(1),
                            r.get(2),
                            r.get(3),
                            text(r.get(4)),
                            text(r.get(5)),
                        )?,
                    ))
                })
                .collect()
        })
    }

    pub fn insert_token(&mut self, name: &str, role: Role, sha256: &str) -> anyhow::Result<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO token (name, role, sha256, created_at) VALUES ($1, $2, $3, {NOW})"
                ),
                &[&name, &role.as_str(), &sha256],
            )
            .with_context(|| format!("a token named `{name}` exists already"))?;
            Ok(())
        })
    }

    /// A session of its own holding an advisory lock named after the
    /// source, until dropped (closing the session releases it).
    pub fn lock_import(&self, source: &str) -> anyhow::Result<super::ImportLock> {
        let mut session =
            Client::connect(&self.url, NoTls).map_err(|e| StoreUnavailable(e.to_string()))?;
        session.execute(
            "SELECT pg_advisory_lock(hashtextextended('ess-map import ' || $1, 0))",
            &[&source],
        )?;
        Ok(super::ImportLock::Postgres {
            _held: Box::new(session),
        })
    }

    pub fn save_report(&mut self, source: &str, csv: &str) -> anyhow::Result<i64> {
        self.with(|c| {
            Ok(c.query_one(
                &format!("INSERT INTO import_report (source, at, csv) VALUES ($1, {NOW}, $2) RETURNING id"),
                &[&source, &csv],
            )?
            .get(0))
        })
    }

    pub fn report(&self, id: i64) -> anyhow::Result<Option<(String, String, String)>> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT source, at, csv FROM import_report WHERE id = $1",
                &[&id],
            )?
            .map(|r| (r.get(0), r.get(1), r.get(2))))
        })
    }

    pub fn token_by_hash(&self, sha256: &str) -> anyhow::Result<Option<(String, Role)>> {
        self.with(|c| {
            Ok(
                c.query_opt("SELECT name, role FROM token WHERE sha256 = $1", &[&sha256])?
                    .and_then(|r| {
                        let role: String = r.get(1);
                        Some((r.get(0), Role::from_name(&role)?))
                    }),
            )
        })
    }
}

const ACCOUNT_COLUMNS: &str =
    "id, email, name, role, departements, password_hash, disabled_at IS NOT NULL, created_at";

fn account_row(r: &postgres::Row) -> anyhow::Result<Account> {
    let role: String = r.get(3);
    let departements: String = r.get(4);
    Ok(Account {
        id: r.get(0),
        email: r.get(1),
        name: r.get(2),
        role: Role::from_name(&role).unwrap_or(Role::Contributor),
        departements: super::split_departements(&departements),
        password_hash: r.get(5),
        disabled: r.get(6),
        created_at: r.get(7),
    })
}

/// Whether an error says the connection, not the query, failed.
fn is_connection_error(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<postgres::Error>()
            .is_some_and(|pg| pg.is_closed() || pg.as_db_error().is_none())
    })
}

impl PgStore {
    pub fn merged_into(&self, id: &str) -> anyhow::Result<Vec<StoredInitiative>> {
        self.with(|c| select(c, "WHERE record->>'merged_into' = $1", &[&id]))
    }

    pub fn duplicates(&self, limit: i64) -> anyhow::Result<Vec<Duplicate>> {
        self.with(|c| {
            let rows = c.query(
                &format!("SELECT {DUPLICATE} FROM duplicate ORDER BY decision IS NOT NULL, id DESC LIMIT $1"),
                &[&limit],
            )?;
            Ok(rows.iter().map(duplicate_row).collect())
        })
    }

    pub fn add_proposal(&mut self, p: &NewProposal<'_>) -> anyhow::Result<i64> {
        let record = p.fields;
        self.with(|c| {
            Ok(c.query_one(
                &format!(
                    "INSERT INTO proposal (kind, initiative_id, record, message, email, departement, category, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, {NOW}) RETURNING id"
                ),
                &[&p.kind, &p.initiative, &record, &p.message, &p.email, &p.departement, &p.category],
            )?
            .get(0))
        })
    }

    pub fn proposals(&self, status: Option<&str>, limit: i64) -> anyhow::Result<Vec<Proposal>> {
        self.with(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {PROPOSAL} FROM proposal WHERE $1::text IS NULL OR status = $1 ORDER BY id DESC LIMIT $2"
                ),
                &[&status, &limit],
            )?;
            rows.iter().map(proposal_row).collect()
        })
    }
}

impl PgStore {
    pub fn add_import_run(&mut self, run: &ImportRun) -> anyhow::Result<i64> {
        self.with(|c| {
            Ok(c.query_one(
                "INSERT INTO import_run (source, url, started_at, finished_at, outcome, summary, report_id, error)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[&run.source, &run.url, &run.started_at, &run.finished_at, &run.outcome, &run.summary, &run.report_id, &run.error],
            )?
            .get(0))
        })
    }

    pub fn import_runs(&self, source: Option<&str>, limit: i64) -> anyhow::Result<Vec<ImportRun>> {
        self.with(|c| {
            let rows = c.query(
                "SELECT id, source, url, started_at, finished_at, outcome, summary, report_id, error FROM import_run
                 WHERE $1::text IS NULL OR source = $1 ORDER BY id DESC LIMIT $2",
                &[&source, &limit],
            )?;
            Ok(rows
                .iter()
                .map(|r| ImportRun {
                    id: r.get(0),
                    source: r.get(1),
                    url: r.get(2),
                    started_at: r.get(3),
                    finished_at: r.get(4),
                    outcome: r.get(5),
                    summary: r.get(6),
                    report_id: r.get(7),
                    error: r.get(8),
                })
                .collect())
        })
    }
}

const DUPLICATE: &str = "id, a, b, score, distance_m, found_at, decision, decided_by, decided_at";

fn duplicate_row(r: &postgres::Row) -> Duplicate {
    Duplicate {
        id: r.get(0),
        a: r.get(1),
        b: r.get(2),
        score: r.get(3),
        distance_m: r.get(4),
        found_at: r.get(5),
        decision: r.get(6),
        decided_by: r.get(7),
        decided_at: r.get(8),
    }
}

const PROPOSAL: &str = "id, kind, initiative_id, record, message, email, departement, category, created_at, status, reason, decided_by, decided_at";

fn proposal_row(r: &postgres::Row) -> anyhow::Result<Proposal> {
    let record: Option<serde_json::Value> = r.get(3);
    Ok(Proposal {
        id: r.get(0),
        kind: r.get(1),
        initiative: r.get(2),
        fields: record,
        message: r.get(4),
        email: r.get(5),
        departement: r.get(6),
        category: r.get(7),
        created_at: r.get(8),
        status: r.get(9),
        reason: r.get(10),
        decided_by: r.get(11),
        decided_at: r.get(12),
    })
}

fn select(
    client: &mut impl GenericClient,
    filter: &str,
    values: &[&(dyn postgres::types::ToSql + Sync)],
) -> anyhow::Result<Vec<StoredInitiative>> {
    let rows = client.query(
        &format!(
            "SELECT record, key, geocoder, geocode_score, deleted_at IS NOT NULL FROM initiative {filter} ORDER BY id"
        ),
        values,
    )?;
    rows.iter()
        .map(|r| {
            let record: serde_json::Value = r.get(0);
            Ok(StoredInitiative {
                record: serde_json::from_value(record).context("stored record")?,
                key: r.get(1),
                geocoder: r.get(2),
                geocode_score: r.get(3),
                deleted: r.get(4),
            })
        })
        .collect()
}

/// Writes inside one transaction.
pub struct PgWriter<'a> {
    tx: Transaction<'a>,
    now: String,
    last_number: std::collections::HashMap<String, i64>,
    changed: BTreeSet<String>,
}

impl PgWriter<'_> {
    pub fn get(&mut self, id: &str) -> anyhow::Result<Option<StoredInitiative>> {
        Ok(select(&mut self.tx, "WHERE id = $1", &[&id])?
            .into_iter()
            .next())
    }

    pub fn get_by_key(
        &mut self,
        source: &str,
        key: &str,
    ) -> anyhow::Result<Option<StoredInitiative>> {
        Ok(select(
            &mut self.tx,
            "WHERE source = $1 AND key = $2",
            &[&source, &key],
        )?
        .into_iter()
        .next())
    }

    pub fn put(
        &mut self,
        stored: &StoredInitiative,
        actor: &str,
        action: &str,
        before: Option<&InitiativeRecord>,
    ) -> anyhow::Result<()> {
        let record = serde_json::to_value(&stored.record)?;
        let (lon, lat) = (stored.record.lon, stored.record.lat);
        self.tx.execute(
            "INSERT INTO initiative (id, source, key, record, geocoder, geocode_score, deleted_at, created_at, updated_at, geom)
             VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN $8 END, $8, $8,
                     CASE WHEN $9::float8 IS NULL OR $10::float8 IS NULL THEN NULL
                          ELSE ST_SetSRID(ST_MakePoint($9, $10), 4326) END)
             ON CONFLICT (id) DO UPDATE SET record = excluded.record, key = excluded.key,
                 geocoder = excluded.geocoder, geocode_score = excluded.geocode_score,
                 deleted_at = excluded.deleted_at, updated_at = excluded.updated_at, geom = excluded.geom",
            &[
                &stored.record.id,
                &stored.record.source,
                &stored.key,
                &record,
                &stored.geocoder,
                &stored.geocode_score,
                &stored.deleted,
                &self.now,
                &lon,
                &lat,
            ],
        )?;
        let before = before.map(serde_json::to_value).transpose()?;
        let after = (!stored.deleted).then_some(&record);
        self.tx.execute(
            "INSERT INTO history (initiative_id, at, actor, action, before, after) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&stored.record.id, &self.now, &actor, &action, &before, &after],
        )?;
        self.changed.insert(stored.record.id.clone());
        Ok(())
    }

    pub fn queue_duplicate(
        &mut self,
        a: &str,
        b: &str,
        score: f64,
        distance_m: f64,
    ) -> anyhow::Result<()> {
        self.tx.execute(
            "INSERT INTO duplicate (a, b, score, distance_m, found_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (a, b) DO NOTHING",
            &[&a, &b, &score, &distance_m, &self.now],
        )?;
        Ok(())
    }

    pub fn duplicate(&mut self, id: i64) -> anyhow::Result<Option<Duplicate>> {
        Ok(self
            .tx
            .query_opt(
                &format!("SELECT {DUPLICATE} FROM duplicate WHERE id = $1"),
                &[&id],
            )?
            .as_ref()
            .map(duplicate_row))
    }

    pub fn decide_duplicate(&mut self, id: i64, decision: &str, by: &str) -> anyhow::Result<()> {
        self.tx.execute(
            "UPDATE duplicate SET decision = $2, decided_by = $3, decided_at = $4 WHERE id = $1",
            &[&id, &decision, &by, &self.now],
        )?;
        Ok(())
    }

    pub fn proposal(&mut self, id: i64) -> anyhow::Result<Option<Proposal>> {
        self.tx
            .query_opt(
                &format!("SELECT {PROPOSAL} FROM proposal WHERE id = $1 FOR UPDATE"),
                &[&id],
            )?
            .as_ref()
            .map(proposal_row)
            .transpose()
    }

    pub fn decide_proposal(&mut self, id: i64, d: &ProposalDecision<'_>) -> anyhow::Result<()> {
        self.tx.execute(
            "UPDATE proposal SET status = $2, reason = $3, decided_by = $4, decided_at = $5,
                 initiative_id = coalesce($6, initiative_id) WHERE id = $1",
            &[&id, &d.status, &d.reason, &d.by, &self.now, &d.initiative],
        )?;
        Ok(())
    }

    pub fn next_id(&mut self, source: &str) -> anyhow::Result<String> {
        let prefix = format!("{source}:");
        let last = match self.last_number.get(source) {
            Some(&n) => n,
            None => self
                .tx
                .query_one(
                    "SELECT MAX(CAST(substr(id, length($1) + 1) AS BIGINT)) FROM initiative WHERE starts_with(id, $1)",
                    &[&prefix],
                )?
                .get::<_, Option<i64>>(0)
                .unwrap_or(0),
        };
        self.last_number.insert(source.to_string(), last + 1);
        Ok(format!("{prefix}{}", last + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_logs() {
        assert_eq!(
            without_password("postgres://ess:secret@db.example.org:5432/essmap"),
            "postgres://ess:***@db.example.org:5432/essmap"
        );
        assert_eq!(
            without_password("postgres://ess@127.0.0.1/essmap"),
            "postgres://ess@127.0.0.1/essmap"
        );
    }
}
