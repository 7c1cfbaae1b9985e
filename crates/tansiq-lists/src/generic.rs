//! Generic lists (JSONL and CSV) and the inputs of `tansiq screen`: name
//! batches (`--names`) and standalone lists (`--list`).

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::country::country_code;
use crate::csv::Reader;
use crate::dates::is_partial_date;
use crate::error::{ListError, Location};
use crate::schema::{
    clean, Builder, Doc, Listing, MAX_DOC_CHARS, MAX_LIST_CHARS, MAX_NAMES, MAX_NAME_CHARS,
    MAX_PLACE_CHARS, MAX_TEXT_CHARS,
};
use crate::{read_text, EntryKind, ImportedEntry, Progress, Skips};

/// One name to screen (`tansiq screen --names`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameQuery {
    pub id: String,
    pub name: String,
    /// `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub birth_date: Option<String>,
    /// ISO 3166-1 alpha-2 codes.
    pub nationality: Vec<String>,
    /// `male` or `female`.
    pub gender: Option<String>,
}

/// One entry of a standalone screening list (`tansiq screen --list`).
#[derive(Debug, Clone, PartialEq)]
pub struct ListEntryInput {
    pub id: String,
    /// Person data in the record schema: the line's fields minus `id` (and
    /// minus `kind`).
    pub data: Value,
}

/// A problem with one field of one line.
struct FieldError {
    field: String,
    message: String,
}

fn ferr(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// How a file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Jsonl,
    Csv(char),
}

/// By extension (.jsonl/.ndjson/.json, .csv, .tsv), else by the first
/// character: `{` means JSONL.
fn layout_of(path: &Path, text: &str) -> Layout {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "jsonl" | "ndjson" | "json" => Layout::Jsonl,
        "csv" => Layout::Csv(','),
        "tsv" | "tab" => Layout::Csv('\t'),
        _ => {
            let first = text
                .trim_start_matches('\u{feff}')
                .trim_start()
                .chars()
                .next();
            if first == Some('{') {
                Layout::Jsonl
            } else if text
                .lines()
                .next()
                .is_some_and(|l| l.contains('\t') && !l.contains(','))
            {
                Layout::Csv('\t')
            } else {
                Layout::Csv(',')
            }
        }
    }
}

/// One object of the input, with where it came from.
struct Row {
    line: u64,
    object: Map<String, Value>,
    /// CSV: field name → column where the field starts.
    columns: HashMap<String, u64>,
    end_offset: u64,
}

impl Row {
    fn at(&self, field: &str) -> Location {
        match self.columns.get(field) {
            Some(c) => Location::line_col(self.line, *c),
            None => Location::line(self.line),
        }
    }
}

/// Reads a JSONL file into objects, one per non-blank line. A line that is
/// not a JSON object is the error of the whole file, unless `lenient`,
/// where it is an `Err` item in its place (each line stands alone).
fn jsonl_rows(path: &Path, text: &str, lenient: bool) -> Result<Vec<RowResult>, ListError> {
    let mut rows = Vec::new();
    let mut offset = 0u64;
    for (i, raw) in text.split('\n').enumerate() {
        offset += raw.len() as u64 + 1;
        let line = i as u64 + 1;
        let l = raw.trim_end_matches('\r');
        let l = if line == 1 {
            l.trim_start_matches('\u{feff}')
        } else {
            l
        };
        if l.trim().is_empty() {
            continue;
        }
        let end_offset = offset.min(text.len() as u64);
        let value: Value = match serde_json::from_str(l) {
            Ok(v) => v,
            Err(e) => {
                // A JSON array spread over lines is a file of another
                // format, not one bad line.
                let array = line == 1 && l.trim_start().starts_with('[');
                let error = ListError::malformed(
                    path,
                    Location::line_col(line, e.column() as u64),
                    if array {
                        format!("this line is not valid JSON ({e}); the file looks like one JSON array, but each line must hold one JSON object (JSON Lines)")
                    } else {
                        format!("this line is not valid JSON ({e}); each line must hold one JSON object")
                    },
                );
                if !lenient || array {
                    return Err(error);
                }
                rows.push(Err((error, end_offset)));
                continue;
            }
        };
        let Value::Object(object) = value else {
            let error = ListError::malformed(
                path,
                Location::line(line),
                format!(
                    "this line holds {}, not a JSON object; each line must be one object such as {{\"id\": \"E1\", \"names\": [\"…\"]}}",
                    json_type(&value)
                ),
            );
            if !lenient {
                return Err(error);
            }
            rows.push(Err((error, end_offset)));
            continue;
        };
        rows.push(Ok(Row {
            line,
            object,
            columns: HashMap::new(),
            end_offset,
        }));
    }
    Ok(rows)
}

