//! Verifiable oblivious PRF (RFC 9497, VOPRF mode, ristretto255-SHA512)
//! for private hit/no-hit queries.
//!
//! The list holder keys its entries with [`OprfKey::evaluate`]; a querier
//! [`blind`]s its own inputs, the holder evaluates them blind
//! ([`OprfKey::blind_evaluate`], one batched DLEQ proof for the lot), and
//! the querier [`finalize`]s: checks the proof against the holder's public
//! key and unblinds. Both sides then hold `F(k, x)` for the same `x`
//! exactly when their inputs are equal; the holder never sees `x`, and
//! the querier cannot compute `F(k, ·)` without asking.
//!
//! Key derivation is RFC 9497 `DeriveKeyPair(seed, info)`; callers make
//! `info` name the partner and the period, so every partner and period has
//! its own key (docs/CRYPTO.md, "Hit/no-hit OPRF").

use voprf::{BlindedElement, EvaluationElement, Proof, Ristretto255, VoprfClient, VoprfServer};

use crate::CryptoError;

type Suite = Ristretto255;

/// Bytes of a serialised group element (blinded or evaluated).
pub const ELEMENT_LEN: usize = 32;
/// Bytes of a serialised batched DLEQ proof.
pub const PROOF_LEN: usize = 64;
/// Bytes of an OPRF output (SHA-512).
pub const OUTPUT_LEN: usize = 64;
/// Most elements in one batch (the RFC's proofs count in 16 bits).
pub const MAX_BATCH: usize = u16::MAX as usize;

/// An OPRF output.
pub type Output = [u8; OUTPUT_LEN];

fn bad(what: &str) -> CryptoError {
    CryptoError::Encoding(format!("oprf: {what}"))
}

/// The holder's secret key for one partner and period.
pub struct OprfKey {
    server: VoprfServer<Suite>,
}

impl std::fmt::Debug for OprfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OprfKey")
            .field("public_key", &crate::b64(self.public_key()))
            .finish_non_exhaustive()
    }
}

impl OprfKey {
    /// RFC 9497 `DeriveKeyPair(seed, info)`.
    pub fn derive(seed: &[u8; 32], info: &[u8]) -> Result<OprfKey, CryptoError> {
        if info.len() > u16::MAX as usize {
            return Err(bad("key info too long"));
        }
        let server = VoprfServer::<Suite>::new_from_seed(seed, info)
            .map_err(|_| CryptoError::BadKey("oprf key derivation failed".into()))?;
        Ok(OprfKey { server })
    }

    /// The public key a querier checks proofs against.
    pub fn public_key(&self) -> [u8; ELEMENT_LEN] {
        let pk = <Suite as voprf::Group>::serialize_elem(self.server.get_public_key());
        let mut out = [0u8; ELEMENT_LEN];
        out.copy_from_slice(&pk);
        out
    }

    /// `F(k, input)` computed directly (the holder's side of its own list).
    pub fn evaluate(&self, input: &[u8]) -> Result<Output, CryptoError> {
        if input.is_empty() || input.len() > u16::MAX as usize {
            return Err(bad("input must be 1..65535 bytes"));
        }
        let out = self
            .server
            .evaluate(input)
            .map_err(|_| bad("input cannot be evaluated"))?;
        let mut o = [0u8; OUTPUT_LEN];
        o.copy_from_slice(&out);
        Ok(o)
    }

