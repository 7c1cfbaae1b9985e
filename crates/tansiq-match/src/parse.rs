//! Name structure: particles, articles, compounds, titles, initials.
//!
//! From normalised tokens we build *canonical tokens*:
//! - articles (al, el, ul, the sun-letter forms ad/ar/as/ash/at/az/an…, and
//!   Arabic ال as a separate word) are dropped;
//! - patronymic particles (ben, bin, ibn, bint, ould, ولد, بن, ابن, بنت) are
//!   dropped;
//! - abd/abdel/abdul/abdoul/عبد compounds are joined with the next name,
//!   whose article is dropped ("Abd al-Rahman", "Abderrahmane",
//!   "Abdul Rahman", "عبد الرحمن" all become abd+rahman);
//! - abu/abou/ابو/bou/بو are joined with the next name the same way;
//! - a token that may carry a glued article (Arabic ال…, Latin al…/el…, or a
//!   vowel followed by a doubled sun letter as in "Essebsi") gets two
//!   phonetic forms, with and without it;
//! - titles (sheikh, sayyid, hajj, …) are kept with a low weight;
//! - one-letter Latin tokens are initials.

use crate::normalize::token_is_arabic;
use crate::phonetic::{self, Sym};

/// Role of a canonical token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Name,
    Title,
    Initial,
}

/// A canonical token of a name.
#[derive(Debug, Clone)]
pub struct PTok {
    /// Canonical text ("abd+rahman", "belkeziz", "بلقزاز").
    pub text: String,
    pub kind: Kind,
    /// Phonetic forms; the first is the primary one.
    pub forms: Vec<Vec<Sym>>,
    /// `phonetic::mass` of each form.
    pub masses: Vec<f32>,
    /// `phonetic::indels` of each form: its symbols' insertion/deletion
    /// costs where they stand (the edit distance's first row and column,
    /// computed once per token instead of once per comparison).
    pub indels: Vec<Vec<f32>>,
    /// Taken off a similarity reached through each form: 0 for the usual
    /// readings, a little for readings of rarer conventions, so that they
    /// decide only when no usual reading matches as well.
    pub costs: Vec<f32>,
    /// The name carried an article (separate, or possibly glued).
    pub article: bool,
    /// The name followed a patronymic particle ("ben", "بن", "ould").
    pub particle: bool,
    /// The next token was written attached to this one: after a hyphen
    /// ("Mohammad-Ali"), or in the same word ("Samiullah" → sami, allah).
    pub joined_next: bool,
    /// Information weight of the token.
    pub weight: f32,
}

/// A parsed name.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub toks: Vec<PTok>,
}

const LATIN_ARTICLES: &[&str] = &[
    "al", "el", "ul", "il", "ol", "ad", "ed", "ud", "ar", "er", "ur", "as", "es", "us", "ash",
    "esh", "ush", "at", "et", "ut", "ath", "eth", "az", "ez", "uz", "an", "en", "un", "adh", "edh",
];

const PATRONYMIC: &[&str] = &[
    "ben", "bin", "ibn", "bint", "bent", "ould", "uld", "walad", "ibnu", "binti", "bn", "ibne",
    "بن", "ابن", "بنت", "ولد", "بين",
];

const ABD: &[&str] = &[
    "abd", "abdel", "abdal", "abdul", "abdoul", "abdol", "abdil", "abdur", "abdar", "abder",
    "abdus", "abdes", "abdas", "abdelal", "عبد",
];

const ABU: &[&str] = &[
    "abu", "abou", "abo", "aboo", "abul", "aboul", "abol", "abil", "bou", "bu", "ابو", "بو", "ابي",
    "ابا",
];

