//! The scorer's ordering, attribute evidence and the index entry points.

use tansiq_match::{score_names, Document, Entry, Index, Query, DEFAULT_THRESHOLD};

/// Each line: names in decreasing similarity to the first one.
const ORDERS: &[&[&str]] = &[
    &[
        "Abdallah Belkeziz",
        "Abdallah Belkeziz",
        "Abdellah Belkaziz",
        "Abdallah Benkirane",
        "Mohamed Ali",
    ],
    &[
        "عبد الله بلقزاز",
        "Abdallah Belkeziz",
        "Abdallah Belkacem",
        "Ahmed Belkeziz",
    ],
    &[
        "Mohammed Ali",
        "Mohamed Ali",
        "Mahmoud Ali",
        "Mohamed Alami",
    ],
    &[
        "Hassan Rouhani",
        "Hassan Rohani",
        "Hossein Rouhani",
        "Hassan Rahimi",
    ],
    &[
        "Rashid Mubarak",
        "رشيد مبارك",
        "Rachid Moubarak Belaid",
        "Rachid Belaid",
    ],
    &["Sara Seyed", "Sara Sayed", "Saida Sarray"],
    // A written initial vowel: "Ahmadi" is احمدي before حمادي.
    &["Mohammad Ahmadi", "محمد احمدي", "محمد حمادي"],
    // A written final a: "Basma" is بسمه before باسم.
    &["Basma Alsharif", "بسمه الشريف", "باسم الشريف"],
    // A doubled aa is a long a or an ain, not a final ى.
    &["Alaa Mohammad", "علاء محمد", "علي محمد"],
    // Surname put first in capitals without a comma.
    &["OUYAHIA Ahmed", "احمد اويحيى", "اويحيى احمد"],
    // The implied i of fāʿil: a Latin vowel there reads ناصر, none نصر.
    &["Naser Kamal", "ناصر كمال", "نصر كمال"],
    &["Nasr Kamal", "نصر كمال", "ناصر كمال"],
    // A Latin i there is as often the written ي of faʿīl; an e is fāʿil.
    &["Salim Obaid", "سليم عبيد", "سالم عبيد"],
    &["Salem Obaid", "سالم عبيد", "سليم عبيد"],
    // The silent و of عمرو (ʿAmr) against عمر (ʿUmar).
    &["Amr Khaled", "عمرو خالد", "عمر خالد"],
    &["Omar Khaled", "عمر خالد", "عمرو خالد"],
    // A name repeated on both sides is paired in order.
    &["Seyd Mahmood Seyd", "سيد محمود صيد", "سيد محمد السيد"],
    // A given name glued on one side only costs a little.
    &["Reza Ghadiri", "رضا قديري", "محمدرضا قديري"],
    // A glued compound is aligned whole.
    &["Mohammad Saleh Meftah", "محمدصالح مفتاح", "صالح مفتاح"],
    // English j is ج; German and Polish j (in a diphthong) is ي.
    &["Joseph Harb", "جوزيف حرب", "يوسف حرب"],
    &["Hosejn Rahimi", "حسين رحيمي", "حسن رحيمي"],
    // A patronymic particle on both sides or on neither.
    &["Mohamed Ben Salem", "محمد بن سالم", "محمد سالم"],
    &["Mohamed Salem", "محمد سالم", "محمد بن سالم"],
    &["Fethi Benslama", "فتحي بن سلامه", "فتحي سلامه"],
    // "Abdul" left out on one side costs a little.
    &[
        "Abdul Latif Ahmadi",
        "عبد اللطيف احمدي",
        "لطيف احمدي",
        "عبد اللطيف",
    ],
    // Titles read the same in both scripts.
    &["Kamel Ibrahim Bey", "كامل ابراهيم بك", "كامل ابراهيم"],
];

