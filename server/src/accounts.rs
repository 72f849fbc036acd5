//! People who sign in: accounts, passwords, sessions, invitation and reset
//! links, and the sign-in limits. The HTTP edge (`api::session`) and the
//! CLI (`ess-map user`) call these; nothing here knows HTTP.
//!
//! Secrets are never stored: a session cookie, an invitation link or a
//! reset link is 32 random bytes, and the store keeps its SHA-256 (as for
//! bearer tokens). Passwords are hashed with Argon2id (the crate's
//! defaults: 19 MiB, two passes, OWASP's minimum), on a blocking thread.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::live::Live;
use crate::store::{
    Account, AccountChange, NewAccount, NewSession, NewTicket, Role, Store, TicketPurpose, hex,
    token_hash,
};

/// How long a session lasts from sign-in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// How long an invitation link may wait to be used.
pub const INVITATION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a reset link may wait to be used.
pub const RESET_LIFETIME: Duration = Duration::from_secs(3600);
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Why an account operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("adresse électronique invalide : {0}")]
    Email(String),
    #[error(
        "mot de passe trop court : au moins {MIN_PASSWORD_CHARS} caractères (une phrase de passe convient)"
    )]
    WeakPassword,
    #[error("mot de passe trop long : au plus 256 caractères")]
    LongPassword,
    #[error("département inconnu : {0}")]
    Departement(String),
    #[error("aucun compte pour {0}")]
    NoAccount(String),
    /// Unknown, used or expired: the same answer for each.
    #[error("lien inconnu, déjà utilisé ou expiré : demandez-en un nouveau")]
    Link,
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// 32 random bytes, hex: a session's cookie, a link's secret, a CSRF token.
pub fn secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(hex(&bytes))
}

/// Equal strings, in a time that does not depend on where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// An e-mail address as accounts are named: trimmed, lower case.
pub fn normalise_email(email: &str) -> Result<String, AccountError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_control() || c.is_whitespace())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(AccountError::Email(email))
    }
}

/// The départements of `93,94` (each checked against the territory's, when
/// it has any).
pub fn parse_departements(list: &str, known: &[String]) -> Result<Vec<String>, AccountError> {
    let mut out = Vec::new();
    for code in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let code = code.to_uppercase();
        if !known.is_empty() && !known.contains(&code) {
            return Err(AccountError::Departement(code));
        }
        if !out.contains(&code) {
            out.push(code);
        }
    }
    Ok(out)
}

/// Argon2id of a password, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword);
    }
    if password.len() > 256 {
        return Err(AccountError::LongPassword);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Store(anyhow::anyhow!("cannot hash a password: {e}")))
}

/// Whether `password` is the one of `hash`. Unknown accounts are checked
/// against a hash of nothing anybody knows, so that both take as long and
/// the answer does not tell which addresses have an account.
pub fn verify_password(hash: Option<&str>, password: &str) -> bool {
    static NOBODY: LazyLock<String> = LazyLock::new(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"no account has this password", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    });
    let (hash, known) = match hash {
        Some(h) => (h, true),
        None => (NOBODY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    known && matches
}

/// A signed-in session: the cookie's value (given once) and its CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub account: Account,
}

/// Checks an address and password; a new session when they match an
/// enabled account with a password. Always a new session id: one known
/// before sign-in (fixation) is never reused.
pub fn sign_in(live: &Live, email: &str, password: &str) -> Result<Option<Session>, AccountError> {
    let email = normalise_email(email).unwrap_or_default();
    let account = live.read(|s| s.account_by_email(&email))?;
    let usable = account.filter(|a| !a.disabled);
    let hash = usable.as_ref().and_then(|a| a.password_hash.as_deref());
    if !verify_password(hash, password) {
        return Ok(None);
    }
    let account = usable.expect("a password matched an account's");
    new_session(live, account).map(Some)
}