const TITLES: &[&str] = &[
    "sidi",
    "lalla",
    "moulay",
    "mulay",
    "moulaye",
    "سيدي",
    "لاله",
    "مولاي",
    "sheikh",
    "shaikh",
    "shaykh",
    "cheikh",
    "sheik",
    "shaik",
    "chaikh",
    "cheik",
    "syed",
    "sayed",
    "sayyed",
    "sayyid",
    "seyed",
    "seyyed",
    "sayid",
    "haji",
    "hajji",
    "hadj",
    "hadji",
    "hajj",
    "haj",
    "elhadj",
    "alhaj",
    "alhajj",
    "mullah",
    "mulla",
    "molla",
    "mollah",
    "maulana",
    "mawlana",
    "moulana",
    "sahibzada",
    "imam",
    "dr",
    "doctor",
    "mr",
    "mrs",
    "ms",
    "prof",
    "shahzada",
    "hazrat",
    "الشيخ",
    "شيخ",
    "سيد",
    "السيد",
    "الحاج",
    "حاج",
    "ملا",
    "مولانا",
    "الدكتور",
    "دكتور",
    "الامام",
    "امام",
    "حضرت",
    "صاحبزاده",
    "مسٹر",
    // Ottoman, Persian and South Asian honorifics.
    "bey",
    "bay",
    "beg",
    "pasha",
    "pacha",
    "effendi",
    "efendi",
    "بك",
    "بيك",
    "باشا",
    "افندي",
    "sardar",
    "سردار",
    // "Ch" abbreviates Chaudhry, also a family name (kept a name).
    "ch",
    "mian",
    "میاں",
    "مياں",
    "ميان",
    "begum",
    "بيگم",
    "mufti",
    "مفتي",
    "maulvi",
    "molvi",
    "مولوي",
    "hojatoleslam",
    "ayatollah",
    "sir",
    "dame",
    "lord",
    "dj",
    "ديجي",
];

fn strip_latin_article(rest: &str) -> Option<&str> {
    // rest begins with a vowel then l, or a vowel then a doubled consonant.
    let b = rest.as_bytes();
    if b.len() < 4 {
        return None;
    }
    let v = |c: u8| matches!(c, b'a' | b'e' | b'i' | b'o' | b'u');
    if v(b[0]) && b[1] == b'l' {
        // "oul" as in Abdoul + …
        return Some(&rest[2..]);
    }
    if b[0] == b'o' && b[1] == b'u' && b[2] == b'l' {
        return Some(&rest[3..]);
    }
    if v(b[0]) && b[1] == b[2] && b"tdrzsnl".contains(&b[1]) {
        return Some(&rest[2..]);
    }
    if v(b[0]) && b.len() >= 6 && &b[1..3] == b"sh" && &b[3..5] == b"sh" {
        return Some(&rest[3..]);
    }
    None
}

/// Split a glued Latin abd-compound into its core and whether an article
/// was glued between ("abdelkader" → ("kader", true)).
fn split_abd_latin(t: &str) -> Option<(String, bool)> {
    if !t.starts_with("abd") || t.len() < 6 {
        return None;
    }
    let rest = &t[3..];
    if let Some(core) = strip_latin_article(rest) {
        if core.len() >= 2 {
            return Some((core.to_string(), true));
        }
    }
    // "abdul" + core / "abdel" + core without the article pattern above.
    for p in [
        "ul", "el", "al", "ol", "il", "ur", "er", "ar", "us", "es", "as", "u", "ou",
    ] {
        if let Some(core) = rest.strip_prefix(p) {
            if core.len() >= 3 && rest.len() > p.len() + 2 {
                return Some((core.to_string(), p.len() == 2 && p != "ou"));
            }
        }
    }
    if rest.len() >= 3 {
        return Some((rest.to_string(), false));
    }
    None
}

/// Split a glued Latin abu-compound when an article follows
/// ("abolhassan" → abu + hassan); plain "aboubakr" stays whole.
fn split_abu_latin(t: &str) -> Option<String> {
    for p in ["aboul", "abul", "abol", "abil", "abal"] {
        if let Some(core) = t.strip_prefix(p) {
            if core.len() >= 3 {
                return Some(core.to_string());
            }
        }
    }
    None
}

fn strip_arabic_article(t: &str) -> Option<&str> {
    let core = t.strip_prefix("ال")?;
    if core.chars().count() >= 2 {
        Some(core)
    } else {
        None
    }
}

fn syms(tok: &str, arabic: bool) -> Vec<Sym> {
    if arabic {
        phonetic::arabic_syms(tok)
    } else {
        phonetic::latin_syms(tok)
    }
}

fn core_of(t: &str, arabic: bool) -> String {
    if arabic {
        strip_arabic_article(t).unwrap_or(t).to_string()
    } else if LATIN_ARTICLES.contains(&t) {
        t.to_string()
    } else if let Some(c) = strip_latin_article(t).filter(|_| t.starts_with(['a', 'e', 'u', 'o'])) {
        // "al-" glued or "errahman": keep whole if what is left is short.
        if c.len() >= 3 && (t.starts_with("al") || t.starts_with("el") || t.starts_with("ul")) {
            c.to_string()
        } else {
            t.to_string()
        }
    } else {
        t.to_string()
    }
}

