//! The embedded store: SQLite in the state directory. Writes take SQLite's
//! write lock when they begin (`IMMEDIATE`), so a read-modify-write inside
//! one is atomic across processes too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use geodata::InitiativeRecord;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};

use super::{
    Account, AccountChange, HistoryAction, HistoryEntry, NewAccount, NewSession, NewTicket, Role,
    StoredInitiative, TicketPurpose,
};
use super::{Duplicate, ImportRun, NewProposal, Proposal, ProposalDecision};

/// The schema, one migration per version; never edit a released one.
const MIGRATIONS: &[M<'static>] = &[
    M::up(
        "CREATE TABLE initiative (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        -- Stable key within the source (siret:…, id:…, name:…|…); NULL for
        -- records created through the API.
        key TEXT,
        record TEXT NOT NULL,            -- InitiativeRecord as JSON
        geocoder TEXT,                   -- which geocoder placed it, with
        geocode_score REAL,              -- its score (addok) or NULL
        deleted_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX initiative_source_key ON initiative(source, key);
    CREATE TABLE history (
        seq INTEGER PRIMARY KEY,
        initiative_id TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('create', 'update', 'delete', 'import')),
        before TEXT,
        after TEXT
    );
    CREATE INDEX history_initiative ON history(initiative_id, seq);
    CREATE TABLE token (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('editor', 'admin')),
        sha256 TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE revision (n INTEGER NOT NULL);
    INSERT INTO revision VALUES (0);",
    ),
    // v2: which initiatives each revision changed, so that readers apply
    // changes instead of reloading everything.
    M::up(
        "CREATE TABLE change (revision INTEGER NOT NULL, initiative_id TEXT NOT NULL);
        CREATE INDEX change_revision ON change(revision);
        INSERT INTO change SELECT (SELECT n FROM revision), id FROM initiative;",
    ),
    // v3: import reports, readable from any process (or replica).
    M::up(
        "CREATE TABLE import_report (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            at TEXT NOT NULL,
            csv TEXT NOT NULL
        );",
    ),
    // v4: people who sign in (accounts, their sessions, their invitation
    // and reset links), tokens of every role, the history read newest first.
    M::up(
        "CREATE TABLE account (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,      -- lower case
            name TEXT,
            role TEXT NOT NULL CHECK (role IN ('contributor', 'editor', 'moderator', 'admin')),
            departements TEXT NOT NULL DEFAULT '', -- comma-separated; empty: everywhere
            password_hash TEXT,              -- Argon2id, PHC string; NULL until set
            disabled_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE TABLE session (
            sha256 TEXT PRIMARY KEY,         -- of the cookie's value
            account_id INTEGER NOT NULL REFERENCES account(id),
            csrf TEXT NOT NULL,
            expires INTEGER NOT NULL         -- Unix seconds
        );
        CREATE INDEX session_account ON session(account_id);
        CREATE TABLE ticket (
            sha256 TEXT PRIMARY KEY,         -- of the link's secret
            account_id INTEGER NOT NULL REFERENCES account(id),
            purpose TEXT NOT NULL CHECK (purpose IN ('invitation', 'reset')),
            expires INTEGER NOT NULL
        );
        CREATE TABLE token_v4 (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('contributor', 'editor', 'moderator', 'admin')),
            sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        );
        INSERT INTO token_v4 SELECT name, role, sha256, created_at FROM token;
        DROP TABLE token;
        ALTER TABLE token_v4 RENAME TO token;",
    ),
    // v5: when an editor last checked an initiative against the field.
    M::up(
        "CREATE TABLE verification (
            initiative_id TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL
        );",
    ),
    // v6: which store this is, so that what was made from one store (a
    // snapshot of the placed initiatives) is never applied to another.
    M::up(
        "CREATE TABLE store_identity (id TEXT NOT NULL);
        INSERT INTO store_identity VALUES (lower(hex(randomblob(16))));",
    ),
    // v7: near-matches across sources and what was decided of them;
    // visitors' proposals; the records merged into another, found fast.
    M::up(
        "CREATE TABLE duplicate (
            id INTEGER PRIMARY KEY,
            a TEXT NOT NULL,                 -- the record found
            b TEXT NOT NULL,                 -- the one already shown
            score REAL NOT NULL,
            distance_m REAL NOT NULL,
            found_at TEXT NOT NULL,
            decision TEXT CHECK (decision IN ('merged', 'distinct')),
            decided_by TEXT,
            decided_at TEXT,
            UNIQUE (a, b)
        );
        CREATE TABLE proposal (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('initiative', 'report')),
            initiative_id TEXT,
            record TEXT,                     -- InitiativeRecord as JSON
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
        CREATE INDEX initiative_merged_into ON initiative(json_extract(record, '$.merged_into'));",
    ),
    // v8: the runs of scheduled imports.
    M::up(
        "CREATE TABLE import_run (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            url TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('imported', 'failed')),
            summary TEXT,                    -- the import summary, JSON
            report_id INTEGER,
            error TEXT
        );
        CREATE INDEX import_run_source ON import_run(source, id);",
    ),
];

