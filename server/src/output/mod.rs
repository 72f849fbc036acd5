//! Tables out: one writer per format for every table ess-map emits (the gap
//! analysis, the comparison, located addresses, import reports), so that
//! the spreadsheet conventions live in one place ([`csv::CsvStyle`]):
//! a UTF-8 byte order mark, `;`, decimal commas, French column names and
//! terms, and formulas neutralised, or, for scripts, `,`, decimal points,
//! the script names, and cells as they are.

pub mod csv;
pub mod gaps;
pub mod sheets;

pub use csv::CsvStyle;
