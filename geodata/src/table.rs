//! A table as the analyses emit it and the outputs write it: columns with a
//! name for scripts and a French one for spreadsheets, rows of typed cells.
//! The gap analysis, the comparison and the located addresses are all such
//! tables; how a table becomes CSV (for a spreadsheet or a script), XLSX,
//! ODS or GeoPackage is the business of the server's outputs, one writer
//! each, not of the spatial core.

use serde::Serialize;

/// What a column holds (a GeoPackage or a database types it so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Number,
    Flag,
}

/// A column's names and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// For scripts and JSON: `nearest_m`.
    pub script: String,
    /// For spreadsheets: `plus_proche_m`.
    pub french: String,
    pub kind: Kind,
}

impl Column {
    /// A text column.
    pub fn new(script: impl Into<String>, french: impl Into<String>) -> Column {
        Column::typed(script, french, Kind::Text)
    }

    pub fn typed(script: impl Into<String>, french: impl Into<String>, kind: Kind) -> Column {
        Column {
            script: script.into(),
            french: french.into(),
            kind,
        }
    }

    /// A text column named alike for both (a user's own column).
    pub fn same(name: impl Into<String>) -> Column {
        let name = name.into();
        Column::new(name.clone(), name)
    }
}

/// A word with its script form and its French one (a status, a method).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub script: &'static str,
    pub french: &'static str,
}

impl Serialize for Term {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.script)
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Text(String),
    /// Written in French for spreadsheets, as its script form elsewhere.
    Term(Term),
    Int(i64),
    Number(f64),
    Flag(bool),
    /// Nothing known: an empty cell, `null` in JSON. Never written as 0.
    Empty,
}

impl Value {
    pub fn of<T: Into<Value>>(v: Option<T>) -> Value {
        v.map_or(Value::Empty, Into::into)
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Value::Empty => true,
            Value::Text(t) => t.is_empty(),
            _ => false,
        }
    }

    /// As a script reads it: decimal points, `true`/`false`.
    // Inline across crates: a located table calls it for every cell.
    #[inline]
    pub fn plain_text(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            Value::Text(t) => Cow::Borrowed(t),
            Value::Term(t) => Cow::Borrowed(t.script),
            Value::Int(n) => Cow::Owned(n.to_string()),
            Value::Number(x) => Cow::Owned(number_text(*x)),
            Value::Flag(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
            Value::Empty => Cow::Borrowed(""),
        }
    }
}

/// A number as a person writes it: 93066, not 93066.0.
pub fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        x.to_string()
    }
}

impl From<Term> for Value {
    fn from(t: Term) -> Value {
        Value::Term(t)
    }
}
impl From<&str> for Value {
    fn from(t: &str) -> Value {
        Value::Text(t.to_string())
    }
}
impl From<String> for Value {
    fn from(t: String) -> Value {
        Value::Text(t)
    }
}
impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}
impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}
impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::Int(i64::from(n))
    }
}
impl From<u16> for Value {
    fn from(n: u16) -> Value {
        Value::Int(i64::from(n))
    }
}
impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Number(x)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Flag(b)
    }
}

/// Columns and rows, and the lines that say what the table is (the
/// analysis's parameters, the date of each dataset): written before the
/// header where a format allows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub about: Vec<String>,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// The position of the column named `script`.
    pub fn column(&self, script: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.script == script)
    }

    /// A row as a JSON object keyed by the script names.
    pub fn row_object(&self, row: &[Value]) -> serde_json::Map<String, serde_json::Value> {
        row_object(&self.columns, row)
    }
}

/// A row of `columns` as a JSON object keyed by the script names.
pub fn row_object(columns: &[Column], row: &[Value]) -> serde_json::Map<String, serde_json::Value> {
    columns
        .iter()
        .zip(row)
        .map(|(c, v)| {
            (
                c.script.clone(),
                serde_json::to_value(v).expect("a cell is JSON"),
            )
        })
        .collect()
}
