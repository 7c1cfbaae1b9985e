//! The shared phonetic alphabet of both scripts, the class-aware edit
//! distance over it, and the coarse consonant skeleton used for blocking.
//!
//! A token (already normalised) is transcribed into a short sequence of
//! symbols. Latin spellings go through grapheme rules (French and English
//! conventions); Arabic letters map one to one, with the letters that are
//! ambiguous in Arabic writing (و, ي, final ه, word-initial ا) given their
//! own symbols that match either reading at no cost.

/// A phonetic symbol. Kept as a `u8` so the cost table is a flat array.
pub type Sym = u8;

// Vowels.
pub const A: Sym = 0;
pub const E: Sym = 1;
pub const I: Sym = 2;
pub const O: Sym = 3;
pub const U: Sym = 4;
// Arabic letters whose reading is ambiguous in unvocalised writing.
/// و: consonant w/v or long vowel u/o.
pub const WU: Sym = 5;
/// ي: consonant y or long vowel i/e.
pub const YI: Sym = 6;
/// Word-final ه or ة: a consonant h or a final vowel a/e.
pub const HA: Sym = 7;
/// Word-initial ا: a vowel of any quality (often a glottal onset).
pub const AV: Sym = 8;
/// ع: usually unwritten in Latin, or written as an apostrophe or a vowel.
pub const AIN: Sym = 9;
/// ء and the Latin apostrophe.
pub const HAMZA: Sym = 10;
// Consonants.
pub const B: Sym = 11;
pub const P: Sym = 12;
pub const F: Sym = 13;
pub const V: Sym = 14;
pub const M: Sym = 15;
pub const N: Sym = 16;
pub const L: Sym = 17;
pub const R: Sym = 18;
pub const T: Sym = 19;
/// ث, Latin "th".
pub const TH: Sym = 20;
pub const D: Sym = 21;
/// ذ, Latin "dh".
pub const DH: Sym = 22;
/// ض (d in Arabic, z in Persian and Urdu).
pub const DAD: Sym = 23;
/// ظ (z, dh, th).
pub const ZAH: Sym = 24;
pub const S: Sym = 25;
pub const Z: Sym = 26;
/// ش, Latin "sh", "sch", French "ch".
pub const SH: Sym = 27;
/// چ, Latin "tch"; English "ch" is between SH and CH and maps here.
pub const CH: Sym = 28;
/// ج, Latin "j", "dj".
pub const J: Sym = 29;
/// ژ, Latin "zh".
pub const ZH: Sym = 30;
pub const K: Sym = 31;
/// ق, Latin "q".
pub const Q: Sym = 32;
pub const G: Sym = 33;
/// غ, Latin "gh".
pub const GH: Sym = 34;
/// خ, Latin "kh", "x".
pub const KH: Sym = 35;
pub const H: Sym = 36;
pub const W: Sym = 37;
pub const Y: Sym = 38;

/// Latin long vowels ("aa", "ee"/"ii", "ou"/"oo"/"uu", final i/y, final
/// u/o): usually an Arabic letter (ا, ي, و) on the other side.
pub const AA: Sym = 39;
pub const II: Sym = 40;
pub const UU: Sym = 41;

/// Word-final ي: also the folded ى (alif maqsura), read a ("يحيى" Yahya,
/// "موسى" Moussa) as often as i (the nisba "-i").
pub const YA: Sym = 42;

/// Medial ا: a written long a. Latin writes it as a vowel, so dropping it
/// costs more than dropping a Latin short vowel, which Arabic leaves
/// unwritten.
pub const AL: Sym = 43;

/// The unwritten i of an Arabic active participle (fāʿil: ناصر Nāṣir,
/// حامد Ḥāmid, فاطمه Fāṭima): implied between the last two consonants of a
/// C ا C C word, which Latin spellings write (Naser, Hamed, Fatima) —
/// unlike a word without the ا (نصر Nasr, حمد Hamd).
pub const IK: Sym = 44;

pub const NSYM: usize = 45;

/// Printable name of each symbol (for explanations and tests).
pub const SYM_NAMES: [&str; NSYM] = [
    "a", "e", "i", "o", "u", "W/u", "Y/i", "H/a", "A", "'", "'", "b", "p", "f", "v", "m", "n", "l",
    "r", "t", "th", "d", "dh", "D", "Z", "s", "z", "sh", "ch", "j", "zh", "k", "q", "g", "gh",
    "kh", "h", "w", "y", "aa", "ii", "uu", "Y/i/a", "ā", "(i)",
];

