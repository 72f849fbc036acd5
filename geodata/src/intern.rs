//! Interned strings: the values many initiatives share (category ids,
//! sources, source kinds, legal forms, communes, postcodes, INSEE codes,
//! dates) are kept once for the life of the process.
//!
//! Each distinct value is leaked once, on purpose: these vocabularies are
//! bounded (35,000 communes, 6,000 postcodes, a few dozen sources and kinds),
//! a national inventory repeats them a million times, and a `&'static str`
//! is read with no lookup on the hot paths (tiles, search, analysis).

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

/// The one copy of `text`.
///
/// ```
/// let a = geodata::intern::intern("Saint-Denis");
/// let b = geodata::intern::intern(&String::from("Saint-Denis"));
/// assert!(std::ptr::eq(a, b));
/// ```
pub fn intern(text: &str) -> &'static str {
    // Each thread remembers what it interned: loading a million
    // initiatives on every core asks the shared table only for new values.
    thread_local! {
        static SEEN: std::cell::RefCell<HashSet<&'static str>> = Default::default();
    }
    if let Some(known) = SEEN.with(|seen| seen.borrow().get(text).copied()) {
        return known;
    }
    let interned = intern_shared(text);
    SEEN.with(|seen| seen.borrow_mut().insert(interned));
    interned
}

fn intern_shared(text: &str) -> &'static str {
    static TABLE: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut table = TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&known) = table.get(text) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.into());
    table.insert(leaked);
    leaked
}

/// [`intern`] for optional text.
pub fn intern_opt(text: Option<&str>) -> Option<&'static str> {
    text.map(intern)
}
