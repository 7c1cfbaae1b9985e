//! Building record data in the node's person/organization schema, and the
//! limits the node enforces on it (tansiq-core `validate_data`).

use serde_json::{json, Map, Value};

use crate::EntryKind;

/// Most names one record may carry (names and weak names together).
pub(crate) const MAX_NAMES: usize = 200;
/// Longest name, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 300;
/// Longest birth place, in characters.
pub(crate) const MAX_PLACE_CHARS: usize = 300;
/// Longest document type or number, in characters.
pub(crate) const MAX_DOC_CHARS: usize = 100;
/// Longest notes or listing reason, in characters.
pub(crate) const MAX_TEXT_CHARS: usize = 20_000;
/// Longest listing list name, in characters.
pub(crate) const MAX_LIST_CHARS: usize = 100;

/// Collapses every run of whitespace and control characters into one space
/// and trims.
pub(crate) fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Cuts text to at most `max` characters, marking the cut with "…".
pub(crate) fn cap(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn name_key(s: &str) -> String {
    s.to_lowercase()
}

/// An identity document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Doc {
    pub doc_type: String,
    pub number: String,
    pub country: Option<&'static str>,
}

/// Listing facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Listing {
    pub list: String,
    pub reference: Option<String>,
    pub program: Option<String>,
    pub listed_on: Option<String>,
    pub reason: Option<String>,
    pub status: Option<String>,
}

/// Accumulates one entry's facts, removing repeats, and renders the JSON
/// object (absent fields omitted, no nulls).
#[derive(Debug, Default)]
pub(crate) struct Builder {
    names: Vec<String>,
    weak_names: Vec<String>,
    dates: Vec<String>,
    birth_place: Option<String>,
    nationality: Vec<String>,
    country: Vec<String>,
    gender: Option<&'static str>,
    documents: Vec<Doc>,
    pub listing: Option<Listing>,
    notes: Vec<String>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    fn has_name(&self, key: &str) -> bool {
        self.names
            .iter()
            .chain(self.weak_names.iter())
            .any(|n| name_key(n) == key)
    }

    /// Adds a strong name (cleaned); repeats are ignored.
    pub fn name(&mut self, n: &str) {
        let n = clean(n);
        if n.is_empty() {
            return;
        }
        let key = name_key(&n);
        if self.names.iter().any(|x| name_key(x) == key) {
            return;
        }
        // A name first seen as weak and then given as strong becomes strong.
        self.weak_names.retain(|x| name_key(x) != key);
        if self.names.len() + self.weak_names.len() >= MAX_NAMES {
            self.note(format!(
                "Further name (over the {MAX_NAMES}-name limit): {n}"
            ));
            return;
        }
        if n.chars().count() > MAX_NAME_CHARS {
            self.note(format!("Name too long to index: {n}"));
            return;
        }
        self.names.push(n);
    }

    /// Adds a weak (low-quality) name, unless it is already known.
    pub fn weak_name(&mut self, n: &str) {
        let n = clean(n);
        if n.is_empty() || self.has_name(&name_key(&n)) {
            return;
        }
        if self.names.len() + self.weak_names.len() >= MAX_NAMES {
            self.note(format!(
                "Further weak name (over the {MAX_NAMES}-name limit): {n}"
            ));
            return;
        }
        if n.chars().count() > MAX_NAME_CHARS {
            self.note(format!("Name too long to index: {n}"));
            return;
        }
        self.weak_names.push(n);
    }

    /// The primary name, once set.
    pub fn first_name(&self) -> Option<String> {
        self.names.first().cloned()
    }

    pub fn has_names(&self) -> bool {
        !self.names.is_empty()
    }

    /// Adds a birth date (a valid partial date); repeats are ignored.
    pub fn birth_date(&mut self, d: String) {
        if !self.dates.contains(&d) {
            self.dates.push(d);
        }
    }

    /// Sets the birth place if none is set yet, else records it in notes.
    pub fn birth_place(&mut self, p: &str) {
        let p = clean(p);
        if p.is_empty() {
            return;
        }
        match &self.birth_place {
            None if p.chars().count() <= MAX_PLACE_CHARS => self.birth_place = Some(p),
            Some(existing) if *existing == p => {}
            _ => self.note(format!("Other place of birth: {p}")),
        }
    }

