//! The witnessed-audit inputs a peer sends (`Payload::Checkpoint` and
//! `Payload::Cosignature`): C2SP signed notes and cosignature lines, read
//! by `tansiq_crypto::checkpoint::{verify, add_signature_line,
//! verify_cosignature}` and `Checkpoint::parse`. Input: `note`, optionally
//! followed by a NUL byte and a cosignature `line`. Never panics; a
//! checkpoint body that parses, signed and cosigned by fixed keys,
//! verifies and gives the same checkpoint back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_crypto::checkpoint::{self, Checkpoint};

const ORIGIN: &str = "fuzz";
const WITNESS: &str = "witness";

fuzz_target!(|data: &[u8]| {
    let parts = tansiq_fuzz::split_n(data, b"\0", 2);
    let Ok(note) = std::str::from_utf8(parts[0]) else {
        return;
    };
    let line = parts.get(1).and_then(|l| std::str::from_utf8(l).ok());
    let signer = tansiq_fuzz::identity(2);
    let witness = tansiq_fuzz::identity(3);
    let _ = checkpoint::verify(note, ORIGIN, &signer.signing_public());
    let _ = checkpoint::verify_cosignature(note, WITNESS, &witness.signing_public());
    if let Some(line) = line {
        if let Ok(combined) = checkpoint::add_signature_line(note, line) {
            let _ = checkpoint::verify_cosignature(&combined, WITNESS, &witness.signing_public());
            let _ = checkpoint::verify(&combined, ORIGIN, &signer.signing_public());
        }
    }
    // The note's text (before the blank line) as a checkpoint body, or the
    // whole input.
    let text = match note.rfind("\n\n") {
        Some(i) => &note[..i + 1],
        None => note,
    };
    let Ok(cp) = Checkpoint::parse(text) else {
        return;
    };
    assert_eq!(
        Checkpoint::parse(&cp.body()).ok(),
        Some(cp.clone()),
        "body round trip"
    );
    let Ok(signed) = checkpoint::sign(&signer, ORIGIN, &cp) else {
        return;
    };
    let got = checkpoint::verify(&signed, ORIGIN, &signer.signing_public())
        .expect("a freshly signed checkpoint verifies");
    assert_eq!(got, cp);
    let cosig = checkpoint::cosign(&witness, WITNESS, &cp, 1_700_000_000)
        .expect("a valid checkpoint can be cosigned");
    let combined =
        checkpoint::add_signature_line(&signed, &cosig).expect("a cosignature line is one line");
    let (got, ts) = checkpoint::verify_cosignature(&combined, WITNESS, &witness.signing_public())
        .expect("a fresh cosignature verifies");
    assert_eq!((got, ts), (cp, 1_700_000_000));
});
