//! Interned strings: the values many initiatives share (category ids,
//! sources, source kinds, legal forms, communes, postcodes, INSEE codes,
//! dates) are kept once for the life of the process.
//!
//! Each distinct value is leaked once, on purpose: these vocabularies are
//! bounded (35,000 communes, 6,000 postcodes, a few dozen sources and kinds),
//! a national inventory repeats them a million times, and a `&'static str`
//! is read with no lookup on the hot paths (tiles, search, analysis).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The one copy of `text`.
///
/// ```
/// let a = geodata::intern::intern("Saint-Denis");
/// let b = geodata::intern::intern(&String::from("Saint-Denis"));
/// assert!(std::ptr::eq(a, b));
/// ```
pub fn intern(text: &str) -> &'static str {
    sym(text).as_str()
}

/// [`intern`] for optional text.
pub fn intern_opt(text: Option<&str>) -> Option<&'static str> {
    text.map(intern)
}

/// An interned value as one pointer (8 bytes, where a `&'static str` takes
/// 16): the initiatives keep nine of them each.
///
/// ```
/// use geodata::intern::sym;
/// let a = sym("93066");
/// assert_eq!(a, "93066");
/// assert_eq!(a, sym(&String::from("93066")));
/// assert_eq!(std::mem::size_of::<Option<geodata::intern::Sym>>(), 8);
/// ```
#[derive(Clone, Copy)]
pub struct Sym(&'static &'static str);

impl Sym {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// The one copy of `text`, as a [`Sym`].
pub fn sym(text: &str) -> Sym {
    // Each thread remembers what it interned: loading a million
    // initiatives on every core asks the shared table only for new values.
    thread_local! {
        static SEEN: std::cell::RefCell<HashMap<&'static str, Sym>> = Default::default();
    }
    if let Some(known) = SEEN.with(|seen| seen.borrow().get(text).copied()) {
        return known;
    }
    let interned = sym_shared(text);
    SEEN.with(|seen| seen.borrow_mut().insert(interned.as_str(), interned));
    interned
}

fn sym_shared(text: &str) -> Sym {
    static TABLE: OnceLock<Mutex<HashMap<&'static str, Sym>>> = OnceLock::new();
    let mut table = TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(&known) = table.get(text) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.into());
    let one = Sym(Box::leak(Box::new(leaked)));
    table.insert(leaked, one);
    one
}

/// [`sym`] for optional text.
pub fn sym_opt(text: Option<&str>) -> Option<Sym> {
    text.map(sym)
}

impl std::ops::Deref for Sym {
    type Target = str;
    fn deref(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Sym {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl PartialEq for Sym {
    fn eq(&self, other: &Sym) -> bool {
        // One copy per value: the same value is the same pointer.
        std::ptr::eq(self.0, other.0)
    }
}

impl Eq for Sym {}

impl std::hash::Hash for Sym {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialEq<str> for Sym {
    fn eq(&self, other: &str) -> bool {
        *self.0 == other
    }
}

impl PartialEq<&str> for Sym {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<String> for Sym {
    fn eq(&self, other: &String) -> bool {
        *self.0 == other.as_str()
    }
}

impl PartialEq<Sym> for &str {
    fn eq(&self, other: &Sym) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Sym> for str {
    fn eq(&self, other: &Sym) -> bool {
        self == *other.0
    }
}

impl std::fmt::Debug for Sym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.0, f)
    }
}

impl std::fmt::Display for Sym {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl serde::Serialize for Sym {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl PartialEq<Sym> for String {
    fn eq(&self, other: &Sym) -> bool {
        self.as_str() == *other.0
    }
}

impl PartialEq<Sym> for &String {
    fn eq(&self, other: &Sym) -> bool {
        self.as_str() == *other.0
    }
}

impl PartialOrd for Sym {
    fn partial_cmp(&self, other: &Sym) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Sym {
    fn cmp(&self, other: &Sym) -> std::cmp::Ordering {
        self.0.cmp(other.0)
    }
}
