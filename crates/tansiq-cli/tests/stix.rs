//! Interoperability commands on the real binary: Europol evaluations,
//! `stix export|import` (issue 15).

mod common;

use common::*;

#[test]
fn europol_evaluation_is_documented_and_accepted() {
    let n = init("DGSN", "DZ", free_port());
    let help = ok(&n.dir, &["record", "add", "--help"]);
    assert!(help.contains("EU:X3"), "{help}");
    let ch = channel(&n);
    let p = write(&n.dir, "p.json", r#"{"names": ["Abu X"]}"#);
    let id = add_person_data(&n.dir, &ch, "terrorism", &p, &["--evaluation", "eu:x3"]);
    let r = json(&n.dir, &["record", "get", &id, "--json"]);
    assert_eq!(r["evaluation"], "EU:X3", "{r}");
    // 5 is not an information grade of the 4x4
    let err = fails(
        &n.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--kind",
            "person",
            "--data",
            &p,
            "--evaluation",
            "EU:A5",
        ],
        2,
    );
    assert!(err.contains("EU:X3"), "{err}");
}