fn token_weight(forms: &[Vec<Sym>], kind: Kind) -> f32 {
    let m = forms
        .first()
        .map(|f| {
            f.iter()
                .map(|&s| {
                    if phonetic::is_vowel(s) {
                        0.1
                    } else {
                        phonetic::indel_cost(s)
                    }
                })
                .sum::<f32>()
        })
        .unwrap_or(0.0);
    let w = m.clamp(0.5, 6.0);
    match kind {
        Kind::Name => w,
        Kind::Title => 0.5,
        Kind::Initial => 0.5,
    }
}

/// A phonetic form and its cost (`PTok::costs`).
type Form = (Vec<Sym>, f32);

fn make_tok(text: String, kind: Kind, forms: Vec<Form>) -> PTok {
    let mut kept: Vec<Vec<Sym>> = Vec::with_capacity(forms.len());
    let mut costs = Vec::with_capacity(forms.len());
    for (mut f, c) in forms {
        // The first occurrence of a form (the cheapest reading) is kept.
        if f.is_empty() || kept.contains(&f) {
            continue;
        }
        f.shrink_to_fit();
        kept.push(f);
        costs.push(c);
    }
    let weight = token_weight(&kept, kind);
    let masses = kept.iter().map(|f| phonetic::mass(f)).collect();
    let indels = kept.iter().map(|f| phonetic::indels(f)).collect();
    PTok {
        text,
        kind,
        masses,
        indels,
        forms: kept,
        costs,
        weight,
        article: false,
        particle: false,
        joined_next: false,
    }
}

/// An Arabic token with a medial "ال" between two parts of at least two
/// and three letters, without it ("قمرالملوك" → "قمرملوك").
fn without_medial_article(t: &str) -> Option<String> {
    let c: Vec<char> = t.chars().collect();
    (2..c.len().saturating_sub(4))
        .find(|&k| c[k] == 'ا' && c[k + 1] == 'ل')
        .map(|k| c[..k].iter().chain(&c[k + 2..]).collect())
}

/// One spelling shared by the spellings of a title (or a name that is
/// also a title, Chaudhry) that the phonetic forms do not bring together.
fn title_spelling(t: &str) -> Option<&'static str> {
    Some(match t {
        "bey" | "bay" | "beg" | "بك" | "بيك" => "bey",
        "chaudhry" | "chaudhary" | "chaudhri" | "choudhry" | "choudhury" | "chowdhury" | "ch"
        | "چودھري" | "چودهري" | "چوهدري" => "chaudhry",
        "dr" | "doctor" | "الدكتور" | "دكتور" => "doctor",
        "mr" | "مسٹر" => "mister",
        "effendi" | "efendi" | "افندي" => "effendi",
        _ => return None,
    })
}

/// Given names and titles that Persian and Urdu glue to the next name.
const GLUED_PREFIXES: &[(&str, f32)] = &[
    ("مسٹر", 0.0),
    ("محمد", GLUED_NAME_COST),
    ("احمد", GLUED_NAME_COST),
    ("علي", GLUED_NAME_COST),
    ("امير", GLUED_NAME_COST),
    ("مير", GLUED_NAME_COST),
    ("سيد", GLUED_NAME_COST),
];

/// A name left out by the other spelling costs this much ("Reza" /
/// "محمدرضا", "Latif" / "Abdul Latif"); a title nothing.
const GLUED_NAME_COST: f32 = 0.1;

/// Endings of Persian family names, which follow a given name without
/// making a second name ("محمدزاده", "عليپور").
const NAME_SUFFIXES: &[&str] = &[
    "زاده", "پور", "نيا", "فر", "زهي", "خاني", "لو", "وند", "كيا", "راد", "نژاد", "يان",
];

/// The name after a glued given name or title, and the cost of reading
/// it alone; at least three letters, and not a family-name ending.
fn glued_prefix(t: &str) -> Option<(&str, f32)> {
    GLUED_PREFIXES.iter().find_map(|&(p, cost)| {
        let rest = t.strip_prefix(p)?;
        let ok =
            rest.chars().count() >= 3 && !rest.starts_with('ي') && !NAME_SUFFIXES.contains(&rest);
        ok.then_some((rest, cost))
    })
}