/// In a list where "محمد" is common, matching it says less than matching a
/// rare one: "Shaikha Mohammed Al-Jabri" finds "شيخه الجابري" before
/// "محمد الجابري".
#[test]
fn rarity_in_the_list() {
    let surnames = [
        "حسن",
        "علي",
        "عمر",
        "سالم",
        "خالد",
        "ناصر",
        "حداد",
        "صالح",
        "يوسف",
        "كريم",
        "جابر",
        "عادل",
        "سعيد",
        "منصور",
        "عثمان",
        "فؤاد",
        "رشيد",
        "حمدي",
        "زكي",
        "طه",
        "شاكر",
        "نبيل",
        "فهمي",
        "رمزي",
        "سامي",
        "وليد",
        "كمال",
        "جمال",
        "فاروق",
        "مجدي",
    ];
    let givens = [
        "احمد",
        "محمود",
        "يوسف",
        "ابراهيم",
        "حسين",
        "مصطفي",
        "طارق",
        "هشام",
        "ماجد",
        "زياد",
    ];
    // A list of 600 names, one in two with "محمد".
    let mut names: Vec<String> = Vec::new();
    for g in givens {
        for s in surnames {
            names.push(format!("{g} {s}"));
            names.push(format!("محمد {g} {s}"));
        }
    }
    names.push("محمد الجابري".into());
    names.push("شيخه الجابري".into());
    names.push("اصغر خان".into());
    names.push("محمد خان".into());
    let entries: Vec<Entry> = names
        .iter()
        .enumerate()
        .map(|(i, n)| Entry {
            id: i.to_string(),
            names: vec![n.clone()],
            ..Default::default()
        })
        .collect();
    let idx = Index::build(entries);
    let q = Query {
        id: "q".into(),
        name: "Shaikha Mohammed Al-Jabri".into(),
        ..Default::default()
    };
    let hits = idx.screen(&q, 0.0, 3);
    assert_eq!(hits[0].matched_name, "شيخه الجابري", "{hits:?}");
    // Without a list (score_names) the heavier "Mohammed" wins.
    assert!(
        score_names("Shaikha Mohammed Al-Jabri", "محمد الجابري")
            > score_names("Shaikha Mohammed Al-Jabri", "شيخه الجابري")
    );
    // A common given name first is often left out ("Muhammad Asghar
    // Khan" is "اصغر خان"); without a list it is a given name like any.
    let q = Query {
        id: "q".into(),
        name: "Muhammad Asghar Khan".into(),
        ..Default::default()
    };
    let hits = idx.screen(&q, 0.0, 3);
    assert_eq!(hits[0].matched_name, "اصغر خان", "{hits:?}");
    assert!(
        score_names("Muhammad Asghar Khan", "محمد خان")
            > score_names("Muhammad Asghar Khan", "اصغر خان")
    );
}

#[test]
fn scores_are_ordered() {
    for line in ORDERS {
        let q = line[0];
        let scores: Vec<f64> = line[1..].iter().map(|n| score_names(q, n)).collect();
        for w in scores.windows(2) {
            assert!(w[0] > w[1], "{q}: {:?} scored {scores:?}", &line[1..]);
        }
    }
}

#[test]
fn scores_are_graded_and_bounded() {
    let exact = score_names("Abdallah Belkeziz", "Abdallah Belkeziz");
    let variant = score_names("Abdallah Belkeziz", "Abdellah Belkaziz");
    let cross = score_names("Abdallah Belkeziz", "عبد الله بلقزاز");
    assert!(exact < 1.0 && exact > variant, "{exact} {variant}");
    assert!(
        variant > cross && cross > DEFAULT_THRESHOLD,
        "{variant} {cross}"
    );
    assert_eq!(score_names("", "Abdallah"), 0.0);
    assert_eq!(score_names("Abdallah", "Zhang Wei"), 0.0);
}

#[test]
fn token_order_and_particles() {
    let a = score_names("Belkeziz Abdallah", "Abdallah Belkeziz");
    let b = score_names("BELKEZIZ, Abdallah", "Abdallah Belkeziz");
    assert!(b > a, "comma form is read surname-first: {b} vs {a}");
    assert!(a > DEFAULT_THRESHOLD);
    let caps = score_names("OUYAHIA Ahmed", "Ahmed Ouyahia");
    let plain = score_names("Ouyahia Ahmed", "Ahmed Ouyahia");
    assert!(
        caps > plain && plain > DEFAULT_THRESHOLD,
        "capitals first are read surname-first: {caps} vs {plain}"
    );
    let with = score_names("Osama bin Laden", "Usama Ben Ladin");
    assert!(with > 0.8, "{with}");
}

