//! CSV for a spreadsheet (`tableur`) or a script (`script`).

use std::borrow::Cow;
use std::io::Write;

use geodata::table::{Table, Value, number_text};

/// Who reads a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CsvStyle {
    /// French spreadsheet software (Excel, LibreOffice): a UTF-8 byte order
    /// mark (else Excel reads the accents as Windows-1252), `;`, decimal
    /// commas, French column names and terms, oui/non, and any text that a
    /// spreadsheet would run as a formula neutralised (OWASP: a leading `'`).
    Spreadsheet,
    /// Scripts: `,`, decimal points, the script names, true/false, cells as
    /// they are.
    Script,
}

impl CsvStyle {
    /// Their names in the API (`csv=`) and the CLI (`--csv`).
    pub const NAMES: [&'static str; 2] = ["tableur", "script"];

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "tableur" => Some(CsvStyle::Spreadsheet),
            "script" => Some(CsvStyle::Script),
            _ => None,
        }
    }

    pub fn delimiter(self) -> u8 {
        match self {
            CsvStyle::Spreadsheet => b';',
            CsvStyle::Script => b',',
        }
    }

    /// What the file starts with.
    pub fn start(self) -> &'static [u8] {
        match self {
            CsvStyle::Spreadsheet => "\u{feff}".as_bytes(),
            CsvStyle::Script => b"",
        }
    }

    /// A column's name for this reader.
    pub fn column(self, column: &geodata::table::Column) -> &str {
        match self {
            CsvStyle::Spreadsheet => &column.french,
            CsvStyle::Script => &column.script,
        }
    }

    /// A cell as this reader takes it.
    pub fn cell<'a>(self, value: &'a Value) -> Cow<'a, str> {
        match (self, value) {
            (CsvStyle::Spreadsheet, Value::Number(x)) => {
                Cow::Owned(number_text(*x).replace('.', ","))
            }
            (CsvStyle::Spreadsheet, Value::Flag(b)) => {
                Cow::Borrowed(if *b { "oui" } else { "non" })
            }
            (CsvStyle::Spreadsheet, Value::Text(t)) => neutralised(t),
            (CsvStyle::Spreadsheet, Value::Term(t)) => Cow::Borrowed(t.french),
            (CsvStyle::Script, v) => v.plain_text(),
            (CsvStyle::Spreadsheet, v) => v.plain_text(),
        }
    }

    /// A user's own cell (copied through): neutralised for a spreadsheet.
    pub fn text<'a>(self, text: &'a str) -> Cow<'a, str> {
        match self {
            CsvStyle::Spreadsheet => neutralised(text),
            CsvStyle::Script => Cow::Borrowed(text),
        }
    }

    /// The same for a cell's UTF-8 bytes, copied without a look where its
    /// first byte cannot start a formula (a million-row file's cells, most
    /// of them).
    pub fn text_bytes<'a>(self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        match (self, bytes.first()) {
            (CsvStyle::Spreadsheet, Some(first)) if FORMULA_STARTS.contains(first) => {
                match neutralised(&String::from_utf8_lossy(bytes)) {
                    Cow::Owned(text) => Cow::Owned(text.into_bytes()),
                    Cow::Borrowed(_) => Cow::Borrowed(bytes),
                }
            }
            _ => Cow::Borrowed(bytes),
        }
    }
}

/// The first characters a spreadsheet may run as a formula.
const FORMULA_STARTS: [u8; 6] = [b'=', b'+', b'-', b'@', b'\t', b'\r'];

/// Whether a spreadsheet would take `text` for a formula: it starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return, and is not a plain
/// number (`-0.55`, `+33`: a spreadsheet reads those as numbers, and they
/// stay numbers).
fn runs_as_formula(text: &str) -> bool {
    let Some(first) = text.bytes().next() else {
        return false;
    };
    if !FORMULA_STARTS.contains(&first) {
        return false;
    }
    let digits = text[1..].replace(',', ".");
    let plain_number = matches!(first, b'+' | b'-')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.parse::<f64>().is_ok();
    !plain_number
}

/// `text`, with a leading `'` if a spreadsheet would run it as a formula.
pub fn neutralised(text: &str) -> Cow<'_, str> {
    if runs_as_formula(text) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Writes `table`: its `about` lines first, each starting with `# ` (with
/// neither `,` nor `;`, so that a spreadsheet reads each as one cell), then
/// the header and the rows.
pub fn write_table(table: &Table, style: CsvStyle, out: impl Write) -> std::io::Result<()> {
    let mut out = out;
    out.write_all(style.start())?;
    for line in &table.about {
        writeln!(out, "# {}", line.replace([',', ';', '\n', '\r'], " "))?;
    }
    let mut writer = ::csv::WriterBuilder::new()
        .delimiter(style.delimiter())
        .from_writer(out);
    writer.write_record(table.columns.iter().map(|c| style.column(c)))?;
    for row in &table.rows {
        writer.write_record(row.iter().map(|v| style.cell(v).into_owned()))?;
    }
    writer.flush()?;
    Ok(())
}

/// The same, in memory.
pub fn table_bytes(table: &Table, style: CsvStyle) -> Vec<u8> {
    let mut out = Vec::new();
    write_table(table, style, &mut out).expect("writing to memory");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use geodata::table::Column;

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        for formula in [
            "=1+1",
            "+cmd|' /C calc'!A0",
            "-2+3",
            "@SUM(A1)",
            "\tx",
            "\rx",
            "=HYPERLINK(\"http://x\")",
        ] {
            assert_eq!(neutralised(formula), format!("'{formula}"));
        }
        for plain in ["-0.55", "+33", "-12,5", "Régie", "", "2.35", "a=b"] {
            assert_eq!(neutralised(plain), plain);
        }
        assert_eq!(CsvStyle::Script.text("=1+1"), "=1+1");
    }

    #[test]
    fn bytes_are_neutralised_as_text_is() {
        for cell in [
            "=1+1", "-2+3", "@SUM(A1)", "\tx", "-0.55", "+33", "Régie", "", "a=b",
        ] {
            for style in [CsvStyle::Spreadsheet, CsvStyle::Script] {
                assert_eq!(
                    style.text_bytes(cell.as_bytes()).as_ref(),
                    style.text(cell).as_bytes(),
                    "{cell:?} for {style:?}"
                );
            }
        }
    }

    #[test]
    fn one_table_two_readers() {
        let table = Table {
            about: vec!["analyse à 500 m; test".into()],
            columns: vec![
                Column::new("name", "nom"),
                Column::new("nearest_m", "plus_proche_m"),
                Column::new("gap", "manque"),
            ],
            rows: vec![
                vec![Value::from("=cmd"), Value::Number(12.5), Value::Flag(true)],
                vec![Value::from("B"), Value::Empty, Value::Flag(false)],
            ],
        };
        let tableur = String::from_utf8(table_bytes(&table, CsvStyle::Spreadsheet)).unwrap();
        assert_eq!(
            tableur,
            "\u{feff}# analyse à 500 m  test\nnom;plus_proche_m;manque\n'=cmd;12,5;oui\nB;;non\n"
        );
        let script = String::from_utf8(table_bytes(&table, CsvStyle::Script)).unwrap();
        assert_eq!(
            script,
            "# analyse à 500 m  test\nname,nearest_m,gap\n=cmd,12.5,true\nB,,false\n"
        );
    }
}