/// A row, or (lenient mode) the error that makes its line unusable and the
/// byte offset just past it.
type RowResult = Result<Row, (ListError, u64)>;

/// The rows of a strict read: `rows` holds no `Err` items then.
fn all_rows(rows: Vec<RowResult>) -> Result<Vec<Row>, ListError> {
    rows.into_iter().map(|r| r.map_err(|(e, _)| e)).collect()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a CSV file with a header line. Cells stay strings (empty cells are
/// left out); `synonyms` renames columns and `known` says which columns
/// are known (an unknown column is an error when `strict`). A record with
/// the wrong number of fields is the error of the whole file, unless
/// `lenient`, where it is an `Err` item in its place. Header and quoting
/// errors always are: after a quoting error, where the record ends is
/// unknown, since quoted fields may span lines.
fn csv_rows(
    path: &Path,
    text: &str,
    delimiter: char,
    known: &[&str],
    synonyms: &[(&str, &str)],
    strict: bool,
    lenient: bool,
) -> Result<Vec<RowResult>, ListError> {
    let mut reader = Reader::new(text, delimiter, true);
    let syntax = |e: crate::csv::SyntaxError| {
        ListError::malformed(path, Location::line_col(e.line, e.column), e.message)
    };
    let Some(header) = reader.next_record() else {
        return Err(ListError::malformed(
            path,
            Location::File,
            "the file is empty; a CSV file needs a header line naming its columns (at least id and name)",
        ));
    };
    let header = header.map_err(syntax)?;
    let mut names: Vec<Option<String>> = Vec::new();
    for (i, h) in header.fields.iter().enumerate() {
        let h = header_key(h);
        let h = synonyms
            .iter()
            .find(|(s, _)| *s == h)
            .map(|(_, to)| to.to_string())
            .unwrap_or(h);
        let (line, column) = header.line_of(i);
        if known.contains(&h.as_str()) {
            if names.iter().flatten().any(|n| *n == h) {
                return Err(ListError::malformed(
                    path,
                    Location::line_col(line, column),
                    format!("column {h:?} appears twice in the header"),
                ));
            }
            names.push(Some(h));
        } else if strict {
            return Err(ListError::malformed(
                path,
                Location::line_col(line, column),
                format!(
                    "unknown column {h:?} in the header; the columns may be: {}",
                    known.join(", ")
                ),
            ));
        } else {
            names.push(None);
        }
    }
    let mut rows = Vec::new();
    while let Some(rec) = reader.next_record() {
        let rec = rec.map_err(syntax)?;
        if rec.fields.len() != names.len() {
            let at = if rec.fields.len() > names.len() {
                let (l, c) = rec.line_of(names.len());
                Location::line_col(l, c)
            } else {
                Location::line(rec.line)
            };
            let error = ListError::malformed(
                path,
                at,
                format!(
                    "expected {} fields, as in the header, but found {}; a field is missing, or a {} inside a field is not enclosed in double quotes",
                    names.len(),
                    rec.fields.len(),
                    if delimiter == '\t' { "tab" } else { "comma" }
                ),
            );
            if !lenient {
                return Err(error);
            }
            rows.push(Err((error, rec.end_offset)));
            continue;
        }
        let mut object = Map::new();
        let mut columns = HashMap::new();
        for (i, (name, cell)) in names.iter().zip(&rec.fields).enumerate() {
            let Some(name) = name else { continue };
            let (_, column) = rec.line_of(i);
            columns.insert(name.clone(), column);
            if !cell.trim().is_empty() {
                object.insert(name.clone(), Value::String(cell.clone()));
            }
        }
        rows.push(Ok(Row {
            line: rec.line,
            object,
            columns,
            end_offset: rec.end_offset,
        }));
    }
    Ok(rows)
}

/// A string or integer id.
fn id_of(object: &Map<String, Value>, field: &str) -> Result<String, FieldError> {
    let id = match object.get(field) {
        None | Some(Value::Null) => {
            return Err(ferr(
                field,
                format!("the {field:?} field is missing; every line needs an id"),
            ))
        }
        Some(Value::String(s)) => clean(s),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        Some(other) => {
            return Err(ferr(
                field,
                format!("\"{field}\" must be a string, not {}", json_type(other)),
            ))
        }
    };
    if id.is_empty() {
        return Err(ferr(field, format!("\"{field}\" is empty")));
    }
    if id.chars().count() > 200 {
        return Err(ferr(
            field,
            format!("\"{field}\" is longer than 200 characters"),
        ));
    }
    Ok(id)
}

fn string_of(v: &Value, field: &str) -> Result<String, FieldError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(ferr(
            field,
            format!("\"{field}\" must be a string, not {}", json_type(other)),
        )),
    }
}

