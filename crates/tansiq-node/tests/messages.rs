//! Liaison messages from a modified sender (issue 12, finding 12): a
//! partner's node signs whatever it likes into a message payload; the
//! receiving node checks it as strictly as its own `send` would.

mod common;

use common::*;
use tansiq_node::federation::Payload;
use tansiq_node::Node;
use tansiq_sync::Precedence;

/// The `envelope.reject` entries at `n` for messages.
fn rejected(n: &Node) -> usize {
    audited(n, "envelope.reject", "message rejected")
}

#[test]
fn hostile_message_texts_are_rejected_by_the_receiver() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7501);
    let ma = node(tmp.path(), "ma", "MA", 7511);
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &[&dz, &ma]);

    // DZ's node, modified, signs messages its own `send` would refuse.
    let now = tansiq_core::time::format(&tansiq_core::time::now());
    let long = "A".repeat(100_001);
    let hostile: Vec<(&str, Option<&str>, &str, &str)> = vec![
        // (text, file, precedence, sent_at)
        (
            "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mACK ALL",
            None,
            "flash",
            &now,
        ),
        ("fine\rOVERWRITTEN", None, "flash", &now),
        ("nul\u{0}byte", None, "routine", &now),
        ("c1 \u{9b}31m csi", None, "routine", &now),
        (&long, None, "routine", &now),
        ("   ", None, "routine", &now),
        ("ok text", None, "\u{1b}[31mflash", &now),
        ("ok text", None, "routine", "\u{1b}[2Jyesterday"),
        ("ok text", Some("terror\u{1b}[0mism"), "routine", &now),
    ];
    let members = vec![dz.id().to_string(), ma.id().to_string()];
    for (i, (text, file, prec, sent_at)) in hostile.iter().enumerate() {
        dz.send_unchecked(
            &ch,
            Precedence::Flash,
            members.clone(),
            vec![],
            &Payload::Message {
                id: tansiq_core::ids::new_id(tansiq_core::ids::MESSAGE_PREFIX),
                channel: ch.clone(),
                file: file.map(str::to_string),
                precedence: prec.to_string(),
                text: text.to_string(),
                sent_at: sent_at.to_string(),
                ack_required: false,
            },
        )
        .unwrap();
        pump(&[&dz, &ma]);
        assert!(
            ma.inbox(&OP).unwrap().is_empty(),
            "hostile message {i} was taken in"
        );
        assert_eq!(rejected(&ma), i + 1, "message {i} not rejected");
    }

    // A real message, newlines and tabs included, still gets through.
    let text = "Convoy left at 04:10.\n\tTwo vehicles.";
    dz.send_message(&OP, &ch, None, "flash", text, false)
        .unwrap();
    pump(&[&dz, &ma]);
    let inbox = ma.inbox(&OP).unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].text, text);
    // The sender's own check is the same rule.
    for bad in ["\u{1b}[2J", "a\rb", &long] {
        let e = dz
            .send_message(&OP, &ch, None, "routine", bad, false)
            .unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
    }
    assert!(ma.audit_verify(&OP).unwrap().ok);
}

/// Release reasons are a partner's text too: a request's reason and a
/// refusal from a modified node arrive without control characters and
/// cut to 1,000 characters; a node's own operator may not give such.
#[test]
fn hostile_release_reasons_arrive_defused() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7521);
    let ma = node(tmp.path(), "ma", "MA", 7531);
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &[&dz, &ma]);
    let rec = dz.record_add(&OP, person(&ch, "Hassan Hattab")).unwrap();
    pump(&[&dz, &ma]);
    let hostile = format!("\u{1b}[2J\u{1b}]0;x\u{7}granted\r\n{}", "B".repeat(5_000));
    let defused = |r: &Option<String>| {
        let r = r.as_deref().unwrap_or_default();
        !r.chars().any(char::is_control) && r.chars().count() <= 1_000 && r.contains("granted")
    };
    let head = |r: &Option<String>| {
        r.as_deref()
            .unwrap_or_default()
            .chars()
            .take(60)
            .collect::<String>()
    };
    let both = vec![dz.id().to_string(), ma.id().to_string()];
    let ctl = tansiq_node::federation::control_channel(dz.id(), ma.id());
    let submit = |from: &Node, p: Payload| {
        from.send_unchecked(&ctl, Precedence::Routine, both.clone(), vec![], &p)
            .unwrap();
        pump(&[&dz, &ma]);
    };
    // A modified MA asks with a hostile reason.
    submit(
        &ma,
        Payload::ReleaseRequest {
            id: tansiq_core::ids::new_id(tansiq_core::ids::REQUEST_PREFIX),
            record: rec.clone(),
            target_channel: ch.clone(),
            target_members: both.clone(),
            reason: Some(hostile.clone()),
        },
    );
    let at_dz = dz.releases(&OP).unwrap();
    assert_eq!(at_dz.len(), 1);
    assert!(defused(&at_dz[0].reason), "{:?}", head(&at_dz[0].reason));
    // MA asks properly; a modified DZ refuses with a hostile text.
    let req = ma
        .release_request(&OP, &rec, &ch, Some("screening"))
        .unwrap();
    pump(&[&dz, &ma]);
    submit(
        &dz,
        Payload::ReleaseDecision {
            request: Some(req.clone()),
            release: None,
            refusal: Some(hostile.clone()),
        },
    );
    let mine = ma.releases(&OP).unwrap();
    let r = mine.iter().find(|r| r.id == req).unwrap();
    assert_eq!(r.status, "refused");
    assert!(defused(&r.reason), "{:?}", head(&r.reason));
    // The operator's own reasons follow the same rule.
    let e = ma
        .release_request(&OP, &rec, &ch, Some("a\u{1b}[2Jb"))
        .unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(ma.audit_verify(&OP).unwrap().ok);
    assert!(dz.audit_verify(&OP).unwrap().ok);
}