/// The database file in a state directory.
pub fn database_path(state_dir: &Path) -> PathBuf {
    state_dir.join("ess-map.sqlite")
}

pub struct SqliteStore {
    conn: Connection,
}

impl SqliteStore {
    /// Opens (creating the directory and database on first run) and migrates.
    pub fn open(state_dir: &Path) -> anyhow::Result<SqliteStore> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("cannot create state directory {}", state_dir.display()))?;
        let path = database_path(state_dir);
        let mut conn = Connection::open(&path)
            .with_context(|| format!("cannot open the store {}", path.display()))?;
        // Waiting for another process's lock first: switching a new
        // database to WAL takes one too.
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // WAL: readers (the server) never block the writer (an import); a
        // killed writer leaves the last committed state.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Two processes opening a new store at once: the second's migration
        // fails on the first's lock or tables, and succeeds (doing nothing)
        // once the first has committed.
        let migrations = Migrations::from_slice(MIGRATIONS);
        let mut attempt = 0;
        while let Err(e) = migrations.to_latest(&mut conn) {
            attempt += 1;
            if attempt == 5 {
                return Err(e)
                    .with_context(|| format!("cannot migrate the store {}", path.display()));
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        Ok(SqliteStore { conn })
    }

    /// Bumped by every committed write.
    #[cfg(test)]
    pub fn revision(&self) -> anyhow::Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT n FROM revision", [], |r| r.get(0))?)
    }

    /// This store's own random id, made when it was created.
    pub fn identity(&self) -> anyhow::Result<String> {
        Ok(self
            .conn
            .query_row("SELECT id FROM store_identity", [], |r| r.get(0))?)
    }

    /// The revision and every stored initiative, deleted ones included, as
    /// of one moment.
    pub fn all(&self) -> anyhow::Result<(i64, Vec<StoredInitiative>)> {
        let tx = self.conn.unchecked_transaction()?;
        let now: i64 = tx.query_row("SELECT n FROM revision", [], |r| r.get(0))?;
        let all = select(&tx, "", [])?;
        tx.finish()?;
        Ok((now, all))
    }

    /// The revision now and every initiative changed after `revision`
    /// (deleted ones included), by id.
    pub fn changes_since(&self, revision: i64) -> anyhow::Result<(i64, Vec<StoredInitiative>)> {
        let tx = self.conn.unchecked_transaction()?;
        let now: i64 = tx.query_row("SELECT n FROM revision", [], |r| r.get(0))?;
        if now == revision {
            return Ok((now, Vec::new()));
        }
        let changed = select(
            &tx,
            "WHERE id IN (SELECT initiative_id FROM change WHERE revision > ?1)",
            [revision],
        )?;
        tx.finish()?;
        Ok((now, changed))
    }

    pub fn get(&self, id: &str) -> anyhow::Result<Option<StoredInitiative>> {
        Ok(select(&self.conn, "WHERE id = ?1", [id])?
            .into_iter()
            .next())
    }

    /// The stored initiatives of one source.
    pub fn of_source(&self, source: &str) -> anyhow::Result<Vec<StoredInitiative>> {
        select(&self.conn, "WHERE source = ?1", [source])
    }

    /// Runs `work` in one transaction holding the write lock from its start,
    /// bumping the revision and listing the ids written; nothing is written
    /// unless it returns `Ok`. Returns what `work` did and the new revision.
    pub fn write<T>(
        &mut self,
        work: impl FnOnce(&mut super::Writer<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, i64)> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // UTC, RFC 3339, to the second.
        let now = tx.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", [], |r| {
            r.get(0)
        })?;
        let mut writer = super::Writer::Sqlite(SqliteWriter {
            tx,
            now,
            last_number: Default::default(),
            changed: BTreeSet::new(),
        });
        let out = work(&mut writer)?;
        let super::Writer::Sqlite(SqliteWriter { tx, changed, .. }) = writer else {
            unreachable!("made above")
        };
        let revision: i64 = tx.query_row("UPDATE revision SET n = n + 1 RETURNING n", [], |r| {
            r.get(0)
        })?;
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO change (revision, initiative_id) VALUES (?1, ?2)")?;
            for id in &changed {
                insert.execute(params![revision, id])?;
            }
        }
        tx.commit()?;
        Ok((out, revision))
    }

    pub fn history(&self, id: &str) -> anyhow::Result<Vec<HistoryEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT at, actor, action, before, after FROM history WHERE initiative_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
        })?;
        let record = |t: Option<String>| -> anyhow::Result<Option<InitiativeRecord>> {
            t.map(|t| serde_json::from_str(&t))
                .transpose()
                .map_err(Into::into)
        };
        rows.map(|row| {
            let (at, actor, action, before, after) = row?;
            Ok(HistoryEntry {
                at,
                actor,
                action: HistoryAction::from_name(&action)?,
                before: record(before)?,
                after: record(after)?,
            })
        })
        .collect()
    }

    /// Stores a token's hash under `name`.
    pub fn insert_token(&mut self, name: &str, role: Role, sha256: &str) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO token (name, role, sha256, created_at) VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            params![name, role.as_str(), sha256],
        )
        .with_context(|| format!("a token named `{name}` exists already"))?;
        tx.commit()?;
        Ok(())
    }

    /// A file beside the database, locked for the import's duration.
    pub fn lock_import(&self, source: &str) -> anyhow::Result<super::ImportLock> {
        let db = self.conn.path().context("the store has no file")?;
        let path = PathBuf::from(format!("{db}.import-{source}.lock"));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(super::ImportLock::File { _held: file })
    }

    /// Keeps an import's report; its number.
    pub fn save_report(&mut self, source: &str, csv: &str) -> anyhow::Result<i64> {
        Ok(self.conn.query_row(
            "INSERT INTO import_report (source, at, csv) VALUES (?1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?2) RETURNING id",
            params![source, csv],
            |r| r.get(0),
        )?)
    }

    /// An import's report: source, date, CSV.
    pub fn report(&self, id: i64) -> anyhow::Result<Option<(String, String, String)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT source, at, csv FROM import_report WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// The name and role of the token with this hash.
    pub fn token_by_hash(&self, sha256: &str) -> anyhow::Result<Option<(String, Role)>> {
        Ok(self
            .conn
            .query_row(
                "SELECT name, role FROM token WHERE sha256 = ?1",
                [sha256],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?
            .and_then(|(name, role)| Some((name, Role::from_name(&role)?))))
    }
}