/// An array of strings, or one string; in CSV cells (`split`), values are
/// separated by `;` (and, for codes, `,`).
fn strings_of(v: &Value, field: &str, split: &[char]) -> Result<Vec<String>, FieldError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if split.is_empty() => Ok(vec![s.clone()]),
        Value::String(s) => Ok(s.split(split).map(str::to_string).collect()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Value::String(s) => Ok(s.clone()),
                other => Err(ferr(
                    field,
                    format!(
                        "\"{field}\"[{i}] must be a string, not {}",
                        json_type(other)
                    ),
                )),
            })
            .collect(),
        other => Err(ferr(
            field,
            format!(
                "\"{field}\" must be an array of strings, not {}",
                json_type(other)
            ),
        )),
    }
}

fn date_of(v: &str, field: &str) -> Result<String, FieldError> {
    let d = v.trim();
    if is_partial_date(d) {
        Ok(d.to_string())
    } else {
        Err(ferr(
            field,
            format!("\"{field}\" {d:?} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD"),
        ))
    }
}

fn countries_of(v: &Value, field: &str) -> Result<Vec<&'static str>, FieldError> {
    let mut out = Vec::new();
    // Each value may be one country ("Korea, North") or several separated
    // by ";" or "," ("DZ;MA", "DZ, MA").
    let mut pieces = Vec::new();
    for value in strings_of(v, field, &[])? {
        if country_code(&value).is_some() {
            pieces.push(value);
            continue;
        }
        for part in value.split(';') {
            if country_code(part).is_some() {
                pieces.push(part.to_string());
            } else {
                pieces.extend(part.split(',').map(str::to_string));
            }
        }
    }
    for c in &pieces {
        let c = c.trim();
        if c.is_empty() {
            continue;
        }
        let code = country_code(c).ok_or_else(|| {
            ferr(
                field,
                format!("\"{field}\" {c:?} is not a country: use ISO 3166-1 alpha-2 codes such as DZ, MA, TN, FR"),
            )
        })?;
        if !out.contains(&code) {
            out.push(code);
        }
    }
    Ok(out)
}

fn gender_of(v: &Value, field: &str) -> Result<Option<&'static str>, FieldError> {
    let g = string_of(v, field)?;
    match g.trim().to_lowercase().as_str() {
        "male" | "m" => Ok(Some("male")),
        "female" | "f" => Ok(Some("female")),
        "" | "unknown" | "u" => Ok(None),
        other => Err(ferr(
            field,
            format!("\"{field}\" {other:?} is not a gender: use male, female or unknown"),
        )),
    }
}

fn check_len(field: &str, s: &str, max: usize) -> Result<(), FieldError> {
    if s.chars().count() > max {
        Err(ferr(
            field,
            format!("\"{field}\" is longer than {max} characters"),
        ))
    } else {
        Ok(())
    }
}

const LIST_FIELDS: &[&str] = &[
    "id",
    "kind",
    "name",
    "names",
    "weak_names",
    "birth_date",
    "birth_dates",
    "birth_place",
    "nationality",
    "gender",
    "documents",
    "country",
    "listing",
    "notes",
];
const LIST_CSV_COLUMNS: &[&str] = &[
    "id",
    "kind",
    "name",
    "names",
    "weak_names",
    "birth_date",
    "birth_dates",
    "birth_place",
    "nationality",
    "gender",
    "document_type",
    "document_number",
    "document_country",
    "country",
    "list",
    "reference",
    "program",
    "listed_on",
    "reason",
    "status",
    "notes",
];

/// CSV cells → the JSON shape of a list entry.
fn csv_entry_object(mut o: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut listing = Map::new();
    let mut doc = Map::new();
    for (k, v) in std::mem::take(&mut o) {
        match k.as_str() {
            "names" | "weak_names" | "birth_dates" => {
                let parts: Vec<Value> = v
                    .as_str()
                    .unwrap_or_default()
                    .split(';')
                    .map(|s| Value::String(s.trim().to_string()))
                    .filter(|s| s.as_str().is_some_and(|s| !s.is_empty()))
                    .collect();
                out.insert(k, Value::Array(parts));
            }
            "list" | "reference" | "program" | "listed_on" | "reason" | "status" => {
                listing.insert(k, v);
            }
            "document_type" => {
                doc.insert("type".into(), v);
            }
            "document_number" => {
                doc.insert("number".into(), v);
            }
            "document_country" => {
                doc.insert("country".into(), v);
            }
            _ => {
                out.insert(k, v);
            }
        }
    }
    if !listing.is_empty() {
        out.insert("listing".into(), Value::Object(listing));
    }
    if !doc.is_empty() {
        out.insert("documents".into(), Value::Array(vec![Value::Object(doc)]));
    }
    out
}

