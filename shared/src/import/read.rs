//! Reading the records out of a file, whatever its shape: gzip or not; JSON with one record
//! (or one page) per line, as Storage writes diagnostic settings; one JSON document (a Graph
//! `{"value":[...]}` page, an Event Hubs `{"records":[...]}` message, an array of rows, a Log
//! Analytics query response `{"tables":[...]}`), pretty-printed or not; or CSV with a header
//! row. Each record comes with the line it starts on.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "standard input".into(),
        }
    }
}

/// What the command line's paths stand for: the inputs to read, and the files found in folders
/// that are not log exports by their name (a README, a hidden file, a script), passed over.
#[derive(Debug, Default)]
pub struct Expanded {
    pub inputs: Vec<Input>,
    pub skipped: Vec<PathBuf>,
}

/// The file names a folder's log exports have: JSON (`PT1H.json`, Graph pages), JSON lines,
/// CSV, gzip of any of them, or no extension at all.
const EXPORT_EXTENSIONS: [&str; 5] = ["json", "jsonl", "ndjson", "csv", "gz"];

/// Whether a file found in a folder is read: not hidden, and named like an export. A file
/// named on the command line is always read.
fn looks_like_export(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') {
        return false;
    }
    match path.extension().and_then(|e| e.to_str()) {
        None => true,
        Some(ext) => EXPORT_EXTENSIONS
            .iter()
            .any(|e| e.eq_ignore_ascii_case(ext)),
    }
}

/// The command line's paths as inputs: `-` is standard input, a folder stands for every
/// export-named file under it (in name order). A path that does not exist is an error naming it.
pub fn expand(paths: &[String]) -> Result<Expanded, String> {
    let mut out = Expanded::default();
    for p in paths {
        if p == "-" {
            out.inputs.push(Input::Stdin);
            continue;
        }
        let path = Path::new(p);
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).map_err(|e| format!("cannot read the folder {p}: {e}"))?;
            if found.is_empty() {
                return Err(format!("the folder {p} holds no files"));
            }
            for file in found {
                if looks_like_export(&file) {
                    out.inputs.push(Input::File(file));
                } else {
                    out.skipped.push(file);
                }
            }
        } else if path.is_file() {
            out.inputs.push(Input::File(path.to_path_buf()));
        } else {
            return Err(format!("{p}: no such file or folder"));
        }
    }
    Ok(out)
}

/// Every file under `dir`, in name order. A folder reached twice (a symbolic link to a folder
/// above it, or two links to one folder) is read once.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut seen = std::collections::HashSet::new();
    walk_once(dir, out, &mut seen)
}

fn walk_once(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> std::io::Result<()> {
    if !seen.insert(std::fs::canonicalize(dir)?) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk_once(&path, out, seen)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// The longest line (one record, or one page of records) read: Graph pages of 1,000 sign-ins
/// are a few MB; anything far larger is refused by its line number, never held whole.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;
/// The largest single JSON document read whole (a pretty-printed export); larger ones are
/// refused, with the advice to export one record per line.
pub const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

/// Counts the bytes read from the source (compressed, for a `.gz`), for the progress bar.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input, decompressing gzip (recognised by its magic bytes, whatever the name).
/// `bytes` counts what is read from the source.
pub fn open(input: &Input, bytes: Arc<AtomicU64>) -> std::io::Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = match input {
        Input::File(p) => Box::new(std::fs::File::open(p)?),
        Input::Stdin => Box::new(std::io::stdin()),
    };
    let mut reader = BufReader::with_capacity(
        256 * 1024,
        Counting {
            inner: raw,
            count: bytes,
        },
    );
    let gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

/// How a file's records were laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Lines,
    Document,
    Csv,
    Empty,
}

impl Layout {
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Lines => "JSON, one record or page per line",
            Layout::Document => "one JSON document",
            Layout::Csv => "CSV",
            Layout::Empty => "empty",
        }
    }
}

/// A record read (or a line that could not be read), with the line it starts on.
pub type Item = (usize, Result<Value, String>);

