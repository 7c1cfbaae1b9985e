//! Broken files, one case a row: every one is rejected whole, with an error
//! naming the file, the line (and column, or XML element) and the fault.
//! Each import case also says what the lenient mode (`skip_invalid`) does
//! with it: skip the bad row and report it, or still reject the file.

mod common;

use std::path::PathBuf;

use tansiq_lists::{
    import, import_with_options, read_list, read_queries, Format, ImportOptions, ListError,
    Location,
};

/// What `import_with_options` with `skip_invalid` must do with a case.
#[derive(Clone, Copy, Debug)]
enum Lenient {
    /// Not an import (screening inputs have no lenient mode).
    NotAnImport,
    /// A problem with the file as a whole: rejected with the same error as
    /// in strict mode.
    Fails,
    /// The bad rows are skipped, each reported with the strict error's
    /// place and message; the other entries are imported.
    Skips { entries: usize, skipped: usize },
}

use Lenient::{Fails, Skips};

const fn skips(entries: usize, skipped: usize) -> Lenient {
    Skips { entries, skipped }
}

/// What to call on the case's main file.
#[derive(Clone, Copy, Debug)]
enum Call {
    Import(Format),
    Queries,
    List,
}

struct Case {
    name: &'static str,
    call: Call,
    /// (file name, content); the first file is the one passed in.
    files: &'static [(&'static str, &'static str)],
    /// The file the error must name (default: the first).
    at_file: Option<&'static str>,
    line: Option<u64>,
    column: Option<u64>,
    /// XML: the element the error must name.
    element: Option<&'static str>,
    /// Every one of these must appear in the message.
    says: &'static [&'static str],
    /// The lenient mode's outcome (import cases only).
    lenient: Lenient,
}

const C: Case = Case {
    name: "",
    call: Call::Queries,
    files: &[],
    at_file: None,
    line: None,
    column: None,
    element: None,
    says: &[],
    lenient: Lenient::NotAnImport,
};

const UN_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CONSOLIDATED_LIST dateGenerated=\"2018-10-29T19:09:49.856-04:00\">\n<INDIVIDUALS>\n";

// Line 3 of every UN case below starts with this individual.
macro_rules! un {
    ($body:expr) => {
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CONSOLIDATED_LIST dateGenerated=\"2018-10-29T19:09:49.856-04:00\">\n<INDIVIDUALS>\n",
            $body
        )
    };
}

const GOOD_IND: &str = "<INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>A</FIRST_NAME><REFERENCE_NUMBER>QDi.001</REFERENCE_NUMBER><LISTED_ON>2001-01-01</LISTED_ON></INDIVIDUAL>";