/// Validates one list entry and renders its data.
fn list_entry(object: &Map<String, Value>) -> Result<(String, EntryKind, Value), FieldError> {
    for k in object.keys() {
        if !LIST_FIELDS.contains(&k.as_str()) {
            return Err(ferr(
                k,
                format!(
                    "unknown field {k:?}; an entry may have: {}",
                    LIST_FIELDS.join(", ")
                ),
            ));
        }
    }
    let id = id_of(object, "id")?;
    let kind = match object.get("kind") {
        None | Some(Value::Null) => EntryKind::Person,
        Some(v) => match string_of(v, "kind")?.trim().to_lowercase().as_str() {
            "person" | "individual" | "" => EntryKind::Person,
            "organization" | "organisation" | "entity" => EntryKind::Organization,
            other => {
                return Err(ferr(
                    "kind",
                    format!("\"kind\" {other:?} is not person or organization"),
                ))
            }
        },
    };
    let person_only = [
        "birth_date",
        "birth_dates",
        "birth_place",
        "nationality",
        "gender",
        "documents",
    ];
    for k in object.keys() {
        if kind == EntryKind::Organization && person_only.contains(&k.as_str()) {
            return Err(ferr(
                k,
                format!("{k:?} is for persons; an organization has names, weak_names, country, listing and notes"),
            ));
        }
        if kind == EntryKind::Person && k == "country" {
            return Err(ferr(
                k,
                "\"country\" is for organizations; a person has \"nationality\"",
            ));
        }
    }

    let mut b = Builder::new();
    let mut all_names = Vec::new();
    if let Some(v) = object.get("name") {
        all_names.push(("name", string_of(v, "name")?));
    }
    if let Some(v) = object.get("names") {
        for n in strings_of(v, "names", &[])? {
            all_names.push(("names", n));
        }
    }
    let weak = match object.get("weak_names") {
        Some(v) => strings_of(v, "weak_names", &[])?,
        None => Vec::new(),
    };
    if all_names.is_empty() {
        return Err(ferr(
            "names",
            "the \"names\" field is missing; every entry needs at least one name",
        ));
    }
    if all_names.len() + weak.len() > MAX_NAMES {
        return Err(ferr("names", format!("more than {MAX_NAMES} names")));
    }
    for (field, n) in &all_names {
        if clean(n).is_empty() {
            return Err(ferr(field, format!("\"{field}\" holds an empty name")));
        }
        check_len(field, n, MAX_NAME_CHARS)?;
        b.name(n);
    }
    for n in &weak {
        if clean(n).is_empty() {
            return Err(ferr("weak_names", "\"weak_names\" holds an empty name"));
        }
        check_len("weak_names", n, MAX_NAME_CHARS)?;
        b.weak_name(n);
    }
    if let Some(v) = object.get("birth_date") {
        b.birth_date(date_of(&string_of(v, "birth_date")?, "birth_date")?);
    }
    if let Some(v) = object.get("birth_dates") {
        for d in strings_of(v, "birth_dates", &[])? {
            b.birth_date(date_of(&d, "birth_dates")?);
        }
    }
    if let Some(v) = object.get("birth_place") {
        let p = string_of(v, "birth_place")?;
        check_len("birth_place", &p, MAX_PLACE_CHARS)?;
        b.birth_place(&p);
    }
    if let Some(v) = object.get("nationality") {
        for c in countries_of(v, "nationality")? {
            b.nationality(c);
        }
    }
    if let Some(v) = object.get("country") {
        for c in countries_of(v, "country")? {
            b.country(c);
        }
    }
    if let Some(v) = object.get("gender") {
        if let Some(g) = gender_of(v, "gender")? {
            b.gender(g);
        }
    }
    if let Some(v) = object.get("documents") {
        let Value::Array(docs) = v else {
            return Err(ferr(
                "documents",
                format!("\"documents\" must be an array of {{\"type\", \"number\", \"country\"}} objects, not {}", json_type(v)),
            ));
        };
        for (i, d) in docs.iter().enumerate() {
            b.document(document_of(d, i)?);
        }
    }
    if let Some(v) = object.get("listing") {
        b.listing = Some(listing_of(v)?);
    }
    if let Some(v) = object.get("notes") {
        let n = string_of(v, "notes")?;
        check_len("notes", &n, MAX_TEXT_CHARS)?;
        for line in n.lines() {
            b.note(line);
        }
    }
    Ok((id, kind, b.finish(kind)))
}

