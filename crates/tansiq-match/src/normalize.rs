//! Character-level normalisation and tokenisation.
//!
//! Steps, in order (documented in `docs/MATCHING.md`):
//! 1. Unicode NFKC (folds Arabic presentation forms, ligatures, full-width).
//! 2. Lower-casing (full Unicode case folding of letters).
//! 3. Letters of scholarly transliteration that stand for a digraph
//!    (š→sh, č→ch, ž→zh, ǧ→j, ġ→gh, ḫ/ẖ/ḵ→kh, ṯ→th, ḏ→dh, ş→sh, ß→ss, æ→ae,
//!    œ→oe, ø→o, ł→l, đ→d, ı→i, þ→th, ð→dh).
//! 4. Canonical decomposition and removal of every combining mark: Latin
//!    diacritics, Arabic harakat, shadda, sukun, superscript alef, and the
//!    hamza/madda marks, which folds أ إ آ → ا, ؤ → و, ئ → ي.
//! 5. Arabic folding: tatweel removed; ٱ→ا; ى→ي; ة→ه; Persian/Urdu
//!    code-point variants ک→ك, ی ې ۍ ے→ي, ە ہ ۀ→ه; Arabic-Indic digits
//!    → ASCII; ھ is kept (an Urdu aspirate after a consonant, see
//!    `parse`). Persian/Urdu letters without an Arabic twin (پ گ چ ژ ڤ ٹ ڈ
//!    ڑ ں) are kept here and folded into the key classes of their Arabic
//!    neighbours (see `phonetic`).
//! 6. Apostrophes and similar marks (ʿ ʾ ’ ‘ ` ´) are dropped; every other
//!    non-letter, non-digit is a token separator (hyphens included).
//! 7. Surname-first forms: "BELKEZIZ, Abdallah" → "abdallah belkeziz"
//!    (the part before the first comma moves to the end); without a
//!    comma, leading words in capitals before words that are not
//!    ("OUYAHIA Ahmed") move to the end the same way.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

fn digraph(c: char) -> Option<&'static str> {
    Some(match c {
        'š' => "sh",
        'č' | 'ć' => "ch",
        'ž' => "zh",
        'ǧ' => "j",
        'ġ' => "gh",
        'ḫ' | 'ẖ' | 'ḵ' => "kh",
        'ṯ' => "th",
        'ḏ' => "dh",
        'ş' | 'ș' => "sh",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'ø' => "o",
        'ł' => "l",
        'đ' => "d",
        'ı' => "i",
        'þ' => "th",
        'ð' => "dh",
        'ə' => "e",
        'ç' => "s",
        _ => return None,
    })
}

fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '’' | '‘' | '`' | '´' | 'ʿ' | 'ʾ' | 'ʼ' | 'ʻ' | '′' | 'ʹ'
    )
}

/// Fold one Arabic-script letter (after mark removal). `None` drops it.
fn fold_arabic(c: char) -> Option<char> {
    Some(match c {
        '\u{0640}' => return None, // tatweel
        'ٱ' | 'ٲ' | 'ٳ' | 'أ' | 'إ' | 'آ' => 'ا',
        'ى' | 'ی' | 'ې' | 'ۍ' | 'ے' | 'ۓ' | 'ئ' => 'ي',
        'ؤ' => 'و',
        // ھ is kept: after a consonant it marks an Urdu aspirate (کھ kh,
        // تھ th), which `parse` reads both ways; alone it is read as ه.
        'ة' | 'ۃ' | 'ە' | 'ہ' | 'ۀ' | 'ۂ' => 'ه',
        'ک' | 'ڪ' => 'ك',
        '٠'..='٩' => char::from(b'0' + (c as u32 - '٠' as u32) as u8),
        '۰'..='۹' => char::from(b'0' + (c as u32 - '۰' as u32) as u8),
        _ => c,
    })
}

/// True for letters of the Arabic script blocks.
pub fn is_arabic(c: char) -> bool {
    matches!(c as u32, 0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF)
}