pub fn is_vowel(s: Sym) -> bool {
    s <= U || s == AV || s == AA || s == II || s == UU || s == AL || s == IK
}

/// Deletion cost of a short vowel (written in Latin, not in Arabic).
pub const SHORT_VOWEL_INDEL: f32 = 0.08;
/// Deletion cost of a medial ا (a long a, which Latin writes).
pub const LONG_A_INDEL: f32 = 0.2;

/// Cost of inserting or deleting a symbol. Vowels are nearly free (Arabic
/// does not write short vowels), the weak letters cheap, consonants 1.
pub fn indel_cost(s: Sym) -> f32 {
    match s {
        A | E | I | O | U => SHORT_VOWEL_INDEL,
        AL => LONG_A_INDEL,
        IK => 0.12,
        AV => 0.1,
        HAMZA => 0.1,
        AIN => 0.15,
        HA => 0.2,
        WU | YI | YA => 0.35,
        AA | II | UU => 0.35,
        H => 0.5,
        W | Y => 0.5,
        _ => 1.0,
    }
}

struct CostTable {
    sub: [[f32; NSYM]; NSYM],
    indel: [f32; NSYM],
}

fn build_costs() -> CostTable {
    let mut sub = [[1.0f32; NSYM]; NSYM];
    for (i, row) in sub.iter_mut().enumerate() {
        row[i] = 0.0;
    }
    let mut set = |a: Sym, b: Sym, c: f32| {
        sub[a as usize][b as usize] = c;
        sub[b as usize][a as usize] = c;
    };
    // Vowel qualities are unstable across transcriptions.
    let vowels = [A, E, I, O, U];
    for &a in &vowels {
        for &b in &vowels {
            if a != b {
                set(a, b, 0.25);
            }
        }
        set(a, AV, 0.02);
        set(a, AIN, 0.1);
        set(a, HAMZA, 0.08);
        set(a, HA, 0.1);
    }
    for &l in &[AA, II, UU] {
        for &v in &vowels {
            set(l, v, 0.25);
        }
        set(l, AV, 0.1);
        set(l, AIN, 0.15);
        set(l, HAMZA, 0.15);
        set(l, HA, 0.15);
        set(l, WU, 0.3);
        set(l, YI, 0.3);
    }
    set(AA, A, 0.05);
    // "aa" often marks an ain: Saad سعد, Alaa علاء, Kanaan كنعان.
    set(AA, AIN, 0.05);
    set(AA, E, 0.2);
    set(AA, II, 0.3);
    set(AA, UU, 0.3);
    set(II, UU, 0.3);
    set(II, I, 0.05);
    set(II, E, 0.1);
    set(II, YI, 0.0);
    set(II, Y, 0.1);
    set(UU, U, 0.05);
    set(UU, O, 0.05);
    set(UU, WU, 0.0);
    set(UU, W, 0.1);
    set(A, E, 0.1);
    set(E, I, 0.1);
    set(O, U, 0.05);
    set(A, O, 0.2);
    // Ambiguous Arabic letters.
    set(WU, W, 0.0);
    set(WU, U, 0.0);
    set(WU, O, 0.03);
    set(WU, V, 0.05);
    set(WU, F, 0.6);
    set(WU, A, 0.3);
    set(WU, E, 0.3);
    set(WU, I, 0.3);
    set(YI, Y, 0.0);
    set(YI, I, 0.0);
    set(YI, E, 0.15);
    set(YI, A, 0.2);
    set(YI, O, 0.3);
    set(YI, U, 0.3);
    set(YI, J, 0.4);

    set(HA, H, 0.0);
    set(HA, A, 0.03);
    set(HA, E, 0.03);
    set(HA, I, 0.15);
    set(HA, O, 0.15);
    set(HA, U, 0.15);
    // ة is read t in a construct and in Persian, Urdu and Turkish names
    // ("Najat" / "نجاة", "Izzat"), and the data folds it to ه.
    set(HA, T, 0.3);
    set(AV, AIN, 0.1);
    set(AV, HAMZA, 0.05);
    set(AV, WU, 0.3);
    set(AV, YI, 0.2);
    set(AIN, HAMZA, 0.05);
    set(AIN, GH, 0.5);
    set(AIN, H, 0.5);
    set(AIN, WU, 0.35);
    set(AIN, YI, 0.35);
    set(W, U, 0.1);
    set(W, O, 0.15);
    set(W, V, 0.1);
    set(Y, I, 0.1);
    set(Y, E, 0.15);
    set(Y, J, 0.4);
    set(W, AIN, 0.4);
    // Labials.
    set(B, P, 0.1);
    set(F, V, 0.1);
    set(B, V, 0.35);
    set(F, P, 0.3);
    set(B, F, 0.6);
    set(V, W, 0.1);
    // Dentals and their fricatives.
    set(T, TH, 0.15);
    set(S, TH, 0.15);
    set(D, DH, 0.15);
    set(Z, DH, 0.15);
    set(D, DAD, 0.1);
    set(Z, DAD, 0.15);
    set(DH, DAD, 0.1);
    set(Z, ZAH, 0.1);
    set(DH, ZAH, 0.1);
    set(D, ZAH, 0.3);
    set(TH, ZAH, 0.2);
    set(TH, DH, 0.2);
    set(T, D, 0.45);
    set(S, Z, 0.3);
    set(Z, ZH, 0.2);
    set(S, SH, 0.45);
    // Palatals.
    set(J, ZH, 0.1);
    set(J, CH, 0.2);
    set(SH, CH, 0.05);
    set(ZH, SH, 0.3);
    set(J, G, 0.2);
    set(J, Z, 0.5);
    // Velars and uvulars.
    set(K, Q, 0.1);
    set(Q, G, 0.2);
    set(Q, GH, 0.15);
    set(G, GH, 0.1);
    set(K, G, 0.3);
    set(K, GH, 0.35);
    set(KH, K, 0.3);
    set(KH, H, 0.3);
    set(KH, Q, 0.4);
    set(KH, GH, 0.4);
    set(KH, CH, 0.3);
    set(KH, SH, 0.5);
    set(CH, K, 0.4);
    set(GH, R, 0.5);
    // Sonorants.
    set(L, R, 0.7);
    set(M, N, 0.6);
    set(H, HAMZA, 0.4);
    // Final ي / ى: like ي, and close to a final a.
    let yi_row = sub[YI as usize];
    for (x, &c) in yi_row.iter().enumerate() {
        let c = if x == YA as usize { 0.0 } else { c };
        sub[YA as usize][x] = c;
        sub[x][YA as usize] = c;
    }
    for (x, c) in [(YI, 0.0f32), (A, 0.12), (AA, 0.3), (E, 0.12), (HA, 0.1)] {
        sub[YA as usize][x as usize] = c;
        sub[x as usize][YA as usize] = c;
    }
    // A medial ا is read like a Latin a.
    let a_row = sub[A as usize];
    for (x, &c) in a_row.iter().enumerate() {
        sub[AL as usize][x] = c;
        sub[x][AL as usize] = c;
    }
    sub[AL as usize][AL as usize] = 0.0;
    for x in [A, AA] {
        sub[AL as usize][x as usize] = 0.0;
        sub[x as usize][AL as usize] = 0.0;
    }
    // The implied i of fāʿil: a Latin e for free ("Salem", "Hamed"), an
    // i a little less: an i there is as often the written ي of faʿīl
    // ("Salim" سليم, "Majid" مجيد), less an a or u.
    for (x, c) in [
        (I, 0.1f32),
        (E, 0.0),
        (II, 0.1),
        (A, 0.15),
        (O, 0.2),
        (U, 0.2),
        (AA, 0.3),
        (UU, 0.3),
        (YI, 0.25),
        (YA, 0.25),
        (AL, 0.3),
        (WU, 0.35),
    ] {
        sub[IK as usize][x as usize] = c;
        sub[x as usize][IK as usize] = c;
    }
    let mut indel = [0.0f32; NSYM];
    for (i, c) in indel.iter_mut().enumerate() {
        *c = indel_cost(i as Sym);
    }
    CostTable { sub, indel }
}