fn document_of(d: &Value, i: usize) -> Result<Doc, FieldError> {
    let f = "documents";
    let Value::Object(o) = d else {
        return Err(ferr(
            f,
            format!("\"documents\"[{i}] must be an object, not {}", json_type(d)),
        ));
    };
    for k in o.keys() {
        if !["type", "number", "country"].contains(&k.as_str()) {
            return Err(ferr(
                f,
                format!("\"documents\"[{i}] has unknown field {k:?}; a document has type, number and country"),
            ));
        }
    }
    let text = |k: &str| -> Result<String, FieldError> {
        match o.get(k) {
            Some(v) => {
                let s = clean(&string_of(v, &format!("documents[{i}].{k}"))?);
                check_len(&format!("documents[{i}].{k}"), &s, MAX_DOC_CHARS)?;
                Ok(s)
            }
            None => Ok(String::new()),
        }
    };
    let number = text("number")?;
    if number.is_empty() {
        return Err(ferr(f, format!("\"documents\"[{i}] has no number")));
    }
    let doc_type = text("type")?;
    if doc_type.is_empty() {
        return Err(ferr(
            f,
            format!("\"documents\"[{i}] has no type (e.g. \"passport\", \"national_id\")"),
        ));
    }
    let country = match o.get("country") {
        Some(v) => {
            let c = string_of(v, "documents.country")?;
            if c.trim().is_empty() {
                None
            } else {
                Some(country_code(&c).ok_or_else(|| {
                    ferr(
                        f,
                        format!("\"documents\"[{i}].country {c:?} is not a country: use an ISO 3166-1 alpha-2 code"),
                    )
                })?)
            }
        }
        None => None,
    };
    Ok(Doc {
        doc_type: crate::schema::document_type(&doc_type),
        number,
        country,
    })
}

fn listing_of(v: &Value) -> Result<Listing, FieldError> {
    let f = "listing";
    let Value::Object(o) = v else {
        return Err(ferr(
            f,
            format!("\"listing\" must be an object, not {}", json_type(v)),
        ));
    };
    let known = [
        "list",
        "reference",
        "program",
        "listed_on",
        "reason",
        "status",
    ];
    for k in o.keys() {
        if !known.contains(&k.as_str()) {
            return Err(ferr(
                f,
                format!(
                    "\"listing\" has unknown field {k:?}; it may have: {}",
                    known.join(", ")
                ),
            ));
        }
    }
    let get = |k: &str| -> Result<Option<String>, FieldError> {
        o.get(k)
            .map(|v| string_of(v, &format!("listing.{k}")).map(|s| clean(&s)))
            .transpose()
            .map(|s| s.filter(|s| !s.is_empty()))
    };
    let list = get("list")?.ok_or_else(|| {
        ferr(
            f,
            "\"listing\" needs a \"list\": the name of the list the entry comes from",
        )
    })?;
    check_len("listing.list", &list, MAX_LIST_CHARS)?;
    let listed_on = get("listed_on")?
        .map(|d| date_of(&d, "listing.listed_on"))
        .transpose()?;
    let reason = get("reason")?;
    if let Some(r) = &reason {
        check_len("listing.reason", r, MAX_TEXT_CHARS)?;
    }
    let status = get("status")?.map(|s| s.to_lowercase());
    if let Some(s) = &status {
        if s != "active" && s != "delisted" {
            return Err(ferr(
                f,
                format!("\"listing.status\" {s:?} is not active or delisted"),
            ));
        }
    }
    Ok(Listing {
        list,
        reference: get("reference")?,
        program: get("program")?,
        listed_on,
        reason,
        status,
    })
}