const ACCOUNT_COLUMNS: &str =
    "id, email, name, role, departements, password_hash, disabled_at IS NOT NULL, created_at";

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    let role: String = r.get(3)?;
    let departements: String = r.get(4)?;
    Ok(Account {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: Role::from_name(&role).unwrap_or(Role::Contributor),
        departements: super::split_departements(&departements),
        password_hash: r.get(5)?,
        disabled: r.get(6)?,
        created_at: r.get(7)?,
    })
}

impl SqliteStore {
    pub fn insert_account(&mut self, new: &NewAccount) -> anyhow::Result<i64> {
        self.conn
            .query_row(
                "INSERT INTO account (email, name, role, departements, created_at)
                 VALUES (?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) RETURNING id",
                params![
                    new.email,
                    new.name,
                    new.role.as_str(),
                    new.departements.join(",")
                ],
                |r| r.get(0),
            )
            .with_context(|| format!("an account for {} exists already", new.email))
    }

    pub fn accounts(&self) -> anyhow::Result<Vec<Account>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM account ORDER BY email"
        ))?;
        let rows = stmt.query_map([], account_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn account_by_email(&self, email: &str) -> anyhow::Result<Option<Account>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM account WHERE email = ?1"),
                [email],
                account_row,
            )
            .optional()?)
    }

    pub fn update_account(&mut self, id: i64, change: &AccountChange) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        match change {
            AccountChange::Password(hash) => {
                tx.execute(
                    "UPDATE account SET password_hash = ?2 WHERE id = ?1",
                    params![id, hash],
                )?;
                // Every session and link of the old password ends.
                tx.execute("DELETE FROM session WHERE account_id = ?1", [id])?;
                tx.execute("DELETE FROM ticket WHERE account_id = ?1", [id])?;
            }
            AccountChange::Role(role, departements) => {
                tx.execute(
                    "UPDATE account SET role = ?2, departements = ?3 WHERE id = ?1",
                    params![id, role.as_str(), departements.join(",")],
                )?;
            }
            AccountChange::Disabled(disabled) => {
                tx.execute(
                    "UPDATE account SET disabled_at = CASE WHEN ?2 THEN strftime('%Y-%m-%dT%H:%M:%SZ', 'now') END WHERE id = ?1",
                    params![id, disabled],
                )?;
                tx.execute("DELETE FROM session WHERE account_id = ?1", [id])?;
                tx.execute("DELETE FROM ticket WHERE account_id = ?1", [id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    pub fn insert_session(&mut self, session: &NewSession<'_>) -> anyhow::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM session WHERE expires <= ?1", [session.now])?;
        tx.execute(
            "INSERT INTO session (sha256, account_id, csrf, expires) VALUES (?1, ?2, ?3, ?4)",
            params![
                session.sha256,
                session.account_id,
                session.csrf,
                session.expires
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn session(&self, sha256: &str, now: i64) -> anyhow::Result<Option<(Account, String)>> {
        let columns = ACCOUNT_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {columns}, s.csrf FROM session s JOIN account a ON a.id = s.account_id
                     WHERE s.sha256 = ?1 AND s.expires > ?2 AND a.disabled_at IS NULL"
                ),
                params![sha256, now],
                |r| Ok((account_row(r)?, r.get(8)?)),
            )
            .optional()?)
    }

    pub fn delete_session(&mut self, sha256: &str) -> anyhow::Result<()> {
        self.conn
            .execute("DELETE FROM session WHERE sha256 = ?1", [sha256])?;
        Ok(())
    }

    pub fn insert_ticket(&mut self, ticket: &NewTicket<'_>) -> anyhow::Result<()> {
        self.conn.execute(
            "INSERT INTO ticket (sha256, account_id, purpose, expires) VALUES (?1, ?2, ?3, ?4)",
            params![
                ticket.sha256,
                ticket.account_id,
                ticket.purpose.as_str(),
                ticket.expires
            ],
        )?;
        Ok(())
    }

    pub fn take_ticket(
        &mut self,
        sha256: &str,
        purpose: TicketPurpose,
        now: i64,
    ) -> anyhow::Result<Option<Account>> {
        let tx = self.conn.transaction()?;
        let account: Option<i64> = tx
            .query_row(
                "DELETE FROM ticket WHERE sha256 = ?1 AND purpose = ?2 RETURNING account_id, expires",
                params![sha256, purpose.as_str()],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?
            .filter(|(_, expires)| *expires > now)
            .map(|(id, _)| id);
        let found = match account {
            Some(id) => tx
                .query_row(
                    &format!(
                        "SELECT {ACCOUNT_COLUMNS} FROM account WHERE id = ?1 AND disabled_at IS NULL"
                    ),
                    [id],
                    account_row,
                )
                .optional()?,
            None => None,
        };
        tx.commit()?;
        Ok(found)
    }

    pub fn mark_verified(&mut self, id: &str, actor: &str) -> anyhow::Result<String> {
        Ok(self.conn.query_row(
            "INSERT INTO verification (initiative_id, at, actor) VALUES (?1, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?2)
             ON CONFLICT (initiative_id) DO UPDATE SET at = excluded.at, actor = excluded.actor RETURNING at",
            params![id, actor],
            |r| r.get(0),
        )?)
    }

    pub fn verified_at(&self, id: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT at FROM verification WHERE initiative_id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The latest `limit` changes, newest first, with their initiative id.
    pub fn recent_history(&self, limit: i64) -> anyhow::Result<Vec<(String, HistoryEntry)>> {
        let mut stmt = self.conn.prepare(
            "SELECT initiative_id, at, actor, action, before, after FROM history ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, Option<String>>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (id, at, actor, action, before, after) = row?;
            Ok((id, super::history_entry(at, actor, &action, before, after)?))
        })
        .collect()
    }
}

impl SqliteStore {
    pub fn merged_into(&self, id: &str) -> anyhow::Result<Vec<StoredInitiative>> {
        select(
            &self.conn,
            "WHERE json_extract(record, '$.merged_into') = ?1",
            [id],
        )
    }

    pub fn duplicates(&self, limit: i64) -> anyhow::Result<Vec<Duplicate>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {DUPLICATE} FROM duplicate ORDER BY decision IS NOT NULL, id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], duplicate_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn add_proposal(&mut self, p: &NewProposal<'_>) -> anyhow::Result<i64> {
        let record = p.fields.map(serde_json::to_string).transpose()?;
        Ok(self.conn.query_row(
            "INSERT INTO proposal (kind, initiative_id, record, message, email, departement, category, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, strftime('%Y-%m-%dT%H:%M:%SZ', 'now')) RETURNING id",
            params![p.kind, p.initiative, record, p.message, p.email, p.departement, p.category],
            |r| r.get(0),
        )?)
    }

    pub fn proposals(&self, status: Option<&str>, limit: i64) -> anyhow::Result<Vec<Proposal>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {PROPOSAL} FROM proposal WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![status, limit], proposal_row)?;
        rows.map(|r| r?).collect()
    }
}

impl SqliteStore {
    pub fn add_import_run(&mut self, run: &ImportRun) -> anyhow::Result<i64> {
        let summary = run
            .summary
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        Ok(self.conn.query_row(
            "INSERT INTO import_run (source, url, started_at, finished_at, outcome, summary, report_id, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            params![run.source, run.url, run.started_at, run.finished_at, run.outcome, summary, run.report_id, run.error],
            |r| r.get(0),
        )?)
    }

    pub fn import_runs(&self, source: Option<&str>, limit: i64) -> anyhow::Result<Vec<ImportRun>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, source, url, started_at, finished_at, outcome, summary, report_id, error FROM import_run
             WHERE ?1 IS NULL OR source = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![source, limit], |r| {
            Ok((
                ImportRun {
                    id: r.get(0)?,
                    source: r.get(1)?,
                    url: r.get(2)?,
                    started_at: r.get(3)?,
                    finished_at: r.get(4)?,
                    outcome: r.get(5)?,
                    summary: None,
                    report_id: r.get(7)?,
                    error: r.get(8)?,
                },
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        rows.map(|row| {
            let (mut run, summary) = row?;
            run.summary = summary.map(|t| serde_json::from_str(&t)).transpose()?;
            Ok(run)
        })
        .collect()
    }
}

const DUPLICATE: &str = "id, a, b, score, distance_m, found_at, decision, decided_by, decided_at";

fn duplicate_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Duplicate> {
    Ok(Duplicate {
        id: r.get(0)?,
        a: r.get(1)?,
        b: r.get(2)?,
        score: r.get(3)?,
        distance_m: r.get(4)?,
        found_at: r.get(5)?,
        decision: r.get(6)?,
        decided_by: r.get(7)?,
        decided_at: r.get(8)?,
    })
}

const PROPOSAL: &str = "id, kind, initiative_id, record, message, email, departement, category, created_at, status, reason, decided_by, decided_at";

fn proposal_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<anyhow::Result<Proposal>> {
    let record: Option<String> = r.get(3)?;
    let record: Option<serde_json::Value> =
        match record.map(|t| serde_json::from_str(&t)).transpose() {
            Ok(record) => record,
            Err(e) => return Ok(Err(anyhow::Error::from(e).context("stored proposal"))),
        };
    Ok(Ok(Proposal {
        id: r.get(0)?,
        kind: r.get(1)?,
        initiative: r.get(2)?,
        fields: record,
        message: r.get(4)?,
        email: r.get(5)?,
        departement: r.get(6)?,
        category: r.get(7)?,
        created_at: r.get(8)?,
        status: r.get(9)?,
        reason: r.get(10)?,
        decided_by: r.get(11)?,
        decided_at: r.get(12)?,
    }))
}

/// Stored initiatives, `filter` a `WHERE` clause, by id.
fn select(
    conn: &Connection,
    filter: &str,
    values: impl rusqlite::Params,
) -> anyhow::Result<Vec<StoredInitiative>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT record, key, geocoder, geocode_score, deleted_at IS NOT NULL FROM initiative {filter} ORDER BY id"
    ))?;
    let rows = stmt.query_map(values, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<f64>>(3)?,
            r.get::<_, bool>(4)?,
        ))
    })?;
    rows.map(|row| {
        let (record, key, geocoder, geocode_score, deleted) = row?;
        Ok(StoredInitiative {
            record: serde_json::from_str(&record).context("stored record")?,
            key,
            geocoder,
            geocode_score,
            deleted,
        })
    })
    .collect()
}

