//! The lenient mode (`ImportOptions { skip_invalid: true }`) beyond the
//! broken-input table: the real UN list, row boundaries, what still fails,
//! and progress.

mod common;

use std::cell::Cell;

use tansiq_lists::{
    import, import_with_options, import_with_progress, Format, ImportOptions, Imported,
};

const LENIENT: ImportOptions = ImportOptions { skip_invalid: true };

fn lenient(format: Format, path: &std::path::Path) -> Imported {
    import_with_options(format, path, LENIENT, &|_, _| {})
        .unwrap_or_else(|e| panic!("rejected in lenient mode: {e}"))
}

#[test]
fn the_default_options_are_strict() {
    assert!(!ImportOptions::default().skip_invalid);
}

#[test]
fn real_un_list_is_the_same_in_both_modes() {
    let path = common::shared("watchlists/un/consolidated-2018-10-29.xml");
    let strict = import(Format::UnXml, &path).unwrap();
    let got = lenient(Format::UnXml, &path);
    assert!(got.skipped.is_empty(), "{:?}", got.skipped);
    assert_eq!(got.entries.len(), 1093);
    assert_eq!(got.entries, strict);
}

#[test]
fn un_entries_after_a_bad_one_are_imported() {
    let dir = common::scratch("lenient-un");
    let entry = |id: u32, body: &str| {
        format!(
            "<INDIVIDUAL><DATAID>{id}</DATAID><FIRST_NAME>N{id}</FIRST_NAME>{body}</INDIVIDUAL>\n"
        )
    };
    let xml = format!(
        "<CONSOLIDATED_LIST>\n<INDIVIDUALS>\n{}{}{}{}{}</INDIVIDUALS>\n<ENTITIES>\n<ENTITY><DATAID>6</DATAID><FIRST_NAME>E</FIRST_NAME><REFERENCE_NUMBER>QDe.1</REFERENCE_NUMBER></ENTITY>\n</ENTITIES>\n</CONSOLIDATED_LIST>\n",
        entry(1, "<REFERENCE_NUMBER>QDi.1</REFERENCE_NUMBER>"),
        entry(2, "<REFERENCE_NUMBER>QDi.2</REFERENCE_NUMBER><NATIONALITY><VALUE>A &bogus; B</VALUE></NATIONALITY>"),
        entry(3, "<REFERENCE_NUMBER>QDi.1</REFERENCE_NUMBER>"),
        entry(4, ""),
        entry(5, "<REFERENCE_NUMBER>QDi.5</REFERENCE_NUMBER>"),
    );
    let p = common::write(&dir, "un.xml", xml.as_bytes());
    let got = lenient(Format::UnXml, &p);
    let refs: Vec<&str> = got.entries.iter().map(|e| e.source_ref.as_str()).collect();
    assert_eq!(refs, ["QDi.1", "QDi.5", "QDe.1"]);
    let skipped: Vec<String> = got.skipped.iter().map(|e| e.to_string()).collect();
    let want = [
        (
            "element <VALUE> of the entry with DATAID 2, REFERENCE_NUMBER QDi.2 (line 4",
            "unknown entity reference &bogus;",
        ),
        (
            "element <REFERENCE_NUMBER> of the entry with DATAID 3, REFERENCE_NUMBER QDi.1 (line 5",
            "is also used by the entry at line 3",
        ),
        (
            "element <INDIVIDUAL> of the entry with DATAID 4 (line 6",
            "has no REFERENCE_NUMBER",
        ),
    ];
    assert_eq!(skipped.len(), want.len(), "{skipped:#?}");
    for (s, (at, says)) in skipped.iter().zip(want) {
        assert!(s.contains(at) && s.contains(says), "{s}");
        assert!(s.ends_with("; this entry was skipped"), "{s}");
    }
    // Strict mode stops at the first of them.
    let err = import(Format::UnXml, &p).unwrap_err();
    assert!(
        err.to_string().contains("unknown entity reference &bogus;"),
        "{err}"
    );
}

