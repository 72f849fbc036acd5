//! The store of record for imported and edited initiatives, with their
//! history and the API tokens: SQLite in the state directory (embedded, the
//! default) or a shared PostgreSQL/PostGIS database (several replicas).
//! Both keep the same schema, migration by migration, and answer the same
//! calls; [`Store`] dispatches to the one configured.
//!
//! Every write is one transaction that bumps `revision` and lists the ids it
//! changed in `change`: a running server applies exactly those (a CLI
//! import, or another replica's edit, shows at the cost of what it
//! changed). Writes are serialised from their start (SQLite's `IMMEDIATE`
//! lock, a PostgreSQL advisory lock), so a read-modify-write inside one is
//! atomic across processes and replicas.

mod postgres;
mod sqlite;

use std::path::{Path, PathBuf};

use geodata::InitiativeRecord;
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use postgres::{CHANNEL, PgStore, StoreUnavailable};
pub use sqlite::SqliteStore;

/// Whether a store error says its database cannot be reached (reads go
/// on from memory; writes wait until it is back).
pub fn is_unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<StoreUnavailable>())
}

/// Where the store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `ess-map.sqlite` in this state directory.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user@host/db`).
    Postgres(String),
}

impl StoreLocation {
    /// A `postgres://` or `postgresql://` URL, else the state directory's
    /// SQLite file.
    pub fn new(store: Option<&str>, state_dir: &Path) -> StoreLocation {
        match store {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                StoreLocation::Postgres(url.to_string())
            }
            _ => StoreLocation::Sqlite(state_dir.to_path_buf()),
        }
    }

    /// Said in logs and `/health`, without a password.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sqlite(dir) => database_path(dir).display().to_string(),
            StoreLocation::Postgres(url) => postgres::without_password(url),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            StoreLocation::Sqlite(_) => "sqlite",
            StoreLocation::Postgres(_) => "postgres",
        }
    }
}

/// The database file in a state directory.
pub fn database_path(state_dir: &Path) -> PathBuf {
    state_dir.join("ess-map.sqlite")
}

/// Who may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Proposes initiatives and reports errors (moderated).
    Contributor,
    /// Creates, edits and deletes initiatives.
    Editor,
    /// Also decides on proposals and duplicates.
    Moderator,
    /// Also imports files and manages people.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Contributor,
        Role::Editor,
        Role::Moderator,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Contributor => "contributor",
            Role::Editor => "editor",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// As the public list of changes names it.
    pub fn french(self) -> &'static str {
        match self {
            Role::Contributor => "contributeur",
            Role::Editor => "éditeur",
            Role::Moderator => "modérateur",
            Role::Admin => "administrateur",
        }
    }
}

/// Someone who signs in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Account {
    pub id: i64,
    /// Lower case: the sign-in name.
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    /// The départements where they may write; empty: everywhere.
    pub departements: Vec<String>,
    pub disabled: bool,
    pub created_at: String,
    /// Argon2id, PHC string; none until they choose a password.
    #[serde(skip)]
    pub password_hash: Option<String>,
}

/// An account to create (without a password: set by its invitation or
/// by [`AccountChange::Password`]).
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub departements: Vec<String>,
}

/// A change to an account. A new password or a disabled account ends its
/// sessions and links.
#[derive(Debug, Clone)]
pub enum AccountChange {
    Password(String),
    Role(Role, Vec<String>),
    Disabled(bool),
}

/// A session to keep: the SHA-256 of its cookie's value, never the value.
pub struct NewSession<'a> {
    pub sha256: &'a str,
    pub account_id: i64,
    pub csrf: &'a str,
    /// Unix seconds.
    pub expires: i64,
    pub now: i64,
}

/// What a link sent by e-mail (or handed over) lets its bearer do once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketPurpose {
    Invitation,
    Reset,
}

impl TicketPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketPurpose::Invitation => "invitation",
            TicketPurpose::Reset => "reset",
        }
    }
}

/// A link to keep: the SHA-256 of its secret.
pub struct NewTicket<'a> {
    pub sha256: &'a str,
    pub account_id: i64,
    pub purpose: TicketPurpose,
    pub expires: i64,
}

