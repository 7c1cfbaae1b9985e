//! Generic JSONL/CSV lists and the screening inputs (`--names`, `--list`).

mod common;

use serde_json::json;
use tansiq_lists::{import, read_list, read_queries, EntryKind, Format, NameQuery};

#[test]
fn jsonl_list_with_every_field() {
    let dir = common::scratch("generic-jsonl");
    let p = common::write(
        &dir,
        "dz-ma.jsonl",
        concat!(
            "{\"id\": \"E1\", \"names\": [\"عبد الله بلقزاز\", \"Abdellah Belkaziz\"], \"weak_names\": [\"Abou Abdallah\"], ",
            "\"birth_date\": \"1962-02-01\", \"birth_dates\": [\"1962-02-01\", \"1963\"], \"birth_place\": \"Oran, Algeria\", ",
            "\"nationality\": [\"dz\", \"Morocco\"], \"gender\": \"Male\", ",
            "\"documents\": [{\"type\": \"Passport\", \"number\": \" 00012345 \", \"country\": \"DZ\"}], ",
            "\"listing\": {\"list\": \"DZ-MA\", \"reference\": \"DZ-2019-17\", \"listed_on\": \"2019-03\", \"reason\": \"recruitment\"}, ",
            "\"notes\": \"seen in Oujda\"}\n",
            "\r\n",
            "{\"id\": 7, \"kind\": \"organization\", \"names\": [\"GSPC\"], \"weak_names\": [\"AQIM\"], \"country\": [\"DZ\", \"ML\"]}\n",
            "{\"id\": \"E3\", \"names\": \"Ahmed Dghdagh\"}\n",
        )
        .as_bytes(),
    );
    let e = import(Format::Jsonl, &p).unwrap();
    assert_eq!(e.len(), 3);
    assert_eq!(
        (e[0].source_ref.as_str(), e[0].kind),
        ("E1", EntryKind::Person)
    );
    assert_eq!(
        e[0].data,
        json!({
            "names": ["عبد الله بلقزاز", "Abdellah Belkaziz"],
            "weak_names": ["Abou Abdallah"],
            "birth_date": "1962-02-01",
            "birth_dates": ["1962-02-01", "1963"],
            "birth_place": "Oran, Algeria",
            "nationality": ["DZ", "MA"],
            "gender": "male",
            "documents": [{"type": "passport", "number": "00012345", "country": "DZ"}],
            "listing": {"list": "DZ-MA", "reference": "DZ-2019-17", "listed_on": "2019-03", "reason": "recruitment"},
            "notes": "seen in Oujda",
        })
    );
    assert_eq!(
        (e[1].source_ref.as_str(), e[1].kind),
        ("7", EntryKind::Organization)
    );
    assert_eq!(
        e[1].data,
        json!({"names": ["GSPC"], "weak_names": ["AQIM"], "country": ["DZ", "ML"]})
    );
    assert_eq!(e[2].data, json!({"names": ["Ahmed Dghdagh"]}));
    for x in &e {
        common::check_schema(x.kind, &x.data).unwrap();
    }
}

#[test]
fn csv_list_with_documents_and_listing() {
    let dir = common::scratch("generic-csv");
    let p = common::write(
        &dir,
        "list.csv",
        "\u{feff}id,kind,names,weak_names,birth_date,nationality,gender,document_type,document_number,document_country,list,reference,listed_on,country,notes\r\n\
         E1,person,\"BELKEZIZ, Abdallah;عبد الله بلقزاز\",,1962,DZ;MA,female,passport,123,DZ,DZ-MA,R1,2019-03-01,,\"said \"\"hello\"\"\"\r\n\
         O1,organization,Jund al-Khilafa,,,,,,,,,,,DZ,\r\n"
            .as_bytes(),
    );
    let e = import(Format::Csv, &p).unwrap();
    assert_eq!(
        e[0].data,
        json!({
            "names": ["BELKEZIZ, Abdallah", "عبد الله بلقزاز"],
            "birth_date": "1962",
            "nationality": ["DZ", "MA"],
            "gender": "female",
            "documents": [{"type": "passport", "number": "123", "country": "DZ"}],
            "listing": {"list": "DZ-MA", "reference": "R1", "listed_on": "2019-03-01"},
            "notes": "said \"hello\"",
        })
    );
    assert_eq!(e[1].kind, EntryKind::Organization);
    assert_eq!(
        e[1].data,
        json!({"names": ["Jund al-Khilafa"], "country": ["DZ"]})
    );
}