fn cases() -> Vec<Case> {
    let _ = (UN_HEAD, GOOD_IND);
    vec![
        // ---- UN XML ----
        Case {
            name: "un: truncated inside an individual",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", un!("<INDIVIDUAL><DATAID>6908555</DATAID><FIRST_NAME>RI</FIRST_NAME>\n<REFERENCE_NUMBER>KPi.033</REFERENCE_NUMBER><INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><DA"))],
            line: Some(4),
            element: Some("INDIVIDUAL_DATE_OF_BIRTH"),
            says: &["truncated", "DATAID 6908555, REFERENCE_NUMBER KPi.033"],
            lenient: Fails,
            ..C
        },
        Case {
            name: "un: truncated between entries",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", un!("<INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>A</FIRST_NAME><REFERENCE_NUMBER>QDi.001</REFERENCE_NUMBER></INDIVIDUAL>\n"))],
            line: Some(2),
            says: &["ends before <INDIVIDUALS> opened at line 2 is closed", "truncated"],
            lenient: Fails,
            ..C
        },
        Case {
            name: "un: mismatched closing tag",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", un!("<INDIVIDUAL><DATAID>7</DATAID>\n<FIRST_NAME>A</SECOND_NAME></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"))],
            line: Some(4),
            element: Some("FIRST_NAME"),
            says: &["malformed", "DATAID 7"],
            lenient: Fails,
            ..C
        },
        Case {
            name: "un: no REFERENCE_NUMBER",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", un!("<INDIVIDUAL><DATAID>42</DATAID><FIRST_NAME>A</FIRST_NAME></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"))],
            line: Some(3),
            element: Some("INDIVIDUAL"),
            says: &["has no REFERENCE_NUMBER", "DATAID 42"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "un: no name",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", un!("<INDIVIDUAL><DATAID>42</DATAID><FIRST_NAME> </FIRST_NAME><REFERENCE_NUMBER>QDi.9</REFERENCE_NUMBER><INDIVIDUAL_ALIAS><QUALITY>Low</QUALITY><ALIAS_NAME>X</ALIAS_NAME></INDIVIDUAL_ALIAS></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"))],
            line: Some(3),
            element: Some("INDIVIDUAL"),
            says: &["has no name", "REFERENCE_NUMBER QDi.9"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "un: bad date of birth",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", un!("<INDIVIDUAL><DATAID>42</DATAID><FIRST_NAME>A</FIRST_NAME><REFERENCE_NUMBER>QDi.9</REFERENCE_NUMBER>\n<INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><DATE>1964-13-45</DATE></INDIVIDUAL_DATE_OF_BIRTH></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"))],
            line: Some(4),
            column: Some(61),
            element: Some("DATE"),
            says: &["DATE \"1964-13-45\" is not a date in YYYY-MM-DD form", "DATAID 42, REFERENCE_NUMBER QDi.9"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "un: bad year",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", un!("<INDIVIDUAL><DATAID>42</DATAID><FIRST_NAME>A</FIRST_NAME><REFERENCE_NUMBER>QDi.9</REFERENCE_NUMBER><INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><YEAR>19x5</YEAR></INDIVIDUAL_DATE_OF_BIRTH></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"))],
            line: Some(3),
            element: Some("YEAR"),
            says: &["YEAR \"19x5\" is not a four-digit year"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "un: bad LISTED_ON",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", un!("<INDIVIDUAL><DATAID>42</DATAID><FIRST_NAME>A</FIRST_NAME><REFERENCE_NUMBER>QDi.9</REFERENCE_NUMBER><LISTED_ON>yesterday</LISTED_ON></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"))],
            line: Some(3),
            element: Some("LISTED_ON"),
            says: &["LISTED_ON \"yesterday\" is not a date"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "un: repeated reference",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", un!("<INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>A</FIRST_NAME><REFERENCE_NUMBER>QDi.001</REFERENCE_NUMBER><LISTED_ON>2001-01-01</LISTED_ON></INDIVIDUAL>\n<INDIVIDUAL><DATAID>2</DATAID><FIRST_NAME>B</FIRST_NAME><REFERENCE_NUMBER>QDi.001</REFERENCE_NUMBER></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"))],
            line: Some(4),
            element: Some("REFERENCE_NUMBER"),
            says: &["REFERENCE_NUMBER QDi.001 is also used by the entry at line 3"],
            lenient: skips(1, 1),
            ..C
        },
        Case {
            name: "un: unknown entity",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", un!("<INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>A &eacute;</FIRST_NAME><REFERENCE_NUMBER>QDi.001</REFERENCE_NUMBER></INDIVIDUAL></INDIVIDUALS></CONSOLIDATED_LIST>"))],
            line: Some(3),
            element: Some("FIRST_NAME"),
            says: &["unknown entity reference &eacute;"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "un: another XML document",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", "<?xml version=\"1.0\"?>\n<sdnList><sdnEntry/></sdnList>\n")],
            line: Some(2),
            says: &["not <CONSOLIDATED_LIST>", "not the UN Security Council consolidated list"],
            lenient: Fails,
            ..C
        },
        Case {
            name: "un: empty file",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", "")],
            says: &["no XML element"],
            lenient: Fails,
            ..C
        },
        Case {
            name: "un: text that is not XML",
            call: Call::Import(Format::UnXml),
            files: &[("un.xml", "ent_num,name\n1,<A\n")],
            line: Some(1),
            column: Some(1),
            says: &["this is not an XML file"],
            lenient: Fails,
            ..C
        },
        // ---- OFAC CSV ----
        Case {
            name: "ofac: unbalanced quote",
            call: Call::Import(Format::OfacCsv),
            files: &[("sdn.csv", "36,AEROCARIBBEAN AIRLINES,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n173,\"ANGLO-CARIBBEAN CO., LTD.,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n306,BANCO,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n")],
            line: Some(2),
            column: Some(5),
            says: &["double quote that opens field 2 is not closed on the same line"],
            lenient: skips(2, 1),
            ..C
        },
        Case {
            name: "ofac: text after a closing quote",
            call: Call::Import(Format::OfacCsv),
            files: &[("sdn.csv", "173,\"ANGLO-CARIBBEAN\" CO,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n")],
            line: Some(1),
            column: Some(22),
            says: &["after the closing double quote of field 2"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "ofac: stray quote inside a field",
            call: Call::Import(Format::OfacCsv),
            files: &[("sdn.csv", "173,ANGLO \"CARIBBEAN\",-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n")],
            line: Some(1),
            column: Some(11),
            says: &["double quote in the middle of field 2"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "ofac: wrong column count",
            call: Call::Import(Format::OfacCsv),
            files: &[("sdn.csv", "36,AEROCARIBBEAN AIRLINES,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n173,ANGLO-CARIBBEAN CO., LTD.,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n")],
            line: Some(2),
            column: Some(76),
            says: &["expected 12 comma-separated fields", "found 13"],
            lenient: skips(1, 1),
            ..C
        },
        Case {
            name: "ofac: too few columns",
            call: Call::Import(Format::OfacCsv),
            files: &[("sdn.csv", "36,AEROCARIBBEAN AIRLINES,-0- ,CUBA\n")],
            line: Some(1),
            says: &["expected 12 comma-separated fields", "found 4"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "ofac: ent_num not a number",
            call: Call::Import(Format::OfacCsv),
            files: &[("sdn.csv", "x36,AEROCARIBBEAN AIRLINES,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n")],
            line: Some(1),
            column: Some(1),
            says: &["ent_num \"x36\" is not a number"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "ofac: unknown SDN_Type",
            call: Call::Import(Format::OfacCsv),
            files: &[("sdn.csv", "36,AEROCARIBBEAN AIRLINES,company,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n")],
            line: Some(1),
            column: Some(27),
            says: &["SDN_Type \"company\" is not one of individual, vessel, aircraft"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "ofac: repeated ent_num",
            call: Call::Import(Format::OfacCsv),
            files: &[("sdn.csv", "36,A,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n\n36,B,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n")],
            line: Some(3),
            says: &["ent_num 36 is already used on line 1 (by \"A\")"],
            lenient: skips(1, 1),
            ..C
        },
        Case {
            name: "ofac: alias of an entry sdn.csv lacks",
            call: Call::Import(Format::OfacCsv),
            files: &[
                ("sdn.csv", "36,A,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n"),
                ("alt.csv", "36,12,aka,AERO-CARIBBEAN,-0- \n99,13,aka,OTHER,-0- \n"),
            ],
            at_file: Some("alt.csv"),
            line: Some(2),
            says: &["ent_num 99 is not in sdn.csv", "same OFAC release"],
            lenient: skips(1, 1),
            ..C
        },
        Case {
            name: "ofac: unknown alias type",
            call: Call::Import(Format::OfacCsv),
            files: &[
                ("sdn.csv", "36,A,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n"),
                ("alt.csv", "36,12,nickname,AERO,-0- \n"),
            ],
            at_file: Some("alt.csv"),
            line: Some(1),
            column: Some(7),
            says: &["alt_type \"nickname\" is not one of aka, fka, nka or weak aka"],
            lenient: skips(1, 1),
            ..C
        },
        Case {
            name: "ofac: add.csv with a missing column",
            call: Call::Import(Format::OfacCsv),
            files: &[
                ("sdn.csv", "36,A,-0- ,CUBA,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n"),
                ("add.csv", "36,25,-0- ,\"Havana\",\"Cuba\",-0- \n36,26,-0- ,\"Havana\"\n"),
            ],
            at_file: Some("add.csv"),
            line: Some(2),
            says: &["expected 6 comma-separated fields", "found 4"],
            lenient: skips(1, 1),
            ..C
        },
        // ---- JSONL lists ----
        Case {
            name: "jsonl: bad JSON on line 3",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\"]}\n\n{\"id\": \"E2\", \"names\": [\"B\"]\n")],
            line: Some(3),
            column: Some(27),
            says: &["not valid JSON"],
            lenient: skips(1, 1),
            ..C
        },
        Case {
            name: "jsonl: missing names",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\"]}\n{\"id\": \"E2\", \"birth_date\": \"1962\"}\n")],
            line: Some(2),
            says: &["\"names\" field is missing"],
            lenient: skips(1, 1),
            ..C
        },
        Case {
            name: "jsonl: missing id",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"names\": [\"A\"]}\n")],
            line: Some(1),
            says: &["\"id\" field is missing"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "jsonl: empty name",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\", \" \"]}\n")],
            line: Some(1),
            says: &["\"names\" holds an empty name"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "jsonl: bad birth date",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\"], \"birth_date\": \"01/02/1962\"}\n")],
            line: Some(1),
            says: &["\"birth_date\" \"01/02/1962\" is not a date: use YYYY, YYYY-MM or YYYY-MM-DD"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "jsonl: unknown country",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\"], \"nationality\": [\"DZ\", \"XX\"]}\n")],
            line: Some(1),
            says: &["\"nationality\" \"XX\" is not a country"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "jsonl: unknown field",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\"], \"nationalty\": [\"DZ\"]}\n")],
            line: Some(1),
            says: &["unknown field \"nationalty\""],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "jsonl: repeated id",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\"]}\n{\"id\": \"E1\", \"names\": [\"B\"]}\n")],
            line: Some(2),
            says: &["id \"E1\" is already used on line 1"],
            lenient: skips(1, 1),
            ..C
        },
        Case {
            name: "jsonl: a line that is not an object",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "[\"E1\", \"A\"]\n")],
            line: Some(1),
            says: &["holds an array, not a JSON object"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "jsonl: bad gender",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\"], \"gender\": \"x\"}\n")],
            line: Some(1),
            says: &["\"gender\" \"x\" is not a gender"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "jsonl: document without number",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\"], \"documents\": [{\"type\": \"passport\"}]}\n")],
            line: Some(1),
            says: &["\"documents\"[0] has no number"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "jsonl: organization with a birth date",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"O1\", \"kind\": \"organization\", \"names\": [\"GSPC\"], \"birth_date\": \"1998\"}\n")],
            line: Some(1),
            says: &["\"birth_date\" is for persons"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "jsonl: not UTF-8",
            call: Call::Import(Format::Jsonl),
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\"]}\n{\"id\": \"E2\", \"names\": [\"Caf\u{e9}\"]}\n")],
            line: Some(2),
            column: Some(28),
            says: &["not valid UTF-8"],
            lenient: Fails,
            ..C
        },
        // ---- CSV lists ----
        Case {
            name: "csv: unknown column",
            call: Call::Import(Format::Csv),
            files: &[("list.csv", "id,names,dob\nE1,A,1962\n")],
            line: Some(1),
            column: Some(10),
            says: &["unknown column \"dob\""],
            lenient: Fails,
            ..C
        },
        Case {
            name: "csv: wrong field count",
            call: Call::Import(Format::Csv),
            files: &[("list.csv", "id,names,birth_date\nE1,A,1962\nE2,B,1963,DZ\n")],
            line: Some(3),
            column: Some(11),
            says: &["expected 3 fields, as in the header, but found 4"],
            lenient: skips(1, 1),
            ..C
        },
        Case {
            name: "csv: quote never closed",
            call: Call::Import(Format::Csv),
            files: &[("list.csv", "id,names\nE1,A\nE2,\"B\nE3,C\n")],
            line: Some(3),
            column: Some(4),
            says: &["never closed"],
            lenient: Fails,
            ..C
        },
        Case {
            name: "csv: missing name",
            call: Call::Import(Format::Csv),
            files: &[("list.csv", "id,names,birth_date\nE1,A,1962\nE2,,1963\n")],
            line: Some(3),
            says: &["\"names\" field is missing"],
            lenient: skips(1, 1),
            ..C
        },
        Case {
            name: "csv: bad listed_on",
            call: Call::Import(Format::Csv),
            files: &[("list.csv", "id,names,list,listed_on\nE1,A,DZ-MA,2019-02-30\n")],
            line: Some(2),
            column: Some(12),
            says: &["\"listing.listed_on\" \"2019-02-30\" is not a date"],
            lenient: skips(0, 1),
            ..C
        },
        Case {
            name: "csv: empty file",
            call: Call::Import(Format::Csv),
            files: &[("list.csv", "")],
            says: &["the file is empty"],
            lenient: Fails,
            ..C
        },
        // ---- screening inputs ----
        Case {
            name: "queries: bad JSON on line 2",
            call: Call::Queries,
            files: &[("names.jsonl", "{\"id\": \"Q1\", \"name\": \"Abdallah Belkeziz\"}\n{\"id\": \"Q2\" \"name\": \"X\"}\n")],
            line: Some(2),
            says: &["not valid JSON"],
            ..C
        },
        Case {
            name: "queries: missing name",
            call: Call::Queries,
            files: &[("names.jsonl", "{\"id\": \"Q1\", \"birth_date\": \"1962\"}\n")],
            line: Some(1),
            says: &["\"name\" field is missing"],
            ..C
        },
        Case {
            name: "queries: csv without a name column",
            call: Call::Queries,
            files: &[("names.csv", "id,nom\nQ1,Abdallah\n")],
            line: Some(1),
            says: &["no \"name\" column"],
            ..C
        },
        Case {
            name: "queries: csv bad nationality",
            call: Call::Queries,
            files: &[("names.csv", "id,name,nationality\nQ1,Abdallah,DZ;Atlantis\n")],
            line: Some(2),
            column: Some(13),
            says: &["\"nationality\" \"Atlantis\" is not a country"],
            ..C
        },
        Case {
            name: "queries: repeated id",
            call: Call::Queries,
            files: &[("names.csv", "id,name\nQ1,A\nQ2,B\nQ1,C\n")],
            line: Some(4),
            column: Some(1),
            says: &["id \"Q1\" is already used on line 2"],
            ..C
        },
        Case {
            name: "list: bad JSON on line 4",
            call: Call::List,
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\"]}\n{\"id\": \"E2\", \"names\": [\"B\"]}\n{\"id\": \"E3\", \"names\": [\"C\"]}\n{\"id\": \"E4\", \"names\": [\"D\"],}\n")],
            line: Some(4),
            says: &["not valid JSON"],
            ..C
        },
        Case {
            name: "list: names not an array of strings",
            call: Call::List,
            files: &[("list.jsonl", "{\"id\": \"E1\", \"names\": [\"A\", 7]}\n")],
            line: Some(1),
            says: &["\"names\"[1] must be a string, not a number"],
            ..C
        },
    ]
}