/// Reads every record of `reader`, handing each to `each`. An error is what makes the rest of
/// the file unreadable (not JSON or CSV at all, a document broken before its records could be
/// told apart); a broken line only loses that line.
pub fn records(reader: &mut dyn BufRead, each: &mut dyn FnMut(Item)) -> Result<Layout, String> {
    let first = {
        let buf = reader.fill_buf().map_err(|e| e.to_string())?;
        let buf = buf.strip_prefix(b"\xef\xbb\xbf".as_slice()).unwrap_or(buf);
        buf.iter().copied().find(|b| !b.is_ascii_whitespace())
    };
    match first {
        None => Ok(Layout::Empty),
        Some(b'{' | b'[') => json(reader, each),
        Some(b) if b.is_ascii_graphic() => csv_rows(reader, each),
        Some(b) => Err(format!(
            "not a format this imports: not JSON or CSV text, it starts with the byte 0x{b:02x} (Event Hubs Capture's Avro files are not read: export their bodies as JSON first)"
        )),
    }
}

fn json(reader: &mut dyn BufRead, each: &mut dyn FnMut(Item)) -> Result<Layout, String> {
    let mut line = Vec::new();
    let mut number = 0usize;
    // Skip blank lines before the first record.
    let first = loop {
        line.clear();
        let read = read_line(reader, &mut line, MAX_LINE_BYTES)?;
        if read == Line::End {
            return Ok(Layout::Empty);
        }
        number += 1;
        if read == Line::TooLong || !line.trim_ascii().is_empty() {
            break read;
        }
    };
    let first_is_whole = first == Line::Whole
        && std::str::from_utf8(line.trim_ascii())
            .is_ok_and(|t| serde_json::from_str::<&RawValue>(t).is_ok());
    if !first_is_whole && first == Line::Whole && std::str::from_utf8(&line).is_ok() {
        // One document over several lines: read whole, up to a bound.
        let mut doc = line;
        let limit = MAX_DOCUMENT_BYTES.saturating_sub(doc.len() as u64);
        reader
            .take(limit + 1)
            .read_to_end(&mut doc)
            .map_err(|e| format!("cannot read: {e}"))?;
        if doc.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "one JSON document larger than {} MiB is not imported: export one record (or page) per line, which is read line by line",
                MAX_DOCUMENT_BYTES >> 20
            ));
        }
        let doc = String::from_utf8(doc).map_err(|e| {
            format!(
                "not UTF-8 text (byte {} of the document); a document is read whole, so one bad byte loses it — one record per line loses only that line",
                e.utf8_error().valid_up_to()
            )
        })?;
        return document(&doc, number - 1, each).map(|_| Layout::Document);
    }
    let mut read = first;
    loop {
        match read {
            Line::TooLong => each((
                number,
                Err(format!(
                    "the line is longer than {} MiB; a record that large is not imported",
                    MAX_LINE_BYTES >> 20
                )),
            )),
            _ => match std::str::from_utf8(line.trim_ascii()) {
                Ok("") => {}
                Ok(text) => match serde_json::from_str::<Value>(text) {
                    Ok(v) => unwrap_envelope(v, number, each),
                    Err(e) => each((number, Err(format!("not valid JSON: {e}")))),
                },
                Err(e) => each((
                    number,
                    Err(format!(
                        "not UTF-8 text (byte {} of the line)",
                        e.valid_up_to() + 1
                    )),
                )),
            },
        }
        line.clear();
        read = read_line(reader, &mut line, MAX_LINE_BYTES)?;
        if read == Line::End {
            return Ok(Layout::Lines);
        }
        number += 1;
    }
}

/// What reading a line gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Whole,
    /// Longer than the limit: its bytes were passed over, not kept.
    TooLong,
    End,
}

/// Reads one line's bytes (without decoding) into `line`, keeping at most `limit` of them.
fn read_line(reader: &mut dyn BufRead, line: &mut Vec<u8>, limit: usize) -> Result<Line, String> {
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = reader.fill_buf().map_err(|e| format!("cannot read: {e}"))?;
        if buf.is_empty() {
            return Ok(match (any, too_long) {
                (false, _) => Line::End,
                (true, true) => Line::TooLong,
                (true, false) => Line::Whole,
            });
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let n = chunk.len();
        if !too_long {
            if line.len() + n > limit {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(chunk);
            }
        }
        reader.consume(n);
        if done {
            return Ok(if too_long { Line::TooLong } else { Line::Whole });
        }
    }
}