/// Normalise a name into lower-case tokens, without reordering.
/// Returns the tokens and whether a comma was seen (with its token index).
pub(crate) fn tokens(name: &str) -> (Vec<String>, Vec<bool>, Option<usize>) {
    // Steps 1-3.
    let mut pre = String::with_capacity(name.len());
    for c in name.nfkc() {
        for lc in c.to_lowercase() {
            match digraph(lc) {
                Some(d) => pre.push_str(d),
                None => pre.push(lc),
            }
        }
    }
    // Step 4-6.
    let mut toks: Vec<String> = Vec::new();
    // Per token: the next one follows a single hyphen ("Mohammad-Ali").
    let mut hyphened: Vec<bool> = Vec::new();
    let mut cur = String::new();
    let mut comma_at: Option<usize> = None;
    let (mut seps, mut hyphens) = (0usize, 0usize);
    for c in pre.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        if is_apostrophe(c) {
            continue;
        }
        let c = match fold_arabic(c) {
            Some(c) => c,
            None => continue,
        };
        if c.is_alphanumeric() {
            if cur.is_empty() {
                if let Some(h) = hyphened.last_mut() {
                    *h = seps == 1 && hyphens == 1;
                }
            }
            cur.push(c);
        } else {
            if !cur.is_empty() {
                toks.push(std::mem::take(&mut cur));
                hyphened.push(false);
                (seps, hyphens) = (0, 0);
            }
            seps += 1;
            if matches!(c, '-' | '‐' | '‑' | '–') {
                hyphens += 1;
            }
            if c == ',' && comma_at.is_none() && !toks.is_empty() {
                comma_at = Some(toks.len());
            }
        }
    }
    if !cur.is_empty() {
        toks.push(cur);
        hyphened.push(false);
    }
    // NFD may leave decomposed Hangul etc.; recompose each token.
    let toks: Vec<String> = toks.into_iter().map(|t| t.nfc().collect()).collect();
    (toks, hyphened, comma_at)
}

/// The number of leading tokens written in capitals when the rest of the
/// name is not ("OUYAHIA Ahmed", "BEN ALI Zine"): lists write the surname
/// that way when they put it first without a comma. `None` when the
/// casing says nothing (all capitals, no capitals, or tokens that do not
/// line up with the normalised ones).
fn leading_capitals(name: &str, n_toks: usize) -> Option<usize> {
    let raw: Vec<String> = name
        .nfkc()
        .filter(|&c| !is_apostrophe(c))
        .collect::<String>()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if raw.len() != n_toks || raw.len() < 2 {
        return None;
    }
    let caps = |w: &str| w.chars().any(char::is_uppercase) && !w.chars().any(char::is_lowercase);
    let k = raw.iter().take_while(|w| caps(w)).count();
    let rest_cased = raw[k..].iter().any(|w| w.chars().any(char::is_lowercase));
    let long = raw[..k].iter().any(|w| w.chars().count() >= 3);
    (k > 0 && k < raw.len() && rest_cased && long).then_some(k)
}

/// Normalised tokens in reading order (surname-first forms reordered).
pub(crate) fn ordered_tokens(name: &str) -> Vec<String> {
    ordered_tokens_hyphened(name).0
}

/// `ordered_tokens`, and for each token whether the next one follows it
/// after a single hyphen ("Mohammad-Ali").
pub(crate) fn ordered_tokens_hyphened(name: &str) -> (Vec<String>, Vec<bool>) {
    let (mut toks, mut hyphened, comma) = tokens(name);
    let k = match comma {
        Some(k) => Some(k).filter(|&k| k > 0 && k < toks.len()),
        None => leading_capitals(name, toks.len()),
    };
    if let Some(k) = k {
        toks.rotate_left(k);
        hyphened.rotate_left(k);
        if let Some(last) = hyphened.last_mut() {
            *last = false;
        }
    }
    (toks, hyphened)
}

/// The documented normalisation: NFKC, case folding, diacritics removed,
/// Arabic letters folded, punctuation turned into single spaces,
/// "SURNAME, Given" and "SURNAME Given" (capitals, then not) reordered to
/// "given surname".
///
/// ```
/// assert_eq!(tansiq_match::normalize("BELKEZIZ, Abdallah"), "abdallah belkeziz");
/// assert_eq!(tansiq_match::normalize("عَبْدُ اللّٰه"), "عبد الله");
/// ```
pub fn normalize(name: &str) -> String {
    ordered_tokens(name).join(" ")
}

/// Script of a normalised token.
pub(crate) fn token_is_arabic(tok: &str) -> bool {
    tok.chars().any(is_arabic)
}