/// Reads list rows and validates them, rejecting repeated ids (in lenient
/// mode, skipping invalid rows and the later row of a repeated id).
fn list_rows(
    path: &Path,
    layout: Layout,
    text: &str,
    progress: &mut Progress,
    skips: &mut Skips,
) -> Result<Vec<(String, EntryKind, Value)>, ListError> {
    let lenient = skips.lenient();
    let rows = match layout {
        Layout::Jsonl => jsonl_rows(path, text, lenient)?,
        Layout::Csv(d) => csv_rows(path, text, d, LIST_CSV_COLUMNS, &[], true, lenient)?,
    };
    let mut out = Vec::with_capacity(rows.len());
    let mut seen: HashMap<String, u64> = HashMap::new();
    for row in rows {
        let row = match row {
            Ok(row) => row,
            Err((e, end_offset)) => {
                skips.skip(e)?;
                progress.update(end_offset);
                continue;
            }
        };
        match list_row(path, layout, &row, &seen) {
            Ok((id, kind, data)) => {
                seen.insert(id.clone(), row.line);
                out.push((id, kind, data));
            }
            Err(e) => skips.skip(e)?,
        }
        progress.update(row.end_offset);
    }
    Ok(out)
}

/// Validates one list row; `seen` holds the ids of the rows before it.
fn list_row(
    path: &Path,
    layout: Layout,
    row: &Row,
    seen: &HashMap<String, u64>,
) -> Result<(String, EntryKind, Value), ListError> {
    let object = match layout {
        Layout::Jsonl => row.object.clone(),
        Layout::Csv(_) => csv_entry_object(row.object.clone()),
    };
    let (id, kind, data) = list_entry(&object).map_err(|e| {
        let at = csv_field_location(row, &e.field);
        ListError::malformed(path, at, e.message)
    })?;
    if let Some(first) = seen.get(&id) {
        return Err(ListError::malformed(
            path,
            row.at("id"),
            format!("id {id:?} is already used on line {first}; each entry needs its own id"),
        ));
    }
    Ok((id, kind, data))
}

/// The column of a field for CSV rows (a JSON-shaped field name like
/// `documents` or `listing.listed_on` maps back to its CSV column).
fn csv_field_location(row: &Row, field: &str) -> Location {
    let base = field.split(['[', '.']).next().unwrap_or(field);
    let candidates: &[&str] = match base {
        "documents" if field.ends_with("country") => &["document_country"],
        "documents" => &["document_number", "document_type"],
        "listing" => {
            let sub = field.rsplit('.').next().unwrap_or("");
            return row.at(if sub.is_empty() || sub == "listing" {
                "list"
            } else {
                sub
            });
        }
        _ => &[],
    };
    for c in candidates {
        if row.columns.contains_key(*c) {
            return row.at(c);
        }
    }
    row.at(base)
}

fn import_rows(
    path: &Path,
    layout: Layout,
    progress: &mut Progress,
    skips: &mut Skips,
) -> Result<Vec<ImportedEntry>, ListError> {
    let text = read_text(path, false)?;
    progress.set_total(text.len() as u64);
    let rows = list_rows(path, layout, &text, progress, skips)?;
    progress.finish();
    Ok(rows
        .into_iter()
        .map(|(id, kind, data)| ImportedEntry {
            source_ref: id,
            kind,
            data,
        })
        .collect())
}

pub(crate) fn import_jsonl(
    path: &Path,
    progress: &mut Progress,
    skips: &mut Skips,
) -> Result<Vec<ImportedEntry>, ListError> {
    import_rows(path, Layout::Jsonl, progress, skips)
}

pub(crate) fn import_csv(
    path: &Path,
    progress: &mut Progress,
    skips: &mut Skips,
) -> Result<Vec<ImportedEntry>, ListError> {
    let delimiter = match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("tsv") => '\t',
        _ => ',',
    };
    import_rows(path, Layout::Csv(delimiter), progress, skips)
}

/// Reads a standalone screening list (`tansiq screen --list`): JSONL, one
/// entry a line, `{"id": "E1", "names": [...], ...}` with only `id` and
/// `names` required (a CSV file with a header is accepted too).
pub fn read_list(path: &Path) -> Result<Vec<ListEntryInput>, ListError> {
    let text = read_text(path, false)?;
    let layout = layout_of(path, &text);
    let noop = |_: u64, _: u64| {};
    let mut p = Progress::new(&noop);
    let rows = list_rows(path, layout, &text, &mut p, &mut Skips::strict())?;
    Ok(rows
        .into_iter()
        .map(|(id, _, data)| ListEntryInput { id, data })
        .collect())
}

