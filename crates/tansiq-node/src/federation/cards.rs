//! Cards to fetch: the peers' key generations this node has not seen
//! yet, found while taking in envelopes (docs/PROTOCOL.md §6, "Card
//! fetch"). Federation notes them; the sender task fetches them.

/// How long a fetch that found nothing newer than the card held settles
/// the question for that node: meanwhile an envelope of it that no held
/// key verifies is refused as forged instead of deferred.
pub const CARD_RECHECK_MS: u64 = 60_000;

/// Peers asked at most per wanted card and fetch round.
const MAX_CARD_SOURCES: usize = 8;

/// Cards to fetch: a peer brought an envelope of node X (relayed, or from
/// anti-entropy) whose signature no key of X's card held here verifies,
/// dated where a newer generation could apply — X rotated and its push
/// could not reach this node. The envelope is deferred (`retry`) and X's
/// card is fetched from the peers that brought it, which verified it
/// (docs/PROTOCOL.md §6, "Card fetch"). Volatile: after a restart the
/// next deferred copy asks again.
#[derive(Default)]
pub struct CardWants(std::sync::Mutex<std::collections::HashMap<String, CardWant>>);

#[derive(Default)]
struct CardWant {
    sources: std::collections::BTreeSet<String>,
    /// `(at_ms, gen)`: a fetch found nothing newer than generation `gen`.
    checked: Option<(u64, u64)>,
    next_try: u64,
    wait: u64,
    fetching: bool,
}

/// What fetching a wanted card came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardFetched {
    /// A later generation was taken: what it signed now verifies.
    Newer,
    /// The sources hold nothing newer than generation `0`: the signature
    /// was not made by the node.
    NothingNewer(u64),
    /// No source could be asked; try again later.
    Failed,
}

impl CardWants {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, CardWant>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An envelope of `originator`, brought by `from`, has a signature no
    /// held key verifies, and generation `held_gen` (the newest held)
    /// covers its date. Returns true to defer it while the card is
    /// fetched from `from`; false to refuse it (a fetch lately found
    /// nothing newer).
    pub fn unknown_key(&self, originator: &str, held_gen: u64, from: &str, now: u64) -> bool {
        let mut m = self.lock();
        let w = m.entry(originator.to_string()).or_default();
        if let Some((at, gen)) = w.checked {
            if gen >= held_gen && now < at + CARD_RECHECK_MS {
                return false;
            }
            w.checked = None;
        }
        if w.sources.len() < MAX_CARD_SOURCES {
            w.sources.insert(from.to_string());
        }
        true
    }

    /// Cards to fetch now, each with the peers to ask; each is marked
    /// as being fetched until [`CardWants::done`].
    pub fn due(&self, now: u64) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        for (id, w) in self.lock().iter_mut() {
            if w.fetching || w.sources.is_empty() || now < w.next_try {
                continue;
            }
            w.fetching = true;
            out.push((id.clone(), w.sources.iter().cloned().collect()));
        }
        out
    }

    pub fn done(&self, originator: &str, outcome: CardFetched, now: u64) {
        let mut m = self.lock();
        match outcome {
            CardFetched::Newer => {
                m.remove(originator);
            }
            CardFetched::NothingNewer(gen) => {
                if let Some(w) = m.get_mut(originator) {
                    *w = CardWant {
                        checked: Some((now, gen)),
                        ..CardWant::default()
                    };
                }
            }
            CardFetched::Failed => {
                if let Some(w) = m.get_mut(originator) {
                    w.fetching = false;
                    w.wait = (w.wait * 2).clamp(1_000, 10_000);
                    w.next_try = now + w.wait;
                }
            }
        }
    }

    /// Whether a card of `originator` is wanted (for tests and status).
    pub fn is_wanted(&self, originator: &str) -> bool {
        self.lock()
            .get(originator)
            .is_some_and(|w| !w.sources.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_defers_until_a_fetch_finds_nothing_newer() {
        let w = CardWants::default();
        // First meeting: deferred, the card wanted from the peer that brought it.
        assert!(w.unknown_key("dz", 0, "tn", 1_000));
        assert!(w.unknown_key("dz", 0, "fr", 1_100));
        assert_eq!(
            w.due(1_200),
            vec![("dz".to_string(), vec!["fr".to_string(), "tn".to_string()])]
        );
        assert!(w.due(1_300).is_empty(), "one fetch at a time");
        // Unreachable sources: asked again after a wait, not at once.
        w.done("dz", CardFetched::Failed, 2_000);
        assert!(w.due(2_500).is_empty());
        assert_eq!(w.due(3_000).len(), 1);
        // Nothing newer: what no held key verifies is now refused …
        w.done("dz", CardFetched::NothingNewer(0), 3_100);
        assert!(!w.unknown_key("dz", 0, "tn", 4_000));
        assert!(!w.is_wanted("dz"));
        // … until the check is old, or the card held moved on.
        assert!(w.unknown_key("dz", 0, "tn", 3_100 + CARD_RECHECK_MS));
        w.done("dz", CardFetched::NothingNewer(0), 70_000);
        assert!(w.unknown_key("dz", 1, "tn", 70_001));
        // A newer card taken: the want is gone.
        w.done("dz", CardFetched::Newer, 70_002);
        assert!(!w.is_wanted("dz"));
    }
}
