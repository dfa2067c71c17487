//! One CSV file as the imports read it: found by header name in any column order, a BOM and blank
//! lines skipped, each row with the line it starts on, unreadable rows reported.

use std::collections::BTreeMap;

use super::roster::RowError;

/// One CSV file: a header, then rows read by column name.
pub(crate) struct Table<'a> {
    /// The file's name, for errors.
    pub file: &'a str,
    /// Column name → index.
    pub columns: BTreeMap<String, usize>,
    /// Each row with the line it starts on.
    pub rows: Vec<(u64, Vec<String>)>,
}

impl<'a> Table<'a> {
    /// Reads a CSV file: BOM and blank lines skipped, unreadable rows reported.
    pub(crate) fn read(file: &'a str, text: &str, errors: &mut Vec<RowError>) -> Option<Table<'a>> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
        let header = match reader.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                errors.push(RowError { file: file.into(), line: 1, reason: format!("unreadable header: {e}") });
                return None;
            }
        };
        let columns = header.iter().enumerate().map(|(i, name)| (name.trim().to_owned(), i)).collect();
        // The line a record starts on, counted from its byte offset. The reader's offset (and its
        // own line count) is where it began to look, before any blank lines it skipped.
        let bytes = text.as_bytes();
        let line_at = |byte: u64| {
            let mut start = (byte as usize).min(bytes.len());
            while start < bytes.len() && (bytes[start] == b'\n' || bytes[start] == b'\r') {
                start += 1;
            }
            1 + bytes[..start].iter().filter(|b| **b == b'\n').count() as u64
        };
        let mut rows = Vec::new();
        for record in reader.records() {
            match record {
                Ok(r) => {
                    let line = r.position().map_or(0, |p| line_at(p.byte()));
                    if r.iter().all(|f| f.trim().is_empty()) {
                        continue; // a line of commas only
                    }
                    rows.push((line, r.iter().map(|f| f.trim().to_owned()).collect()));
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| line_at(p.byte()));
                    errors.push(RowError { file: file.into(), line, reason: format!("unreadable row: {e}") });
                }
            }
        }
        Some(Table { file, columns, rows })
    }

    /// Checks the columns a file must have; reports the first missing one.
    pub(crate) fn require(&self, names: &[&str], errors: &mut Vec<RowError>) -> bool {
        match names.iter().find(|n| !self.columns.contains_key(**n)) {
            Some(missing) => {
                errors.push(RowError { file: self.file.into(), line: 1, reason: format!("no column {missing:?}") });
                false
            }
            None => true,
        }
    }

    /// Each row as column name → value, with its line.
    pub(crate) fn maps(&self) -> impl Iterator<Item = (u64, BTreeMap<String, String>)> + '_ {
        self.rows.iter().map(|(line, fields)| {
            let row = self
                .columns
                .iter()
                .map(|(name, &i)| (name.clone(), fields.get(i).cloned().unwrap_or_default()))
                .collect();
            (*line, row)
        })
    }
}