/// A line holding a page (`value`), an Event Hubs message (`records`) or an array gives each
/// of its records; anything else is one record.
fn unwrap_envelope(v: Value, line: usize, each: &mut dyn FnMut(Item)) {
    match v {
        Value::Array(items) => items.into_iter().for_each(|r| each((line, Ok(r)))),
        Value::Object(mut o) => {
            for key in ["value", "records"] {
                if o.get(key).is_some_and(Value::is_array) {
                    if let Some(Value::Array(items)) = o.remove(key) {
                        items.into_iter().for_each(|r| each((line, Ok(r))));
                    }
                    return;
                }
            }
            each((line, Ok(Value::Object(o))));
        }
        other => each((line, Ok(other))),
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    value: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    records: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    tables: Option<Vec<Table<'a>>>,
}

#[derive(Deserialize)]
struct Table<'a> {
    columns: Vec<Column>,
    #[serde(borrow)]
    rows: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct Column {
    name: String,
}

/// One or more JSON documents (pretty-printed pages, say), each record with its line.
fn document(doc: &str, lines_before: usize, each: &mut dyn FnMut(Item)) -> Result<(), String> {
    let mut lines = Lines {
        doc,
        offset: 0,
        line: lines_before + 1,
    };
    for top in serde_json::Deserializer::from_str(doc).into_iter::<&RawValue>() {
        let top = top.map_err(|e| {
            format!(
                "not valid JSON at line {}, column {} ({e}); a document broken before its records can be told apart is not imported — one record per line keeps the others",
                e.line() + lines_before,
                e.column()
            )
        })?;
        let text = top.get();
        let envelope = text
            .starts_with('{')
            .then(|| serde_json::from_str::<Envelope>(text).ok())
            .flatten();
        let elements: Vec<&RawValue> = match envelope {
            Some(Envelope {
                tables: Some(tables),
                ..
            }) => {
                for t in tables {
                    for row in t.rows {
                        let line = lines.at(row.get());
                        let item = match serde_json::from_str::<Vec<Value>>(row.get()) {
                            Ok(cells) => Ok(Value::Object(
                                t.columns
                                    .iter()
                                    .map(|c| c.name.clone())
                                    .zip(cells)
                                    .collect::<Map<String, Value>>(),
                            )),
                            Err(_) => Err("a row of \"tables\" must be an array of cells".into()),
                        };
                        each((line, item));
                    }
                }
                continue;
            }
            Some(Envelope { value: Some(v), .. }) => v,
            Some(Envelope {
                records: Some(r), ..
            }) => r,
            _ if text.starts_with('[') => {
                serde_json::from_str::<Vec<&RawValue>>(text).map_err(|e| e.to_string())?
            }
            _ => vec![top],
        };
        for raw in elements {
            let line = lines.at(raw.get());
            let item = serde_json::from_str::<Value>(raw.get()).map_err(|e| e.to_string());
            each((line, item));
        }
    }
    Ok(())
}

/// Line numbers of slices of a document, counted forward as they come.
struct Lines<'a> {
    doc: &'a str,
    offset: usize,
    line: usize,
}

impl Lines<'_> {
    fn at(&mut self, part: &str) -> usize {
        let start = (part.as_ptr() as usize).saturating_sub(self.doc.as_ptr() as usize);
        if start >= self.offset && start <= self.doc.len() {
            self.line += self.doc.as_bytes()[self.offset..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            self.offset = start;
        }
        self.line
    }
}

