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