/// Writes the case's files into `dir`; returns the first.
fn write_files(case: &Case, dir: &std::path::Path) -> PathBuf {
    let mut first: Option<PathBuf> = None;
    for (name, content) in case.files {
        // "Caf\u{e9}" in the not-UTF-8 case is written as one Latin-1 byte.
        let bytes: Vec<u8> = if case.name.contains("not UTF-8") {
            content.chars().map(|c| c as u32 as u8).collect()
        } else {
            content.as_bytes().to_vec()
        };
        let p = common::write(dir, name, &bytes);
        first.get_or_insert(p);
    }
    first.expect("a case has files")
}

fn run(case: &Case, dir: &std::path::Path) -> Result<usize, ListError> {
    let path = write_files(case, dir);
    match case.call {
        Call::Import(f) => import(f, &path).map(|v| v.len()),
        Call::Queries => read_queries(&path).map(|v| v.len()),
        Call::List => read_list(&path).map(|v| v.len()),
    }
}

#[test]
fn broken_files_are_rejected_with_their_place() {
    let mut failures = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let dir = common::scratch(&format!("broken-{i}"));
        let err = match run(case, &dir) {
            Ok(n) => {
                failures.push(format!("{}: accepted ({n} entries)", case.name));
                continue;
            }
            Err(e) => e,
        };
        let msg = err.to_string();
        let want_file = case.at_file.unwrap_or(case.files[0].0);
        let mut problems = Vec::new();
        if err
            .path()
            .and_then(|p| p.file_name())
            .map(|f| f.to_string_lossy().into_owned())
            != Some(want_file.to_string())
        {
            problems.push(format!("names file {:?}, not {want_file}", err.path()));
        }
        if case.line.is_some() && err.line() != case.line {
            problems.push(format!("line {:?}, not {:?}", err.line(), case.line));
        }
        let loc = err.location().cloned();
        if let Some(c) = case.column {
            if loc.as_ref().and_then(Location::column_number) != Some(c) {
                problems.push(format!(
                    "column {:?}, not {c}",
                    loc.as_ref().and_then(Location::column_number)
                ));
            }
        }
        if let Some(el) = case.element {
            match &loc {
                Some(Location::Element { element, .. }) if element == el => {}
                other => problems.push(format!("location {other:?}, not element {el}")),
            }
        }
        for s in case.says {
            if !msg.contains(s) {
                problems.push(format!("message lacks {s:?}"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n    error: {msg}",
                case.name,
                problems.join("; ")
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn lenient_mode_skips_bad_rows_or_still_rejects_the_file() {
    let lenient = ImportOptions { skip_invalid: true };
    let mut failures = Vec::new();
    for (i, case) in cases().iter().enumerate() {
        let Call::Import(format) = case.call else {
            assert!(
                matches!(case.lenient, Lenient::NotAnImport),
                "{}: only imports have a lenient mode",
                case.name
            );
            continue;
        };
        let dir = common::scratch(&format!("broken-lenient-{i}"));
        let path = write_files(case, &dir);
        let strict = import(format, &path).expect_err("the strict table test covers this");
        let got =
            std::panic::catch_unwind(|| import_with_options(format, &path, lenient, &|_, _| {}));
        let Ok(got) = got else {
            failures.push(format!("{}: panicked in lenient mode", case.name));
            continue;
        };
        match (case.lenient, got) {
            (Lenient::NotAnImport, _) => {
                failures.push(format!("{}: an import case needs a lenient outcome", case.name))
            }
            (Fails, Err(e)) => {
                if e.to_string() != strict.to_string() {
                    failures.push(format!(
                        "{}: lenient error differs from the strict one
    lenient: {e}
    strict:  {strict}",
                        case.name
                    ));
                }
            }
            (Fails, Ok(imported)) => failures.push(format!(
                "{}: accepted in lenient mode ({} entries, {} skipped), but the file as a whole is bad",
                case.name,
                imported.entries.len(),
                imported.skipped.len()
            )),
            (Skips { .. }, Err(e)) => {
                failures.push(format!("{}: rejected in lenient mode: {e}", case.name))
            }
            (Skips { entries, skipped }, Ok(imported)) => {
                let mut problems = Vec::new();
                if (imported.entries.len(), imported.skipped.len()) != (entries, skipped) {
                    problems.push(format!(
                        "{} entries and {} skipped, not {entries} and {skipped}",
                        imported.entries.len(),
                        imported.skipped.len()
                    ));
                }
                // The first skip is the strict error, marked as skipped.
                if let Some(first) = imported.skipped.first() {
                    let what = match first.location() {
                        Some(Location::Element { .. }) => "entry",
                        _ => "line",
                    };
                    let want = format!("{strict}; this {what} was skipped");
                    if first.to_string() != want {
                        problems.push(format!("skip reads {first}
    not {want}"));
                    }
                    if first.location() != strict.location() || first.path() != strict.path() {
                        problems.push(format!("skip is at {:?}", first.location()));
                    }
                }
                for e in &imported.entries {
                    if let Err(err) = common::check_schema(e.kind, &e.data) {
                        problems.push(format!("{}: {err}", e.source_ref));
                    }
                }
                if !problems.is_empty() {
                    failures.push(format!("{}: {}", case.name, problems.join("; ")));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_good_un_entry_is_accepted_by_the_same_harness() {
    // Guards the cases above: the UN preamble they share is itself valid.
    let dir = common::scratch("broken-control");
    let p = common::write(
        &dir,
        "un.xml",
        format!("{UN_HEAD}{GOOD_IND}</INDIVIDUALS></CONSOLIDATED_LIST>").as_bytes(),
    );
    assert_eq!(import(Format::UnXml, &p).unwrap().len(), 1);
}

#[test]
fn missing_files_and_unknown_formats() {
    let dir = common::scratch("broken-missing");
    let err = import(Format::OfacCsv, &dir).unwrap_err();
    assert!(matches!(err, ListError::Io { .. }), "{err}");
    assert!(err.to_string().contains("no sdn.csv"), "{err}");
    let err = import(Format::UnXml, &dir.join("nope.xml")).unwrap_err();
    assert!(err.to_string().starts_with("cannot read "), "{err}");
    let err = "un-json".parse::<Format>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown list format \"un-json\": use one of un-xml, ofac-csv, jsonl, csv"
    );
    for f in ["un-xml", "ofac-csv", "jsonl", "CSV"] {
        assert!(f.parse::<Format>().is_ok(), "{f}");
    }
}
