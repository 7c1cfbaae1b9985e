//! RFC 8785 JSON Canonicalization Scheme (JCS) over `serde_json::Value`.
//!
//! - Objects: members sorted by the UTF-16 code units of their names,
//!   no whitespace.
//! - Strings: UTF-8; only `"` `\` and U+0000..U+001F are escaped, the
//!   latter as `\b \t \n \f \r` or `\u00xx` (lower-case hex).
//! - Numbers: serialised as ECMAScript's `Number.prototype.toString`
//!   (ECMA-262 §7.1.12.1), from the shortest round-trip digits of the IEEE
//!   754 double. Integers held as `i64`/`u64` beyond ±(2^53 − 1)
//!   ([`MAX_SAFE_INTEGER`]) are accepted only when their digits are
//!   exactly the serialisation of the double they denote (so
//!   `10000000000000000000`, the canonical form of `1e19`, canonicalises
//!   to itself); others are rejected rather than silently rounded to a
//!   different double (encode them as strings).
//! - Depth is limited to [`MAX_DEPTH`] nested arrays/objects.

use std::fmt::Write as _;

use serde::de::{self, Deserializer as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::CryptoError;

/// The largest integer that JCS (IEEE 754 double) represents exactly and
/// unambiguously: 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Maximum nesting of arrays and objects accepted by [`canonical_json`] and
/// [`parse_json_strict`].
pub const MAX_DEPTH: usize = 128;

/// The RFC 8785 canonical UTF-8 bytes of `value`.
pub fn canonical_json(value: &Value) -> Result<Vec<u8>, CryptoError> {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value, 0)?;
    Ok(out.into_bytes())
}

fn write_value(out: &mut String, value: &Value, depth: usize) -> Result<(), CryptoError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(too_deep());
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH {
                return Err(too_deep());
            }
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_value(out, v, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn too_deep() -> CryptoError {
    CryptoError::Encoding(format!("JSON nested deeper than {MAX_DEPTH} levels"))
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{0C}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn write_number(out: &mut String, n: &Number) -> Result<(), CryptoError> {
    if let Some(u) = n.as_u64() {
        if u > MAX_SAFE_INTEGER {
            return write_large_integer(out, &u.to_string(), u as f64);
        }
        let _ = write!(out, "{u}");
        return Ok(());
    }
    if let Some(i) = n.as_i64() {
        if i.unsigned_abs() > MAX_SAFE_INTEGER {
            return write_large_integer(out, &i.to_string(), i as f64);
        }
        let _ = write!(out, "{i}");
        return Ok(());
    }
    match n.as_f64() {
        Some(f) if f.is_finite() => {
            write_es6_number(out, f);
            Ok(())
        }
        _ => Err(CryptoError::Encoding(
            "JSON number is not a finite IEEE 754 double".into(),
        )),
    }
}

/// An integer beyond ±(2^53 − 1) (as a parser holds the digits of a
/// JSON number such as `10000000000000000000`). RFC 8785 reads every
/// number as an IEEE 754 double, so such digits denote the nearest double
/// `x`. They are canonical exactly when they are `x`'s own serialisation
/// (then they round-trip unchanged, and a double like `1e19` canonicalises
/// to digits that canonicalise again to themselves); any other digits
/// would silently change to another number and are refused.
fn write_large_integer(out: &mut String, digits: &str, x: f64) -> Result<(), CryptoError> {
    let mut canonical = String::new();
    write_es6_number(&mut canonical, x);
    if canonical != digits {
        return Err(unsafe_integer());
    }
    out.push_str(&canonical);
    Ok(())
}

fn unsafe_integer() -> CryptoError {
    CryptoError::Encoding(format!(
        "integer outside ±{MAX_SAFE_INTEGER} cannot be canonicalised exactly (RFC 8785 numbers \
         are IEEE 754 doubles): encode it as a string"
    ))
}

/// ECMAScript `Number::toString(x)` for a finite double (ECMA-262 §7.1.12.1,
/// radix 10), as required by RFC 8785 §3.2.2.3.
pub(crate) fn write_es6_number(out: &mut String, x: f64) {
    if x == 0.0 {
        // Both +0 and -0.
        out.push('0');
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    let (digits, exp) = shortest_digits(x.abs());
    let k = digits.len() as i32;
    // x = 0.d1d2…dk × 10^n
    let n = exp + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        let _ = write!(out, "{}", (n - 1).abs());
    }
}

/// The shortest decimal digits `d1…dk` and exponent `e` with
/// `d1.d2…dk × 10^e` round-tripping to `x` (finite, > 0), choosing, as
/// ECMA-262 requires, the closest such value and, on an exact tie, the one
/// with an even last digit.
fn shortest_digits(x: f64) -> (String, i32) {
    // Rust's `{:e}` without precision yields the shortest round-tripping
    // digits, and the closest of them, but breaks exact ties upwards.
    let (digits, exp) = split_sci(&format!("{x:e}"));
    let k = digits.len();
    let last = digits.as_bytes()[k - 1] - b'0';
    if last % 2 == 0 {
        return (digits, exp);
    }
    // A tie needs x's exact decimal expansion to be the k digits of the
    // lower candidate followed by a single 5. Cheap filter first: x with
    // k + 1 significant digits, correctly rounded, must end in 5.
    let (probe, _) = split_sci(&format!("{x:.k$e}"));
    if !probe.ends_with('5') {
        return (digits, exp);
    }
    // Exact expansion (a double has at most 767 significant digits).
    let (exact, exact_exp) = split_sci(&format!("{x:.800e}"));
    if exact_exp != exp || !exact[k..].starts_with('5') || exact[k + 1..].bytes().any(|b| b != b'0')
    {
        return (digits, exp);
    }
    // x lies exactly halfway between lo = exact[..k] and lo + 1 ulp.
    // Rust chose one; prefer the even one if it also round-trips.
    let lo = &exact[..k];
    let candidate = if lo == digits {
        match increment_digits(lo) {
            Some(hi) => hi,
            None => return (digits, exp),
        }
    } else {
        lo.to_owned()
    };
    let cand_last = candidate.as_bytes()[k - 1] - b'0';
    let round_trips = format!("{}.{}e{}", &candidate[..1], &candidate[1..], exp)
        .parse::<f64>()
        .is_ok_and(|y| y == x);
    if cand_last % 2 == 0 && round_trips {
        (candidate, exp)
    } else {
        (digits, exp)
    }
}

/// Splits Rust's `d.ddd e[-]x` output into (digits without the point, x).
fn split_sci(s: &str) -> (String, i32) {
    let (mantissa, exp) = s.split_once('e').expect("`{:e}` output contains 'e'");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    (mantissa.chars().filter(|c| *c != '.').collect(), exp)
}

/// Adds one unit in the last place to a decimal digit string, or `None` on
/// a carry out of the first digit.
fn increment_digits(d: &str) -> Option<String> {
    let mut bytes = d.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).ok();
        }
    }
    None
}

