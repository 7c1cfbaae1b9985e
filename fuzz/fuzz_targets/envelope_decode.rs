//! `tansiq_sync::Envelope::decode` on arbitrary bytes: never panics, and
//! whatever decodes re-encodes to bytes that decode to the same envelope
//! (same id, canonical header, body and signature).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_sync::Envelope;

fuzz_target!(|data: &[u8]| {
    let Ok(env) = Envelope::decode(data) else {
        return;
    };
    let again = Envelope::decode(&env.encode()).expect("an encoded envelope decodes");
    assert_eq!(again, env, "envelope round trip");
    assert_eq!(again.id(), env.id());
    let stub = env.to_stub();
    assert_eq!(stub.id(), env.id(), "a stub keeps the id");
    let stub2 = Envelope::decode(&stub.encode()).expect("an encoded stub decodes");
    assert_eq!(stub2.id(), env.id());
    let _ = env.encoded_len();
    let _ = env.to_value();
});