const QUERY_FIELDS: &[&str] = &[
    "id",
    "name",
    "given_name",
    "surname",
    "birth_date",
    "nationality",
    "gender",
];
/// The column names screening inputs come with (passenger manifests,
/// case exports, spreadsheets), after [`header_key`]: lower case, spaces
/// and hyphens as underscores.
const QUERY_SYNONYMS: &[(&str, &str)] = &[
    ("query_id", "id"),
    ("ref", "id"),
    ("reference", "id"),
    ("passenger_id", "id"),
    ("record_id", "id"),
    ("full_name", "name"),
    ("fullname", "name"),
    ("passenger_name", "name"),
    ("passenger", "name"),
    ("person", "name"),
    ("first_name", "given_name"),
    ("firstname", "given_name"),
    ("first_names", "given_name"),
    ("given_names", "given_name"),
    ("forename", "given_name"),
    ("forenames", "given_name"),
    ("last_name", "surname"),
    ("lastname", "surname"),
    ("family_name", "surname"),
    ("dob", "birth_date"),
    ("date_of_birth", "birth_date"),
    ("birthdate", "birth_date"),
    ("birth_day", "birth_date"),
    ("born", "birth_date"),
    ("nationalities", "nationality"),
    ("citizenship", "nationality"),
    ("sex", "gender"),
];