fn costs() -> &'static CostTable {
    static TABLE: std::sync::OnceLock<CostTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(build_costs)
}

/// Substitution cost between two symbols, in [0, 1].
#[inline]
pub fn sub_cost(a: Sym, b: Sym) -> f32 {
    costs().sub[a as usize][b as usize]
}

/// Deletion cost of a word-initial vowel. Arabic must write a word's
/// initial vowel (ا or ع), and Latin spellings write it too, so a vowel
/// at the start of one side and none on the other is a real difference
/// ("Ahmadi" is احمدي, not حمادي), unlike a medial short vowel.
pub const INITIAL_VOWEL_INDEL: f32 = 0.4;

/// Deletion cost of a word-final a: Arabic writes a final a (ة, ا, ى),
/// so "Basma" is بسمه rather than باسم.
pub const FINAL_A_INDEL: f32 = 0.3;

/// Deletion cost of symbol `s` at position `pos` of its sequence.
#[inline]
fn indel_at(t: &CostTable, seq: &[Sym], pos: usize) -> f32 {
    let (s, len) = (seq[pos], seq.len());
    // An initial ا before و or ي only carries the vowel those letters
    // write ("اويحيى" Ouyahia, "اويس" Owais).
    let carrier = s == AV && matches!(seq.get(1), Some(&WU) | Some(&YI));
    if pos == 0 && is_vowel(s) && !carrier {
        INITIAL_VOWEL_INDEL
    } else if (s == A || s == AL) && pos + 1 == len && pos > 0 {
        FINAL_A_INDEL
    } else {
        t.indel[s as usize]
    }
}

