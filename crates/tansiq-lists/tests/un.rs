//! The UN Security Council consolidated list importer, on a real excerpt
//! and on the full 2018-10-29 list.

mod common;

use std::cell::Cell;

use serde_json::{json, Value};
use tansiq_lists::{import, import_with_progress, EntryKind, Format, ImportedEntry};

fn excerpt() -> Vec<ImportedEntry> {
    import(Format::UnXml, &common::data("un-excerpt.xml")).expect("the excerpt imports")
}

fn by_ref<'a>(entries: &'a [ImportedEntry], r: &str) -> &'a ImportedEntry {
    entries
        .iter()
        .find(|e| e.source_ref == r)
        .unwrap_or_else(|| panic!("no entry {r}"))
}

#[test]
fn excerpt_entries_in_file_order() {
    let e = excerpt();
    let refs: Vec<(&str, EntryKind)> = e.iter().map(|e| (e.source_ref.as_str(), e.kind)).collect();
    assert_eq!(
        refs,
        vec![
            ("KPi.033", EntryKind::Person),
            ("TAi.002", EntryKind::Person),
            ("QDi.092", EntryKind::Person),
            ("TAi.130", EntryKind::Person),
            ("QDi.232", EntryKind::Person),
            ("QDi.136", EntryKind::Person),
            ("QDe.109", EntryKind::Organization),
            ("IRe.020", EntryKind::Organization),
            ("KPe.053", EntryKind::Organization),
        ]
    );
    for entry in &e {
        common::check_schema(entry.kind, &entry.data)
            .unwrap_or_else(|err| panic!("{}: {err}: {}", entry.source_ref, entry.data));
    }
}

#[test]
fn algerian_entry_with_arabic_original_script() {
    let e = excerpt();
    let d = &by_ref(&e, "QDi.232").data;
    assert_eq!(
        *d,
        json!({
            "names": ["ABDELMALEK DROUKDEL", "عبد المالك دروكدال", "Abou Mossaab Abdelouadoud"],
            "birth_date": "1970-04-20",
            "birth_place": "Meftah, Wilaya of Blida, Algeria",
            "nationality": ["DZ"],
            "listing": {
                "list": "UN",
                "reference": "QDi.232",
                "program": "Al-Qaida",
                "listed_on": "2007-08-27",
                "reason": "Head of The Organization of Al-Qaida in the Islamic Maghreb (QDe.014). Sentenced in absentia to life imprisonment in Algeria on 21 March 2007. Father's name is Rabah Droukdel. Mother's name is Z'hour Zdigha. Review pursuant to Security Council resolution 1822 (2008) was concluded on 4 May 2009. INTERPOL-UN Security Council Special Notice web link: https://www.interpol.int/en/notice/search/un/1489020",
            },
            "notes": "Address: Algeria",
        })
    );
}

#[test]
fn good_aliases_are_names_and_low_aliases_are_weak() {
    let e = excerpt();
    let d = &by_ref(&e, "QDi.136").data;
    assert_eq!(d["names"][0], "MOKHTAR BELMOKHTAR");
    assert_eq!(d["names"][1], "مختار بلمختار");
    assert_eq!(d["names"].as_array().unwrap().len(), 11);
    assert!(d["names"]
        .as_array()
        .unwrap()
        .contains(&json!("Mukhtar Belmukhtar")));
    assert_eq!(d["weak_names"], json!(["Belaoua", "Belaour"]));
}

#[test]
fn name_parts_are_trimmed_and_joined() {
    let e = excerpt();
    let d = &by_ref(&e, "KPi.033").data;
    // <FIRST_NAME> RI </FIRST_NAME><SECOND_NAME>WON HO</SECOND_NAME>
    assert_eq!(d["names"], json!(["RI WON HO"]));
    assert_eq!(d["nationality"], json!(["KP"]));
    assert_eq!(d["birth_date"], "1964-07-17");
    // <NUMBER> 381310014</NUMBER>, no issuing country
    assert_eq!(
        d["documents"],
        json!([{"type": "passport", "number": "381310014"}])
    );
    assert!(d.get("gender").is_none());
}

#[test]
fn between_dates_expand_to_every_year() {
    let e = excerpt();
    let d = &by_ref(&e, "TAi.002").data;
    assert_eq!(
        d["names"],
        json!(["MOHAMMAD HASSAN AKHUND", "محمد حسن آخوند"])
    );
    assert_eq!(d["birth_date"], "1955");
    assert_eq!(
        d["birth_dates"],
        json!(["1955", "1956", "1957", "1958", "1945", "1946", "1947", "1948", "1949", "1950"])
    );
    assert_eq!(
        d["birth_place"],
        "Pashmul village, Panjwai District, Kandahar Province, Afghanistan"
    );
    let notes = d["notes"].as_str().unwrap();
    assert!(notes.contains("Date of birth between 1955 and 1958 (Approximately)"));
    assert!(notes.contains("Title: Mullah; Haji"));
}