    /// Evaluates blinded elements from a querier, with one proof that all
    /// were evaluated under this key. Rejects (as a whole) a batch that is
    /// empty, too large, or holds a byte string that is not a valid,
    /// non-identity element.
    pub fn blind_evaluate(
        &self,
        blinded: &[[u8; ELEMENT_LEN]],
    ) -> Result<(Vec<[u8; ELEMENT_LEN]>, [u8; PROOF_LEN]), CryptoError> {
        if blinded.is_empty() || blinded.len() > MAX_BATCH {
            return Err(bad("batch must hold 1..65535 elements"));
        }
        let elems = blinded
            .iter()
            .map(|b| BlindedElement::<Suite>::deserialize(b).map_err(|_| bad("invalid element")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rng = rand_core_06::OsRng;
        let res = self
            .server
            .batch_blind_evaluate(&mut rng, &elems)
            .map_err(|_| bad("batch evaluation failed"))?;
        let evaluated = res
            .messages
            .iter()
            .map(|m| {
                let mut o = [0u8; ELEMENT_LEN];
                o.copy_from_slice(&m.serialize());
                o
            })
            .collect();
        let mut proof = [0u8; PROOF_LEN];
        proof.copy_from_slice(&res.proof.serialize());
        Ok((evaluated, proof))
    }
}

/// Whether `e` is a valid, non-identity ristretto255 element (what
/// [`OprfKey::blind_evaluate`] will accept), to refuse garbage before any
/// work or accounting is done for it.
pub fn is_valid_element(e: &[u8; ELEMENT_LEN]) -> bool {
    BlindedElement::<Suite>::deserialize(e).is_ok()
}

/// The querier's blinding state for one batch; never leaves the process.
pub struct Blinded {
    states: Vec<VoprfClient<Suite>>,
    /// The blinded elements to send, in input order.
    pub elements: Vec<[u8; ELEMENT_LEN]>,
}

impl std::fmt::Debug for Blinded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blinded")
            .field("len", &self.elements.len())
            .finish_non_exhaustive()
    }
}

/// Blinds each input with a fresh random scalar.
pub fn blind<I: AsRef<[u8]>>(inputs: &[I]) -> Result<Blinded, CryptoError> {
    if inputs.len() > MAX_BATCH {
        return Err(bad("batch must hold at most 65535 elements"));
    }
    let mut rng = rand_core_06::OsRng;
    let mut states = Vec::with_capacity(inputs.len());
    let mut elements = Vec::with_capacity(inputs.len());
    for i in inputs {
        let i = i.as_ref();
        if i.is_empty() || i.len() > u16::MAX as usize {
            return Err(bad("input must be 1..65535 bytes"));
        }
        let r = VoprfClient::<Suite>::blind(i, &mut rng).map_err(|_| bad("cannot blind"))?;
        let mut e = [0u8; ELEMENT_LEN];
        e.copy_from_slice(&r.message.serialize());
        states.push(r.state);
        elements.push(e);
    }
    Ok(Blinded { states, elements })
}

/// Checks the holder's proof against `public_key` and unblinds: the
/// outputs, in input order. `inputs` must be the ones given to [`blind`].
pub fn finalize<I: AsRef<[u8]>>(
    blinded: &Blinded,
    inputs: &[I],
    evaluated: &[[u8; ELEMENT_LEN]],
    proof: &[u8; PROOF_LEN],
    public_key: &[u8; ELEMENT_LEN],
) -> Result<Vec<Output>, CryptoError> {
    if inputs.len() != blinded.states.len() || evaluated.len() != blinded.states.len() {
        return Err(bad("the answer does not match the batch"));
    }
    let msgs = evaluated
        .iter()
        .map(|e| EvaluationElement::<Suite>::deserialize(e).map_err(|_| bad("invalid element")))
        .collect::<Result<Vec<_>, _>>()?;
    let proof = Proof::<Suite>::deserialize(proof).map_err(|_| bad("invalid proof"))?;
    let pk = <Suite as voprf::Group>::deserialize_elem(public_key)
        .map_err(|_| CryptoError::BadKey("oprf public key".into()))?;
    let inputs: Vec<&[u8]> = inputs.iter().map(|i| i.as_ref()).collect();
    let outs = VoprfClient::batch_finalize(&inputs, &blinded.states, &msgs, &proof, pk)
        .map_err(|_| CryptoError::BadSignature)?;
    outs.map(|o| {
        let o = o.map_err(|_| bad("cannot finalize"))?;
        let mut out = [0u8; OUTPUT_LEN];
        out.copy_from_slice(&o);
        Ok(out)
    })
    .collect()
}