/// Total deletion cost of a sequence: the mass the distance is normalised by.
pub fn mass(s: &[Sym]) -> f32 {
    let t = costs();
    s.iter().enumerate().map(|(i, _)| indel_at(t, s, i)).sum()
}

/// Each symbol's insertion/deletion cost where it stands (the first row
/// and column of the edit distance; their sum is the mass).
pub fn indels(s: &[Sym]) -> Vec<f32> {
    let t = costs();
    (0..s.len().min(MAX_SYMS))
        .map(|i| indel_at(t, s, i))
        .collect()
}

/// [`distance_bounded`] with both sides' [`indels`] already known (the
/// same value: the comparison loop of screening calls it millions of
/// times).
pub fn distance_bounded_indels(a: &[Sym], ia: &[f32], b: &[Sym], ib: &[f32], limit: f32) -> f32 {
    if b.len() > MAX_SYMS || ia.len() != a.len().min(MAX_SYMS) || ib.len() != b.len() {
        // The cut side's costs are those of the cut sequence.
        return distance_bounded(a, b, limit);
    }
    let t = costs();
    if a.is_empty() {
        return mass(b);
    }
    if b.is_empty() {
        return mass(a);
    }
    let n = b.len();
    let mut buf_a = [0.0f32; MAX_SYMS + 1];
    let mut buf_b = [0.0f32; MAX_SYMS + 1];
    let (mut prev, mut cur) = (&mut buf_a, &mut buf_b);
    for j in 0..n {
        prev[j + 1] = prev[j] + ib[j];
    }
    for (&ca, &da) in a.iter().zip(ia).take(MAX_SYMS) {
        cur[0] = prev[0] + da;
        let row = &t.sub[ca as usize];
        let mut row_min = cur[0];
        let mut left = cur[0];
        for j in 0..n {
            let sub = prev[j] + row[b[j] as usize];
            let del = prev[j + 1] + da;
            let ins = left + ib[j];
            let v = sub.min(del).min(ins);
            cur[j + 1] = v;
            left = v;
            row_min = row_min.min(v);
        }
        if row_min > limit {
            return row_min;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[n]
}

/// [`similarity_with_mass`] with both sides' [`indels`] already known.
pub fn similarity_indels(
    a: &[Sym],
    ia: &[f32],
    ma: f32,
    b: &[Sym],
    ib: &[f32],
    mb: f32,
    min: f32,
) -> f32 {
    let m = ma + mb;
    if m <= 0.0 {
        return if a == b { 1.0 } else { 0.0 };
    }
    let limit = (1.0 - min) * m / 2.0;
    let d = distance_bounded_indels(a, ia, b, ib, limit);
    if d > limit {
        return 0.0;
    }
    (1.0 - 2.0 * d / m).max(0.0)
}

/// Class-aware weighted edit distance (Levenshtein with the tables above).
pub fn distance(a: &[Sym], b: &[Sym]) -> f32 {
    distance_bounded(a, b, f32::INFINITY)
}

/// The distance, or any value above `limit` as soon as it is certain to
/// exceed it.
pub fn distance_bounded(a: &[Sym], b: &[Sym], limit: f32) -> f32 {
    let t = costs();
    if a.is_empty() {
        return mass(b);
    }
    if b.is_empty() {
        return mass(a);
    }
    let n = b.len().min(MAX_SYMS);
    let b = &b[..n];
    let mut buf_a = [0.0f32; MAX_SYMS + 1];
    let mut buf_b = [0.0f32; MAX_SYMS + 1];
    let mut ib = [0.0f32; MAX_SYMS];
    let (mut prev, mut cur) = (&mut buf_a, &mut buf_b);
    for j in 0..n {
        ib[j] = indel_at(t, b, j);
        prev[j + 1] = prev[j] + ib[j];
    }
    for (i, &ca) in a.iter().take(MAX_SYMS).enumerate() {
        let da = indel_at(t, a, i);
        cur[0] = prev[0] + da;
        let row = &t.sub[ca as usize];
        let mut row_min = cur[0];
        for j in 0..n {
            let sub = prev[j] + row[b[j] as usize];
            let del = prev[j + 1] + da;
            let ins = cur[j] + ib[j];
            let v = sub.min(del).min(ins);
            cur[j + 1] = v;
            row_min = row_min.min(v);
        }
        if row_min > limit {
            return row_min;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[n]
}

/// Longest symbol sequence compared (longer ones are cut).
const MAX_SYMS: usize = 48;

/// Similarity of two symbol sequences in [0, 1].
pub fn similarity(a: &[Sym], b: &[Sym]) -> f32 {
    similarity_min(a, b, 0.0)
}

/// Similarity, or 0 when it is certainly below `min`.
pub fn similarity_min(a: &[Sym], b: &[Sym], min: f32) -> f32 {
    similarity_with_mass(a, mass(a), b, mass(b), min)
}

/// `similarity_min` with the masses already known.
pub fn similarity_with_mass(a: &[Sym], ma: f32, b: &[Sym], mb: f32, min: f32) -> f32 {
    let m = ma + mb;
    if m <= 0.0 {
        return if a == b { 1.0 } else { 0.0 };
    }
    // sim = 1 - 2d/m >= min  <=>  d <= (1 - min) m / 2
    let limit = (1.0 - min) * m / 2.0;
    let d = distance_bounded(a, b, limit);
    if d > limit {
        return 0.0;
    }
    (1.0 - 2.0 * d / m).max(0.0)
}

pub(crate) fn is_latin_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y')
}

/// Transcribe a normalised Latin token into symbols.
pub fn latin_syms(tok: &str) -> Vec<Sym> {
    latin_syms_with(tok, false)
}

/// True when the token has a medial consonant+h sequence that may be read
/// either as a digraph ("ashraf") or as two letters ("is-haq", "fat-hi").
pub fn has_medial_digraph(tok: &str) -> bool {
    let b = tok.as_bytes();
    (1..b.len().saturating_sub(1))
        .any(|i| b[i + 1] == b'h' && matches!(b[i], b's' | b't' | b'd' | b'k' | b'g' | b'c' | b'z'))
}

/// Transcribe a Latin token; with `split`, medial consonant+h sequences
/// are read as two letters.
pub fn latin_syms_with(tok: &str, split: bool) -> Vec<Sym> {
    let c: Vec<char> = tok.chars().collect();
    let n = c.len();
    let at = |i: usize| -> char { c.get(i).copied().unwrap_or('\0') };
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let ch = c[i];
        let nx = at(i + 1);
        let nx2 = at(i + 2);
        let last = |adv: usize| i + adv >= n;
        let h_next = nx == 'h' && !(split && i > 0 && i + 2 < n);
        let (sym, adv) = match ch {
            'a' => {
                if nx == 'a' {
                    (AA, 2)
                } else {
                    (A, 1)
                }
            }
            'e' => {
                if nx == 'e' {
                    (II, 2)
                } else {
                    (E, 1)
                }
            }
            'i' => {
                if nx == 'i' {
                    (II, 2)
                } else if last(1) && n > 2 {
                    (II, 1)
                } else {
                    (I, 1)
                }
            }
            'o' => {
                if nx == 'u' {
                    if i == 0 && is_latin_vowel(nx2) && nx2 != 'u' {
                        (W, 2)
                    } else {
                        (UU, 2)
                    }
                } else if nx == 'o' {
                    (UU, 2)
                } else if last(1) && n > 2 {
                    (UU, 1)
                } else {
                    (O, 1)
                }
            }
            'u' => {
                if nx == 'u' || (last(1) && n > 2) {
                    (UU, if nx == 'u' { 2 } else { 1 })
                } else {
                    (U, 1)
                }
            }
            'y' => {
                let prev_v = i > 0 && is_latin_vowel(c[i - 1]);
                if i == 0 && is_latin_vowel(nx) || prev_v && is_latin_vowel(nx) {
                    (Y, 1)
                } else if last(1) {
                    (II, 1)
                } else {
                    (I, 1)
                }
            }
            'w' => (W, 1),
            'v' => (V, 1),
            'b' => (B, 1),
            'p' => {
                if nx == 'h' {
                    (F, 2)
                } else {
                    (P, 1)
                }
            }
            'f' => (F, 1),
            'm' => (M, 1),
            'n' => (N, 1),
            'l' => (L, 1),
            'r' => {
                if i == 0 && nx == 'h' {
                    (GH, 2)
                } else {
                    (R, 1)
                }
            }
            's' => {
                if nx == 'c' && nx2 == 'h' {
                    (SH, 3)
                } else if h_next {
                    (SH, 2)
                } else {
                    (S, 1)
                }
            }
            'c' => match nx {
                'h' if h_next => (CH, 2),
                'k' => (K, 2),
                'e' | 'i' | 'y' => (S, 1),
                _ => (K, 1),
            },
            't' => {
                if (nx == 'c' || nx == 's') && nx2 == 'h' {
                    (CH, 3)
                } else if h_next {
                    (TH, 2)
                } else {
                    (T, 1)
                }
            }
            'd' => {
                if nx == 'j' {
                    (J, 2)
                } else if h_next {
                    (DH, 2)
                } else if nx == 'z' && nx2 == 'h' {
                    (J, 3)
                } else {
                    (D, 1)
                }
            }
            'j' => (J, 1),
            'z' => {
                if h_next {
                    (ZH, 2)
                } else {
                    (Z, 1)
                }
            }
            'k' => {
                if h_next {
                    (KH, 2)
                } else {
                    (K, 1)
                }
            }
            'g' => {
                if h_next {
                    (GH, 2)
                } else {
                    (G, 1)
                }
            }
            'q' => (Q, 1),
            'x' => (KH, 1),
            'h' => (H, 1),
            '\'' => (HAMZA, 1),
            _ => (255, 1),
        };
        if sym != 255 {
            out.push(sym);
        }
        i += adv;
    }
    dedup(&mut out);
    out
}

/// Transcribe a normalised Arabic-script token into symbols.
pub fn arabic_syms(tok: &str) -> Vec<Sym> {
    let c: Vec<char> = tok.chars().collect();
    let n = c.len();
    let mut out = Vec::with_capacity(n);
    let mut skip = false;
    for (i, &ch) in c.iter().enumerate() {
        if skip {
            skip = false;
            continue;
        }
        let sym = match ch {
            // تش is how Arabic writes a foreign "ch" (tsh).
            'ت' if c.get(i + 1) == Some(&'ش') => {
                skip = true;
                CH
            }
            'ا' | 'أ' | 'إ' | 'آ' | 'ٱ' => {
                if i == 0 {
                    AV
                } else {
                    AL
                }
            }
            'ب' => B,
            'پ' => P,
            'ت' | 'ط' | 'ٹ' => T,
            'ث' => TH,
            'ج' => J,
            'چ' => CH,
            'ح' => H,
            'خ' => KH,
            'د' | 'ڈ' => D,
            'ذ' => DH,
            'ر' | 'ڑ' => R,
            'ز' => Z,
            'ژ' => ZH,
            'س' | 'ص' => S,
            'ش' => SH,
            'ض' => DAD,
            'ظ' => ZAH,
            'ع' => AIN,
            'غ' => GH,
            'ف' => F,
            'ڤ' => V,
            'ق' => Q,
            'ك' => K,
            'گ' => G,
            'ل' => L,
            'م' => M,
            'ن' | 'ں' => N,
            'ه' | 'ة' | 'ھ' => {
                if i + 1 == n && n > 1 {
                    HA
                } else {
                    H
                }
            }
            'و' | 'ؤ' => WU,
            'ي' | 'ى' | 'ئ' => {
                if i + 1 == n && n > 1 {
                    YA
                } else {
                    YI
                }
            }
            'ء' => HAMZA,
            _ => continue,
        };
        // Arabic writes a doubled consonant once (with a shadda, removed
        // here); two written letters are two consonants. Only repeated
        // vowel letters are merged, and the article's ل before a ل ("الله",
        // "اللطيف"): one geminate l, which Latin writes "ll".
        if out.last() == Some(&sym) && (is_vowel(sym) || sym == WU || sym == YI) {
            continue;
        }
        if sym == L && i >= 2 && c[i - 1] == 'ل' && c[i - 2] == 'ا' {
            continue;
        }
        out.push(sym);
    }
    insert_participle_vowel(&mut out);
    out
}

/// C ا C C, alone or before a final ي or ه (a nisba or a feminine ending),
/// gets the implied i of the active participle between its last two
/// consonants (see `IK`).
fn insert_participle_vowel(out: &mut Vec<Sym>) {
    let core = match out.last() {
        Some(&YA) | Some(&HA) if out.len() == 5 => 4,
        _ => out.len(),
    };
    let cons = |s: Sym| !is_vowel(s) && !matches!(s, WU | YI | YA | HA | AIN | HAMZA);
    if core == 4 && (cons(out[0]) || out[0] == AIN) && out[1] == AL && cons(out[2]) && cons(out[3])
    {
        out.insert(3, IK);
    }
}

fn dedup(v: &mut Vec<Sym>) {
    v.dedup();
}

/// Coarse consonant class of a symbol for the skeleton key: vowels and
/// weak letters (w, y, h-final, ain, hamza) vanish; letters whose spelling
/// diverges between conventions give several classes, the shared one
/// first ('q' stands for the interdentals th/dh/ظ, '-' for nothing).
fn key_classes(s: Sym) -> &'static [u8] {
    match s {
        B | P => b"b",
        F => b"f",
        // Latin v: Persian و (no key letter) or ف.
        V => b"-f",
        M => b"m",
        N => b"n",
        L => b"l",
        R => b"r",
        T => b"t",
        TH => b"qts",
        D => b"d",
        DH => b"qdz",
        DAD => b"dz",
        ZAH => b"qzd",
        S => b"s",
        Z => b"z",
        SH => b"c",
        // Latin ch: ش, چ, or a dialectal ج ("Chalabi").
        CH => b"cj",
        J => b"jk",
        ZH => b"j",
        K | Q | G | GH => b"k",
        KH => b"x",
        H => b"h",
        _ => b"",
    }
}

/// Maximum number of skeleton variants produced for one token.
pub const MAX_KEY_VARIANTS: usize = 8;

/// The skeleton keys of one symbol sequence.
pub fn skeletons(syms: &[Sym]) -> Vec<String> {
    let mut keys: Vec<Vec<u8>> = vec![Vec::new()];
    let last = syms.len().saturating_sub(1);
    for (i, &s) in syms.iter().enumerate() {
        if s == H && i == last && i > 0 {
            continue;
        }
        let mut cls = key_classes(s);
        // A final ه/ة inside a glued compound ("وجيه_الدين" / "Wajihuddin")
        // may be read h.
        if s == HA && i < last {
            cls = b"-h";
        }
        // A Latin h before a final vowel may stand for a final ه
        // ("Taha" / "طه", "Allaha"): with and without it.
        if s == H && i > 0 && i + 1 == last && is_vowel(syms[last]) {
            cls = b"h-";
        }
        // An s between vowels is voiced in French and English spellings
        // ("Desire" / "ديزيره", "Joseph" / "جوزيف").
        if s == S && i > 0 && i < last && is_vowel(syms[i - 1]) && is_vowel(syms[i + 1]) {
            cls = b"sz";
        }
        if cls.is_empty() {
            continue;
        }
        let push = |k: &mut Vec<u8>, c: u8| {
            if c != b'-' && k.last() != Some(&c) {
                k.push(c);
            }
        };
        if cls.len() == 1 || keys.len() * cls.len() > MAX_KEY_VARIANTS {
            for k in keys.iter_mut() {
                push(k, cls[0]);
            }
        } else {
            let mut next = Vec::with_capacity(keys.len() * cls.len());
            for k in &keys {
                for &c in cls {
                    let mut k2 = k.clone();
                    push(&mut k2, c);
                    next.push(k2);
                }
            }
            keys = next;
        }
    }
    let mut out: Vec<String> = keys
        .into_iter()
        .map(|k| String::from_utf8(k).unwrap_or_default())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Render symbols for debugging and explanations.
pub fn render(syms: &[Sym]) -> String {
    syms.iter()
        .map(|&s| SYM_NAMES[s as usize])
        .collect::<Vec<_>>()
        .join("")
}