#[test]
fn documents_with_issuing_country_and_year_dates() {
    let e = excerpt();
    let d = &by_ref(&e, "TAi.130").data;
    assert_eq!(d["birth_dates"], json!(["1970", "1967"]));
    assert_eq!(
        d["documents"],
        json!([
            {"type": "passport", "number": "D 000933", "country": "AF"},
            {"type": "national_id", "number": "55130", "country": "AF"},
        ])
    );
    assert_eq!(d["names"][1], "عبدالغفار قریشی عبد الغنی");
}

#[test]
fn alias_birth_dates_follow_the_entrys_own() {
    let e = excerpt();
    let d = &by_ref(&e, "QDi.092").data;
    assert_eq!(d["birth_date"], "1969-12-18");
    assert_eq!(
        d["birth_dates"],
        json!(["1969-12-18", "1968-05-25", "1968-12-18", "1969-07-14"])
    );
    assert_eq!(d["weak_names"], json!(["Abu Thale"]));
    // ISSUING_COUNTRY "Tunisian" (a demonym) still maps to TN.
    assert_eq!(
        d["documents"],
        json!([{"type": "passport", "number": "G737411", "country": "TN"}])
    );
    assert!(d["notes"]
        .as_str()
        .unwrap()
        .contains("Alias Fabio Fusco: born 1968-05-25 in Naples, Italy"));
}

#[test]
fn entities_with_entities_and_addresses() {
    let e = excerpt();
    let d = &by_ref(&e, "QDe.109").data;
    assert_eq!(
        d["names"][0],
        "AL-HARAMAIN & AL MASJED AL-AQSA CHARITY FOUNDATION"
    );
    assert_eq!(d["names"].as_array().unwrap().len(), 5);
    assert_eq!(d["country"], json!(["BA"]));
    assert_eq!(d["listing"]["listed_on"], "2004-06-28");
    let d = &by_ref(&e, "KPe.053").data;
    assert_eq!(
        d["names"],
        json!(["PROPAGANDA AND AGITATION DEPARTMENT (PAD)"])
    );
    assert_eq!(d["country"], json!(["KP"]));
    let d = &by_ref(&e, "IRe.020").data;
    assert_eq!(d["names"], json!(["FATER INSTITUTE", "Faater Institute"]));
    assert!(d.get("country").is_none());
}

#[test]
fn full_list_counts_and_schema() {
    let path = common::shared("watchlists/un/consolidated-2018-10-29.xml");
    let calls = Cell::new(0u32);
    let last = Cell::new((0u64, 0u64));
    let entries = import_with_progress(Format::UnXml, &path, &|done, total| {
        calls.set(calls.get() + 1);
        assert!(done <= total);
        last.set((done, total));
    })
    .expect("the real UN list imports");
    let persons = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Person)
        .count();
    let orgs = entries.len() - persons;
    assert_eq!((persons, orgs), (703, 390));
    let (done, total) = last.get();
    assert_eq!(done, total);
    assert_eq!(total, std::fs::metadata(&path).unwrap().len());
    assert!(
        calls.get() > 10 && calls.get() < 2000,
        "{} progress calls",
        calls.get()
    );
    let mut arabic = 0;
    for e in &entries {
        common::check_schema(e.kind, &e.data)
            .unwrap_or_else(|err| panic!("{}: {err}: {}", e.source_ref, e.data));
        let names = e.data["names"].as_array().unwrap();
        if names.iter().any(|n| {
            n.as_str()
                .unwrap()
                .chars()
                .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c))
        }) {
            arabic += 1;
        }
    }
    assert!(arabic > 350, "{arabic} entries with an Arabic-script name");
    let with = |f: &str| entries.iter().filter(|e| e.data.get(f).is_some()).count();
    assert_eq!(with("birth_date"), 664);
    assert_eq!(with("nationality"), 622);
    assert_eq!(with("documents"), 257);
}

#[test]
fn reimport_is_identical() {
    let path = common::shared("watchlists/un/consolidated-2018-10-29.xml");
    let a = import(Format::UnXml, &path).unwrap();
    let b = import(Format::UnXml, &path).unwrap();
    assert_eq!(a, b);
    let bytes = |v: &[ImportedEntry]| -> Vec<String> {
        v.iter()
            .map(|e| format!("{}\t{}", e.source_ref, Value::to_string(&e.data)))
            .collect()
    };
    assert_eq!(bytes(&a), bytes(&b));
}