/// `93,94` as stored → `["93", "94"]`.
pub(crate) fn split_departements(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .collect()
}

/// A history row as both stores read it.
pub(crate) fn history_entry(
    at: String,
    actor: String,
    action: &str,
    before: Option<String>,
    after: Option<String>,
) -> anyhow::Result<HistoryEntry> {
    let record = |t: Option<String>| -> anyhow::Result<Option<InitiativeRecord>> {
        t.map(|t| serde_json::from_str(&t))
            .transpose()
            .map_err(Into::into)
    };
    Ok(HistoryEntry {
        at,
        actor,
        action: HistoryAction::from_name(action)?,
        before: record(before)?,
        after: record(after)?,
    })
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

/// What a change in an initiative's history did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryAction {
    Create,
    Update,
    Delete,
    Import,
}

impl HistoryAction {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryAction::Create => "create",
            HistoryAction::Update => "update",
            HistoryAction::Delete => "delete",
            HistoryAction::Import => "import",
        }
    }

    /// As stored; the schema allows no other.
    pub fn from_name(name: &str) -> anyhow::Result<HistoryAction> {
        Ok(match name {
            "create" => HistoryAction::Create,
            "update" => HistoryAction::Update,
            "delete" => HistoryAction::Delete,
            "import" => HistoryAction::Import,
            other => anyhow::bail!("history action `{other}` is not one the store writes"),
        })
    }
}

/// One change in an initiative's history: the record before and after.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub at: String,
    pub actor: String,
    pub action: HistoryAction,
    pub before: Option<InitiativeRecord>,
    pub after: Option<InitiativeRecord>,
}

/// Two records that may describe one structure (a near-match), and what a
/// moderator decided: `merged` (`a` is shown as `b`) or `distinct`. Kept by
/// their ids, which re-imports keep: a decision holds across them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Duplicate {
    pub id: i64,
    /// The record found (merged into `b` when so decided).
    pub a: String,
    /// The one already shown.
    pub b: String,
    /// Jaro–Winkler of the normalised names.
    pub score: f64,
    pub distance_m: f64,
    pub found_at: String,
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

/// What a visitor proposed: a new initiative (`kind` `initiative`, its
/// `record`) or an error on one (`report`, its `initiative` and `message`).
/// Nothing of it is public until a moderator accepts it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    pub id: i64,
    pub kind: String,
    /// A report's initiative; once accepted or merged, the initiative made
    /// or completed.
    pub initiative: Option<String>,
    /// A proposed initiative's fields, as `POST /api/initiatives` takes them.
    pub fields: Option<serde_json::Value>,
    pub message: Option<String>,
    /// Only for telling the proposer what was decided.
    #[serde(skip)]
    pub email: Option<String>,
    pub departement: Option<String>,
    pub category: Option<String>,
    pub created_at: String,
    /// `pending`, `accepted`, `rejected` or `merged`.
    pub status: String,
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
}

/// A proposal to keep.
pub struct NewProposal<'a> {
    pub kind: &'a str,
    pub initiative: Option<&'a str>,
    pub fields: Option<&'a serde_json::Value>,
    pub message: Option<&'a str>,
    pub email: Option<&'a str>,
    pub departement: Option<&'a str>,
    pub category: Option<&'a str>,
}

/// What deciding a proposal writes.
pub struct ProposalDecision<'a> {
    pub status: &'a str,
    pub reason: Option<&'a str>,
    pub by: &'a str,
    pub initiative: Option<&'a str>,
}

/// One run of a scheduled import: when, what it did (the import summary)
/// or why it failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportRun {
    pub id: i64,
    pub source: String,
    pub url: String,
    pub started_at: String,
    pub finished_at: String,
    /// `imported` or `failed`.
    pub outcome: String,
    pub summary: Option<serde_json::Value>,
    pub report_id: Option<i64>,
    pub error: Option<String>,
}

/// The store, whichever it is.
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(Box<PgStore>),
}

