//! The UN Security Council consolidated list (XML).
//!
//! The file is read as a stream with quick-xml; each `INDIVIDUAL` or
//! `ENTITY` element is gathered into a small tree and turned into one entry
//! as soon as it closes, so memory stays bounded by one entry.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use quick_xml::events::Event;

use crate::country::{countries_in, is_plain_country};
use crate::dates::{iso_date, parse_free_date, year_range};
use crate::error::{ListError, Location};
use crate::schema::{clean, document_type, Builder, Doc, Listing};
use crate::{EntryKind, ImportedEntry, Progress, Skips};

/// Deepest element nesting accepted (the UN list uses 5 levels).
const MAX_DEPTH: usize = 32;

/// Counts bytes and remembers where lines start, as the parser reads.
struct Counting<R> {
    inner: R,
    offset: u64,
    newlines: Rc<RefCell<Vec<u64>>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut nl = self.newlines.borrow_mut();
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                nl.push(self.offset + i as u64);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// Line and column (1-based, column in bytes) of a byte offset.
fn line_col(newlines: &[u64], pos: u64) -> (u64, u64) {
    let i = newlines.partition_point(|&n| n < pos);
    let line_start = if i == 0 { 0 } else { newlines[i - 1] + 1 };
    (i as u64 + 1, pos - line_start + 1)
}

/// One element of an entry, with its text and children.
#[derive(Debug)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
    line: u64,
    column: u64,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The cleaned text of a child, when present and not empty.
    fn text_of(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| clean(&c.text))
            .filter(|t| !t.is_empty())
    }

    /// The cleaned, non-empty `VALUE` texts under each child `name`.
    fn values(&self, name: &str) -> Vec<String> {
        self.all(name)
            .flat_map(|c| c.all("VALUE"))
            .map(|v| clean(&v.text))
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// "DATAID 110577, REFERENCE_NUMBER TAi.002", as far as known.
    fn identity(&self) -> Option<String> {
        let mut parts = Vec::new();
        for key in ["DATAID", "REFERENCE_NUMBER"] {
            if let Some(v) = self.text_of(key) {
                parts.push(format!("{key} {v}"));
            }
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn at(&self, entry: &Node, node: &Node, message: impl Into<String>) -> ListError {
        ListError::malformed(
            self.path,
            Location::Element {
                element: node.name.clone(),
                entry: entry.identity(),
                line: node.line,
                column: Some(node.column),
            },
            message,
        )
    }
}

pub(crate) fn import(
    path: &Path,
    progress: &mut Progress,
    skips: &mut Skips,
) -> Result<Vec<ImportedEntry>, ListError> {
    let file = File::open(path).map_err(|e| ListError::io(path, e))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    progress.set_total(total);
    let newlines = Rc::new(RefCell::new(Vec::new()));
    let counting = Counting {
        inner: file,
        offset: 0,
        newlines: Rc::clone(&newlines),
    };
    let mut reader = quick_xml::Reader::from_reader(BufReader::new(counting));
    reader.config_mut().check_end_names = true;
    let ctx = Ctx { path };

    let mut buf = Vec::new();
    // Every open element: name, line, column.
    let mut open: Vec<(String, u64, u64)> = Vec::new();
    // The entry being gathered, innermost element last.
    let mut capture: Vec<Node> = Vec::new();
    let mut seen_root = false;
    let mut out = Vec::new();
    let mut refs: HashMap<String, u64> = HashMap::new();
    // Lenient mode: the first problem found inside the entry being
    // gathered, which is then skipped when it closes.
    let mut pending: Option<ListError> = None;

    let located = |pos: u64| line_col(&newlines.borrow(), pos);

    loop {
        let before = reader.buffer_position();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                let (line, column) = located(reader.error_position());
                let message = match &e {
                    quick_xml::Error::Syntax(s)
                        if *s != quick_xml::errors::SyntaxError::InvalidBangMarkup =>
                    {
                        let inside = open
                            .last()
                            .map(|(n, l, _)| format!(" inside <{n}> (opened at line {l})"))
                            .unwrap_or_default();
                        format!("the file ends{inside} in the middle of markup ({e}): it is truncated; download the list again")
                    }
                    quick_xml::Error::IllFormed(_) | quick_xml::Error::Syntax(_) => {
                        format!("the XML is malformed ({e}); the file is damaged or not XML: fix it or download it again")
                    }
                    _ => format!("the XML cannot be read ({e}); the file is damaged or not XML: fix it or download it again"),
                };
                return Err(match (capture.first(), capture.last()) {
                    (Some(entry), Some(inner)) => ListError::malformed(
                        path,
                        Location::Element {
                            element: inner.name.clone(),
                            entry: entry.identity(),
                            line,
                            column: Some(column),
                        },
                        message,
                    ),
                    _ => ListError::malformed(path, Location::line_col(line, column), message),
                });
            }
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let (line, column) = located(before);
                if open.is_empty() {
                    if seen_root {
                        return Err(ListError::malformed(
                            path,
                            Location::line_col(line, column),
                            format!("a second top-level element <{name}> after the end of <CONSOLIDATED_LIST>; the file has extra content at its end"),
                        ));
                    }
                    seen_root = true;
                    if name != "CONSOLIDATED_LIST" {
                        return Err(ListError::malformed(
                            path,
                            Location::line_col(line, column),
                            format!("the top-level element is <{name}>, not <CONSOLIDATED_LIST>: this is not the UN Security Council consolidated list (use --format un-xml only for that list)"),
                        ));
                    }
                }
                if open.len() >= MAX_DEPTH {
                    return Err(ListError::malformed(
                        path,
                        Location::line_col(line, column),
                        format!("<{name}> is nested more than {MAX_DEPTH} elements deep; the UN list nests at most 5, so this is not the UN list"),
                    ));
                }
                let starts_entry = capture.is_empty()
                    && open.len() == 2
                    && ((open[1].0 == "INDIVIDUALS" && name == "INDIVIDUAL")
                        || (open[1].0 == "ENTITIES" && name == "ENTITY"));
                if starts_entry || !capture.is_empty() {
                    capture.push(Node {
                        name: name.clone(),
                        text: String::new(),
                        children: Vec::new(),
                        line,
                        column,
                    });
                }
                if is_empty {
                    if !capture.is_empty() {
                        close_node(
                            &mut capture,
                            &ctx,
                            &mut Sink {
                                out: &mut out,
                                refs: &mut refs,
                                pending: &mut pending,
                                skips,
                                progress,
                            },
                            reader.buffer_position(),
                        )?;
                    }
                } else {
                    open.push((name, line, column));
                }
            }
            Event::End(_) => {
                open.pop();
                if !capture.is_empty() {
                    close_node(
                        &mut capture,
                        &ctx,
                        &mut Sink {
                            out: &mut out,
                            refs: &mut refs,
                            pending: &mut pending,
                            skips,
                            progress,
                        },
                        reader.buffer_position(),
                    )?;
                }
            }
            Event::Text(t) => {
                if open.is_empty() && t.iter().any(|b| !b.is_ascii_whitespace()) {
                    let (line, column) = located(before);
                    return Err(ListError::malformed(
                        path,
                        Location::line_col(line, column),
                        "text outside any element: this is not an XML file (the UN list is XML starting with <CONSOLIDATED_LIST>)",
                    ));
                }
                if let Some(node) = capture.last_mut() {
                    let text = t.decode().map_err(|e| {
                        let (line, column) = located(before);
                        ListError::malformed(
                            path,
                            Location::line_col(line, column),
                            format!("text is not valid UTF-8 ({e}); save the file as UTF-8"),
                        )
                    })?;
                    node.text.push_str(&text);
                }
            }
            Event::CData(t) => {
                if let Some(node) = capture.last_mut() {
                    node.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(node) = capture.last_mut() {
                    let resolved = if r.is_char_ref() {
                        r.resolve_char_ref().ok().flatten().map(String::from)
                    } else {
                        let name = String::from_utf8_lossy(&r).into_owned();
                        quick_xml::escape::resolve_predefined_entity(&name).map(String::from)
                    };
                    match resolved {
                        Some(s) => node.text.push_str(&s),
                        None => {
                            let (line, column) = located(before);
                            let entry = capture.first().and_then(Node::identity);
                            let inner = capture.last().map(|n| n.name.clone()).unwrap_or_default();
                            let e = ListError::malformed(
                                path,
                                Location::Element { element: inner, entry, line, column: Some(column) },
                                format!("unknown entity reference &{};  only &amp; &lt; &gt; &quot; &apos; and numeric references are allowed", String::from_utf8_lossy(&r)),
                            );
                            // The markup around it is sound, so only this
                            // entry is affected.
                            if !skips.lenient() {
                                return Err(e);
                            }
                            pending.get_or_insert(e);
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }

    if let Some((name, line, column)) = open.last() {
        let entry = capture.first().and_then(Node::identity);
        let opened = format!("<{name}> opened at line {line}");
        return Err(ListError::malformed(
            path,
            match capture.first() {
                Some(_) => Location::Element {
                    element: name.clone(),
                    entry,
                    line: *line,
                    column: Some(*column),
                },
                None => Location::line_col(*line, *column),
            },
            format!(
                "the file ends before {opened} is closed: it is truncated; download the list again"
            ),
        ));
    }
    if !seen_root {
        return Err(ListError::malformed(
            path,
            Location::File,
            "the file has no XML element at all: it is empty or not XML",
        ));
    }
    progress.finish();
    Ok(out)
}

/// Where finished entries go.
struct Sink<'a, 'p> {
    out: &'a mut Vec<ImportedEntry>,
    /// REFERENCE_NUMBER → line of the entry that has it.
    refs: &'a mut HashMap<String, u64>,
    /// A problem already found inside the entry being gathered.
    pending: &'a mut Option<ListError>,
    skips: &'a mut Skips,
    progress: &'a mut Progress<'p>,
}

/// Closes the innermost captured element; when it is the entry itself,
/// converts it (or, when it is invalid, skips it in lenient mode).
fn close_node(
    capture: &mut Vec<Node>,
    ctx: &Ctx,
    sink: &mut Sink,
    pos: u64,
) -> Result<(), ListError> {
    let Some(node) = capture.pop() else {
        return Ok(());
    };
    match capture.last_mut() {
        Some(parent) => parent.children.push(node),
        None => {
            let entry = match sink.pending.take() {
                Some(e) => Err(e),
                None => convert(&node, ctx),
            };
            let entry = entry.and_then(|entry| match sink.refs.get(&entry.source_ref) {
                Some(first) => {
                    let at = node.child("REFERENCE_NUMBER").unwrap_or(&node);
                    Err(ctx.at(
                        &node,
                        at,
                        format!(
                            "REFERENCE_NUMBER {} is also used by the entry at line {first}; each entry needs its own reference, so the list is inconsistent",
                            entry.source_ref
                        ),
                    ))
                }
                None => Ok(entry),
            });
            match entry {
                Ok(entry) => {
                    sink.refs.insert(entry.source_ref.clone(), node.line);
                    sink.out.push(entry);
                }
                Err(e) => sink.skips.skip(e)?,
            }
            sink.progress.update(pos);
        }
    }
    Ok(())
}

fn convert(node: &Node, ctx: &Ctx) -> Result<ImportedEntry, ListError> {
    let kind = if node.name == "INDIVIDUAL" {
        EntryKind::Person
    } else {
        EntryKind::Organization
    };
    let reference = node.text_of("REFERENCE_NUMBER").ok_or_else(|| {
        ctx.at(
            node,
            node,
            "has no REFERENCE_NUMBER; every UN entry needs one (it identifies the entry across re-imports)",
        )
    })?;
    let mut b = Builder::new();

    // Names: the parts in order, the original script, then aliases.
    let primary: Vec<String> = ["FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"]
        .iter()
        .filter_map(|k| node.text_of(k))
        .collect();
    b.name(&primary.join(" "));
    if let Some(original) = node.text_of("NAME_ORIGINAL_SCRIPT") {
        b.name(&original);
    }
    let alias_tag = if kind == EntryKind::Person {
        "INDIVIDUAL_ALIAS"
    } else {
        "ENTITY_ALIAS"
    };
    // Dates of birth given with an alias come after the entry's own.
    let mut alias_dates = Vec::new();
    for alias in node.all(alias_tag) {
        let Some(name) = alias.text_of("ALIAS_NAME") else {
            continue;
        };
        let quality = alias.text_of("QUALITY").unwrap_or_default().to_lowercase();
        let weak = quality == "low";
        if weak {
            b.weak_name(&name);
        } else {
            b.name(&name);
        }
        alias_dates.extend(alias_details(&mut b, node, alias, &name, weak, ctx)?);
    }
    if !b.has_names() {
        return Err(ctx.at(
            node,
            node,
            "has no name: FIRST_NAME to FOURTH_NAME, NAME_ORIGINAL_SCRIPT and the good-quality aliases are all empty",
        ));
    }

    if kind == EntryKind::Person {
        for dob in node.all("INDIVIDUAL_DATE_OF_BIRTH") {
            birth_date(&mut b, node, dob, ctx)?;
        }
        for d in alias_dates {
            b.birth_date(d);
        }
        for pob in node.all("INDIVIDUAL_PLACE_OF_BIRTH") {
            let place = place_of(pob, &["CITY", "STATE_PROVINCE", "COUNTRY"]);
            b.birth_place(&place);
        }
        for value in node.values("NATIONALITY") {
            let codes = countries_in(&value);
            for c in &codes {
                b.nationality(c);
            }
            if codes.is_empty() || !is_plain_country(&value) {
                b.note(format!("Nationality as listed: {value}"));
            }
        }
        if let Some(g) = node.text_of("GENDER") {
            match g.to_lowercase().as_str() {
                "male" => b.gender("male"),
                "female" => b.gender("female"),
                _ => {}
            }
        }
        for doc in node.all("INDIVIDUAL_DOCUMENT") {
            document(&mut b, doc);
        }
        for addr in node.all("INDIVIDUAL_ADDRESS") {
            let a = place_of(
                addr,
                &[
                    "STREET",
                    "CITY",
                    "STATE_PROVINCE",
                    "ZIP_CODE",
                    "COUNTRY",
                    "NOTE",
                ],
            );
            if !a.is_empty() {
                b.note(format!("Address: {a}"));
            }
        }
    } else {
        for addr in node.all("ENTITY_ADDRESS") {
            if let Some(country) = addr.text_of("COUNTRY") {
                for c in countries_in(&country) {
                    b.country(c);
                }
            }
            let a = place_of(
                addr,
                &[
                    "STREET",
                    "CITY",
                    "STATE_PROVINCE",
                    "ZIP_CODE",
                    "COUNTRY",
                    "NOTE",
                ],
            );
            if !a.is_empty() {
                b.note(format!("Address: {a}"));
            }
        }
    }
    let titles = node.values("TITLE");
    if !titles.is_empty() {
        b.note(format!("Title: {}", titles.join("; ")));
    }
    for d in node.values("DESIGNATION") {
        b.note(format!("Designation: {d}"));
    }

    let listed_on = match node.child("LISTED_ON") {
        Some(n) if !clean(&n.text).is_empty() => Some(iso_date(&n.text).ok_or_else(|| {
            ctx.at(
                node,
                n,
                format!(
                    "LISTED_ON {:?} is not a date in YYYY-MM-DD form",
                    clean(&n.text)
                ),
            )
        })?),
        _ => None,
    };
    b.listing = Some(Listing {
        list: "UN".into(),
        reference: Some(reference.clone()),
        program: node.text_of("UN_LIST_TYPE"),
        listed_on,
        reason: node.text_of("COMMENTS1"),
        status: None,
    });
    Ok(ImportedEntry {
        source_ref: reference,
        kind,
        data: b.finish(kind),
    })
}

/// Joins the non-empty parts of a place or address with ", ".
fn place_of(node: &Node, keys: &[&str]) -> String {
    keys.iter()
        .filter_map(|k| node.text_of(k))
        .collect::<Vec<_>>()
        .join(", ")
}

fn alias_details(
    b: &mut Builder,
    entry: &Node,
    alias: &Node,
    name: &str,
    weak: bool,
    ctx: &Ctx,
) -> Result<Vec<String>, ListError> {
    let mut facts = Vec::new();
    let mut dates = Vec::new();
    let mut born = String::new();
    if let Some(d) = alias.child("DATE_OF_BIRTH") {
        let text = clean(&d.text);
        if !text.is_empty() {
            match iso_date(&text).or_else(|| parse_free_date(&text).and_then(|s| s.dates.into_iter().next())) {
                Some(date) => dates.push(date),
                None => {
                    return Err(ctx.at(
                        entry,
                        d,
                        format!("DATE_OF_BIRTH {text:?} of alias {name:?} is not a date (expected YYYY-MM-DD or YYYY)"),
                    ))
                }
            }
            born = format!("born {text}");
        }
    }
    let place = place_of(alias, &["CITY_OF_BIRTH", "COUNTRY_OF_BIRTH"]);
    if !place.is_empty() {
        born = if born.is_empty() {
            format!("born in {place}")
        } else {
            format!("{born} in {place}")
        };
    }
    if !born.is_empty() {
        facts.push(born);
    }
    if let Some(note) = alias.text_of("NOTE") {
        facts.push(note);
    }
    if !facts.is_empty() {
        let q = if weak { " (low quality)" } else { "" };
        b.note(format!("Alias {name}{q}: {}", facts.join("; ")));
    }
    Ok(dates)
}

fn birth_date(b: &mut Builder, entry: &Node, dob: &Node, ctx: &Ctx) -> Result<(), ListError> {
    let kind = dob
        .text_of("TYPE_OF_DATE")
        .unwrap_or_default()
        .to_uppercase();
    let note = dob.text_of("NOTE");
    let approx = kind == "APPROXIMATELY";
    let mut shown = None;
    if let Some(d) = dob.child("DATE").filter(|d| !clean(&d.text).is_empty()) {
        let date = iso_date(&d.text).ok_or_else(|| {
            ctx.at(
                entry,
                d,
                format!("DATE {:?} is not a date in YYYY-MM-DD form", clean(&d.text)),
            )
        })?;
        shown = Some(date.clone());
        b.birth_date(date);
    } else if let Some(y) = dob.child("YEAR").filter(|d| !clean(&d.text).is_empty()) {
        let text = clean(&y.text);
        let ok = text.len() == 4 && text.bytes().all(|c| c.is_ascii_digit());
        if !ok || year_range(text.parse().unwrap_or(0), text.parse().unwrap_or(0)).is_none() {
            return Err(ctx.at(entry, y, format!("YEAR {text:?} is not a four-digit year")));
        }
        shown = Some(text.clone());
        b.birth_date(text);
    } else if dob.child("FROM_YEAR").is_some() || dob.child("TO_YEAR").is_some() {
        let year = |k: &str| -> Result<i32, ListError> {
            let n = dob.child(k).unwrap_or(dob);
            let text = clean(&n.text);
            match text.parse::<i32>() {
                Ok(y) if text.len() == 4 => Ok(y),
                _ => Err(ctx.at(entry, n, format!("{k} {text:?} is not a four-digit year (a BETWEEN date needs FROM_YEAR and TO_YEAR)"))),
            }
        };
        let (from, to) = (year("FROM_YEAR")?, year("TO_YEAR")?);
        let years = year_range(from, to).ok_or_else(|| {
            ctx.at(
                entry,
                dob,
                format!("FROM_YEAR {from} to TO_YEAR {to} is not a plausible range of years"),
            )
        })?;
        for y in years {
            b.birth_date(y);
        }
        b.note(format!(
            "Date of birth between {from} and {to}{}",
            note.as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ));
        return Ok(());
    } else if let Some(n) = &note {
        // Only a note: "Nov. 1973", "Between Aug. and Sep. 1977",
        // "30-35 years old", "24/06/1402 (Hijri Calendar)".
        if let Some(spec) = parse_free_date(n) {
            for d in spec.dates {
                b.birth_date(d);
            }
        }
        b.note(format!("Date of birth: {n}"));
        return Ok(());
    }
    if let Some(shown) = shown {
        if approx || note.is_some() {
            let a = if approx { "approximately " } else { "" };
            let n = note.map(|n| format!(" ({n})")).unwrap_or_default();
            b.note(format!("Date of birth {a}{shown}{n}"));
        }
    }
    Ok(())
}

fn document(b: &mut Builder, doc: &Node) {
    let label = doc
        .text_of("TYPE_OF_DOCUMENT")
        .or_else(|| doc.text_of("TYPE_OF_DOCUMENT2"))
        .unwrap_or_else(|| "Document".into());
    let country_text = doc
        .text_of("ISSUING_COUNTRY")
        .or_else(|| doc.text_of("COUNTRY_OF_ISSUE"));
    let country = country_text
        .as_deref()
        .and_then(|c| countries_in(c).into_iter().next());
    let mut facts = Vec::new();
    if let Some(d) = doc.text_of("DATE_OF_ISSUE") {
        facts.push(format!("issued {}", iso_date(&d).unwrap_or(d)));
    }
    if let Some(c) = doc.text_of("CITY_OF_ISSUE") {
        facts.push(format!("issued in {c}"));
    }
    if let (Some(text), None) = (&country_text, country) {
        facts.push(format!("issuing country {text}"));
    }
    if let Some(n) = doc.text_of("NOTE") {
        facts.push(n);
    }
    match doc.text_of("NUMBER") {
        Some(number) if number.chars().count() <= crate::schema::MAX_DOC_CHARS => {
            if !facts.is_empty() {
                b.note(format!("{label} {number}: {}", facts.join("; ")));
            }
            b.document(Doc {
                doc_type: document_type(&label),
                number,
                country,
            });
        }
        Some(number) => b.note(format!("{label} {number}")),
        None => {
            if !facts.is_empty() {
                b.note(format!("{label} (no number): {}", facts.join("; ")));
            }
        }
    }
}