    pub fn nationality(&mut self, code: &str) {
        if !self.nationality.iter().any(|c| c == code) {
            self.nationality.push(code.to_string());
        }
    }

    pub fn country(&mut self, code: &str) {
        if !self.country.iter().any(|c| c == code) {
            self.country.push(code.to_string());
        }
    }

    pub fn gender(&mut self, g: &'static str) {
        if self.gender.is_none() {
            self.gender = Some(g);
        }
    }

    pub fn document(&mut self, d: Doc) {
        let same = |x: &Doc| x.number == d.number && x.doc_type == d.doc_type;
        if let Some(existing) = self.documents.iter_mut().find(|x| same(x)) {
            if existing.country.is_none() {
                existing.country = d.country;
            }
            return;
        }
        self.documents.push(d);
    }

    /// Adds a line to the notes (cleaned); repeats are ignored.
    pub fn note(&mut self, line: impl AsRef<str>) {
        let line = clean(line.as_ref());
        if !line.is_empty() && !self.notes.contains(&line) {
            self.notes.push(line);
        }
    }

    /// Renders the data object for `kind`.
    pub fn finish(self, kind: EntryKind) -> Value {
        let mut m = Map::new();
        m.insert("names".into(), json!(self.names));
        if !self.weak_names.is_empty() {
            m.insert("weak_names".into(), json!(self.weak_names));
        }
        match kind {
            EntryKind::Person => {
                if let Some(first) = self.dates.first() {
                    m.insert("birth_date".into(), json!(first));
                }
                if self.dates.len() > 1 {
                    m.insert("birth_dates".into(), json!(self.dates));
                }
                if let Some(p) = self.birth_place {
                    m.insert("birth_place".into(), json!(p));
                }
                if !self.nationality.is_empty() {
                    m.insert("nationality".into(), json!(self.nationality));
                }
                if let Some(g) = self.gender {
                    m.insert("gender".into(), json!(g));
                }
                if !self.documents.is_empty() {
                    let docs: Vec<Value> = self
                        .documents
                        .iter()
                        .map(|d| {
                            let mut o = Map::new();
                            o.insert("type".into(), json!(d.doc_type));
                            o.insert("number".into(), json!(d.number));
                            if let Some(c) = d.country {
                                o.insert("country".into(), json!(c));
                            }
                            Value::Object(o)
                        })
                        .collect();
                    m.insert("documents".into(), Value::Array(docs));
                }
            }
            EntryKind::Organization => {
                if !self.country.is_empty() {
                    m.insert("country".into(), json!(self.country));
                }
            }
        }
        if let Some(l) = self.listing {
            let mut o = Map::new();
            o.insert("list".into(), json!(l.list));
            for (k, v) in [
                ("reference", l.reference),
                ("program", l.program),
                ("listed_on", l.listed_on),
                ("reason", l.reason.map(|r| cap(r, MAX_TEXT_CHARS))),
                ("status", l.status),
            ] {
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    o.insert(k.into(), json!(v));
                }
            }
            m.insert("listing".into(), Value::Object(o));
        }
        if !self.notes.is_empty() {
            m.insert(
                "notes".into(),
                json!(cap(self.notes.join("\n"), MAX_TEXT_CHARS)),
            );
        }
        Value::Object(m)
    }
}

