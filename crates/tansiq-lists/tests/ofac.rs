//! The OFAC SDN legacy CSV importer, on a real excerpt and on the full
//! 2022 copy (sdn.csv + alt.csv + add.csv).

mod common;

use serde_json::json;
use tansiq_lists::{
    import, import_with_options, EntryKind, Format, ImportOptions, ImportedEntry, Location,
};

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

/// What importing the shared OFAC copy must give.
enum Expect {
    /// Rejected whole: (file, line, column, message part).
    Rejected(&'static str, u64, u64, &'static str),
    /// Imported: persons, organizations, and each skipped row as (file,
    /// line, column, message part), in order.
    Imported(
        usize,
        usize,
        &'static [(&'static str, u64, u64, &'static str)],
    ),
}

#[test]
fn shared_files_strict_and_lenient() {
    // The shared copy's last sdn.csv line reuses ent_num 2677 (an Egyptian
    // individual on line 57) for HAMER AND NAIL CONSTRUCTION LIMITED, whose
    // address in add.csv (its last line) is filed under 34489, which
    // sdn.csv lacks. 9,044 lines: 4,643 individuals, 3,701 organizations
    // (one of them the repeated line), 420 vessels and 280 aircraft.
    const DUPLICATE: &str = "ent_num 2677 is already used on line 57 (by \"AL-ZOMOR, Abboud Abdul Latif Hassan\"); each entry needs its own number";
    let cases: &[(&str, bool, Expect)] = &[
        (
            "strict",
            false,
            Expect::Rejected("sdn.csv", 9044, 1, DUPLICATE),
        ),
        (
            "skip_invalid",
            true,
            Expect::Imported(
                4643,
                3700,
                &[
                    ("sdn.csv", 9044, 1, DUPLICATE),
                    (
                        "add.csv",
                        13625,
                        1,
                        "ent_num 34489 is not in sdn.csv; add.csv and sdn.csv must come from the same OFAC release",
                    ),
                ],
            ),
        ),
    ];
    let dir = common::shared("watchlists/ofac");
    let file_of = |e: &tansiq_lists::ListError| {
        e.path()
            .and_then(|p| p.file_name())
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut lenient_entries = None;
    for (name, skip_invalid, expect) in cases {
        let options = ImportOptions {
            skip_invalid: *skip_invalid,
        };
        let got = import_with_options(Format::OfacCsv, &dir, options, &|_, _| {});
        match (expect, got) {
            (Expect::Rejected(file, line, column, says), Err(err)) => {
                assert_eq!(file_of(&err), *file, "{name}: {err}");
                assert_eq!(
                    err.location(),
                    Some(&Location::line_col(*line, *column)),
                    "{name}: {err}"
                );
                assert!(err.to_string().contains(says), "{name}: {err}");
                assert!(!err.to_string().contains("skipped"), "{name}: {err}");
                // The plain API is the strict mode.
                assert_eq!(
                    import(Format::OfacCsv, &dir).unwrap_err().to_string(),
                    err.to_string(),
                    "{name}"
                );
            }
            (Expect::Imported(persons, orgs, skips), Ok(imported)) => {
                let p = imported
                    .entries
                    .iter()
                    .filter(|e| e.kind == EntryKind::Person)
                    .count();
                assert_eq!((p, imported.entries.len() - p), (*persons, *orgs), "{name}");
                assert_eq!(imported.entries.len(), 8343, "{name}");
                let got: Vec<String> = imported.skipped.iter().map(|e| e.to_string()).collect();
                assert_eq!(imported.skipped.len(), skips.len(), "{name}: {got:#?}");
                for (e, (file, line, column, says)) in imported.skipped.iter().zip(skips.iter()) {
                    let msg = e.to_string();
                    assert_eq!(file_of(e), *file, "{name}: {msg}");
                    assert_eq!(
                        e.location(),
                        Some(&Location::line_col(*line, *column)),
                        "{name}: {msg}"
                    );
                    assert!(msg.contains(says), "{name}: {msg}");
                    assert!(msg.ends_with("; this line was skipped"), "{name}: {msg}");
                }
                // The first of the two 2677 lines is the one kept, with its
                // aliases and address.
                let kept = by_ref(&imported.entries, "2677");
                assert_eq!(kept.kind, EntryKind::Person);
                assert_eq!(kept.data["names"][0], "AL-ZOMOR, Abboud Abdul Latif Hassan");
                assert_eq!(kept.data["names"].as_array().unwrap().len(), 6);
                assert!(!imported
                    .entries
                    .iter()
                    .any(|e| e.data["names"][0] == "HAMER AND NAIL CONSTRUCTION LIMITED"));
                lenient_entries = Some(imported.entries);
            }
            (_, Ok(imported)) => panic!(
                "{name}: imported {} entries, {} skipped",
                imported.entries.len(),
                imported.skipped.len()
            ),
            (_, Err(err)) => panic!("{name}: rejected: {err}"),
        }
    }

    // Lenient mode gives exactly the repaired copy's entries, less the
    // repaired line's entry (34489); on the repaired copy it skips nothing.
    let repaired_dir = common::repaired_ofac("ofac-lenient-repaired");
    let repaired = import(Format::OfacCsv, &repaired_dir).unwrap();
    let lenient_on_repaired = import_with_options(
        Format::OfacCsv,
        &repaired_dir,
        ImportOptions { skip_invalid: true },
        &|_, _| {},
    )
    .unwrap();
    assert!(lenient_on_repaired.skipped.is_empty());
    assert_eq!(lenient_on_repaired.entries, repaired);
    let without_34489: Vec<ImportedEntry> = repaired
        .into_iter()
        .filter(|e| e.source_ref != "34489")
        .collect();
    assert_eq!(
        lenient_entries.expect("the lenient case ran"),
        without_34489
    );
}

#[test]
fn lenient_skips_the_aliases_and_addresses_of_a_skipped_line() {
    // Line 2 is skipped (unknown SDN_Type); its alias and address then have
    // no entry, and say so rather than blaming the release.
    let dir = common::scratch("ofac-lenient-cascade");
    common::write(
        &dir,
        "sdn.csv",
        b"36,A,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n40,B,company,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n41,\"C,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n",
    );
    common::write(
        &dir,
        "alt.csv",
        b"36,1,aka,A2,-0- \n40,2,aka,B2,-0- \n41,3,aka,C2,-0- \n",
    );
    common::write(&dir, "add.csv", b"40,9,-0- ,Havana,Cuba,-0- \n");
    let got = import_with_options(
        Format::OfacCsv,
        &dir,
        ImportOptions { skip_invalid: true },
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(got.entries.len(), 1);
    assert_eq!(got.entries[0].data["names"], json!(["A", "A2"]));
    let skipped: Vec<String> = got
        .skipped
        .iter()
        .map(|e| match e {
            tansiq_lists::ListError::Malformed { path, at, message } => format!(
                "{} {}: {message}",
                path.file_name().unwrap().to_string_lossy(),
                at.line_number().unwrap()
            ),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        skipped,
        vec![
            "sdn.csv 2: SDN_Type \"company\" is not one of individual, vessel, aircraft or -0- (organization); this line was skipped",
            "sdn.csv 3: the double quote that opens field 2 is not closed on the same line; fields of this format never span lines, so a double quote is probably unbalanced; this line was skipped",
            "alt.csv 2: ent_num 40 belongs to the entry on line 2 of sdn.csv, which was skipped as invalid; this line was skipped",
            "alt.csv 3: ent_num 41 belongs to the entry on line 3 of sdn.csv, which was skipped as invalid; this line was skipped",
            "add.csv 1: ent_num 40 belongs to the entry on line 2 of sdn.csv, which was skipped as invalid; this line was skipped",
        ]
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