#[test]
fn file_level_problems_still_reject_the_file() {
    let dir = common::scratch("lenient-file-level");
    // (format, file name, content, message part)
    let cases: &[(Format, &str, &[u8], &str)] = &[
        // A JSON array spread over lines is not JSON Lines at all.
        (Format::Jsonl, "list.jsonl", b"[\n{\"id\": \"E1\", \"names\": [\"A\"]}\n]\n", "looks like one JSON array"),
        // Quoted fields may span lines: after a quoting error, where the
        // record ends is unknown.
        (Format::Csv, "list.csv", b"id,names\nE1,A\nE2,B \"x\" C\nE3,D\n", "double quote in the middle of field 2"),
        (Format::Csv, "list.csv", b"id,names\nE1,\"A\" B\nE2,C\n", "after the closing double quote of field 2"),
        // A header names the columns of every row.
        (Format::Csv, "list.csv", b"id,names,names\nE1,A,B\n", "appears twice in the header"),
        // Ill-formed XML cannot be resynchronised.
        (Format::UnXml, "un.xml", b"<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL><DATAID>1</DATAID></INDIVIDUALS></CONSOLIDATED_LIST>", "malformed"),
        // Not UTF-8 (only OFAC files may be Latin-1).
        (Format::Csv, "list.csv", b"id,names\nE1,Caf\xe9\n", "not valid UTF-8"),
    ];
    for (format, name, content, says) in cases {
        let p = common::write(&dir, name, content);
        let strict = import(*format, &p).unwrap_err();
        let err = import_with_options(*format, &p, LENIENT, &|_, _| {}).unwrap_err();
        assert_eq!(err.to_string(), strict.to_string());
        assert!(err.to_string().contains(says), "{err}");
    }
    let missing = import_with_options(Format::OfacCsv, &dir.join("nope"), LENIENT, &|_, _| {});
    assert!(missing.unwrap_err().to_string().starts_with("cannot read "));
}

#[test]
fn generic_rows_are_skipped_one_by_one() {
    let dir = common::scratch("lenient-generic");
    let jsonl = common::write(
        &dir,
        "list.jsonl",
        b"{\"id\": \"E1\", \"names\": [\"A\"]}\n7\n{\"id\": \"E2\", \"names\": [\"B\"], \"birth_date\": \"1962-13\"}\n{\"id\": \"E1\", \"names\": [\"C\"]}\n{\"id\": \"E3\", \"names\": [\"D\"]\n{\"id\": \"E4\", \"names\": [\"E\"]}\n",
    );
    let got = lenient(Format::Jsonl, &jsonl);
    let refs: Vec<&str> = got.entries.iter().map(|e| e.source_ref.as_str()).collect();
    assert_eq!(refs, ["E1", "E4"]);
    let lines: Vec<u64> = got.skipped.iter().map(|e| e.line().unwrap()).collect();
    assert_eq!(lines, [2, 3, 4, 5]);
    // A quoted CSV field spanning lines is one record; a bad record is
    // skipped whole.
    let csv = common::write(
        &dir,
        "list.csv",
        b"id,names,birth_date\nE1,\"A\nstill A\",1962\nE2,B,1962-02-30\nE3,C\nE4,D,1970\n",
    );
    let got = lenient(Format::Csv, &csv);
    let refs: Vec<&str> = got.entries.iter().map(|e| e.source_ref.as_str()).collect();
    assert_eq!(refs, ["E1", "E4"]);
    assert_eq!(got.entries[0].data["names"][0], "A still A");
    let lines: Vec<u64> = got.skipped.iter().map(|e| e.line().unwrap()).collect();
    assert_eq!(lines, [4, 5]);
}

#[test]
fn progress_ends_at_the_total_with_skips() {
    let dir = common::scratch("lenient-progress");
    let p = common::write(
        &dir,
        "list.jsonl",
        b"{\"id\": \"E1\", \"names\": [\"A\"]}\nnot json\n{\"id\": \"E2\", \"names\": [\"B\"]}\n",
    );
    let last = Cell::new((0, 1));
    let calls = Cell::new(0);
    let got = import_with_options(Format::Jsonl, &p, LENIENT, &|d, t| {
        assert!(d <= t);
        last.set((d, t));
        calls.set(calls.get() + 1);
    })
    .unwrap();
    assert_eq!((got.entries.len(), got.skipped.len()), (2, 1));
    let (done, total) = last.get();
    assert_eq!(done, total);
    assert_eq!(total, std::fs::metadata(&p).unwrap().len());
    assert!(calls.get() >= 2);
    // The strict entry points are unchanged.
    assert!(import_with_progress(Format::Jsonl, &p, &|_, _| {}).is_err());
}
