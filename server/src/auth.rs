//! Who may write: bearer tokens, from the configuration (`[[token]]`,
//! stored as SHA-256) or from the store (`ess-map token create`). The HTTP
//! edge asks [`Auth::principal`]; roles are checked there.

use crate::config::ConfigToken;
use crate::live::Live;
use crate::store::{Role, token_hash};

/// The tokens the configuration gives; the store's are asked of `Live`.
pub struct Auth {
    config_tokens: Vec<ConfigToken>,
}

impl Auth {
    pub fn new(config_tokens: Vec<ConfigToken>) -> Auth {
        Auth { config_tokens }
    }

    /// The name and role of a bearer token, from the configuration or the
    /// store.
    pub fn principal(&self, live: &Live, token: &str) -> anyhow::Result<Option<(String, Role)>> {
        let hash = token_hash(token);
        if let Some(t) = self.config_tokens.iter().find(|t| t.sha256 == hash) {
            return Ok(Some((t.name.clone(), t.role)));
        }
        live.read(|store| store.token_by_hash(&hash))
    }
}