fn entry(id: &str, names: &[&str]) -> Entry {
    Entry {
        id: id.into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn index() -> Index {
    let mut e1 = entry("E1", &["عبد الله بلقزاز", "Abdellah Belkaziz"]);
    e1.birth_dates = vec!["1962-02-01".into()];
    e1.nationality = vec!["DZ".into()];
    e1.gender = Some("male".into());
    e1.documents = vec![Document {
        doc_type: "passport".into(),
        number: "AB 123456".into(),
        country: Some("DZ".into()),
    }];
    let mut e2 = entry("E2", &["Abdallah Belkacem"]);
    e2.birth_dates = vec!["1975".into()];
    let mut e3 = entry("E3", &["Mohamed Ali"]);
    e3.weak_names = vec!["Abdallah Belkeziz".into()];
    let e4 = entry("E4", &["Karim Haddad"]);
    Index::build(vec![e1, e2, e3, e4])
}

fn query(name: &str) -> Query {
    Query {
        id: "Q".into(),
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn screen_finds_cross_script_and_sorts() {
    let idx = index();
    assert_eq!(idx.len(), 4);
    for name in [
        "Abdallah Belkeziz",
        "Abdellah Belkaziz",
        "BELKEZIZ, Abdallah",
        "عبد الله بلقزاز",
    ] {
        let hits = idx.screen(&query(name), DEFAULT_THRESHOLD, 5);
        assert_eq!(
            hits.first().map(|h| h.entry_id.as_str()),
            Some("E1"),
            "{name}: {hits:?}"
        );
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        assert!(hits
            .iter()
            .all(|h| h.score >= DEFAULT_THRESHOLD && h.score <= 1.0));
        assert!(!hits[0].explanation.is_empty());
    }
    // The weak alias ranks below the strong names.
    let hits = idx.screen(&query("Abdallah Belkeziz"), 0.0, 10);
    let pos = |id: &str| hits.iter().position(|h| h.entry_id == id);
    assert!(pos("E1") < pos("E3"), "{hits:?}");
    assert!(idx
        .screen(&query("Zhang Wei"), DEFAULT_THRESHOLD, 5)
        .is_empty());
}

#[test]
fn attributes_move_scores() {
    let idx = index();
    let base = idx.screen(&query("Abdallah Belkeziz"), 0.0, 1)[0].score;
    let mut q = query("Abdallah Belkeziz");
    q.birth_date = Some("1962-02-01".into());
    q.nationality = vec!["DZ".into()];
    let better = idx.screen(&q, 0.0, 1);
    assert!(better[0].score > base, "{better:?}");
    assert!(
        better[0].explanation.contains("birth date identical"),
        "{better:?}"
    );
    let mut q = query("Abdallah Belkeziz");
    q.birth_date = Some("1990".into());
    q.gender = Some("female".into());
    let worse = idx.screen(&q, 0.0, 5);
    let e1 = worse
        .iter()
        .find(|h| h.entry_id == "E1")
        .map(|h| h.score)
        .unwrap_or(0.0);
    assert!(e1 < base, "{worse:?}");
    // An identical document number is strong evidence even for a poor name.
    let mut q = query("A. B.");
    q.documents = vec![Document {
        doc_type: "passport".into(),
        number: "ab123456".into(),
        country: Some("DZ".into()),
    }];
    let hits = idx.screen(&q, DEFAULT_THRESHOLD, 5);
    assert_eq!(
        hits.first().map(|h| h.entry_id.as_str()),
        Some("E1"),
        "{hits:?}"
    );
}

#[test]
fn batch_is_in_input_order_and_matches_exhaustive() {
    let idx = index();
    let qs: Vec<Query> = [
        "Karim Haddad",
        "Abdallah Belkeziz",
        "Mohamed Aly",
        "nobody at all",
    ]
    .iter()
    .map(|n| query(n))
    .collect();
    let batch = idx.screen_batch(&qs, DEFAULT_THRESHOLD, 3);
    assert_eq!(batch.len(), qs.len());
    for (q, hits) in qs.iter().zip(&batch) {
        assert_eq!(hits, &idx.screen(q, DEFAULT_THRESHOLD, 3));
        // Blocking may drop marginal candidates, never change a score.
        let exh = idx.screen_exhaustive(q, DEFAULT_THRESHOLD, 3);
        assert_eq!(hits.first(), exh.first());
        for h in hits {
            assert!(exh.contains(h), "{h:?} not in {exh:?}");
        }
    }
    assert_eq!(batch[0][0].entry_id, "E4");
    assert!(batch[3].is_empty());
}

#[test]
fn serde_round_trip() {
    let e: Entry = serde_json::from_str(r#"{"id":"E1","names":["Abdallah Belkeziz"],"documents":[{"type":"passport","number":"1"}]}"#).unwrap();
    assert_eq!(e.documents[0].doc_type, "passport");
    let back: Entry = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
    assert_eq!(back, e);
    let q: Query = serde_json::from_str(r#"{"id":"Q1","name":"x"}"#).unwrap();
    assert_eq!(q.name, "x");
    // The CLI's list format: birth_date singular, nationality one or many.
    let e: Entry = serde_json::from_str(
        r#"{"id":"E1","names":["عبد الله بلقزاز"],"birth_date":"1962-02-01","nationality":"DZ","gender":"male"}"#,
    )
    .unwrap();
    assert_eq!(e.birth_dates, vec!["1962-02-01".to_string()]);
    assert_eq!(e.nationality, vec!["DZ".to_string()]);
    let q: Query = serde_json::from_str(
        r#"{"id":"Q1","name":"x","nationality":["DZ","MA"],"birth_date":"1962"}"#,
    )
    .unwrap();
    assert_eq!(q.nationality.len(), 2);
    let q: Query = serde_json::from_str(r#"{"id":"Q1","name":"x","nationality":null}"#).unwrap();
    assert!(q.nationality.is_empty());
}

#[test]
fn odd_inputs_do_not_panic() {
    let long_token = "a".repeat(500);
    let many_tokens = (0..100)
        .map(|i| format!("name{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let odd = [
        "",
        " ",
        ",",
        "---",
        "'",
        "ـ",
        "ال",
        "عبد",
        "abd",
        "al",
        "ben",
        "A. B. C.",
        "123 456",
        "🙂 Ali",
        "Ali\u{0}Hassan",
        long_token.as_str(),
        many_tokens.as_str(),
        "Zhang Wei",
        "Παπαδόπουλος",
        "Иванов Иван",
    ];
    let entries: Vec<Entry> = odd
        .iter()
        .enumerate()
        .map(|(i, n)| entry(&format!("E{i}"), &[n]))
        .collect();
    let idx = Index::build(entries);
    for q in odd {
        let _ = tansiq_match::normalize(q);
        let _ = tansiq_match::name_keys(q);
        for n in odd {
            let s = score_names(q, n);
            assert!((0.0..=1.0).contains(&s), "{q:?} {n:?} {s}");
        }
        let hits = idx.screen(&query(q), 0.0, 3);
        assert!(hits.iter().all(|h| (0.0..=1.0).contains(&h.score)));
        let _ = idx.screen_exhaustive(&query(q), 0.0, 3);
    }
    assert!(Index::build(Vec::new())
        .screen(&query("Ali"), 0.0, 5)
        .is_empty());
}

/// Official lists write an Arabic name in full (given name, father's and
/// grandfather's names, family name); another list or a screener gives
/// the given and family names, or the first three names.
#[test]
fn chain_of_names_between_first_and_last() {
    let hit = |q: &str, n: &str| score_names(q, n) >= DEFAULT_THRESHOLD;
    // First and last name of a four-name chain: a hit.
    assert!(hit("Karim Haddad", "كريم سليمان يوسف الحداد"));
    // The chain is between them, not after: no hit.
    assert!(!hit("Karim Haddad", "كريم الحداد سليمان يوسف"));
    // The first three names of five, in order: a hit; out of order less.
    assert!(hit(
        "Karim Sulaiman Yusuf",
        "كريم سليمان يوسف الحداد القاسمي"
    ));
    assert!(
        score_names("Karim Sulaiman Yusuf", "كريم سليمان يوسف الحداد القاسمي")
            > score_names("Sulaiman Karim Yusuf", "كريم سليمان يوسف الحداد القاسمي")
    );
    // The same from the long side (the rule is symmetric).
    assert!(hit("كريم سليمان يوسف الحداد", "Karim Haddad"));
    // The short form itself still ranks first.
    assert!(
        score_names("Karim Haddad", "كريم الحداد")
            > score_names("Karim Haddad", "كريم سليمان يوسف الحداد")
    );

    // Screening a list (where the rarity factors apply): the chain is
    // found at the default threshold.
    let mut names: Vec<String> = Vec::new();
    for (i, g) in ["احمد", "يوسف", "طارق", "هشام", "زياد", "ماجد"]
        .iter()
        .enumerate()
    {
        for s in [
            "حسن",
            "علي",
            "سالم",
            "ناصر",
            "صالح",
            "جابر",
            "عادل",
            "منصور",
        ] {
            names.push(format!("{g} {s}"));
            names.push(format!("محمد {g} {s}"));
            names.push(format!("محمد {s} {g} {i}"));
        }
    }
    names.push("محمد سليمان يوسف الحداد".into());
    names.push("كريم سليمان يوسف الحداد".into());
    let entries: Vec<Entry> = names
        .iter()
        .enumerate()
        .map(|(i, n)| Entry {
            id: i.to_string(),
            names: vec![n.clone()],
            ..Default::default()
        })
        .collect();
    let idx = Index::build(entries);
    let screen = |name: &str| {
        idx.screen(
            &Query {
                id: "q".into(),
                name: name.into(),
                ..Default::default()
            },
            DEFAULT_THRESHOLD,
            5,
        )
    };
    let hits = screen("Karim Haddad");
    assert_eq!(
        hits.first().map(|h| h.matched_name.as_str()),
        Some("كريم سليمان يوسف الحداد"),
        "{hits:?}"
    );
}
