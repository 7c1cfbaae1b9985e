//! The OFAC SDN list in its legacy CSV form: sdn.csv (one line per entry),
//! alt.csv (aliases) and add.csv (addresses), no header, `-0-` for empty.
//! Birth dates, places, nationalities, gender and documents live in the
//! free-text Remarks field of sdn.csv and are parsed out of it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::country::{countries_in, country_code, is_plain_country};
use crate::csv::{Reader, Record};
use crate::dates::parse_free_date;
use crate::error::{ListError, Location};
use crate::schema::{clean, document_prefix, Builder, Doc, Listing, MAX_DOC_CHARS};
use crate::{read_text, EntryKind, ImportedEntry, Progress, Skips};

const SDN_COLUMNS: &str = "ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks";
const ALT_COLUMNS: &str = "ent_num, alt_num, alt_type, alt_name, alt_remarks";
const ADD_COLUMNS: &str = "ent_num, add_num, address, city_etc, country, add_remarks";

/// Finds sdn.csv and, beside it, alt.csv and add.csv (any letter case).
fn locate(path: &Path) -> Result<(PathBuf, Option<PathBuf>, Option<PathBuf>), ListError> {
    let (dir, sdn) = if path.is_dir() {
        let sdn = find_in(path, "sdn.csv").ok_or_else(|| {
            ListError::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "this directory has no sdn.csv (the OFAC SDN list in legacy CSV form)",
                ),
            )
        })?;
        (path.to_path_buf(), sdn)
    } else {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        (dir.to_path_buf(), path.to_path_buf())
    };
    Ok((sdn, find_in(&dir, "alt.csv"), find_in(&dir, "add.csv")))
}

fn find_in(dir: &Path, name: &str) -> Option<PathBuf> {
    let exact = dir.join(name);
    if exact.is_file() {
        return Some(exact);
    }
    let upper = dir.join(name.to_uppercase());
    if upper.is_file() {
        return Some(upper);
    }
    None
}

/// A field's value: trimmed, with OFAC's `-0-` meaning empty.
fn value(s: &str) -> String {
    let c = clean(s);
    if c == "-0-" {
        String::new()
    } else {
        c
    }
}

struct Entry {
    ent_num: String,
    kind: EntryKind,
    line: u64,
    builder: Builder,
}

/// A line that cannot be used: its error, its first field (the ent_num it
/// probably carries) and its number.
struct BadLine {
    error: ListError,
    first_field: String,
    line: u64,
}

/// The records of one of the three files. Fields never span lines, so a
/// syntax error or a wrong number of fields concerns one line only, and
/// reading can go on at the next line.
struct Lines<'a> {
    path: &'a Path,
    reader: Reader<'a>,
    columns: usize,
    names: &'static str,
    first: bool,
}

impl<'a> Lines<'a> {
    fn new(path: &'a Path, text: &'a str, columns: usize, names: &'static str) -> Lines<'a> {
        Lines {
            path,
            reader: Reader::new(text, ',', false),
            columns,
            names,
            first: true,
        }
    }

    /// Bytes of the file read so far.
    fn offset(&self) -> u64 {
        self.reader.offset()
    }

    /// The next record with the right number of fields, or the line that
    /// is not one.
    fn next(&mut self) -> Option<Result<Record, BadLine>> {
        loop {
            let rec = match self.reader.next_record()? {
                Ok(rec) => rec,
                Err(e) => {
                    self.first = false;
                    let text = self.reader.skip_line();
                    return Some(Err(BadLine {
                        error: ListError::malformed(
                            self.path,
                            Location::line_col(e.line, e.column),
                            e.message,
                        ),
                        first_field: text.split(',').next().unwrap_or_default().to_string(),
                        line: e.line,
                    }));
                }
            };
            // Tolerate a header line, though OFAC's files have none.
            if self.first && rec.fields[0].trim().eq_ignore_ascii_case("ent_num") {
                self.first = false;
                continue;
            }
            self.first = false;
            let columns = self.columns;
            if rec.fields.len() == columns {
                return Some(Ok(rec));
            }
            let (line, column) = rec.line_of(columns.min(rec.fields.len()));
            return Some(Err(BadLine {
                error: ListError::malformed(
                    self.path,
                    if rec.fields.len() > columns {
                        Location::line_col(line, column)
                    } else {
                        Location::line(rec.line)
                    },
                    format!(
                        "expected {columns} comma-separated fields ({}) but found {}; \
                         a field is missing, or a comma inside a field is not enclosed in double quotes",
                        self.names,
                        rec.fields.len()
                    ),
                ),
                first_field: rec.fields[0].clone(),
                line: rec.line,
            }));
        }
    }
}

fn ent_num(path: &Path, rec: &Record) -> Result<String, ListError> {
    let n = value(&rec.fields[0]);
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        let (line, column) = rec.line_of(0);
        return Err(ListError::malformed(
            path,
            Location::line_col(line, column),
            format!("ent_num {n:?} is not a number; the first field of every line must be the entry's OFAC number"),
        ));
    }
    Ok(n)
}

