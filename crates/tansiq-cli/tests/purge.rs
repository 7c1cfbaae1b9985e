//! A retraction leaves no plaintext on any holder's disk while every node
//! keeps serving (issue 12, finding 4): three real `tansiq serve`
//! processes; the marker is in each holder's store files before the
//! retraction and in none after, with no scrub, checkpoint or stop called
//! from outside.

mod common;

use common::*;

#[test]
fn a_retraction_leaves_no_plaintext_on_any_holder_while_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let tn = init_at(tmp.path(), "tn", "TN");
    let (_, ma_id) = introduce(&dz, &ma);
    let (_, tn_id) = introduce(&dz, &tn);
    introduce(&ma, &tn);
    let _s = [
        serve_logged(&dz, "warn", None),
        serve_logged(&ma, "warn", None),
        serve_logged(&tn, "warn", None),
    ];
    let ch = form_channel_serving(&dz, &[(&ma, &ma_id), (&tn, &tn_id)], "A");

    let marker = b"Qzxwv Purgemarker";
    let id = add_person(&dz, &ch, "terrorism", "Qzxwv Purgemarker");
    for d in [&ma, &tn] {
        wait_for("the record at each holder", 30, || {
            tansiq(d, &["record", "get", &id, "--json"])
                .status
                .success()
        });
    }
    for d in [&dz, &ma, &tn] {
        assert!(
            contains(&store_bytes(d), marker),
            "the marker must be on disk before the retraction ({})",
            d.display()
        );
    }
    ok(&dz, &["record", "retract", &id]);
    for d in [&ma, &tn] {
        wait_for("the retraction at each holder", 30, || {
            json(d, &["record", "get", &id, "--json"])["status"] == "retracted"
        });
    }
    // Still serving: the bytes go within a few seconds, by the nodes alone.
    for d in [&dz, &ma, &tn] {
        wait_for("the plaintext gone from the holder's files", 10, || {
            !contains(&store_bytes(d), marker)
        });
    }
}