/// A new session (cookie and CSRF token) for an account.
fn new_session(live: &Live, account: Account) -> Result<Session, AccountError> {
    let (cookie, csrf) = (secret()?, secret()?);
    let now = unix_now();
    live.store()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .create_session(&NewSession {
            sha256: &token_hash(&cookie),
            account_id: account.id,
            csrf: &csrf,
            expires: now + SESSION_LIFETIME.as_secs() as i64,
            now,
        })?;
    Ok(Session {
        cookie,
        csrf,
        account,
    })
}

/// A new session for an account a trusted provider vouched for (single
/// sign-on): the enabled account of that address, if there is one.
pub fn sign_in_as(live: &Live, email: &str) -> Result<Option<Session>, AccountError> {
    let email = normalise_email(email)?;
    let Some(account) = live
        .read(|s| s.account_by_email(&email))?
        .filter(|a| !a.disabled)
    else {
        return Ok(None);
    };
    new_session(live, account).map(Some)
}

/// The account and CSRF token of a session cookie, while it lasts.
pub fn session(live: &Live, cookie: &str) -> anyhow::Result<Option<(Account, String)>> {
    live.read(|s| s.session(&token_hash(cookie), unix_now()))
}

/// Ends a session.
pub fn sign_out(live: &Live, cookie: &str) -> anyhow::Result<()> {
    live.store()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .delete_session(&token_hash(cookie))
}

/// A new account and its invitation link's secret (valid a week): sent by
/// e-mail, or handed over by the admin.
pub fn invite(store: &mut Store, new: NewAccount) -> Result<(Account, String), AccountError> {
    let id = store.create_account(&new)?;
    let secret = secret()?;
    store.create_ticket(&NewTicket {
        sha256: &token_hash(&secret),
        account_id: id,
        purpose: TicketPurpose::Invitation,
        expires: unix_now() + INVITATION_LIFETIME.as_secs() as i64,
    })?;
    let account = store
        .account_by_email(&new.email)?
        .ok_or_else(|| AccountError::NoAccount(new.email.clone()))?;
    Ok((account, secret))
}

/// A new account with its password (from the CLI's standard input).
pub fn create_with_password(
    store: &mut Store,
    new: NewAccount,
    password: &str,
) -> Result<Account, AccountError> {
    let hash = hash_password(password)?;
    let id = store.create_account(&new)?;
    store.update_account(id, &AccountChange::Password(hash))?;
    store
        .account_by_email(&new.email)?
        .ok_or_else(|| AccountError::NoAccount(new.email.clone()))
}

/// A reset link's secret for an enabled account (valid an hour); none for
/// an unknown or disabled address (the caller answers the same either way).
pub fn reset_link(
    store: &mut Store,
    email: &str,
) -> Result<Option<(Account, String)>, AccountError> {
    let Ok(email) = normalise_email(email) else {
        return Ok(None);
    };
    let Some(account) = store.account_by_email(&email)?.filter(|a| !a.disabled) else {
        return Ok(None);
    };
    let secret = secret()?;
    store.create_ticket(&NewTicket {
        sha256: &token_hash(&secret),
        account_id: account.id,
        purpose: TicketPurpose::Reset,
        expires: unix_now() + RESET_LIFETIME.as_secs() as i64,
    })?;
    Ok(Some((account, secret)))
}

/// Sets the password of an invitation or reset link, once; every other
/// session of the account ends.
pub fn choose_password(live: &Live, link: &str, password: &str) -> Result<Account, AccountError> {
    let hash = hash_password(password)?;
    let mut store = live.store().lock().unwrap_or_else(|e| e.into_inner());
    let now = unix_now();
    let sha = token_hash(link.trim());
    let account = match store.take_ticket(&sha, TicketPurpose::Invitation, now)? {
        Some(a) => a,
        None => store
            .take_ticket(&sha, TicketPurpose::Reset, now)?
            .ok_or(AccountError::Link)?,
    };
    store.update_account(account.id, &AccountChange::Password(hash))?;
    Ok(account)
}

/// Disables (or enables again) an account; its sessions end.
pub fn set_disabled(
    store: &mut Store,
    email: &str,
    disabled: bool,
) -> Result<Account, AccountError> {
    let email = normalise_email(email)?;
    let account = store
        .account_by_email(&email)?
        .ok_or_else(|| AccountError::NoAccount(email.clone()))?;
    store.update_account(account.id, &AccountChange::Disabled(disabled))?;
    Ok(Account {
        disabled,
        ..account
    })
}

