//! The hit/no-hit wire: the paths, the JSON bodies, the keyed list's
//! binary form and the user-facing reference of a hit.

use serde::{Deserialize, Serialize};

use tansiq_crypto::oprf::{self, ELEMENT_LEN};
use tansiq_crypto::{b64_decode_array, sha256};

/// Where a partner fetches the keyed list exposed to it.
pub const HIT_LIST_PATH: &str = "/peer/v1/hit/list";
/// Where a partner has its blinded keys evaluated.
pub const HIT_EVALUATE_PATH: &str = "/peer/v1/hit/evaluate";
/// Bytes of an entry tag: the first bytes of the OPRF output.
pub const TAG_LEN: usize = 16;
/// Bytes of an entry reference.
pub const REF_LEN: usize = 16;
/// Most blinded elements in one evaluation request.
pub const MAX_ELEMENTS: usize = 4096;
/// Most entries a keyed list may announce (a bound for the parser).
const MAX_LIST_ENTRIES: usize = 20_000_000;
const LIST_MAGIC: &[u8; 8] = b"TQHITL1\n";

pub(super) type Tag = [u8; TAG_LEN];

pub(super) fn tag_of(out: &oprf::Output) -> Tag {
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&out[..TAG_LEN]);
    t
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// The digest of the list the querier holds, if any.
    #[serde(default)]
    pub have: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    pub key_id: String,
    pub elements: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateResponse {
    pub key_id: String,
    pub evaluated: Vec<String>,
    pub proof: String,
    /// The digest of the keyed list as it stands now.
    pub list_digest: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// A keyed list: header and entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListHeader {
    pub holder: String,
    pub querier: String,
    pub key_id: String,
    /// The OPRF public key evaluations are proven against (base64url).
    pub public_key: String,
    pub entries: u64,
    pub tag_len: u32,
}

/// A parsed keyed list: entries and their tags, flat (matching scans
/// the tags once against the query's, which beats building a map of a
/// million tags for a handful of queries).
#[derive(Debug, Clone)]
pub struct KeyedList {
    pub header: ListHeader,
    pub public_key: [u8; ELEMENT_LEN],
    pub refs: Vec<[u8; REF_LEN]>,
    /// Entry `i`'s tags are `tags[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    tags: Vec<Tag>,
    pub digest: String,
    /// (tag, entry) sorted, built when a list kept in memory is used
    /// again: each query tag is then a binary search.
    index: std::sync::OnceLock<Vec<(Tag, u32)>>,
}