/// A holder's opaque reference to one of its entries: HKDF-SHA256 with
/// salt `tansiq-hit-ref-v1`, input key `seed`, and `info` naming the
/// partner, the period and the entry; 16 bytes. Unlinkable across
/// partners and periods without the seed.
pub fn reference(seed: &[u8; 32], info: &[u8]) -> [u8; 16] {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"tansiq-hit-ref-v1"), seed);
    let mut out = [0u8; 16];
    hk.expand(info, &mut out)
        .expect("16 bytes is a valid HKDF-SHA256 output length");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // RFC 9497 appendix A.1.2 (VOPRF mode, ristretto255-SHA512).
    const SEED: [u8; 32] = [0xa3; 32];
    const KEY_INFO: &[u8] = b"test key";
    const PK: &str = "c803e2cc6b05fc15064549b5920659ca4a77b2cca6f04f6b357009335476ad4e";
    const OUT_00: &str = "b58cfbe118e0cb94d79b5fd6a6dafb98764dff49c14e1770b566e42402da1a7da4d8527693914139caee5bd03903af43a491351d23b430948dd50cde10d32b3c";
    const OUT_5A: &str = "8a9a2f3c7f085b65933594309041fc1898d42d0858e59f90814ae90571a6df60356f4610bf816f27afdd84f47719e480906d27ecd994985890e5f539e7ea74b6";

    #[test]
    fn rfc9497_vectors_key_and_outputs() {
        let k = OprfKey::derive(&SEED, KEY_INFO).unwrap();
        assert_eq!(hex::encode(k.public_key()), PK);
        assert_eq!(k.evaluate(&[0]).unwrap().to_vec(), unhex(OUT_00));
        assert_eq!(k.evaluate(&[0x5a; 17]).unwrap().to_vec(), unhex(OUT_5A));
    }

    #[test]
    fn blind_round_trip_equals_direct_evaluation() {
        let k = OprfKey::derive(&SEED, KEY_INFO).unwrap();
        let inputs: Vec<Vec<u8>> = vec![vec![0], vec![0x5a; 17], b"tansiq".to_vec()];
        let b = blind(&inputs).unwrap();
        let (ev, proof) = k.blind_evaluate(&b.elements).unwrap();
        let outs = finalize(&b, &inputs, &ev, &proof, &k.public_key()).unwrap();
        assert_eq!(outs[0].to_vec(), unhex(OUT_00));
        assert_eq!(outs[1].to_vec(), unhex(OUT_5A));
        assert_eq!(outs[2], k.evaluate(b"tansiq").unwrap());
    }

    #[test]
    fn blinding_hides_the_input() {
        let a = blind(&[b"same"]).unwrap();
        let b = blind(&[b"same"]).unwrap();
        assert_ne!(a.elements, b.elements);
    }

    #[test]
    fn another_key_fails_the_proof() {
        let k = OprfKey::derive(&SEED, b"period 1").unwrap();
        let other = OprfKey::derive(&SEED, b"period 2").unwrap();
        assert_ne!(k.public_key(), other.public_key());
        let b = blind(&[b"x"]).unwrap();
        let (ev, proof) = other.blind_evaluate(&b.elements).unwrap();
        assert!(matches!(
            finalize(&b, &[b"x"], &ev, &proof, &k.public_key()),
            Err(CryptoError::BadSignature)
        ));
    }

    #[test]
    fn garbage_from_a_peer_is_an_error() {
        let k = OprfKey::derive(&SEED, KEY_INFO).unwrap();
        assert!(k.blind_evaluate(&[]).is_err());
        assert!(k.blind_evaluate(&[[0xff; 32]]).is_err());
        // The identity element is refused too.
        assert!(k.blind_evaluate(&[[0; 32]]).is_err());
        assert!(!is_valid_element(&[0; 32]) && !is_valid_element(&[0xff; 32]));
        assert!(is_valid_element(&blind(&[b"x"]).unwrap().elements[0]));
        let b = blind(&[b"x"]).unwrap();
        let (ev, proof) = k.blind_evaluate(&b.elements).unwrap();
        assert!(finalize(&b, &[b"x"], &[[0xff; 32]], &proof, &k.public_key()).is_err());
        assert!(finalize(&b, &[b"x"], &ev, &[0xff; 64], &k.public_key()).is_err());
        assert!(finalize(&b, &[b"x", b"y"], &ev, &proof, &k.public_key()).is_err());
        assert!(k.evaluate(b"").is_err());
    }
}