/// A header cell or JSON key as the synonym tables spell it: trimmed,
/// lower case, spaces and hyphens as underscores (`Date of Birth` →
/// `date_of_birth`).
fn header_key(h: &str) -> String {
    clean(h)
        .to_lowercase()
        .split([' ', '-', '_'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// Which of the screening input's columns (CSV) or keys (JSONL) hold
/// which field, beyond the usual names: `(field, column)` pairs, the
/// field one of `id`, `name`, `given_name`, `surname`, `birth_date`,
/// `nationality`, `gender` (`tansiq screen --columns name=PAX_NAME,…`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryColumns(Vec<(String, String)>);

impl QueryColumns {
    /// Parses `field=column,field=column`; an unknown field, a pair
    /// without `=` or a field given twice is an error naming it.
    pub fn parse(spec: &str) -> Result<QueryColumns, String> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in spec.split(',').filter(|p| !p.trim().is_empty()) {
            let Some((field, column)) = pair.split_once('=') else {
                return Err(format!("{pair:?} is not FIELD=COLUMN"));
            };
            let field = header_key(field);
            if !QUERY_FIELDS.contains(&field.as_str()) {
                return Err(format!(
                    "{field:?} is not a field; the fields are {}",
                    QUERY_FIELDS.join(", ")
                ));
            }
            let column = header_key(column);
            if column.is_empty() {
                return Err(format!("no column given for {field:?}"));
            }
            if out.iter().any(|(f, _)| *f == field) {
                return Err(format!("{field:?} is given twice"));
            }
            out.push((field, column));
        }
        Ok(QueryColumns(out))
    }

    /// The synonym table: these columns first, then the usual names
    /// (a column named here is not also read as its usual field).
    fn synonyms(&self) -> Vec<(&str, &str)> {
        let mut v: Vec<(&str, &str)> = self
            .0
            .iter()
            .map(|(f, c)| (c.as_str(), f.as_str()))
            .collect();
        // A column with a field's own name is ignored when another column
        // was named for that field.
        for (f, _) in &self.0 {
            if !self.0.iter().any(|(_, c)| c == f) {
                v.push((f.as_str(), "\u{0}ignored"));
            }
        }
        // The usual names of a field given here, or taken as a column
        // here, no longer count.
        v.extend(
            QUERY_SYNONYMS
                .iter()
                .filter(|(s, to)| !self.0.iter().any(|(f, c)| c == s || f == to)),
        );
        v
    }
}

/// One query from a line's fields. `line` numbers a query whose input
/// has no id (a passenger manifest): its id is the line number, which is
/// the spreadsheet's row number for a CSV file.
fn query_of(
    object: &Map<String, Value>,
    line: u64,
    synonyms: &[(&str, &str)],
) -> Result<NameQuery, FieldError> {
    // Synonyms, for JSONL keys as for CSV columns.
    let mut o = Map::new();
    for (k, v) in object {
        let k = header_key(k);
        let k = synonyms
            .iter()
            .find(|(s, _)| *s == k)
            .map(|(_, to)| to.to_string())
            .unwrap_or(k);
        if QUERY_FIELDS.contains(&k.as_str()) {
            o.insert(k, v.clone());
        }
    }
    let id = match o.get("id") {
        None | Some(Value::Null) => line.to_string(),
        Some(_) => id_of(&o, "id")?,
    };
    let part = |f: &str| -> Result<String, FieldError> {
        match o.get(f) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(v) => Ok(clean(&string_of(v, f)?)),
        }
    };
    let name = match o.get("name") {
        Some(v) => clean(&string_of(v, "name")?),
        // Given names and surname in columns of their own.
        None if o.contains_key("given_name") || o.contains_key("surname") => {
            clean(&format!("{} {}", part("given_name")?, part("surname")?))
        }
        None => return Err(ferr(
            "name",
            "the \"name\" field is missing; every query needs a name (or given_name and surname)",
        )),
    };
    if name.is_empty() {
        return Err(ferr("name", "\"name\" is empty"));
    }
    check_len("name", &name, MAX_NAME_CHARS)?;
    let birth_date = match o.get("birth_date") {
        Some(Value::Null) | None => None,
        Some(v) => {
            let s = string_of(v, "birth_date")?;
            if s.trim().is_empty() {
                None
            } else {
                Some(date_of(&s, "birth_date")?)
            }
        }
    };
    let nationality = match o.get("nationality") {
        Some(v) => countries_of(v, "nationality")?
            .into_iter()
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    };
    let gender = match o.get("gender") {
        Some(Value::Null) | None => None,
        Some(v) => gender_of(v, "gender")?.map(str::to_string),
    };
    Ok(NameQuery {
        id,
        name,
        birth_date,
        nationality,
        gender,
    })
}

/// Reads a batch of names to screen (`tansiq screen --names`): JSONL
/// `{"id": "Q1", "name": "…", "birth_date": "1962", "nationality": ["DZ"]}`
/// or CSV with a header naming `id,name` and optionally
/// `birth_date,nationality,gender` (nationality `DZ` or `DZ;MA`). The
/// format is chosen by extension (.jsonl/.ndjson/.json, .csv, .tsv), else
/// by content. Other columns or keys are ignored; ids must be unique.
pub fn read_queries(path: &Path) -> Result<Vec<NameQuery>, ListError> {
    read_queries_with(path, &QueryColumns::default())
}

/// [`read_queries`] with columns named by the user ([`QueryColumns`]).
pub fn read_queries_with(path: &Path, columns: &QueryColumns) -> Result<Vec<NameQuery>, ListError> {
    let text = read_text(path, false)?;
    queries_from_text_with(path, &text, columns)
}

/// [`read_queries`] over text already in memory (an upload); `path` is
/// the name it came by, for its extension and for error messages.
pub fn queries_from_text(path: &Path, text: &str) -> Result<Vec<NameQuery>, ListError> {
    queries_from_text_with(path, text, &QueryColumns::default())
}

/// [`queries_from_text`] with columns named by the user.
pub fn queries_from_text_with(
    path: &Path,
    text: &str,
    columns: &QueryColumns,
) -> Result<Vec<NameQuery>, ListError> {
    let synonyms = columns.synonyms();
    let layout = layout_of(path, text);
    let rows = match layout {
        Layout::Jsonl => all_rows(jsonl_rows(path, text, false)?)?,
        Layout::Csv(d) => {
            let rows = all_rows(csv_rows(
                path,
                text,
                d,
                QUERY_FIELDS,
                &synonyms,
                false,
                false,
            )?)?;
            if let Some(first) = rows.first() {
                let named = |f: &str| first.columns.contains_key(f);
                if let Some((f, c)) = columns.0.iter().find(|(f, _)| !named(f)) {
                    return Err(ListError::malformed(
                        path,
                        Location::line(1),
                        format!("the header has no column {c:?} (given for {f})"),
                    ));
                }
                if !named("name") && !named("given_name") && !named("surname") {
                    return Err(ListError::malformed(
                        path,
                        Location::line(1),
                        format!(
                            "the header has no \"name\" column (nor given_name and surname); name one of: name, full_name, passenger_name, first_name and last_name, … or say which column it is (--columns name=COLUMN); the header reads: {}",
                            text.lines().next().unwrap_or_default().chars().take(200).collect::<String>()
                        ),
                    ));
                }
            }
            rows
        }
    };
    // A CSV row's fields are named by the header already (synonyms
    // applied there); a JSONL line's keys are mapped here.
    let keys: &[(&str, &str)] = match layout {
        Layout::Jsonl => &synonyms,
        Layout::Csv(_) => &[],
    };
    let mut out = Vec::with_capacity(rows.len());
    let mut seen: HashMap<String, u64> = HashMap::new();
    for row in rows {
        let q = query_of(&row.object, row.line, keys)
            .map_err(|e| ListError::malformed(path, row.at(&e.field), e.message))?;
        if let Some(first) = seen.get(&q.id) {
            return Err(ListError::malformed(
                path,
                row.at("id"),
                format!("id {:?} is already used on line {first}; each query needs its own id so that results can be told apart", q.id),
            ));
        }
        seen.insert(q.id.clone(), row.line);
        out.push(q);
    }
    Ok(out)
}