/// Writes inside one transaction of either store.
pub enum Writer<'a> {
    Sqlite(sqlite::SqliteWriter<'a>),
    Postgres(postgres::PgWriter<'a>),
}

macro_rules! either {
    ($value:expr, $inner:ident => $body:expr) => {
        match $value {
            Store::Sqlite($inner) => $body,
            Store::Postgres($inner) => $body,
        }
    };
}

macro_rules! either_writer {
    ($value:expr, $inner:ident => $body:expr) => {
        match $value {
            Writer::Sqlite($inner) => $body,
            Writer::Postgres($inner) => $body,
        }
    };
}

impl Store {
    /// Opens (creating the database on first run) and migrates.
    pub fn open(location: &StoreLocation) -> anyhow::Result<Store> {
        Ok(match location {
            StoreLocation::Sqlite(dir) => Store::Sqlite(SqliteStore::open(dir)?),
            StoreLocation::Postgres(url) => Store::Postgres(Box::new(PgStore::open(url)?)),
        })
    }

    /// Bumped by every committed write.
    #[cfg(test)]
    pub fn revision(&self) -> anyhow::Result<i64> {
        either!(self, s => s.revision())
    }

    /// This store's own id (a snapshot made from another store is not used).
    pub fn identity(&self) -> anyhow::Result<String> {
        either!(self, s => s.identity())
    }

    /// The revision and every stored initiative, deleted ones included, as
    /// of one moment.
    pub fn all(&self) -> anyhow::Result<(i64, Vec<StoredInitiative>)> {
        either!(self, s => s.all())
    }

    /// The revision now and every initiative changed after `revision`
    /// (deleted ones included), by id.
    pub fn changes_since(&self, revision: i64) -> anyhow::Result<(i64, Vec<StoredInitiative>)> {
        either!(self, s => s.changes_since(revision))
    }

    pub fn get(&self, id: &str) -> anyhow::Result<Option<StoredInitiative>> {
        either!(self, s => s.get(id))
    }

    /// The stored initiatives of one source.
    pub fn of_source(&self, source: &str) -> anyhow::Result<Vec<StoredInitiative>> {
        either!(self, s => s.of_source(source))
    }

    /// Runs `work` in one transaction holding the write lock from its start,
    /// bumping the revision and listing the ids written; nothing is written
    /// unless it returns `Ok`. Returns what `work` did and the new revision.
    pub fn write<T>(
        &mut self,
        work: impl FnOnce(&mut Writer<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, i64)> {
        either!(self, s => s.write(work))
    }

    pub fn history(&self, id: &str) -> anyhow::Result<Vec<HistoryEntry>> {
        either!(self, s => s.history(id))
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
        either!(self, s => s.insert_token(name, role, &token_hash(&token)))?;
        Ok(token)
    }

    /// Keeps an import's row-by-row report (CSV) where every process and
    /// replica reads it; its number.
    pub fn save_report(&mut self, source: &str, csv: &str) -> anyhow::Result<i64> {
        either!(self, s => s.save_report(source, csv))
    }

    /// An import's report: its source, date and CSV.
    pub fn report(&self, id: i64) -> anyhow::Result<Option<(String, String, String)>> {
        either!(self, s => s.report(id))
    }

    /// The name and role of the token with this hash.
    pub fn token_by_hash(&self, sha256: &str) -> anyhow::Result<Option<(String, Role)>> {
        either!(self, s => s.token_by_hash(sha256))
    }

    /// Creates an account (no password yet); its id.
    pub fn create_account(&mut self, new: &NewAccount) -> anyhow::Result<i64> {
        either!(self, s => s.insert_account(new))
    }

    /// Every account, by e-mail.
    pub fn accounts(&self) -> anyhow::Result<Vec<Account>> {
        either!(self, s => s.accounts())
    }

    /// The account of an e-mail address (lower case).
    pub fn account_by_email(&self, email: &str) -> anyhow::Result<Option<Account>> {
        either!(self, s => s.account_by_email(email))
    }

    pub fn update_account(&mut self, id: i64, change: &AccountChange) -> anyhow::Result<()> {
        either!(self, s => s.update_account(id, change))
    }

    /// Keeps a session (and forgets the expired ones).
    pub fn create_session(&mut self, session: &NewSession<'_>) -> anyhow::Result<()> {
        either!(self, s => s.insert_session(session))
    }

    /// The account and CSRF token of a live session of an enabled account.
    pub fn session(&self, sha256: &str, now: i64) -> anyhow::Result<Option<(Account, String)>> {
        either!(self, s => s.session(sha256, now))
    }

    pub fn delete_session(&mut self, sha256: &str) -> anyhow::Result<()> {
        either!(self, s => s.delete_session(sha256))
    }

    pub fn create_ticket(&mut self, ticket: &NewTicket<'_>) -> anyhow::Result<()> {
        either!(self, s => s.insert_ticket(ticket))
    }

    /// Uses a link once: its account, if the link is known, unexpired and
    /// for this purpose, and the account enabled.
    pub fn take_ticket(
        &mut self,
        sha256: &str,
        purpose: TicketPurpose,
        now: i64,
    ) -> anyhow::Result<Option<Account>> {
        either!(self, s => s.take_ticket(sha256, purpose, now))
    }

    /// Records that `actor` checked initiative `id` now; when (RFC 3339).
    pub fn mark_verified(&mut self, id: &str, actor: &str) -> anyhow::Result<String> {
        either!(self, s => s.mark_verified(id, actor))
    }

    /// When initiative `id` was last checked, if ever.
    pub fn verified_at(&self, id: &str) -> anyhow::Result<Option<String>> {
        either!(self, s => s.verified_at(id))
    }

    /// The latest `limit` changes of every initiative, newest first.
    pub fn recent_history(&self, limit: i64) -> anyhow::Result<Vec<(String, HistoryEntry)>> {
        either!(self, s => s.recent_history(limit))
    }

    /// Holds off every other import of `source`, in any process or replica,
    /// until dropped: an import reads what the store has, then writes what
    /// differs, and two at once would each count the same rows as new.
    pub fn lock_import(&self, source: &str) -> anyhow::Result<ImportLock> {
        match self {
            Store::Sqlite(s) => s.lock_import(source),
            Store::Postgres(s) => s.lock_import(source),
        }
    }

    /// The stored records merged into initiative `id` (the other sources
    /// describing it).
    pub fn merged_into(&self, id: &str) -> anyhow::Result<Vec<StoredInitiative>> {
        either!(self, s => s.merged_into(id))
    }

    /// The near-matches found, undecided first, then the latest decided.
    pub fn duplicates(&self, limit: i64) -> anyhow::Result<Vec<Duplicate>> {
        either!(self, s => s.duplicates(limit))
    }

    /// Keeps a visitor's proposal; its number.
    pub fn add_proposal(&mut self, proposal: &NewProposal<'_>) -> anyhow::Result<i64> {
        either!(self, s => s.add_proposal(proposal))
    }

    /// Proposals, newest first, of one status or all.
    pub fn proposals(&self, status: Option<&str>, limit: i64) -> anyhow::Result<Vec<Proposal>> {
        either!(self, s => s.proposals(status, limit))
    }

    /// Keeps a scheduled import's run; its number.
    pub fn add_import_run(&mut self, run: &ImportRun) -> anyhow::Result<i64> {
        either!(self, s => s.add_import_run(run))
    }

    /// The latest runs, newest first, of one source or all.
    pub fn import_runs(&self, source: Option<&str>, limit: i64) -> anyhow::Result<Vec<ImportRun>> {
        either!(self, s => s.import_runs(source, limit))
    }

    /// Whether the database answers (always, for the embedded one).
    pub fn reachable(&self) -> bool {
        match self {
            Store::Sqlite(_) => true,
            Store::Postgres(s) => s.reachable(),
        }
    }
}

impl Writer<'_> {
    /// The stored row as it is inside this transaction.
    pub fn get(&mut self, id: &str) -> anyhow::Result<Option<StoredInitiative>> {
        either_writer!(self, w => w.get(id))
    }

    /// The stored row of `source` with stable key `key`, in this transaction.
    pub fn get_by_key(
        &mut self,
        source: &str,
        key: &str,
    ) -> anyhow::Result<Option<StoredInitiative>> {
        either_writer!(self, w => w.get_by_key(source, key))
    }

    /// Inserts or replaces an initiative and records the change; `before`
    /// is what it replaces (read in this transaction).
    pub fn put(
        &mut self,
        stored: &StoredInitiative,
        actor: &str,
        action: HistoryAction,
        before: Option<&InitiativeRecord>,
    ) -> anyhow::Result<()> {
        either_writer!(self, w => w.put(stored, actor, action.as_str(), before))
    }

    /// Queues a near-match unless this pair was already found (decided or
    /// not).
    pub fn queue_duplicate(
        &mut self,
        a: &str,
        b: &str,
        score: f64,
        distance_m: f64,
    ) -> anyhow::Result<()> {
        either_writer!(self, w => w.queue_duplicate(a, b, score, distance_m))
    }

    pub fn duplicate(&mut self, id: i64) -> anyhow::Result<Option<Duplicate>> {
        either_writer!(self, w => w.duplicate(id))
    }

    pub fn decide_duplicate(&mut self, id: i64, decision: &str, by: &str) -> anyhow::Result<()> {
        either_writer!(self, w => w.decide_duplicate(id, decision, by))
    }

    pub fn proposal(&mut self, id: i64) -> anyhow::Result<Option<Proposal>> {
        either_writer!(self, w => w.proposal(id))
    }

    pub fn decide_proposal(
        &mut self,
        id: i64,
        decision: &ProposalDecision<'_>,
    ) -> anyhow::Result<()> {
        either_writer!(self, w => w.decide_proposal(id, decision))
    }

    /// A new id for source `source`: `<source>:<n>`, n one more than any
    /// used. The `:` keeps it apart from every id of the open datasets
    /// (their loader refuses it), so a store record never hides one.
    pub fn next_id(&mut self, source: &str) -> anyhow::Result<String> {
        either_writer!(self, w => w.next_id(source))
    }
}

/// An import's hold on its source ([`Store::lock_import`]), released when
/// dropped: a locked file beside the SQLite database, or a PostgreSQL
/// session holding an advisory lock.
pub enum ImportLock {
    File { _held: std::fs::File },
    Postgres { _held: Box<::postgres::Client> },
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
        let mut store = Store::open(&StoreLocation::Sqlite(dir.path().to_path_buf())).unwrap();
        assert_eq!(store.revision().unwrap(), 0);
        let (_, first) = store
            .write(|w| w.put(&record("test:1", "A"), "alice", HistoryAction::Create, None))
            .unwrap();
        assert_eq!(first, 1);
        let failed: anyhow::Result<((), i64)> = store.write(|w| {
            w.put(&record("test:2", "B"), "alice", HistoryAction::Create, None)?;
            anyhow::bail!("stopped half-way")
        });
        assert!(failed.is_err());
        assert_eq!(store.all().unwrap().1.len(), 1);
        assert_eq!(store.revision().unwrap(), 1);
        let mut renamed = record("test:1", "A2");
        store
            .write(|w| {
                let before = w.get("test:1")?.unwrap().record;
                w.put(&renamed, "bob", HistoryAction::Update, Some(&before))
            })
            .unwrap();
        renamed.deleted = true;
        store
            .write(|w| {
                let before = w.get("test:1")?.unwrap().record;
                w.put(&renamed, "bob", HistoryAction::Delete, Some(&before))
            })
            .unwrap();
        let history = store.history("test:1").unwrap();
        let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
        assert_eq!(actions, ["create", "update", "delete"]);
        assert_eq!(history[1].before.as_ref().unwrap().name, "A");
        assert_eq!(history[1].after.as_ref().unwrap().name, "A2");
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
        let store = Store::open(&StoreLocation::Sqlite(dir.path().to_path_buf())).unwrap();
        assert_eq!(store.revision().unwrap(), 3);
        assert!(history[0].at.ends_with('Z') && history[0].at.starts_with("20"));
    }

    #[test]
    fn tokens_are_stored_hashed_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&StoreLocation::Sqlite(dir.path().to_path_buf())).unwrap();
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
        let mut store = Store::open(&StoreLocation::Sqlite(dir.path().to_path_buf())).unwrap();
        let (ids, _) = store
            .write(|w| {
                let first = w.next_id("esat")?;
                w.put(&record(&first, "A"), "cli", HistoryAction::Import, None)?;
                let second = w.next_id("esat")?;
                Ok((first, second))
            })
            .unwrap();
        assert_eq!(ids, ("esat:1".to_string(), "esat:2".to_string()));
    }
}
