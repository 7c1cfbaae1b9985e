//! Releases: an originator's signed consent to pass a record on beyond the
//! channel it was given in, to one named target channel and its members.

use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::record::decode_sig;

pub const RELEASE_CONTEXT: &str = "tansiq/release/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub record: String,
    /// The originator who grants (must be the record's originator).
    pub originator: String,
    pub target_channel: String,
    /// The target channel's members the originator saw and agreed to.
    pub target_members: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<String>,
    pub granted: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRelease {
    pub release: Release,
    pub sig: String,
}

impl SignedRelease {
    pub fn sign(release: Release, id: &tansiq_crypto::Identity) -> SignedRelease {
        let v = serde_json::to_value(&release).expect("releases serialise");
        let sig = id
            .sign_json(RELEASE_CONTEXT, &v)
            .expect("releases contain only canonicalisable JSON");
        SignedRelease {
            release,
            sig: tansiq_crypto::b64(sig),
        }
    }

    pub fn verify(&self, originator_key: &[u8; 32]) -> Result<(), Invalid> {
        let v = serde_json::to_value(&self.release).expect("releases serialise");
        let sig = decode_sig(&self.sig)?;
        tansiq_crypto::verify_json(originator_key, RELEASE_CONTEXT, &v, &sig)
            .map_err(|_| Invalid::new("bad release signature"))
    }
}