/// The entries read from sdn.csv, and how to find them by ent_num.
#[derive(Default)]
struct Sdn {
    entries: Vec<Entry>,
    /// ent_num → index in `entries` (None for skipped vessels and
    /// aircraft), and the line.
    index: HashMap<String, (Option<usize>, u64)>,
    /// Lenient mode: ent_num → line of an sdn.csv line that was skipped as
    /// invalid, so that its aliases and addresses can say why they have no
    /// entry.
    skipped: HashMap<String, u64>,
}

impl Sdn {
    /// Remembers the ent_num a skipped line probably carried.
    fn note_skipped(&mut self, first_field: &str, line: u64) {
        let n = value(first_field);
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && !self.index.contains_key(&n) {
            self.skipped.entry(n).or_insert(line);
        }
    }

    /// Reads one sdn.csv line.
    fn row(&mut self, path: &Path, rec: &Record) -> Result<(), ListError> {
        let n = ent_num(path, rec)?;
        if let Some((_, first)) = self.index.get(&n) {
            let (line, column) = rec.line_of(0);
            return Err(ListError::malformed(
                path,
                Location::line_col(line, column),
                format!(
                    "ent_num {n} is already used on line {first} ({}); each entry needs its own number, \
                     so the file is inconsistent: fix or remove one of the two lines",
                    self.entries
                        .iter()
                        .find(|e| e.ent_num == n)
                        .map(|e| format!("by {:?}", e.builder.first_name().unwrap_or_default()))
                        .unwrap_or_else(|| "by a vessel or aircraft".into())
                ),
            ));
        }
        let name = value(&rec.fields[1]);
        if name.is_empty() {
            let (line, column) = rec.line_of(1);
            return Err(ListError::malformed(
                path,
                Location::line_col(line, column),
                format!("entry {n} has no SDN_Name"),
            ));
        }
        let sdn_type = value(&rec.fields[2]).to_lowercase();
        let kind = match sdn_type.as_str() {
            "individual" => EntryKind::Person,
            "" => EntryKind::Organization,
            "vessel" | "aircraft" => {
                self.index.insert(n, (None, rec.line));
                return Ok(());
            }
            other => {
                let (line, column) = rec.line_of(2);
                return Err(ListError::malformed(
                    path,
                    Location::line_col(line, column),
                    format!("SDN_Type {other:?} is not one of individual, vessel, aircraft or -0- (organization)"),
                ));
            }
        };
        let mut b = Builder::new();
        b.name(&name);
        let program = value(&rec.fields[3]);
        let programs: Vec<&str> = program
            .split(['[', ']'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        let title = value(&rec.fields[4]);
        if !title.is_empty() {
            b.note(format!("Title: {title}"));
        }
        for (i, label) in [
            (5, "Call sign"),
            (6, "Vessel type"),
            (9, "Flag"),
            (10, "Owner"),
        ] {
            let v = value(&rec.fields[i]);
            if !v.is_empty() {
                b.note(format!("{label}: {v}"));
            }
        }
        let reasons = remarks(&mut b, kind, &value(&rec.fields[11]));
        b.listing = Some(Listing {
            list: "OFAC".into(),
            reference: Some(n.clone()),
            program: (!programs.is_empty()).then(|| programs.join(", ")),
            listed_on: None,
            reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
            status: None,
        });
        self.index
            .insert(n.clone(), (Some(self.entries.len()), rec.line));
        self.entries.push(Entry {
            ent_num: n,
            kind,
            line: rec.line,
            builder: b,
        });
        Ok(())
    }

    /// The entry an alt.csv or add.csv line belongs to; `None` for a
    /// skipped vessel or aircraft; an error when sdn.csv has no such entry
    /// (or, in lenient mode, its line was skipped).
    fn owner(
        &self,
        path: &Path,
        sdn_path: &Path,
        rec: &Record,
    ) -> Result<Option<usize>, ListError> {
        let n = ent_num(path, rec)?;
        if let Some((target, _)) = self.index.get(&n) {
            return Ok(*target);
        }
        let (line, column) = rec.line_of(0);
        let file = |p: &Path| {
            p.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let message = match self.skipped.get(&n) {
            Some(sdn_line) => format!(
                "ent_num {n} belongs to the entry on line {sdn_line} of {}, which was skipped as invalid",
                file(sdn_path)
            ),
            None => format!(
                "ent_num {n} is not in sdn.csv; {} and sdn.csv must come from the same OFAC release",
                file(path)
            ),
        };
        Err(ListError::malformed(
            path,
            Location::line_col(line, column),
            message,
        ))
    }
}

pub(crate) fn import(
    path: &Path,
    progress: &mut Progress,
    skips: &mut Skips,
) -> Result<Vec<ImportedEntry>, ListError> {
    let (sdn_path, alt_path, add_path) = locate(path)?;
    let sdn = read_text(&sdn_path, true)?;
    let alt = alt_path
        .as_ref()
        .map(|p| read_text(p, true).map(|t| (p.clone(), t)))
        .transpose()?;
    let add = add_path
        .as_ref()
        .map(|p| read_text(p, true).map(|t| (p.clone(), t)))
        .transpose()?;
    let alt_len = alt.as_ref().map_or(0, |(_, t)| t.len() as u64);
    let add_len = add.as_ref().map_or(0, |(_, t)| t.len() as u64);
    progress.set_total(sdn.len() as u64 + alt_len + add_len);

    let mut state = Sdn::default();
    let mut lines = Lines::new(&sdn_path, &sdn, 12, SDN_COLUMNS);
    while let Some(line) = lines.next() {
        match line {
            Ok(rec) => {
                if let Err(e) = state.row(&sdn_path, &rec) {
                    state.note_skipped(&rec.fields[0], rec.line);
                    skips.skip(e)?;
                }
            }
            Err(bad) => {
                state.note_skipped(&bad.first_field, bad.line);
                skips.skip(bad.error)?;
            }
        }
        progress.update(lines.offset());
    }

    let mut done = sdn.len() as u64;
    if let Some((p, text)) = &alt {
        let mut lines = Lines::new(p, text, 5, ALT_COLUMNS);
        while let Some(line) = lines.next() {
            let result = line
                .map_err(|bad| bad.error)
                .and_then(|rec| alias(&mut state, p, &sdn_path, &rec));
            if let Err(e) = result {
                skips.skip(e)?;
            }
            progress.update(done + lines.offset());
        }
        done += text.len() as u64;
    }
    if let Some((p, text)) = &add {
        let mut lines = Lines::new(p, text, 6, ADD_COLUMNS);
        while let Some(line) = lines.next() {
            let result = line
                .map_err(|bad| bad.error)
                .and_then(|rec| address(&mut state, p, &sdn_path, &rec));
            if let Err(e) = result {
                skips.skip(e)?;
            }
            progress.update(done + lines.offset());
        }
    }

    let out = state
        .entries
        .into_iter()
        .map(|e| {
            debug_assert!(e.line > 0);
            ImportedEntry {
                source_ref: e.ent_num,
                kind: e.kind,
                data: e.builder.finish(e.kind),
            }
        })
        .collect();
    progress.finish();
    Ok(out)
}

/// Reads one alt.csv line into its entry.
fn alias(state: &mut Sdn, p: &Path, sdn_path: &Path, rec: &Record) -> Result<(), ListError> {
    let Some(target) = state.owner(p, sdn_path, rec)? else {
        return Ok(());
    };
    let n = &state.entries[target].ent_num;
    let name = value(&rec.fields[3]);
    if name.is_empty() {
        let (line, column) = rec.line_of(3);
        return Err(ListError::malformed(
            p,
            Location::line_col(line, column),
            format!("alias of entry {n} has no alt_name"),
        ));
    }
    let alt_type = value(&rec.fields[2]).to_lowercase().replace('.', "");
    let weak = match alt_type.as_str() {
        "aka" | "fka" | "nka" => false,
        "weak aka" | "weak" => true,
        other => {
            let (line, column) = rec.line_of(2);
            return Err(ListError::malformed(
                p,
                Location::line_col(line, column),
                format!("alt_type {other:?} is not one of aka, fka, nka or weak aka"),
            ));
        }
    };
    let b = &mut state.entries[target].builder;
    if weak {
        b.weak_name(&name);
    } else {
        b.name(&name);
    }
    let remarks = value(&rec.fields[4]);
    if !remarks.is_empty() {
        b.note(format!("Alias {name}: {remarks}"));
    }
    Ok(())
}

/// Reads one add.csv line into its entry.
fn address(state: &mut Sdn, p: &Path, sdn_path: &Path, rec: &Record) -> Result<(), ListError> {
    let Some(target) = state.owner(p, sdn_path, rec)? else {
        return Ok(());
    };
    let country = value(&rec.fields[4]);
    let entry = &mut state.entries[target];
    if entry.kind == EntryKind::Organization && !country.is_empty() {
        for c in countries_in(&country) {
            entry.builder.country(c);
        }
    }
    let parts: Vec<String> = [2, 3, 4, 5]
        .iter()
        .map(|&i| value(&rec.fields[i]))
        .filter(|v| !v.is_empty())
        .collect();
    if !parts.is_empty() {
        entry.builder.note(format!("Address: {}", parts.join(", ")));
    }
    Ok(())
}

/// Splits Remarks on semicolons that are not inside parentheses.
fn split_remarks(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = (depth - 1).max(0),
            _ => {}
        }
        if c == ';' && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    parts
        .into_iter()
        .map(|p| {
            let p = p.trim();
            p.strip_suffix('.').unwrap_or(p).trim().to_string()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        let rest = &s[prefix.len()..];
        if rest.is_empty()
            || rest.starts_with(' ')
            || prefix.ends_with(' ')
            || prefix.ends_with(':')
        {
            return Some(rest.trim());
        }
    }
    None
}

/// Parses the facts in Remarks into the builder; returns the listing
/// reasons ("Linked To: …").
pub(crate) fn remarks(b: &mut Builder, kind: EntryKind, text: &str) -> Vec<String> {
    let mut reasons = Vec::new();
    for part in split_remarks(text) {
        let q = strip_prefix_ci(&part, "alt.").unwrap_or(&part);
        if let Some(rest) = strip_prefix_ci(q, "DOB") {
            match parse_free_date(rest) {
                Some(spec) if kind == EntryKind::Person => {
                    for d in spec.dates {
                        b.birth_date(d);
                    }
                    if spec.approximate {
                        b.note(format!("DOB {rest}"));
                    }
                }
                _ => b.note(&part),
            }
        } else if let Some(rest) = strip_prefix_ci(q, "POB") {
            if kind == EntryKind::Person {
                b.birth_place(rest);
            } else {
                b.note(&part);
            }
        } else if let Some(rest) = strip_prefix_ci(q, "Nationality of Registration")
            .or_else(|| strip_prefix_ci(q, "nationality"))
            .or_else(|| strip_prefix_ci(q, "citizen"))
        {
            let codes = countries_in(rest);
            for c in &codes {
                match kind {
                    EntryKind::Person => b.nationality(c),
                    EntryKind::Organization => b.country(c),
                }
            }
            if codes.is_empty() || !is_plain_country(rest) {
                b.note(&part);
            }
        } else if let Some(rest) = strip_prefix_ci(q, "Gender") {
            match rest.to_lowercase().as_str() {
                "male" => b.gender("male"),
                "female" => b.gender("female"),
                _ => b.note(&part),
            }
        } else if let Some(rest) =
            strip_prefix_ci(q, "a.k.a.").or_else(|| strip_prefix_ci(q, "f.k.a."))
        {
            // OFAC's weak aliases: a.k.a. 'ABU X'.
            let names = quoted_names(rest);
            if names.is_empty() {
                b.note(&part);
            }
            for n in names {
                b.weak_name(&n);
            }
        } else if let Some(rest) = strip_prefix_ci(q, "Linked To:") {
            reasons.push(format!("Linked To: {rest}"));
        } else if let (EntryKind::Person, Some((doc_type, rest))) = (kind, document_prefix(q)) {
            match split_document(rest) {
                Some((number, country, extra)) => {
                    if !extra.is_empty() {
                        let label = q[..q.len() - rest.len()].trim_end();
                        b.note(format!("{label} {number}: {extra}"));
                    }
                    b.document(Doc {
                        doc_type: doc_type.to_string(),
                        number,
                        country,
                    });
                }
                None => b.note(&part),
            }
        } else {
            b.note(&part);
        }
    }
    reasons
}

/// The names in single quotes: `'ABU X'` → ABU X. A name may contain an
/// apostrophe (`'ABU 'ALI'`), so a quote only closes before the end or a
/// space-free boundary.
fn quoted_names(s: &str) -> Vec<String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .unwrap_or(s);
    let n = clean(inner);
    if n.is_empty() {
        Vec::new()
    } else {
        vec![n]
    }
}

/// Splits `D9005625 (Iran) issued 11 Jul 2009 expires 11 Jul 2014` into the
/// number, the issuing country and what follows. `None` when there is no
/// number (no digit).
fn split_document(rest: &str) -> Option<(String, Option<&'static str>, String)> {
    let mut rest = rest.trim();
    for p in ["No.", "No", "#", ":"] {
        if let Some(r) = rest.strip_prefix(p) {
            if r.starts_with(' ') {
                rest = r.trim_start();
            }
        }
    }
    let mut number = rest.to_string();
    let mut country = None;
    let mut extra = String::new();
    // The first parenthesis that names a country ends the number.
    let mut search = 0;
    while let Some(open) = rest[search..].find('(').map(|i| i + search) {
        let Some(close) = rest[open..].find(')').map(|i| i + open) else {
            break;
        };
        if let Some(c) = country_code(&rest[open + 1..close]) {
            number = rest[..open].trim().to_string();
            country = Some(c);
            extra = rest[close + 1..].trim().to_string();
            break;
        }
        search = close + 1;
    }
    if country.is_none() {
        for stop in [" issued", " expires", " expired", ", "] {
            if let Some(i) = number.find(stop) {
                extra = number[i..].trim_start_matches(',').trim().to_string();
                number.truncate(i);
            }
        }
    }
    let number = clean(&number);
    if !number.chars().any(|c| c.is_ascii_digit()) || number.chars().count() > MAX_DOC_CHARS {
        return None;
    }
    Some((number, country, extra))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn person(remarks_text: &str) -> serde_json::Value {
        let mut b = Builder::new();
        b.name("SURNAME, Given");
        remarks(&mut b, EntryKind::Person, remarks_text);
        b.finish(EntryKind::Person)
    }

    #[test]
    fn parses_the_brief_example() {
        assert_eq!(
            person("DOB 12 Jan 1965; POB Algiers, Algeria; nationality Algeria; Passport 123456 (Algeria)."),
            json!({
                "names": ["SURNAME, Given"],
                "birth_date": "1965-01-12",
                "birth_place": "Algiers, Algeria",
                "nationality": ["DZ"],
                "documents": [{"type": "passport", "number": "123456", "country": "DZ"}],
            })
        );
    }

    #[test]
    fn remark_table() {
        // (remarks, field, expected value)
        let cases: &[(&str, &str, serde_json::Value)] = &[
            ("DOB circa 1962", "birth_date", json!("1962")),
            (
                "DOB 1962 to 1964",
                "birth_dates",
                json!(["1962", "1963", "1964"]),
            ),
            (
                "DOB 20 Jun 1974; alt. DOB 1974; alt. DOB 24 Apr 1974",
                "birth_dates",
                json!(["1974-06-20", "1974", "1974-04-24"]),
            ),
            (
                "nationality Korea, North; citizen Russia",
                "nationality",
                json!(["KP", "RU"]),
            ),
            (
                "nationality Congo, Democratic Republic of the",
                "nationality",
                json!(["CD"]),
            ),
            ("Gender Female", "gender", json!("female")),
            (
                "a.k.a. 'YIN CHIN'; a.k.a. 'YUN CHENG'",
                "weak_names",
                json!(["YIN CHIN", "YUN CHENG"]),
            ),
            (
                "Passport D9005625 issued 11 Jul 2009 expires 11 Jul 2014",
                "documents",
                json!([{"type": "passport", "number": "D9005625"}]),
            ),
            (
                "Passport RL 0235074 (Lebanon)",
                "documents",
                json!([{"type": "passport", "number": "RL 0235074", "country": "LB"}]),
            ),
            (
                "National ID No. (HWI)040182 (Burma)",
                "documents",
                json!([{"type": "national_id", "number": "(HWI)040182", "country": "MM"}]),
            ),
            (
                "Cedula No. 71255292 (Colombia)",
                "documents",
                json!([{"type": "national_id", "number": "71255292", "country": "CO"}]),
            ),
            (
                "C.U.R.P. ROFJ780821HSRMGR10 (Mexico)",
                "documents",
                json!([{"type": "national_id", "number": "ROFJ780821HSRMGR10", "country": "MX"}]),
            ),
            ("Linked To: HIZBALLAH", "listing", serde_json::Value::Null),
            ("Member ETA", "notes", json!("Member ETA")),
        ];
        for (text, field, want) in cases {
            let v = person(text);
            if want.is_null() {
                assert!(v.get(*field).is_none(), "{text}: {v}");
            } else {
                assert_eq!(v.get(*field), Some(want), "{text}: {v}");
            }
        }
    }

    #[test]
    fn linked_to_is_the_reason() {
        let mut b = Builder::new();
        b.name("X");
        let r = remarks(
            &mut b,
            EntryKind::Person,
            "DOB 1959; Linked To: HIZBALLAH; Linked To: AYAD, Adnan.",
        );
        assert_eq!(r, vec!["Linked To: HIZBALLAH", "Linked To: AYAD, Adnan"]);
    }
}
