//! The OFAC SDN legacy CSV importer, on a real excerpt and on the full
//! 2022 copy (sdn.csv + alt.csv + add.csv).

mod common;

use serde_json::json;
use tansiq_lists::{import, EntryKind, Format, ImportedEntry, Location};

fn excerpt() -> Vec<ImportedEntry> {
    import(Format::OfacCsv, &common::data("ofac/sdn.csv")).expect("the excerpt imports")
}

fn by_ref<'a>(entries: &'a [ImportedEntry], r: &str) -> &'a ImportedEntry {
    entries
        .iter()
        .find(|e| e.source_ref == r)
        .unwrap_or_else(|| panic!("no entry {r}"))
}

#[test]
fn excerpt_kinds_and_skipped_vessels() {
    let e = excerpt();
    let refs: Vec<(&str, EntryKind)> = e.iter().map(|e| (e.source_ref.as_str(), e.kind)).collect();
    // 4238 (vessel MAR AZUL) and 15431 (aircraft EP-GOM) are skipped.
    assert_eq!(
        refs,
        vec![
            ("36", EntryKind::Organization),
            ("306", EntryKind::Organization),
            ("2677", EntryKind::Person),
            ("7203", EntryKind::Person),
            ("8185", EntryKind::Person),
            ("11282", EntryKind::Person),
            ("16541", EntryKind::Person),
            ("19651", EntryKind::Person),
            ("28029", EntryKind::Person),
            ("34111", EntryKind::Person),
        ]
    );
    for entry in &e {
        common::check_schema(entry.kind, &entry.data)
            .unwrap_or_else(|err| panic!("{}: {err}: {}", entry.source_ref, entry.data));
    }
}

#[test]
fn directory_or_sdn_path_give_the_same() {
    let from_dir = import(Format::OfacCsv, &common::data("ofac")).unwrap();
    assert_eq!(from_dir, excerpt());
}

#[test]
fn remarks_are_parsed_into_fields() {
    let e = excerpt();
    // "DOB 19 Apr 1947; POB Nahia, Giza, Egypt; nationality Egypt; Gender Male."
    assert_eq!(
        by_ref(&e, "2677").data,
        json!({
            "names": [
                "AL-ZOMOR, Abboud Abdul Latif Hassan",
                "ZUMAR, Abbud",
                "AL-ZUMAR, Abbud",
                "EL-ZOMOR, Aboud Abdul Latif Hasan",
                "AL-ZUMUR, Abood Abdul Latif Hassan",
                "AL-ZAMUR, Abboud Abdul Latif Hassan",
            ],
            "birth_date": "1947-04-19",
            "birth_place": "Nahia, Giza, Egypt",
            "nationality": ["EG"],
            "gender": "male",
            "listing": {"list": "OFAC", "reference": "2677", "program": "SDGT"},
            "notes": "Address: Egypt",
        })
    );
    // "DOB 10 May 1957; …; Gender Female; National ID No. 4901005570000R (Nicaragua)."
    let d = &by_ref(&e, "34111").data;
    assert_eq!(d["gender"], "female");
    assert_eq!(
        d["documents"],
        json!([{"type": "national_id", "number": "4901005570000R", "country": "NI"}])
    );
    // Passport with issue and expiry dates, and an Italian fiscal code.
    let d = &by_ref(&e, "7203").data;
    assert_eq!(
        d["documents"],
        json!([
            {"type": "passport", "number": "L 191609"},
            {"type": "tax_id", "number": "DAOMMD74T11Z352Z"},
        ])
    );
    assert!(d["notes"]
        .as_str()
        .unwrap()
        .contains("Passport L 191609: issued 28 Feb 1996 expires 27 Feb 2001"));
}

#[test]
fn approximate_and_ranged_birth_dates() {
    let e = excerpt();
    let d = &by_ref(&e, "8185").data;
    assert_eq!(d["birth_date"], "1965");
    assert!(d.get("birth_dates").is_none());
    assert!(d["notes"].as_str().unwrap().contains("DOB circa 1965"));
    let d = &by_ref(&e, "28029").data;
    assert_eq!(
        d["birth_dates"],
        json!(["1975", "1976", "1977", "1978", "1979", "1980", "1981"])
    );
}

#[test]
fn aliases_strong_and_weak() {
    let e = excerpt();
    // alt.csv aka → names; Remarks a.k.a. 'X' (OFAC's weak aliases) → weak_names.
    let d = &by_ref(&e, "28029").data;
    assert_eq!(d["names"].as_array().unwrap().len(), 5);
    assert_eq!(d["weak_names"], json!(["Kalume", "Karume"]));
    let d = &by_ref(&e, "11282").data;
    assert_eq!(d["names"], json!(["YUN, Cheng"]));
    assert_eq!(
        d["weak_names"],
        json!(["YIN CHIN", "YIN CHEIN", "YUN CHENG"])
    );
    let d = &by_ref(&e, "306").data;
    assert_eq!(
        d["names"],
        json!(["BANCO NACIONAL DE CUBA", "NATIONAL BANK OF CUBA"])
    );
    assert_eq!(d["weak_names"], json!(["BNC"]));
    assert_eq!(d["country"], json!(["CH", "ES", "JP", "PA"]));
}

#[test]
fn shared_files_are_rejected_for_a_repeated_ent_num() {
    // The shared copy's last sdn.csv line reuses ent_num 2677 (an Egyptian
    // individual on line 57) for HAMER AND NAIL CONSTRUCTION LIMITED, whose
    // address in add.csv is filed under 34489.
    let dir = common::shared("watchlists/ofac");
    let err = import(Format::OfacCsv, &dir).unwrap_err();
    assert_eq!(err.location(), Some(&Location::line_col(9044, 1)));
    let msg = err.to_string();
    assert!(
        msg.contains("sdn.csv, line 9044, column 1: ent_num 2677 is already used on line 57"),
        "{msg}"
    );
}

#[test]
fn full_list_counts_and_schema() {
    let dir = common::repaired_ofac("ofac-full");
    let entries = import(Format::OfacCsv, &dir).expect("the repaired OFAC list imports");
    let persons = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Person)
        .count();
    let orgs = entries.len() - persons;
    // 9,044 lines: 4,643 individuals, 3,701 organizations, 420 vessels and
    // 280 aircraft (skipped).
    assert_eq!((persons, orgs), (4643, 3701));
    let mut names = 0;
    for e in &entries {
        common::check_schema(e.kind, &e.data)
            .unwrap_or_else(|err| panic!("{}: {err}: {}", e.source_ref, e.data));
        names += e.data["names"].as_array().unwrap().len();
    }
    assert!(names > 8344 + 10_000, "{names} names");
    let persons_with = |f: &str| {
        entries
            .iter()
            .filter(|e| e.kind == EntryKind::Person && e.data.get(f).is_some())
            .count()
    };
    assert_eq!(persons_with("birth_date"), 4512);
    assert_eq!(persons_with("gender"), 1800);
    assert!(persons_with("nationality") > 2700);
    assert!(persons_with("documents") > 2200);
    let again = import(Format::OfacCsv, &dir.join("sdn.csv")).unwrap();
    assert_eq!(entries, again, "a re-import gives the same entries");
}
