//! `tansiq_sync::Message::decode` on arbitrary bytes (every peer message
//! type: batch, batch_ack, receipt, summary, fetch, fetch_reply): never
//! panics, and a decoded message round-trips through `encode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_sync::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::decode(data) else {
        return;
    };
    let _ = m.type_name();
    let again = Message::decode(&m.encode()).expect("an encoded message decodes");
    assert_eq!(again, m, "message round trip");
});