/// The token with its Urdu aspirates (a consonant and ھ) read as one
/// consonant: کھ → خ, گھ → غ, and the ھ of the others dropped.
fn urdu_aspirates(t: &str) -> Option<String> {
    if !t.contains('ھ') {
        return None;
    }
    let mut out = String::with_capacity(t.len());
    let mut prev: Option<char> = None;
    for c in t.chars() {
        if c == 'ھ' {
            match prev {
                Some('ك') => {
                    out.pop();
                    out.push('خ');
                }
                Some('گ') => {
                    out.pop();
                    out.push('غ');
                }
                Some(p) if !matches!(p, 'ا' | 'و' | 'ي') => {}
                _ => out.push('ه'),
            }
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    (out != t).then_some(out)
}

/// When a Latin token ends with the next name's article glued ("-ul", or
/// "-u" + a sun letter that begins the next name: "Mahmudul Islam",
/// "Habibur Rahman", "Shamsun Nahar"), the length of the token without it.
fn glued_next_article(t: &str, next: &str) -> Option<usize> {
    let b = t.as_bytes();
    if b.len() < 5 || token_is_arabic(next) {
        return None;
    }
    if t.ends_with("ul") {
        return Some(b.len() - 2);
    }
    for sun in ["sh", "th", "dh", "t", "d", "r", "z", "s", "n"] {
        if let Some(head) = t.strip_suffix(sun) {
            if head.len() >= 3 && head.ends_with('u') && next.starts_with(sun) {
                return Some(head.len() - 1);
            }
        }
    }
    None
}

/// Forms of an ordinary name token: itself, and without a possible glued
/// article or patronymic particle; whether it may carry a glued article.
fn name_forms(t: &str, arabic: bool, next: Option<&str>) -> (Vec<Form>, bool) {
    let mut forms = vec![(syms(t, arabic), 0.0)];
    let mut glued_article = false;
    // Titles whose spellings differ in the two scripts ("Bey" / "بك",
    // "Ch" / "چودھري") also read as one Latin spelling.
    if let Some(c) = title_spelling(t) {
        forms.push((phonetic::latin_syms(c), 0.0));
    }
    if !arabic && phonetic::has_medial_digraph(t) {
        forms.push((phonetic::latin_syms_with(t, true), 0.0));
    }
    if arabic {
        if let Some(core) = strip_arabic_article(t) {
            forms.insert(0, (syms(core, true), 0.0));
            glued_article = true;
        }
        // A compound written glued around its article ("قمرالملوك",
        // "ركنالدين"): Latin spellings drop or assimilate the article
        // ("Qamar ol-Molouk", "Ruknuddin").
        if let Some(f) = without_medial_article(t) {
            forms.push((syms(&f, true), 0.0));
        }
        // Urdu aspirates (کھ, گھ, تھ, دھ…), which Latin writes kh, gh,
        // th, dh: read as خ and غ, or as the plain consonant.
        if let Some(f) = urdu_aspirates(t) {
            forms.push((syms(&f, true), 0.0));
        }
        // A given name or title glued before the name ("محمدرضا",
        // "ميرحسين", "سيدعلي", Urdu "مسٹر"): Latin spellings often give
        // the second name alone ("Reza", "Hossein").
        if let Some((rest, cost)) = glued_prefix(t) {
            forms.push((syms(rest, true), cost));
        }
        if let Some(rest) = t.strip_prefix("بن").filter(|_| glued_particle(t)) {
            forms.push((syms(strip_arabic_article(rest).unwrap_or(rest), true), 0.0));
        }
    } else {
        if t.len() >= 5 && (t.starts_with("al") || t.starts_with("el") || t.starts_with("ul")) {
            forms.push((syms(&t[2..], false), 0.0));
            glued_article = true;
        } else if let Some(core) = strip_latin_article(t) {
            if t.len() >= 6 && core.len() >= 3 && !core.starts_with('l') {
                forms.push((syms(core, false), 0.0));
                glued_article = true;
            }
        }
        // Spellings of other European conventions (German, Polish, Dutch,
        // Czech; Italian, Turkish, Kurdish): one alternate reading each.
        for alt in [central_european(t), soft_consonants(t)]
            .into_iter()
            .flatten()
        {
            forms.push((syms(&alt, false), OTHER_CONVENTION_COST));
        }
        // "Amr", "Amrou": عمرو (ʿAmr), whose silent و Arabic writes to tell
        // it from عمر (ʿUmar); a vowel after the m ("Amer", "Ammar",
        // "Omar") is another name.
        if matches!(t, "amr" | "amro" | "amrou" | "amru") {
            forms.push((phonetic::arabic_syms("عمرو"), 0.0));
        }
        // A long a written "aa" at the start of a South Asian spelling is
        // usually عا ("Aamir" عامر, "Aasim" عاصم, "Aatif" عاطف).
        if t.len() >= 4
            && t.starts_with("aa")
            && !phonetic::is_latin_vowel(char::from(t.as_bytes()[2]))
        {
            let mut f = vec![phonetic::AIN];
            f.extend(syms(&t[1..], false));
            forms.push((f, 0.0));
        }
        // "Sfaxi": x for k+s.
        if t.contains('x') {
            forms.push((syms(&t.replace('x', "ks"), false), 0.0));
        }
        // "Bensaid", "Binladen": a glued patronymic particle.
        if glued_particle(t) {
            forms.push((syms(&t[3..], false), 0.0));
        }
        // "Mahmudul Islam": the next name's article glued to this one.
        // "Habibur Rahman", "Kamrun Nahar": the same with a sun letter.
        if let Some(k) = next.and_then(|nx| glued_next_article(t, nx)) {
            forms.push((syms(&t[..k], false), 0.0));
        }
    }
    (forms, glued_article)
}

/// The cost of a reading by a rarer convention (`central_european`,
/// `soft_consonants`).
const OTHER_CONVENTION_COST: f32 = 0.04;

/// The token read with German, Polish, Dutch and Czech conventions, when
/// they read it differently from English and French: "sch" and "sz" are ش
/// ("Schehade", "Szaban"), "dsch" ج ("Dschamal"), "tsch" and "cz" چ, "ch"
/// خ ("Chaled", "Chosrou"), and "j" the consonant y ("Hosejn", "Darjusz").
fn central_european(t: &str) -> Option<String> {
    let c: Vec<char> = t.chars().collect();
    let n = c.len();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let vowel = |x: char| matches!(x, 'a' | 'e' | 'i' | 'o' | 'u');
    // English and French write j for ج too ("Jamal", "Iraj"): j reads y
    // only in a diphthong ("Hosejn", "Pejman"), or in a token that shows
    // these conventions elsewhere ("Darjusz").
    let marked = ["sch", "sz", "cz"].iter().any(|m| t.contains(m));
    let y_at = |i: usize| {
        let (p, nx) = (at(i.wrapping_sub(1)), at(i + 1));
        p != 'd' && (marked || (vowel(p) && !vowel(nx) && nx != 'j' && nx != '\0'))
    };
    let mut out = String::with_capacity(n + 2);
    let mut i = 0;
    while i < n {
        let rest: String = c[i..n.min(i + 4)].iter().collect();
        let (rep, adv) = if rest.starts_with("dsch") {
            ("dj", 4)
        } else if rest.starts_with("tsch") {
            ("tch", 4)
        } else if rest.starts_with("sch") {
            ("sh", 3)
        } else if rest.starts_with("sz") {
            ("sh", 2)
        } else if rest.starts_with("cz") {
            ("tch", 2)
        } else if rest.starts_with("ch") {
            ("kh", 2)
        } else if c[i] == 'j' && y_at(i) {
            ("y", 1)
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        };
        out.push_str(rep);
        i += adv;
    }
    (out != t).then_some(out)
}

/// The token read with a soft g and c, as in Italian, Turkish and
/// Kurdish spellings and English and French before e and i: g before e,
/// i or y is ج ("George", "Gerges"; "ge" before a vowel is one sound,
/// "Georges"), and c not in "ch" or "ck" is ج ("Cemal", "Ciwan").
fn soft_consonants(t: &str) -> Option<String> {
    let c: Vec<char> = t.chars().collect();
    let n = c.len();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let vowel = phonetic::is_latin_vowel;
    let mut out = String::with_capacity(n + 2);
    let mut i = 0;
    while i < n {
        match c[i] {
            'g' if matches!(at(i + 1), 'e' | 'i' | 'y') && at(i.wrapping_sub(1)) != 'n' => {
                out.push('j');
                // "geo", "gea": the e only softens the g.
                if at(i + 1) == 'e' && vowel(at(i + 2)) {
                    i += 1;
                }
            }
            'c' if !matches!(at(i + 1), 'h' | 'k' | 'c') && at(i.wrapping_sub(1)) != 's' => {
                out.push('j')
            }
            x => out.push(x),
        }
        i += 1;
    }
    (out != t).then_some(out)
}

/// The Latin letter whose English name a token spells in Arabic script
/// (ايم "em", جي "gee", كي "kay"), for initials. Names of letters that are
/// also words or particles (ال, ان, او, اف) are left out.
fn arabic_letter_name(t: &str) -> Option<&'static str> {
    Some(match t {
        "اي" => "a",
        "بي" => "b",
        "سي" => "c",
        "دي" => "d",
        "جي" => "g",
        "اتش" | "ايچ" | "ايتش" => "h",
        "جاي" => "j",
        "كي" => "k",
        "ايم" => "m",
        "پي" => "p",
        "كيو" => "q",
        "ار" => "r",
        "ايس" => "s",
        "تي" | "ٹي" => "t",
        "يو" => "u",
        "وي" => "v",
        "دبليو" => "w",
        "اكس" => "x",
        "زد" => "z",
        _ => return None,
    })
}

/// Latin spellings of a final "Allah" (glued or apart).
const ALLAH_LATIN: &[&str] = &[
    "allah", "ullah", "ollah", "illah", "ellah", "alla", "ulla", "olla", "ulah", "olah",
];

/// `Some(None)` for the word "Allah" itself (الله, allah, ullah, …),
/// `Some(Some(head))` for a name with "Allah" glued at its end, the head
/// keeping at least two Arabic or three Latin letters.
fn split_allah(t: &str, arabic: bool) -> Option<Option<&str>> {
    if arabic {
        if t == "الله" {
            return Some(None);
        }
        let head = t.strip_suffix("الله")?;
        (head.chars().count() >= 2).then_some(Some(head))
    } else {
        if ["allah", "ullah", "ollah", "ulla", "olla"].contains(&t) {
            return Some(None);
        }
        ALLAH_LATIN
            .iter()
            .find_map(|suf| t.strip_suffix(suf).filter(|head| head.len() >= 3).map(Some))
    }
}

/// The token "allah", the same in both scripts.
fn allah_tok() -> PTok {
    make_tok(
        "allah".to_string(),
        Kind::Name,
        vec![(phonetic::latin_syms("allah"), 0.0)],
    )
}

/// Build an abd/abu compound token from its head symbols and a core word;
/// `article`: the core had its article ("عبد الرحمن", "Abdul Rahman"), which
/// is part of the token's identity like any article ("عبد رحمن" is
/// another spelling).
fn compound(head: &str, head_syms: Vec<Sym>, core: &str, arabic: bool, article: bool) -> PTok {
    let mut f = head_syms;
    let core_syms = syms(core, arabic);
    f.extend(&core_syms);
    f.dedup();
    let text = if article {
        format!("{head}+al+{core}")
    } else {
        format!("{head}+{core}")
    };
    // South Asian and Persian spellings sometimes leave "Abdul" out
    // ("Abdul Latif Ahmadi" / "لطيف احمدي"): the core alone, at a cost.
    let mut forms = vec![(f, 0.0)];
    // Not Abdullah: "Allah" alone is not a name.
    if head == "abd" && !matches!(core, "له" | "لله" | "lah" | "la" | "llah" | "lla") {
        forms.push((core_syms, GLUED_NAME_COST));
    }
    let mut tok = make_tok(text, Kind::Name, forms);
    tok.article = article;
    tok
}

/// Latin abd/abu heads that carry the next name's article ("Abdul",
/// "Abder-", "Abul").
const HEADS_WITH_ARTICLE: &[&str] = &[
    "abdel", "abdal", "abdul", "abdoul", "abdol", "abdil", "abdur", "abdar", "abder", "abdus",
    "abdes", "abdas", "abdelal", "abul", "aboul", "abol", "abil",
];

fn abd_syms() -> Vec<Sym> {
    vec![phonetic::A, phonetic::B, phonetic::D]
}

fn abu_syms(t: &str, arabic: bool) -> Vec<Sym> {
    let _ = arabic;
    if t.starts_with('b') || t.starts_with('ب') {
        vec![phonetic::B, phonetic::U]
    } else {
        vec![phonetic::A, phonetic::B, phonetic::U]
    }
}

/// Parse a name into canonical tokens.
pub fn parse(name: &str) -> Parsed {
    let (raw, hyphened) = crate::normalize::ordered_tokens_hyphened(name);
    parse_tokens(&raw, &hyphened)
}

/// `hyphened[k]`: raw token k + 1 follows raw token k after a hyphen.
pub(crate) fn parse_tokens(raw: &[String], hyphened: &[bool]) -> Parsed {
    let mut toks = Vec::with_capacity(raw.len());
    let n = raw.len();
    let mut i = 0;
    let mut article_next = false;
    // The index of the token that follows a patronymic particle.
    let mut particle_at: Option<usize> = None;
    // Tokens made so far whose `joined_next` is set.
    let mut joined_upto = 0;
    while i < n {
        mark_joined(&mut toks, &mut joined_upto, hyphened, i);
        mark_particle(&mut toks, &mut particle_at);
        let t = raw[i].as_str();
        let arabic = token_is_arabic(t);
        let has_next = i + 1 < n;
        let next = raw.get(i + 1).map(String::as_str);
        // Standalone article or patronymic particle before another word.
        if has_next && (LATIN_ARTICLES.contains(&t) || t == "ال" || PATRONYMIC.contains(&t)) {
            article_next = !PATRONYMIC.contains(&t);
            if PATRONYMIC.contains(&t) {
                particle_at = Some(toks.len());
            }
            i += 1;
            continue;
        }
        // abd / abu heads joined with the following word.
        let is_abd = ABD.contains(&t);
        let is_abu = ABU.contains(&t);
        if has_next && (is_abd || is_abu) {
            let mut j = i + 1;
            if j + 1 < n && (LATIN_ARTICLES.contains(&raw[j].as_str()) || raw[j] == "ال") {
                j += 1;
            }
            let next = raw[j].as_str();
            let next_arabic = token_is_arabic(next);
            let core = core_of(next, next_arabic);
            let head_syms = if is_abd {
                abd_syms()
            } else {
                abu_syms(t, arabic)
            };
            let head = if is_abd { "abd" } else { "abu" };
            let article = j > i + 1 || core != next || HEADS_WITH_ARTICLE.contains(&t);
            toks.push(compound(head, head_syms, &core, next_arabic, article));
            i = j + 1;
            continue;
        }
        if TITLES.contains(&t) && n > 1 {
            let (forms, glued_article) = name_forms(t, arabic, next);
            let text = if article_next && !glued_article {
                format!("al {t}")
            } else {
                t.to_string()
            };
            let mut tok = make_tok(text, Kind::Title, forms);
            tok.article = article_next || glued_article;
            article_next = false;
            toks.push(tok);
            i += 1;
            continue;
        }
        // Glued compounds.
        if arabic {
            if let Some(rest) = t.strip_prefix("عبد") {
                if rest.chars().count() >= 2 {
                    let stripped = strip_arabic_article(rest);
                    let core = stripped.unwrap_or(rest);
                    toks.push(compound("abd", abd_syms(), core, true, stripped.is_some()));
                    i += 1;
                    continue;
                }
            }
            if let Some(rest) = t.strip_prefix("ابو") {
                if let Some(core) = strip_arabic_article(rest) {
                    toks.push(compound("abu", abu_syms(t, true), core, true, true));
                    i += 1;
                    continue;
                }
            }
        } else {
            if let Some((core, article)) = split_abd_latin(t) {
                toks.push(compound("abd", abd_syms(), &core, false, article));
                i += 1;
                continue;
            }
            if let Some(core) = split_abu_latin(t) {
                toks.push(compound("abu", abu_syms(t, false), &core, false, true));
                i += 1;
                continue;
            }
        }
        // Theophoric names ending in "Allah" ("Ubaidullah", "عبيدالله",
        // "Nasr Allah"): the name and "allah" as two tokens, whether
        // written glued or apart, in either script.
        if let Some(head) = split_allah(t, arabic) {
            if let Some(head) = head {
                let (forms, glued_article) = name_forms(head, arabic, None);
                let text = if article_next && !glued_article {
                    format!("al {head}")
                } else {
                    head.to_string()
                };
                let mut tok = make_tok(text, Kind::Name, forms);
                tok.article = article_next || glued_article;
                if !tok.forms.is_empty() {
                    toks.push(tok);
                }
            }
            article_next = false;
            toks.push(allah_tok());
            i += 1;
            continue;
        }
        // Initials spelled out in Arabic script ("جي ايم سيد", G. M. Syed).
        // A repeated one is a word ("بي بي", Bibi).
        let repeated = next == Some(t) || (i > 0 && raw[i - 1] == t);
        if let Some(letter) = arabic_letter_name(t).filter(|_| n > 1 && !repeated) {
            let mut tok = make_tok(
                t.to_string(),
                Kind::Initial,
                vec![(phonetic::latin_syms(letter), 0.0)],
            );
            tok.article = std::mem::take(&mut article_next);
            toks.push(tok);
            i += 1;
            continue;
        }
        let is_initial = !arabic && t.chars().count() == 1 && t.chars().all(|c| c.is_alphabetic());
        let kind = if is_initial {
            Kind::Initial
        } else {
            Kind::Name
        };
        let (forms, glued_article) = name_forms(t, arabic, next);
        // The text is the interning and cache key: it records a separate
        // article ("al hammadi"), which changes the article agreement.
        let text = if article_next && !glued_article {
            format!("al {t}")
        } else {
            t.to_string()
        };
        let mut tok = make_tok(text, kind, forms);
        tok.article = article_next || glued_article;
        // "Benslama", "بنعلي": a particle glued (the form without it is
        // one of the token's forms).
        tok.particle = glued_particle(t);
        article_next = !arabic && next.is_some_and(|nx| glued_next_article(t, nx).is_some());
        if !tok.forms.is_empty() {
            toks.push(tok);
        }
        i += 1;
    }
    mark_joined(&mut toks, &mut joined_upto, hyphened, n);
    mark_particle(&mut toks, &mut particle_at);
    Parsed { toks }
}

/// Sets `joined_next` on the tokens made from the raw tokens before
/// `next_raw`: those made from one raw token are joined to each other, the
/// last of them to the next token when a hyphen separated the two.
fn mark_joined(toks: &mut [PTok], upto: &mut usize, hyphened: &[bool], next_raw: usize) {
    let end = toks.len();
    if end == *upto {
        return;
    }
    for t in &mut toks[*upto..end - 1] {
        t.joined_next = true;
    }
    let last_raw = next_raw.saturating_sub(1);
    toks[end - 1].joined_next = hyphened.get(last_raw).copied().unwrap_or(false);
    *upto = end;
}

/// A token that may begin with a glued patronymic particle ("Bensaid",
/// "Binladen", "بنعلي").
fn glued_particle(t: &str) -> bool {
    match t.strip_prefix("بن") {
        Some(rest) => rest.chars().count() >= 3,
        None => t.len() >= 6 && (t.starts_with("ben") || t.starts_with("bin")),
    }
}

/// Marks the token made after a patronymic particle, once it is made: the
/// particle itself is dropped, but "Ben Salem" is nearer "بن سالم" than
/// "سالم" (and the other way round), which otherwise tie.
fn mark_particle(toks: &mut [PTok], at: &mut Option<usize>) {
    if let Some(t) = at.and_then(|k| toks.get_mut(k)) {
        t.particle = true;
        // The text is the interning key.
        t.text = format!("bin {}", t.text);
        *at = None;
    }
}

/// A blocking-only token: two adjacent tokens written glued
/// ("mohammad" + "hossein" → "mohammad_hossein"), so that a name written
/// glued on one side meets the split form on the other.
pub fn glue(a: &PTok, b: &PTok) -> Option<PTok> {
    // Titles glue too ("Haj-Hosseini" / "حاجحسيني"); initials never.
    if a.kind == Kind::Initial || b.kind == Kind::Initial {
        return None;
    }
    let fa = a.forms.first()?;
    let mut forms = Vec::new();
    for fb in b.forms.iter().take(2) {
        let mut f = fa.clone();
        f.extend_from_slice(fb);
        forms.push(f);
    }
    let masses = forms.iter().map(|f| phonetic::mass(f)).collect();
    let indels = forms.iter().map(|f| phonetic::indels(f)).collect();
    Some(PTok {
        indels,
        text: format!("{}_{}", a.text, b.text),
        kind: Kind::Name,
        article: a.article,
        particle: a.particle,
        joined_next: false,
        costs: vec![0.0; forms.len()],
        masses,
        forms,
        weight: a.weight + b.weight,
    })
}
