//! Node cards: a node's self-signed public identity (id, name, country,
//! endpoint, public keys), exchanged out of band to establish trust.

use serde::{Deserialize, Serialize};

use tansiq_core::country::parse_country;
use tansiq_core::Invalid;

pub const CARD_CONTEXT: &str = "tansiq/card/v1";
/// Largest card file accepted.
pub const MAX_CARD_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    pub v: u32,
    pub id: String,
    pub name: String,
    pub country: String,
    pub endpoint: String,
    /// Ed25519 public key, URL-safe base64.
    pub signing_key: String,
    /// X25519 public key, URL-safe base64.
    pub encryption_key: String,
    pub created: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeCard {
    #[serde(flatten)]
    pub body: CardBody,
    pub sig: String,
}

impl NodeCard {
    pub fn issue(
        id: &tansiq_crypto::Identity,
        name: &str,
        country: &str,
        endpoint: &str,
        created: &str,
    ) -> NodeCard {
        let body = CardBody {
            v: 1,
            id: id.node_id(),
            name: name.to_string(),
            country: country.to_string(),
            endpoint: endpoint.to_string(),
            signing_key: tansiq_crypto::b64(id.signing_public()),
            encryption_key: tansiq_crypto::b64(id.encryption_public()),
            created: created.to_string(),
        };
        let v = serde_json::to_value(&body).expect("cards serialise");
        let sig = id
            .sign_json(CARD_CONTEXT, &v)
            .expect("cards are canonicalisable");
        NodeCard {
            body,
            sig: tansiq_crypto::b64(sig),
        }
    }

    /// Parses and verifies a card: well-formed, the id derives from the
    /// signing key, and the self-signature holds.
    pub fn parse_verified(bytes: &[u8]) -> Result<NodeCard, Invalid> {
        if bytes.len() > MAX_CARD_BYTES {
            return Err(Invalid::new(format!(
                "a card is at most {MAX_CARD_BYTES} bytes"
            )));
        }
        let card: NodeCard = serde_json::from_slice(bytes)
            .map_err(|e| Invalid::new(format!("not a node card: {e}")))?;
        card.verify()?;
        Ok(card)
    }

    pub fn verify(&self) -> Result<(), Invalid> {
        let b = &self.body;
        if b.v != 1 {
            return Err(Invalid::new(format!(
                "card version {} is not supported",
                b.v
            )));
        }
        parse_country(&b.country).map_err(|e| e.at("country"))?;
        if b.name.trim().is_empty() || b.name.len() > 200 {
            return Err(Invalid::new("card name must be 1-200 characters"));
        }
        let key = self.signing_key()?;
        tansiq_crypto::b64_decode_array::<32>(&b.encryption_key)
            .map_err(|_| Invalid::new("card encryption_key is not 32 bytes of base64"))?;
        if tansiq_crypto::node_id_from_key(&key) != b.id {
            return Err(Invalid::new(
                "card id does not derive from its signing key (forged or altered card)",
            ));
        }
        let sig = tansiq_core::record::decode_sig(&self.sig)?;
        let v = serde_json::to_value(b).expect("cards serialise");
        tansiq_crypto::verify_json(&key, CARD_CONTEXT, &v, &sig)
            .map_err(|_| Invalid::new("card signature does not verify (forged or altered card)"))
    }

    pub fn signing_key(&self) -> Result<[u8; 32], Invalid> {
        tansiq_crypto::b64_decode_array::<32>(&self.body.signing_key)
            .map_err(|_| Invalid::new("card signing_key is not 32 bytes of base64"))
    }
}
