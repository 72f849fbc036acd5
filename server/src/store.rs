//! The store of record for imported and edited initiatives: SQLite in the
//! state directory, with schema migrations, history and API tokens.
//!
//! Every write is one transaction that bumps `revision` and lists the ids it
//! changed in `change`: a running server applies exactly those (a CLI
//! import shows in a server within a second, at the cost of what it
//! changed). Writes take SQLite's write lock when they begin (`IMMEDIATE`),
//! so a read-modify-write inside one is atomic across processes too.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use geodata::InitiativeRecord;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};
use serde::Serialize;
use sha2::{Digest, Sha256};

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
];

/// The database file in a state directory.
pub fn database_path(state_dir: &Path) -> PathBuf {
    state_dir.join("ess-map.sqlite")
}

/// Who may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Creates, edits and deletes initiatives.
    Editor,
    /// Also imports files.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        match name {
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A stored initiative.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredInitiative {
    pub record: InitiativeRecord,
    pub key: Option<String>,
    pub geocoder: Option<String>,
    pub geocode_score: Option<f64>,
    pub deleted: bool,
}

/// One change in an initiative's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating the directory and database on first run) and migrates.
    pub fn open(state_dir: &Path) -> anyhow::Result<Store> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("cannot create state directory {}", state_dir.display()))?;
        let path = database_path(state_dir);
        let mut conn = Connection::open(&path)
            .with_context(|| format!("cannot open the store {}", path.display()))?;
        // WAL: readers (the server) never block the writer (an import); a
        // killed writer leaves the last committed state.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
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
        Ok(Store { conn })
    }

    /// Bumped by every committed write.
    #[cfg(test)]
    pub fn revision(&self) -> anyhow::Result<i64> {
        Ok(self
            .conn
            .query_row("SELECT n FROM revision", [], |r| r.get(0))?)
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
        work: impl FnOnce(&mut Writer<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, i64)> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // UTC, RFC 3339, to the second.
        let now = tx.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", [], |r| {
            r.get(0)
        })?;
        let mut writer = Writer {
            tx,
            now,
            last_number: Default::default(),
            changed: BTreeSet::new(),
        };
        let out = work(&mut writer)?;
        let Writer { tx, changed, .. } = writer;
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
        let json = |t: Option<String>| t.and_then(|t| serde_json::from_str(&t).ok());
        let rows = stmt.query_map([id], |r| {
            Ok(HistoryEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                before: json(r.get(3)?),
                after: json(r.get(4)?),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Creates a token for `name` and returns it: shown once, stored hashed.
    pub fn create_token(&mut self, name: &str, role: Role) -> anyhow::Result<String> {
        let name = name.trim();
        anyhow::ensure!(
            !name.is_empty() && name.chars().all(|c| !c.is_control()) && name.len() <= 100,
            "a token needs a name (1 to 100 characters, shown in the history of its edits)"
        );
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let token = format!("essmap_{}", hex(&bytes));
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO token (name, role, sha256, created_at) VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
            params![name, role.as_str(), token_hash(&token)],
        )
        .with_context(|| format!("a token named `{name}` exists already"))?;
        tx.commit()?;
        Ok(token)
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
pub struct Writer<'a> {
    tx: Transaction<'a>,
    now: String,
    /// The last number used per source, read once per transaction.
    last_number: std::collections::HashMap<String, i64>,
    changed: BTreeSet<String>,
}

impl Writer<'_> {
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

/// SHA-256 of a token, hex: what the store and the configuration keep.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str) -> StoredInitiative {
        StoredInitiative {
            record: InitiativeRecord {
                id: id.into(),
                name: name.into(),
                source: "test".into(),
                ..Default::default()
            },
            key: Some(format!("id:{id}")),
            geocoder: None,
            geocode_score: None,
            deleted: false,
        }
    }

    #[test]
    fn writes_are_all_or_nothing_listed_and_kept_in_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.revision().unwrap(), 0);
        let (_, first) = store
            .write(|w| w.put(&record("test:1", "A"), "alice", "create", None))
            .unwrap();
        assert_eq!(first, 1);
        let failed: anyhow::Result<((), i64)> = store.write(|w| {
            w.put(&record("test:2", "B"), "alice", "create", None)?;
            anyhow::bail!("stopped half-way")
        });
        assert!(failed.is_err());
        assert_eq!(store.all().unwrap().1.len(), 1);
        assert_eq!(store.revision().unwrap(), 1);
        let mut renamed = record("test:1", "A2");
        store
            .write(|w| {
                let before = w.get("test:1")?.unwrap().record;
                w.put(&renamed, "bob", "update", Some(&before))
            })
            .unwrap();
        renamed.deleted = true;
        store
            .write(|w| {
                let before = w.get("test:1")?.unwrap().record;
                w.put(&renamed, "bob", "delete", Some(&before))
            })
            .unwrap();
        let history = store.history("test:1").unwrap();
        let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
        assert_eq!(actions, ["create", "update", "delete"]);
        assert_eq!(history[1].before.as_ref().unwrap()["name"], "A");
        assert_eq!(history[1].after.as_ref().unwrap()["name"], "A2");
        assert!(history[2].after.is_none());
        assert!(store.get("test:1").unwrap().unwrap().deleted);
        // What changed after revision 1, deleted included.
        let (now, changed) = store.changes_since(1).unwrap();
        assert_eq!(now, 3);
        assert_eq!(changed.len(), 1);
        assert!(changed[0].deleted);
        assert!(store.changes_since(3).unwrap().1.is_empty());
        // Reopening migrates nothing and keeps everything.
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.revision().unwrap(), 3);
        assert!(history[0].at.ends_with('Z') && history[0].at.starts_with("20"));
    }

    #[test]
    fn tokens_are_stored_hashed_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let token = store.create_token("mairie", Role::Editor).unwrap();
        assert!(token.starts_with("essmap_") && token.len() > 60);
        assert!(store.create_token("mairie", Role::Admin).is_err());
        assert!(store.create_token("  ", Role::Admin).is_err());
        assert_eq!(
            store.token_by_hash(&token_hash(&token)).unwrap(),
            Some(("mairie".to_string(), Role::Editor))
        );
        assert_eq!(store.token_by_hash(&token_hash("guess")).unwrap(), None);
        let raw = std::fs::read(database_path(dir.path())).unwrap();
        assert!(!raw.windows(token.len()).any(|w| w == token.as_bytes()));
    }

    #[test]
    fn ids_count_up_per_source_in_their_own_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let (ids, _) = store
            .write(|w| {
                let first = w.next_id("esat")?;
                w.put(&record(&first, "A"), "cli", "import", None)?;
                let second = w.next_id("esat")?;
                Ok((first, second))
            })
            .unwrap();
        assert_eq!(ids, ("esat:1".to_string(), "esat:2".to_string()));
    }
}