/// Parses JSON text for signing or verification, stricter than
/// `serde_json::from_slice`: rejects duplicate object member names (which
/// `serde_json` silently resolves to the last one, so two parsers could
/// disagree on what was signed; RFC 8785 §3.1 requires I-JSON) and trailing
/// data, and limits nesting to [`MAX_DEPTH`].
pub fn parse_json_strict(bytes: &[u8]) -> Result<Value, CryptoError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v = de
        .deserialize_any(StrictVisitor { depth: 0 })
        .map_err(|e| CryptoError::Encoding(format!("invalid JSON: {e}")))?;
    de.end()
        .map_err(|e| CryptoError::Encoding(format!("invalid JSON: {e}")))?;
    Ok(v)
}

struct StrictVisitor {
    depth: usize,
}

struct StrictSeed {
    depth: usize,
}

impl<'de> de::DeserializeSeed<'de> for StrictSeed {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor { depth: self.depth })
    }
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom("JSON nested too deeply"));
        }
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictSeed {
            depth: self.depth + 1,
        })? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_DEPTH {
            return Err(de::Error::custom("JSON nested too deeply"));
        }
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate object member name {key:?}"
                )));
            }
            let v = access.next_value_seed(StrictSeed {
                depth: self.depth + 1,
            })?;
            map.insert(key, v);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn es6(bits: u64) -> String {
        let mut s = String::new();
        write_es6_number(&mut s, f64::from_bits(bits));
        s
    }

    #[test]
    fn rfc8785_appendix_b_numbers() {
        let table: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, want) in table {
            assert_eq!(es6(*bits), *want, "bits {bits:016x}");
        }
    }

    #[test]
    fn non_finite_numbers_cannot_exist_in_value() {
        assert!(Number::from_f64(f64::NAN).is_none());
        assert!(Number::from_f64(f64::INFINITY).is_none());
    }

    #[test]
    fn integers_outside_safe_range_are_rejected_unless_canonical() {
        let ok = serde_json::json!([9007199254740991u64, -9007199254740991i64]);
        assert_eq!(
            canonical_json(&ok).unwrap(),
            b"[9007199254740991,-9007199254740991]"
        );
        // Digits that are a double's own serialisation stay as they are.
        let ok = serde_json::json!([
            9007199254740992u64,
            -9007199254740992i64,
            10000000000000000000u64,
            -9000000000000000000i64
        ]);
        assert_eq!(
            canonical_json(&ok).unwrap(),
            b"[9007199254740992,-9007199254740992,10000000000000000000,-9000000000000000000]"
        );
        // Digits that would round to another number are refused.
        for bad in [
            serde_json::json!(9007199254740993u64),
            serde_json::json!(-9007199254740993i64),
            serde_json::json!(1152921504606846976u64), // 2^60, written 1152921504606847000
            serde_json::json!(u64::MAX),
            serde_json::json!(i64::MIN),
        ] {
            assert!(matches!(
                canonical_json(&bad),
                Err(CryptoError::Encoding(_))
            ));
        }
    }
}