/// Writes inside one transaction.
pub struct SqliteWriter<'a> {
    tx: Transaction<'a>,
    now: String,
    /// The last number used per source, read once per transaction.
    last_number: std::collections::HashMap<String, i64>,
    changed: BTreeSet<String>,
}

impl SqliteWriter<'_> {
    /// The stored row as it is inside this transaction.
    pub fn get(&self, id: &str) -> anyhow::Result<Option<StoredInitiative>> {
        Ok(select(&self.tx, "WHERE id = ?1", [id])?.into_iter().next())
    }

    /// The stored row of `source` with stable key `key`, in this transaction.
    pub fn get_by_key(&self, source: &str, key: &str) -> anyhow::Result<Option<StoredInitiative>> {
        Ok(
            select(&self.tx, "WHERE source = ?1 AND key = ?2", [source, key])?
                .into_iter()
                .next(),
        )
    }

    /// Inserts or replaces an initiative and records the change; `before`
    /// is what it replaces (read in this transaction).
    pub fn put(
        &mut self,
        stored: &StoredInitiative,
        actor: &str,
        action: &str,
        before: Option<&InitiativeRecord>,
    ) -> anyhow::Result<()> {
        let record = serde_json::to_string(&stored.record)?;
        self.tx
            .prepare_cached(
                "INSERT INTO initiative (id, source, key, record, geocoder, geocode_score, deleted_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, CASE WHEN ?7 THEN ?8 END, ?8, ?8)
             ON CONFLICT (id) DO UPDATE SET record = excluded.record, key = excluded.key,
                 geocoder = excluded.geocoder, geocode_score = excluded.geocode_score,
                 deleted_at = excluded.deleted_at, updated_at = excluded.updated_at",
            )?
            .execute(params![
                stored.record.id,
                stored.record.source,
                stored.key,
                record,
                stored.geocoder,
                stored.geocode_score,
                stored.deleted,
                self.now,
            ])?;
        self.tx
            .prepare_cached(
                "INSERT INTO history (initiative_id, at, actor, action, before, after) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                stored.record.id,
                self.now,
                actor,
                action,
                before.map(serde_json::to_string).transpose()?,
                (!stored.deleted).then_some(record),
            ])?;
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
        self.tx
            .prepare_cached(
                "INSERT INTO duplicate (a, b, score, distance_m, found_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (a, b) DO NOTHING",
            )?
            .execute(params![a, b, score, distance_m, self.now])?;
        Ok(())
    }

    pub fn duplicate(&mut self, id: i64) -> anyhow::Result<Option<Duplicate>> {
        Ok(self
            .tx
            .query_row(
                &format!("SELECT {DUPLICATE} FROM duplicate WHERE id = ?1"),
                [id],
                duplicate_row,
            )
            .optional()?)
    }

    pub fn decide_duplicate(&mut self, id: i64, decision: &str, by: &str) -> anyhow::Result<()> {
        self.tx.execute(
            "UPDATE duplicate SET decision = ?2, decided_by = ?3, decided_at = ?4 WHERE id = ?1",
            params![id, decision, by, self.now],
        )?;
        Ok(())
    }

    pub fn proposal(&mut self, id: i64) -> anyhow::Result<Option<Proposal>> {
        self.tx
            .query_row(
                &format!("SELECT {PROPOSAL} FROM proposal WHERE id = ?1"),
                [id],
                proposal_row,
            )
            .optional()?
            .transpose()
    }

    pub fn decide_proposal(&mut self, id: i64, d: &ProposalDecision<'_>) -> anyhow::Result<()> {
        self.tx.execute(
            "UPDATE proposal SET status = ?2, reason = ?3, decided_by = ?4, decided_at = ?5,
                 initiative_id = coalesce(?6, initiative_id) WHERE id = ?1",
            params![id, d.status, d.reason, d.by, self.now, d.initiative],
        )?;
        Ok(())
    }

    /// A new id for source `source`: `<source>:<n>`, n one more than any
    /// used. The `:` keeps it apart from every id of the open datasets
    /// (their loader refuses it), so a store record never hides one.
    pub fn next_id(&mut self, source: &str) -> anyhow::Result<String> {
        let prefix = format!("{source}:");
        let last = match self.last_number.get(source) {
            Some(&n) => n,
            None => self
                .tx
                .query_row(
                    "SELECT MAX(CAST(substr(id, ?2) AS INTEGER)) FROM initiative WHERE substr(id, 1, ?3) = ?1",
                    params![prefix, prefix.len() as i64 + 1, prefix.len() as i64],
                    |r| r.get::<_, Option<i64>>(0),
                )?
                .unwrap_or(0),
        };
        self.last_number.insert(source.to_string(), last + 1);
        Ok(format!("{prefix}{}", last + 1))
    }
}
