//! Show how names are parsed, keyed and scored:
//! `cargo run -p tansiq-match --example probe -- "عبد الله بلقزاز" "BELKEZIZ, Abdallah"`
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
