//! `tansiq_node::federation::payload::open` with the fuzz input as the
//! sealed body of an envelope addressed to a fixed identity: the strict
//! JSON parse of either body form (epoch key or one-shot `Sealed`), HPKE
//! unwrapping of the content key (through the epoch-key cache), the
//! XChaCha20-Poly1305 body, then the payload parse. Never panics. Seeds
//! are really sealed to that identity (made by `seedgen`), so mutations
//! of the sealing structure around valid ciphertext are explored too.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tansiq_crypto::Identity;
use tansiq_sync::{Body, Envelope, EnvelopeHeader};

fn cache() -> &'static tansiq_node::federation::payload::EpochKeys {
    static C: OnceLock<tansiq_node::federation::payload::EpochKeys> = OnceLock::new();
    C.get_or_init(Default::default)
}

fn fixture() -> &'static (EnvelopeHeader, Identity, String) {
    static F: OnceLock<(EnvelopeHeader, Identity, String)> = OnceLock::new();
    F.get_or_init(|| {
        (
            tansiq_fuzz::sealed_open_header(),
            tansiq_fuzz::identity(1),
            tansiq_fuzz::node_id(1),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (header, me, my_id) = fixture();
    let Ok(env) = Envelope::new(header.clone(), Body::Sealed(data.to_vec()), |_| [0; 64]) else {
        return;
    };
    let _ = tansiq_node::federation::payload::open(&env, my_id, &[me], Some(cache()));
});