/// CSV with a header row (a Log Analytics export): each row an object of its cells, named by
/// the header (without the ` [UTC]` the portal appends to time columns).
fn csv_rows(reader: &mut dyn BufRead, each: &mut dyn FnMut(Item)) -> Result<Layout, String> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header: Vec<String> = csv
        .headers()
        .map_err(|e| format!("not CSV with a header row: {e}"))?
        .iter()
        .map(|h| {
            let h = h.trim();
            match h.find(" [") {
                Some(i) if h.ends_with(']') => h[..i].to_string(),
                _ => h.to_string(),
            }
        })
        .collect();
    if header.len() < 2 {
        return Err(format!(
            "not a format this imports: not JSON, and not CSV with a header row (the first line has {} column)",
            header.len()
        ));
    }
    let mut row = csv::StringRecord::new();
    loop {
        let line = csv.position().line() as usize;
        match csv.read_record(&mut row) {
            Ok(false) => return Ok(Layout::Csv),
            Ok(true) => {
                let line = row.position().map(|p| p.line() as usize).unwrap_or(line);
                let item = if row.len() != header.len() {
                    Err(format!(
                        "{} cells where the header has {} columns",
                        row.len(),
                        header.len()
                    ))
                } else {
                    Ok(Value::Object(
                        header
                            .iter()
                            .cloned()
                            .zip(row.iter().map(|c| Value::String(c.to_string())))
                            .collect(),
                    ))
                };
                each((line, item));
            }
            Err(e) => {
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(format!("cannot read: {e}"));
                }
                each((line + 1, Err(format!("not a readable CSV row: {e}"))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (Result<Layout, String>, Vec<Item>) {
        let mut items = Vec::new();
        let mut reader = std::io::Cursor::new(text.as_bytes().to_vec());
        let layout = records(&mut reader, &mut |i| items.push(i));
        (layout, items)
    }

    #[test]
    fn lines_keep_going_past_a_broken_one_and_expand_pages() {
        let (layout, items) =
            read("{\"id\":\"a\"}\n{broken\n\n{\"value\":[{\"id\":\"b\"},{\"id\":\"c\"}]}\n");
        assert_eq!(layout, Ok(Layout::Lines));
        let lines: Vec<usize> = items.iter().map(|i| i.0).collect();
        assert_eq!(lines, [1, 2, 4, 4]);
        assert!(items[1].1.as_ref().unwrap_err().contains("not valid JSON"));
        assert_eq!(items[3].1.as_ref().unwrap()["id"], "c");
    }

    #[test]
    fn documents_give_each_record_its_line() {
        let doc = "{\n  \"@odata.context\": \"x\",\n  \"value\": [\n    {\n      \"id\": \"a\"\n    },\n    {\n      \"id\": \"b\"\n    }\n  ]\n}\n";
        let (layout, items) = read(doc);
        assert_eq!(layout, Ok(Layout::Document));
        assert_eq!(items.iter().map(|i| i.0).collect::<Vec<_>>(), [4, 7]);
        let (_, items) = read("[\n {\"Id\": 1},\n {\"Id\": 2}\n]");
        assert_eq!(items.iter().map(|i| i.0).collect::<Vec<_>>(), [2, 3]);
        let tables = "{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":[{\"name\":\"Id\",\"type\":\"string\"},{\"name\":\"Type\",\"type\":\"string\"}],\n\"rows\":[[\"a\",\"AuditLogs\"],\n[\"b\",\"AuditLogs\"]]}]}";
        let (_, items) = read(tables);
        assert_eq!(items[1].0, 3);
        assert_eq!(items[1].1.as_ref().unwrap()["Type"], "AuditLogs");
        let (layout, _) = read("{\n \"value\": [\n {\"id\": }\n]}");
        assert!(layout.unwrap_err().contains("line 3"));
    }

    #[test]
    fn csv_rows_are_objects_named_by_the_header() {
        let (layout, items) = read(
            "TenantId,TimeGenerated [UTC],Status\nt,2026-11-27T10:00:00Z,\"{\"\"errorCode\"\":0}\"\nshort\n",
        );
        assert_eq!(layout, Ok(Layout::Csv));
        let row = items[0].1.as_ref().unwrap();
        assert_eq!(row["TimeGenerated"], "2026-11-27T10:00:00Z");
        assert_eq!(row["Status"], "{\"errorCode\":0}");
        assert_eq!(items[1].0, 3);
        assert!(items[1].1.as_ref().unwrap_err().contains("1 cells"));
    }

    #[test]
    fn binary_and_empty_files_are_named_as_such() {
        assert!(read("\u{1}\u{2}").0.unwrap_err().contains("0x01"));
        assert_eq!(read("  \n").0, Ok(Layout::Empty));
    }
}
