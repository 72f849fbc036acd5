//! XLSX and ODS workbooks of a table: one sheet, the French column names
//! in bold, numbers as numbers, text as text (a workbook's text cell is
//! never run as a formula), oui/non.

use geodata::table::{Table, Value};

/// Why a workbook could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the workbook: {0}")]
pub struct SheetError(String);

/// A cell as a workbook holds it.
enum Cell<'a> {
    Text(std::borrow::Cow<'a, str>),
    Number(f64),
}

fn cell(value: &Value) -> Option<Cell<'_>> {
    Some(match value {
        Value::Empty => return None,
        Value::Text(t) if t.is_empty() => return None,
        Value::Text(t) => Cell::Text(t.into()),
        Value::Term(t) => Cell::Text(t.french.into()),
        Value::Int(n) => Cell::Number(*n as f64),
        Value::Number(x) => Cell::Number(*x),
        Value::Flag(b) => Cell::Text((if *b { "oui" } else { "non" }).into()),
    })
}

pub fn xlsx(table: &Table, sheet_name: &str) -> Result<Vec<u8>, SheetError> {
    let bad = |e: rust_xlsxwriter::XlsxError| SheetError(e.to_string());
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(sheet_name).map_err(bad)?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let column = |c: usize| u16::try_from(c).map_err(|_| SheetError("too many columns".into()));
    for (c, name) in table.columns.iter().enumerate() {
        sheet
            .write_string_with_format(0, column(c)?, &name.french, &bold)
            .map_err(bad)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| SheetError("too many rows".into()))?;
        for (c, value) in row.iter().enumerate() {
            match cell(value) {
                None => {}
                Some(Cell::Text(t)) => {
                    sheet.write_string(r, column(c)?, t).map_err(bad)?;
                }
                Some(Cell::Number(n)) => {
                    sheet.write_number(r, column(c)?, n).map_err(bad)?;
                }
            }
        }
    }
    book.save_to_buffer().map_err(bad)
}

pub fn ods(table: &Table, sheet_name: &str) -> Result<Vec<u8>, SheetError> {
    let mut book = spreadsheet_ods::WorkBook::new_empty();
    let mut sheet = spreadsheet_ods::Sheet::new(sheet_name);
    for (c, name) in table.columns.iter().enumerate() {
        sheet.set_value(0, c as u32, name.french.as_str());
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = u32::try_from(r + 1).map_err(|_| SheetError("too many rows".into()))?;
        for (c, value) in row.iter().enumerate() {
            match cell(value) {
                None => {}
                Some(Cell::Text(t)) => sheet.set_value(r, c as u32, t.as_ref()),
                Some(Cell::Number(n)) => sheet.set_value(r, c as u32, n),
            }
        }
    }
    book.push_sheet(sheet);
    spreadsheet_ods::write_ods_buf(&mut book, Vec::new()).map_err(|e| SheetError(e.to_string()))
}
