//! Show how names are parsed, keyed and scored:
//! `cargo run -p tansiq-match --example probe -- "عبد الله بلقزاز" "BELKEZIZ, Abdallah"`
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `probe --screen QUERY NAME...`: screen QUERY against a list of NAMEs.
    if args.first().map(String::as_str) == Some("--screen") && args.len() > 2 {
        let entries: Vec<tansiq_match::Entry> = args[2..]
            .iter()
            .enumerate()
            .map(|(i, n)| tansiq_match::Entry {
                id: format!("E{i}"),
                names: vec![n.clone()],
                ..Default::default()
            })
            .collect();
        let idx = tansiq_match::Index::build(entries);
        let q = tansiq_match::Query {
            id: "Q".into(),
            name: args[1].clone(),
            ..Default::default()
        };
        for (label, hits) in [
            ("blocked", idx.screen(&q, 0.0, 10)),
            ("exhaustive", idx.screen_exhaustive(&q, 0.0, 10)),
        ] {
            println!("{label}:");
            for h in hits {
                println!(
                    "  {:.4} {} {} | {}",
                    h.score, h.entry_id, h.matched_name, h.explanation
                );
            }
        }
        return;
    }
    for a in &args {
        println!("{a}");
        println!("  normalize: {}", tansiq_match::normalize(a));
        println!("  tokens:    {}", tansiq_match::debug_tokens(a));
        println!("  keys:      {:?}", tansiq_match::name_keys(a));
    }
    for (i, a) in args.iter().enumerate() {
        for b in &args[i + 1..] {
            println!(
                "{:.4}  {a} | {b}  {}",
                tansiq_match::score_names(a, b),
                tansiq_match::explain_names(a, b)
            );
        }
    }
}