impl KeyedList {
    /// The tags of entry `i`.
    pub fn entry_tags(&self, i: usize) -> &[Tag] {
        &self.tags[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    pub(super) fn sorted_index(&self) -> &[(Tag, u32)] {
        self.index.get_or_init(|| {
            let mut v = Vec::with_capacity(self.tags.len());
            for e in 0..self.refs.len() {
                v.extend(self.entry_tags(e).iter().map(|t| (*t, e as u32)));
            }
            v.sort_unstable();
            v.dedup();
            v
        })
    }

    /// The entries carrying `t`, through the sorted index.
    pub(super) fn entries_with<'a>(&'a self, t: &'a Tag) -> impl Iterator<Item = u32> + 'a {
        let idx = self.sorted_index();
        let start = idx.partition_point(|(x, _)| x < t);
        idx[start..]
            .iter()
            .take_while(move |(x, _)| x == t)
            .map(|(_, e)| *e)
    }

    /// Whether any entry carries `t`.
    pub fn has_tag(&self, t: &[u8; TAG_LEN]) -> bool {
        self.tags.iter().any(|x| x == t)
    }
}

pub(super) fn encode_list(header: &ListHeader, entries: &[([u8; REF_LEN], Vec<Tag>)]) -> Vec<u8> {
    let h = serde_json::to_vec(header).expect("header serialises");
    let tags: usize = entries.iter().map(|e| e.1.len()).sum();
    let mut out = Vec::with_capacity(12 + h.len() + entries.len() * (REF_LEN + 2) + tags * TAG_LEN);
    out.extend_from_slice(LIST_MAGIC);
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    out.extend_from_slice(&h);
    for (r, t) in entries {
        out.extend_from_slice(r);
        out.extend_from_slice(&(t.len() as u16).to_be_bytes());
        for x in t {
            out.extend_from_slice(x);
        }
    }
    out
}

/// Parses a keyed list from a holder; never panics on any input.
pub fn parse_list(bytes: &[u8]) -> Result<KeyedList, String> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err("keyed list truncated".into());
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Ok(h)
    }
    let mut b = bytes;
    if take(&mut b, 8)? != LIST_MAGIC {
        return Err("not a Tansiq keyed list".into());
    }
    let hl = u32::from_be_bytes(take(&mut b, 4)?.try_into().expect("4 bytes")) as usize;
    if hl > 64 * 1024 {
        return Err("keyed list header too large".into());
    }
    let header: ListHeader =
        serde_json::from_slice(take(&mut b, hl)?).map_err(|e| format!("keyed list header: {e}"))?;
    if header.tag_len as usize != TAG_LEN {
        return Err(format!(
            "keyed list tag length {} (expected {TAG_LEN})",
            header.tag_len
        ));
    }
    let n = usize::try_from(header.entries).unwrap_or(usize::MAX);
    if n > MAX_LIST_ENTRIES || n.saturating_mul(REF_LEN + 2) > b.len() {
        return Err("keyed list entry count does not match its size".into());
    }
    let public_key = b64_decode_array::<ELEMENT_LEN>(&header.public_key)
        .map_err(|_| "keyed list public key is not 32 base64url bytes".to_string())?;
    let mut refs = Vec::with_capacity(n);
    let mut starts = Vec::with_capacity(n + 1);
    let mut tags: Vec<Tag> = Vec::with_capacity(b.len() / TAG_LEN);
    starts.push(0u32);
    for _ in 0..n {
        let r: [u8; REF_LEN] = take(&mut b, REF_LEN)?.try_into().expect("REF_LEN bytes");
        let c = u16::from_be_bytes(take(&mut b, 2)?.try_into().expect("2 bytes")) as usize;
        let t = take(&mut b, c * TAG_LEN)?;
        tags.extend(
            t.chunks_exact(TAG_LEN)
                .map(|x| <Tag>::try_from(x).expect("TAG_LEN bytes")),
        );
        refs.push(r);
        starts.push(u32::try_from(tags.len()).map_err(|_| "keyed list too large".to_string())?);
    }
    if !b.is_empty() {
        return Err("keyed list has trailing bytes".into());
    }
    Ok(KeyedList {
        header,
        public_key,
        refs,
        starts,
        tags,
        digest: hex::encode(sha256(bytes)),
        index: std::sync::OnceLock::new(),
    })
}

/// The user-facing reference of a hit: the key period and the opaque
/// entry reference.
pub(super) fn reference_string(key_id: &str, r: &[u8; REF_LEN]) -> String {
    format!("{key_id}:{}", hex::encode(r))
}

pub(super) fn parse_reference(s: &str) -> Option<(&str, [u8; REF_LEN])> {
    let (k, h) = s.split_once(':')?;
    if k.is_empty() || k.len() > 40 || !k.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    let r: [u8; REF_LEN] = hex::decode(h).ok()?.try_into().ok()?;
    Some((k, r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tansiq_crypto::b64;

    #[test]
    fn keyed_list_round_trip_and_garbage() {
        let header = ListHeader {
            holder: "tqa".into(),
            querier: "tqb".into(),
            key_id: "1.0".into(),
            public_key: b64([7u8; 32]),
            entries: 2,
            tag_len: TAG_LEN as u32,
        };
        let entries = vec![
            ([1u8; REF_LEN], vec![[9u8; TAG_LEN], [8u8; TAG_LEN]]),
            ([2u8; REF_LEN], vec![]),
        ];
        let body = encode_list(&header, &entries);
        let l = parse_list(&body).unwrap();
        assert_eq!(l.header, header);
        assert_eq!(l.refs, vec![[1u8; REF_LEN], [2u8; REF_LEN]]);
        assert_eq!(l.entry_tags(0), &[[9u8; TAG_LEN], [8u8; TAG_LEN]]);
        assert!(l.has_tag(&[8u8; TAG_LEN]) && !l.has_tag(&[7u8; TAG_LEN]));
        // Every truncation and a trailing byte are errors, never panics.
        for n in 0..body.len() {
            assert!(parse_list(&body[..n]).is_err(), "prefix {n}");
        }
        let mut long = body.clone();
        long.push(0);
        assert!(parse_list(&long).is_err());
        let mut bad = body.clone();
        bad[0] ^= 1;
        assert!(parse_list(&bad).is_err());
    }

    #[test]
    fn references_parse() {
        let r = reference_string("2914.3", &[0xab; REF_LEN]);
        assert_eq!(parse_reference(&r), Some(("2914.3", [0xab; REF_LEN])));
        assert_eq!(parse_reference("x:00"), None);
        assert_eq!(parse_reference("1.0:zz"), None);
        assert_eq!(parse_reference("1.0"), None);
    }
}