/// Changes an account's role and départements.
pub fn set_role(
    store: &mut Store,
    email: &str,
    role: Role,
    departements: Vec<String>,
) -> Result<Account, AccountError> {
    let email = normalise_email(email)?;
    let account = store
        .account_by_email(&email)?
        .ok_or_else(|| AccountError::NoAccount(email.clone()))?;
    store.update_account(account.id, &AccountChange::Role(role, departements.clone()))?;
    Ok(Account {
        role,
        departements,
        ..account
    })
}

/// Attempts a client address and an e-mail address may make in a window
/// (sign-ins, visitors' proposals): a guesser or a flood is slowed down
/// whichever it varies, and a person who mistypes is not locked out for
/// long.
pub struct AttemptLimits {
    windows: Mutex<HashMap<LimitKey, (Instant, u32)>>,
    window: Duration,
    per_client: u32,
    per_email: u32,
}

#[derive(Hash, PartialEq, Eq, Clone)]
enum LimitKey {
    Client(IpAddr),
    Email(String),
}

impl Default for AttemptLimits {
    fn default() -> Self {
        AttemptLimits::new(Duration::from_secs(15 * 60), 30, 10)
    }
}

impl AttemptLimits {
    pub fn new(window: Duration, per_client: u32, per_email: u32) -> AttemptLimits {
        AttemptLimits {
            windows: Mutex::new(HashMap::new()),
            window,
            per_client,
            per_email,
        }
    }

    /// Counts an attempt, against the client and, when given, the address
    /// it is for; `Err(seconds to wait)` when over a limit. Every attempt
    /// counts (a success too), so that a list of passwords costs the same
    /// however it ends.
    pub fn attempt(&self, client: IpAddr, email: Option<&str>) -> Result<(), u64> {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let mut wait = 0;
        let email = email.map(|e| (LimitKey::Email(e.trim().to_lowercase()), self.per_email));
        for (key, limit) in
            std::iter::once((LimitKey::Client(client), self.per_client)).chain(email)
        {
            let entry = windows.entry(key).or_insert((now, 0));
            if now.duration_since(entry.0) >= self.window {
                *entry = (now, 0);
            }
            entry.1 += 1;
            if entry.1 > limit {
                let left = self.window.saturating_sub(now.duration_since(entry.0));
                wait = wait.max(left.as_secs().max(1));
            }
        }
        if wait > 0 { Err(wait) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_with_argon2id_and_checked() {
        let hash = hash_password("une phrase de passe").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(Some(&hash), "une phrase de passe"));
        assert!(!verify_password(Some(&hash), "une autre phrase"));
        assert!(!verify_password(None, "une phrase de passe"));
        assert!(matches!(
            hash_password("court"),
            Err(AccountError::WeakPassword)
        ));
    }

    #[test]
    fn addresses_and_departements_are_checked() {
        assert_eq!(
            normalise_email(" Marie@Exemple.FR ").unwrap(),
            "marie@exemple.fr"
        );
        assert!(normalise_email("marie").is_err());
        assert!(normalise_email("marie@exemple").is_err());
        let known = ["93".to_string(), "94".to_string(), "2A".to_string()];
        assert_eq!(
            parse_departements("93, 2a,93", &known).unwrap(),
            ["93", "2A"]
        );
        assert!(parse_departements("99", &known).is_err());
    }

    #[test]
    fn sign_in_limits_count_per_client_and_per_address() {
        let limits = AttemptLimits::new(Duration::from_secs(60), 5, 3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limits.attempt(ip, Some("a@b.fr")).is_ok());
        }
        assert!(
            limits.attempt(ip, Some("A@b.fr")).is_err(),
            "same address, any case"
        );
        assert!(limits.attempt(ip, Some("c@b.fr")).is_ok());
        assert!(
            limits.attempt(ip, Some("d@b.fr")).is_err(),
            "the client's sixth"
        );
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limits.attempt(other, Some("e@b.fr")).is_ok());
    }
}