#[test]
fn queries_from_jsonl_and_csv() {
    let dir = common::scratch("generic-queries");
    let want = vec![
        NameQuery {
            id: "Q1".into(),
            name: "Abdallah Belkeziz".into(),
            birth_date: Some("1962".into()),
            nationality: vec!["DZ".into()],
            gender: None,
        },
        NameQuery {
            id: "Q2".into(),
            name: "BELKEZIZ, Abdallah".into(),
            birth_date: None,
            nationality: vec!["DZ".into(), "MA".into()],
            gender: Some("male".into()),
        },
    ];
    let jsonl = common::write(
        &dir,
        "names.jsonl",
        b"{\"id\": \"Q1\", \"name\": \"Abdallah Belkeziz\", \"birth_date\": \"1962\", \"nationality\": [\"DZ\"]}\n\
          {\"id\": \"Q2\", \"name\": \"BELKEZIZ, Abdallah\", \"nationality\": \"DZ;MA\", \"gender\": \"M\", \"flight\": \"AH1020\"}\n",
    );
    assert_eq!(read_queries(&jsonl).unwrap(), want);
    let csv = common::write(
        &dir,
        "names.csv",
        b"id,name,birth_date,nationality,gender,seat\nQ1,Abdallah Belkeziz,1962,DZ,,12A\nQ2,\"BELKEZIZ, Abdallah\",,DZ;MA,male,3C\n",
    );
    assert_eq!(read_queries(&csv).unwrap(), want);
    // No extension: sniffed. Synonyms for common column names.
    let sniffed = common::write(
        &dir,
        "manifest",
        b"Query_ID,Full_Name,DOB,Citizenship,Sex\nQ1,Abdallah Belkeziz,1962,Algeria,\nQ2,\"BELKEZIZ, Abdallah\",,Algeria;Morocco,m\n",
    );
    assert_eq!(read_queries(&sniffed).unwrap(), want);
    let commas = common::write(
        &dir,
        "commas.jsonl",
        b"{\"id\": \"Q1\", \"name\": \"X\", \"nationality\": \"Korea, North\"}\n{\"id\": \"Q2\", \"name\": \"Y\", \"nationality\": \"DZ, MA;Tunisia\"}\n",
    );
    let q = read_queries(&commas).unwrap();
    assert_eq!(q[0].nationality, vec!["KP"]);
    assert_eq!(q[1].nationality, vec!["DZ", "MA", "TN"]);
    let sniffed_jsonl = common::write(&dir, "batch.txt", b"{\"id\": \"Q1\", \"name\": \"X\"}\n");
    assert_eq!(read_queries(&sniffed_jsonl).unwrap()[0].name, "X");
}

#[test]
fn screening_list_from_the_cli_example() {
    let dir = common::scratch("generic-list");
    let p = common::write(
        &dir,
        "list.jsonl",
        "{\"id\": \"E1\", \"names\": [\"عبد الله بلقزاز\", \"Abdellah Belkaziz\"], \"birth_date\": \"1962-02-01\", \"nationality\": [\"DZ\"], \"gender\": \"male\", \"documents\": [{\"type\": \"passport\", \"number\": \"X1\", \"country\": \"DZ\"}]}\n{\"id\": \"E2\", \"names\": [\"Mokhtar Belmokhtar\"]}\n"
            .as_bytes(),
    );
    let l = read_list(&p).unwrap();
    assert_eq!(l.len(), 2);
    assert_eq!(l[0].id, "E1");
    assert_eq!(
        l[0].data,
        json!({
            "names": ["عبد الله بلقزاز", "Abdellah Belkaziz"],
            "birth_date": "1962-02-01",
            "nationality": ["DZ"],
            "gender": "male",
            "documents": [{"type": "passport", "number": "X1", "country": "DZ"}],
        })
    );
    assert_eq!(l[1].data, json!({"names": ["Mokhtar Belmokhtar"]}));
}