/// Document kinds, from the labels lists use to our short type names.
/// Longer labels first where one is a prefix of another.
pub(crate) const DOCUMENT_LABELS: &[(&str, &str)] = &[
    ("British National Overseas Passport", "passport"),
    ("Stateless Person Passport", "passport"),
    ("Diplomatic Passport", "passport"),
    ("Passport Booklet", "passport"),
    ("Passport", "passport"),
    ("Numéro de passeport", "passport"),
    ("Número de pasaporte", "passport"),
    ("National Identification Number", "national_id"),
    ("National identification no.", "national_id"),
    ("National Foreign ID Number", "national_id"),
    ("Tazkira National ID Card", "national_id"),
    ("National ID No.", "national_id"),
    ("National ID", "national_id"),
    ("Identification Number", "national_id"),
    ("Turkish Identification Number", "national_id"),
    ("Moroccan Personal ID No.", "national_id"),
    ("Bosnian Personal ID No.", "national_id"),
    ("Kenyan ID No.", "national_id"),
    ("UAE Identification", "national_id"),
    ("Personal ID Card", "national_id"),
    ("Citizen's Card Number", "national_id"),
    ("Stateless Person ID Card", "national_id"),
    ("Refugee ID Card", "national_id"),
    ("Numero de Identidad", "national_id"),
    ("Cedula No.", "national_id"),
    ("D.N.I.", "national_id"),
    ("C.U.R.P. #", "national_id"),
    ("C.U.R.P.", "national_id"),
    ("C.U.I.P.", "national_id"),
    ("C.U.I.", "national_id"),
    ("LE Number", "national_id"),
    ("RTN", "national_id"),
    ("R.F.C.", "tax_id"),
    ("RFC", "tax_id"),
    ("Tax ID No.", "tax_id"),
    ("NIT #", "tax_id"),
    ("C.U.I.T.", "tax_id"),
    ("RUC #", "tax_id"),
    ("Italian Fiscal Code", "tax_id"),
    ("SSN", "ssn"),
    ("Driver's License No.", "drivers_license"),
    ("Electoral Registry No.", "electoral_id"),
    ("Credencial electoral", "electoral_id"),
    ("I.F.E.", "electoral_id"),
    ("Residency Number", "residence_permit"),
    ("Romanian Permanent Resident CAN", "residence_permit"),
    ("Travel Document Number", "travel_document"),
    ("Birth Certificate Number", "birth_certificate"),
    ("Cartilla de Servicio Militar Nacional", "military_id"),
    ("Seafarer's Identification Document", "seafarer_id"),
    ("Pilot License Number", "pilot_license"),
    ("Immigration No.", "immigration_id"),
    ("VisaNumberID", "visa"),
];

/// The document type for a label as written in a list (`Passport`,
/// `National Identification Number`, `Cedula No.` …): our short name when
/// known, else the label itself, lower-cased.
pub(crate) fn document_type(label: &str) -> String {
    let l = clean(label);
    for (known, short) in DOCUMENT_LABELS {
        if known.eq_ignore_ascii_case(&l) {
            return (*short).to_string();
        }
    }
    l.to_lowercase()
}

/// Finds the longest document label that starts `text` (followed by a space
/// or the end): returns the short type and the rest.
pub(crate) fn document_prefix(text: &str) -> Option<(&'static str, &str)> {
    let mut best: Option<(&'static str, &'static str)> = None;
    for (label, short) in DOCUMENT_LABELS {
        if text.len() >= label.len()
            && text.is_char_boundary(label.len())
            && text[..label.len()].eq_ignore_ascii_case(label)
            && text[label.len()..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == ':')
            && best.is_none_or(|(b, _)| label.len() > b.len())
        {
            best = Some((label, short));
        }
    }
    best.map(|(label, short)| (short, text[label.len()..].trim_start_matches([' ', ':'])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_dedups_and_omits_absent_fields() {
        let mut b = Builder::new();
        b.name("  RI   WON HO ");
        b.name("Ri Won Ho");
        b.weak_name("ri won ho");
        b.weak_name("Abu X");
        b.name("Abu X");
        b.birth_date("1964".into());
        b.birth_date("1964".into());
        let v = b.finish(EntryKind::Person);
        assert_eq!(
            v,
            json!({"names": ["RI WON HO", "Abu X"], "birth_date": "1964"})
        );
    }

    #[test]
    fn document_labels() {
        assert_eq!(document_type("Passport"), "passport");
        assert_eq!(document_type("Numéro de passeport "), "passport");
        assert_eq!(
            document_type("National Identification Number"),
            "national_id"
        );
        assert_eq!(document_type("Residence permit"), "residence permit");
        assert_eq!(
            document_prefix("Diplomatic Passport 008827 (Iran)"),
            Some(("passport", "008827 (Iran)"))
        );
        assert_eq!(
            document_prefix("C.U.R.P. # HESU430525HBCRMR13 (Mexico)"),
            Some(("national_id", "HESU430525HBCRMR13 (Mexico)"))
        );
        assert_eq!(document_prefix("Passports are nice"), None);
    }
}
