//! `tansiq_core::charter::SignedCharter` from strictly parsed JSON, then
//! `validate`, the consent rule (`consent`, `missing`) and the channel
//! state machine (`ChannelState::apply`, which verifies the signatures
//! with a dummy key lookup) from an empty state, as its proposer. For a charter that
//! validates, every member's signature is also made with the key the
//! lookup returns, so the success path (verify, activation) runs too.
//! Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_core::charter::{consent, ChannelEvent, ChannelState, SignedCharter, CHARTER_CONTEXT};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = tansiq_crypto::parse_json_strict(data) else {
        return;
    };
    let Ok(sc) = serde_json::from_value::<SignedCharter>(v) else {
        return;
    };
    let key = &tansiq_fuzz::any_key;
    let me = sc.charter.proposer.clone();
    let empty = ChannelState::default();
    let _ = empty.apply(ChannelEvent::Proposed(sc.clone()), &me, key);
    if let Ok(rule) = consent(None, &sc.charter) {
        let _ = rule.missing(&sc);
    }
    // The success path below proposes onto an empty state: that takes a
    // charter the first-version rule accepts (`consent(None, …)`: valid,
    // and its proposer a member — a later version may drop its proposer,
    // which only the version it replaces can judge).
    if consent(None, &sc.charter).is_err() {
        return;
    }
    let id = tansiq_fuzz::identity(2);
    let Ok(sig) = id.sign_json(CHARTER_CONTEXT, &sc.charter.to_value()) else {
        return;
    };
    let sig = tansiq_crypto::b64(sig);
    // Proposer only: pending; then every other member signs in turn.
    let mut proposed = SignedCharter {
        charter: sc.charter.clone(),
        signatures: Default::default(),
    };
    proposed
        .signatures
        .insert(sc.charter.proposer.clone(), sig.clone());
    let mut st = empty
        .apply(ChannelEvent::Proposed(proposed), &me, key)
        .expect("a valid charter signed by its proposer is accepted");
    for m in &sc.charter.members {
        st = st
            .apply(
                ChannelEvent::Signed {
                    version: sc.charter.version,
                    node: m.clone(),
                    sig: sig.clone(),
                },
                &me,
                key,
            )
            .unwrap_or(st);
    }
    assert!(
        st.active.is_some(),
        "every member signed: the charter is active"
    );
    // A later version proposed on top of the active one.
    let _ = st.apply(ChannelEvent::Proposed(sc), &me, key);
});
