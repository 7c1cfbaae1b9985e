use serde_json::{json, Value};
use tansiq_crypto::{canonical_json, parse_json_strict};

fn canon(text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap();
    String::from_utf8(canonical_json(&v).unwrap()).unwrap()
}

#[test]
fn rfc8785_section_3_2_2_example() {
    let input = r#"{
      "numbers": [333333333.33333329, 1E30, 4.50,
                  2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"#;
    let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(canon(input), expected);
    // RFC 8785 §3.2.4: the output is UTF-8 (the euro sign is e2 82 ac).
    let bytes = canon(input).into_bytes();
    assert_eq!(&bytes[..4], b"{\"li");
    assert!(hex::encode(&bytes).contains("22e282ac245c7530303066"));
}

#[test]
fn rfc8785_section_3_2_3_sorting() {
    let input = r#"{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let out = canon(input);
    let order: Vec<&str> = [
        "Carriage Return",
        "One",
        "Control",
        "Latin Small Letter O With Diaeresis",
        "Euro Sign",
        "Emoji: Grinning Face",
        "Hebrew Letter Dalet With Dagesh",
    ]
    .to_vec();
    let mut last = 0;
    for name in order {
        let at = out.find(name).unwrap();
        assert!(at > last, "{name} out of order in {out}");
        last = at;
    }
    assert!(out.starts_with("{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\""));
}

#[test]
fn cyberphone_reference_examples() {
    // The JCS reference implementation's sample input and output.
    let input = r#"{
      "numbers": [1E30,4.50,6,2e-3,0.000000000000000000000000001],
      "escaping": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "other":  [null, true, false]
    }"#;
    assert_eq!(
        canon(input),
        "{\"escaping\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\",\"numbers\":[1e+30,4.5,6,0.002,1e-27],\"other\":[null,true,false]}"
    );
    assert_eq!(
        canon(r#"[56, {"d": true, "10": null, "1": []}]"#),
        r#"[56,{"1":[],"10":null,"d":true}]"#
    );
    assert_eq!(
        canon(
            r#"{"1": {"f": {"f": "hi","F": 5} ,"\n": 56.0}, "10": { }, "": "empty", "a": { }, "111": [ {"e": "yes","E": "no" } ], "A": { }}"#
        ),
        r#"{"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{"E":"no","e":"yes"}],"A":{},"a":{}}"#
    );
}

#[test]
fn control_characters_and_unicode() {
    let v = json!("\u{0}\u{1f}\u{7f}\u{2028}é\t\u{8}\u{c}");
    assert_eq!(
        String::from_utf8(canonical_json(&v).unwrap()).unwrap(),
        "\"\\u0000\\u001f\u{7f}\u{2028}é\\t\\b\\f\""
    );
}

#[test]
fn numbers() {
    assert_eq!(
        canon("[-0.0, 0, 1.0, -1.5, 100, 1e21, 1e20, 1e-6, 1e-7, 0.1]"),
        "[0,0,1,-1.5,100,1e+21,100000000000000000000,0.000001,1e-7,0.1]"
    );
}

#[test]
fn strict_parser_rejects_duplicates_and_trailing_data() {
    assert!(parse_json_strict(br#"{"a":1,"a":2}"#).is_err());
    assert!(parse_json_strict(br#"{"x":{"a":1,"a":1}}"#).is_err());
    assert!(parse_json_strict(br#"{"a":1} x"#).is_err());
    assert!(parse_json_strict(br#"{"a":1}  "#).is_ok());
    let deep = "[".repeat(200) + &"]".repeat(200);
    assert!(parse_json_strict(deep.as_bytes()).is_err());
    let v = parse_json_strict(br#"{"b":[1,2.5,"s",null,true],"a":{}}"#).unwrap();
    assert_eq!(
        canonical_json(&v).unwrap(),
        br#"{"a":{},"b":[1,2.5,"s",null,true]}"#
    );
}

#[test]
fn depth_limit_on_constructed_values() {
    let mut v = json!(1);
    for _ in 0..200 {
        v = json!([v]);
    }
    assert!(canonical_json(&v).is_err());
}

/// The fuzzing finding (fuzz/artifacts/jcs_roundtrip): `1e19` canonicalised
/// to digits that then could not be canonicalised.
#[test]
fn large_integral_doubles_canonicalise_stably() {
    for text in [
        "1e19",
        "-1e19",
        "1e20",
        "9.2e18",
        "-9e18",
        "1.8446744073709552e19",
    ] {
        let v = parse_json_strict(text.as_bytes()).unwrap();
        let once = canonical_json(&v).unwrap();
        let back = parse_json_strict(&once).unwrap();
        let twice = canonical_json(&back).unwrap();
        assert_eq!(once, twice, "{text}");
    }
    assert_eq!(canon("1e19"), "10000000000000000000");
}

mod property {
    use proptest::prelude::*;
    use serde_json::Value;
    use tansiq_crypto::{canonical_json, parse_json_strict};

    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            // Any finite double, integral ones of every magnitude included.
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            (0u32..64, any::<bool>()).prop_map(|(e, neg)| {
                let f = 2f64.powi(e as i32) * if neg { -1.0 } else { 1.0 };
                Value::from(f)
            }),
            (0u32..25, 1u64..10).prop_map(|(e, d)| Value::from(d as f64 * 10f64.powi(e as i32))),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
        ]
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            number(),
            any::<bool>().prop_map(Value::Bool),
            "[a-z\\u{80}-\\u{2fff}]{0,6}".prop_map(Value::String),
            Just(Value::Null),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::btree_map("[a-zA-Z0-9]{0,4}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// encode → parse → encode gives the same bytes, whenever the first
        /// encode succeeds (it refuses only integers it would round).
        #[test]
        fn canonical_form_is_a_fixed_point(v in json()) {
            if let Ok(once) = canonical_json(&v) {
                let back = parse_json_strict(&once).expect("canonical output parses");
                let twice = canonical_json(&back).expect("canonical output canonicalises");
                prop_assert_eq!(String::from_utf8_lossy(&once), String::from_utf8_lossy(&twice));
            }
        }

        /// Every finite double canonicalises, and to text that parses back
        /// to the same double (RFC 8785 §3.2.2.3).
        #[test]
        fn doubles_round_trip(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
            let once = canonical_json(&Value::from(f)).expect("a finite double canonicalises");
            let back: f64 = std::str::from_utf8(&once).unwrap().parse().unwrap();
            prop_assert_eq!(back, if f == 0.0 { 0.0 } else { f });
        }
    }
}
