//! A whole node taking in the content of an envelope from a malicious
//! but authenticated member: B seals an arbitrary `Payload` to A with its
//! real keys and sends it through the real engine; A opens it and applies
//! it (records: validation, originator signature, third-party rule,
//! store; charters; messages; acks; releases; checkpoints and
//! co-signatures). See `tansiq_fuzz::nodes`.
//!
//! Input: one mode byte, then the payload as JSON (`@A@`, `@B@`, `@CH@`,
//! `@CTL@` replaced by the live ids). Mode & 3: precedence; mode & 4: the
//! control channel instead of the shared channel; mode & 8: the envelope
//! kind is "record" whatever the payload; mode & 16: do not re-sign. By
//! default, the record, release and charter in the payload, and the body
//! of a checkpoint note, are re-signed with B's real key (so they reach
//! past the signature checks). Inputs
//! that are not a `Payload` are skipped (payload_parse covers them).
//! Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_core::charter::CHARTER_CONTEXT;
use tansiq_core::record::RECORD_CONTEXT;
use tansiq_core::release::RELEASE_CONTEXT;
use tansiq_crypto::checkpoint::{self, Checkpoint};
use tansiq_node::federation::Payload;
use tansiq_sync::Precedence;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let pair = tansiq_fuzz::pair();
    let body = pair.substitute(body);
    let Ok(v) = tansiq_crypto::parse_json_strict(&body) else {
        return;
    };
    let Ok(mut p) = serde_json::from_value::<Payload>(v) else {
        return;
    };
    if mode & 16 == 0 {
        let id = &pair.b.identity;
        let b64 = tansiq_crypto::b64;
        match &mut p {
            Payload::Record { record, release } => {
                if let Ok(s) = id.sign_json(RECORD_CONTEXT, &record.body.to_value()) {
                    record.sig = b64(s);
                }
                if let Some(r) = release {
                    if let Ok(v) = serde_json::to_value(&r.release) {
                        if let Ok(s) = id.sign_json(RELEASE_CONTEXT, &v) {
                            r.sig = b64(s);
                        }
                    }
                }
            }
            Payload::ReleaseDecision {
                release: Some(r), ..
            } => {
                if let Ok(v) = serde_json::to_value(&r.release) {
                    if let Ok(s) = id.sign_json(RELEASE_CONTEXT, &v) {
                        r.sig = b64(s);
                    }
                }
            }
            Payload::Checkpoint { note, .. } => {
                // The note's body (before the blank line), signed as B's
                // audit log checkpoint (key name `tansiq/<B>`).
                let text = note.rfind("\n\n").map_or(note.as_str(), |i| &note[..i + 1]);
                if let Ok(cp) = Checkpoint::parse(text) {
                    if let Ok(signed) =
                        checkpoint::sign(id, &format!("tansiq/{}", pair.b.id()), &cp)
                    {
                        *note = signed;
                    }
                }
            }
            Payload::Charter { charter } => {
                if let Ok(s) = id.sign_json(CHARTER_CONTEXT, &charter.charter.to_value()) {
                    charter.signatures.insert(pair.b.id().to_string(), b64(s));
                }
            }
            _ => {}
        }
    }
    // A checkpoint size or old_size above 2^53 - 1 once panicked the
    // receiver (fuzz/artifacts/node_deliver/README.md, fixed): no longer
    // stepped around, so a regression shows as a crash.
    let precedence = Precedence::ALL[usize::from(mode & 3)];
    let channel = if mode & 4 == 0 {
        &pair.channel
    } else {
        &pair.control
    };
    let kind = if mode & 8 == 0 { p.kind() } else { "record" };
    pair.deliver_from_b(channel, kind, precedence, &p);
});