#[test]
fn imports_are_deterministic() {
    for (format, path) in [
        (Format::UnXml, common::data("un-excerpt.xml")),
        (Format::OfacCsv, common::data("ofac")),
    ] {
        let a = import(format, &path).unwrap();
        let b = import(format, &path).unwrap();
        assert_eq!(a, b, "{format}");
        let ja: Vec<String> = a.iter().map(|e| e.data.to_string()).collect();
        let jb: Vec<String> = b.iter().map(|e| e.data.to_string()).collect();
        assert_eq!(ja, jb, "{format}");
    }
}

#[test]
fn screening_inputs_without_ids_with_the_usual_column_names() {
    use tansiq_lists::{read_queries_with, QueryColumns};
    let dir = common::scratch("generic-manifest");
    let p = common::write(
        &dir,
        "manifest.csv",
        b"Surname,Given Names,DOB,Citizenship,Sex\nDroukdel,Abdelmalek,1970-04-20,DZ,M\n\nBelkeziz,Abdallah,,MA,\n",
    );
    let q = read_queries(&p).unwrap();
    assert_eq!(q.len(), 2);
    // numbered by line: the spreadsheet's row (blank lines count)
    assert_eq!((q[0].id.as_str(), q[1].id.as_str()), ("2", "4"));
    assert_eq!(q[0].name, "Abdelmalek Droukdel");
    assert_eq!(q[0].birth_date.as_deref(), Some("1970-04-20"));
    assert_eq!(q[0].nationality, vec!["DZ"]);
    assert_eq!(q[0].gender.as_deref(), Some("male"));
    // JSONL keys the same way
    let j = common::write(
        &dir,
        "m.jsonl",
        b"{\"Full Name\": \"Abdallah Belkeziz\", \"date of birth\": \"1962\"}\n",
    );
    let q = read_queries(&j).unwrap();
    assert_eq!(
        (q[0].id.as_str(), q[0].name.as_str()),
        ("1", "Abdallah Belkeziz")
    );
    assert_eq!(q[0].birth_date.as_deref(), Some("1962"));
    // columns named by the user take precedence over the usual names
    let p = common::write(
        &dir,
        "pax.csv",
        b"NO,PAX,name\n9,Abdallah Belkeziz,ignored\n",
    );
    let cols = QueryColumns::parse("id=NO,name=PAX").unwrap();
    let q = read_queries_with(&p, &cols).unwrap();
    assert_eq!(
        (q[0].id.as_str(), q[0].name.as_str()),
        ("9", "Abdallah Belkeziz")
    );
    let missing = QueryColumns::parse("name=PASSENGER").unwrap();
    let e = read_queries_with(&p, &missing).unwrap_err().to_string();
    assert!(e.contains("no column \"passenger\""), "{e}");
    for bad in ["name", "nom=PAX", "name=A,name=B", "name="] {
        assert!(QueryColumns::parse(bad).is_err(), "{bad}");
    }
    // still refused: a file without any name column, naming its header
    let p = common::write(&dir, "ids.csv", b"id,dob\n1,1970\n");
    let e = read_queries(&p).unwrap_err().to_string();
    assert!(
        e.contains("no \"name\" column") && e.contains("id,dob"),
        "{e}"
    );
}

#[test]
fn list_formats_are_told_from_the_file() {
    use tansiq_lists::detect_format;
    let dir = common::scratch("generic-detect");
    let cases: [(&str, &[u8], Format); 6] = [
        ("list.xml", b"<?xml version=\"1.0\"?>", Format::UnXml),
        ("download", b"\n  <CONSOLIDATED_LIST>", Format::UnXml),
        ("sdn.csv", b"36,\"AEROCARIBBEAN AIRLINES\"", Format::OfacCsv),
        ("export.txt", b"36,\"X\"", Format::OfacCsv),
        ("list.txt", b"{\"id\": \"E1\"}", Format::Jsonl),
        ("list.csv", b"id,names\nE1,X\n", Format::Csv),
    ];
    for (name, content, want) in cases {
        let p = common::write(&dir, name, content);
        assert_eq!(detect_format(&p), want, "{name}");
    }
    assert_eq!(detect_format(&dir), Format::OfacCsv);
}
