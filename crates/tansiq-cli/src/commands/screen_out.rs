//! `tansiq screen`'s results in the three shapes an analyst uses: a
//! table to read on a terminal, JSONL for programs (piped, `--json`,
//! `--format jsonl`), CSV to open in a spreadsheet (`--format csv`).
//! Names, entry ids and explanations come from list files written by
//! others: every shape goes through `term::safe`, and CSV cells that a
//! spreadsheet would run as a formula are defused.

use std::io::Write;

use serde_json::json;
use tansiq_match::{Hit, Query};
use unicode_width::UnicodeWidthStr;

use crate::output::{failed, write_jsonl};
use crate::term::one_line;

/// How the results are printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultFormat {
    /// Query, best hit, score and explanation, one line per query.
    Table,
    /// One JSON object per query: `{"query_id", "hits": […]}`.
    Jsonl,
    /// One row per hit (a query without a hit: one row, hit fields empty).
    Csv,
}

fn score(h: &Hit) -> f64 {
    (h.score * 10_000.0).round() / 10_000.0
}

pub fn jsonl(sink: &mut dyn Write, results: &[(&Query, Vec<Hit>)]) {
    for (q, hits) in results {
        let hits: Vec<serde_json::Value> = hits
            .iter()
            .map(|h| json!({"entry_id": h.entry_id, "score": score(h), "matched_name": h.matched_name, "explanation": h.explanation}))
            .collect();
        // query_id first, as documented (serde_json maps sort keys).
        let line = format!("{{\"query_id\":{},\"hits\":{}}}", json!(q.id), json!(hits));
        write_jsonl(sink, &line);
    }
}

/// A CSV cell: quoted when it holds a separator, quote or line break;
/// a leading `=`, `+`, `-`, `@`, tab or carriage return (a formula to a
/// spreadsheet — CSV injection) gets a `'` before it. Scores are written
/// by us and never start with one of those.
fn cell(s: &str) -> String {
    let s = match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub fn csv(sink: &mut dyn Write, results: &[(&Query, Vec<Hit>)]) {
    let mut row = |cells: &[String]| {
        let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
        // Control characters escaped like every line we print; the
        // quoting above keeps the file one record per line.
        writeln!(sink, "{}", crate::term::one_line(&line.join(","))).unwrap_or_else(|e| failed(e));
    };
    let header = [
        "query_id",
        "name",
        "rank",
        "entry_id",
        "matched_name",
        "score",
        "explanation",
    ];
    row(&header.map(String::from));
    for (q, hits) in results {
        if hits.is_empty() {
            row(&[
                q.id.clone(),
                q.name.clone(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for (i, h) in hits.iter().enumerate() {
            row(&[
                q.id.clone(),
                q.name.clone(),
                (i + 1).to_string(),
                h.entry_id.clone(),
                h.matched_name.clone(),
                format!("{:.4}", score(h)),
                h.explanation.clone(),
            ]);
        }
    }
}

/// `s` cut to `width` terminal columns (with `…`), then padded to it.
fn fit(s: &str, width: usize) -> String {
    let s = one_line(s);
    if s.width() <= width {
        return format!("{s}{}", " ".repeat(width - s.width()));
    }
    let mut out = String::new();
    for c in s.chars() {
        if (out.as_str()).width() + unicode_width::UnicodeWidthChar::width(c).unwrap_or(0) >= width
        {
            break;
        }
        out.push(c);
    }
    out.push('…');
    let pad = width.saturating_sub(out.as_str().width());
    format!("{out}{}", " ".repeat(pad))
}

/// The table: the query (id, name), its best hit (name, entry id), the
/// score and the explanation; `+N` when more hits passed the threshold
/// (all of them: `--format jsonl` or `csv`). A summary line ends it.
pub fn table(sink: &mut dyn Write, results: &[(&Query, Vec<Hit>)]) {
    let id_w = results
        .iter()
        .map(|(q, _)| one_line(&q.id).width())
        .chain([5])
        .max()
        .unwrap_or(5)
        .min(14);
    let (name_w, hit_w) = (28, 34);
    let mut line = |s: String| writeln!(sink, "{}", s.trim_end()).unwrap_or_else(|e| failed(e));
    line(format!(
        "{}  {}  {}  {:>5}  EXPLANATION",
        fit("QUERY", id_w),
        fit("NAME", name_w),
        fit("BEST HIT", hit_w),
        "SCORE"
    ));
    let mut with_hits = 0;
    for (q, hits) in results {
        let Some(best) = hits.first() else {
            line(format!(
                "{}  {}  {}",
                fit(&q.id, id_w),
                fit(&q.name, name_w),
                fit("—", hit_w)
            ));
            continue;
        };
        with_hits += 1;
        let more = match hits.len() {
            1 => String::new(),
            n => format!(" +{}", n - 1),
        };
        line(format!(
            "{}  {}  {}  {:>5.3}  {}{more}",
            fit(&q.id, id_w),
            fit(&q.name, name_w),
            fit(&format!("{} ({})", best.matched_name, best.entry_id), hit_w),
            best.score,
            one_line(&best.explanation),
        ));
    }
    line(format!(
        "{} of {} queries with a hit",
        with_hits,
        results.len()
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("Smith, John"), "\"Smith, John\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("+33 1"), "'+33 1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
    }

    #[test]
    fn fit_counts_terminal_columns() {
        assert_eq!(fit("abc", 5), "abc  ");
        assert_eq!(fit("abcdefgh", 5), "abcd…");
        // two columns per ideograph
        assert_eq!(fit("中文中文", 5).width(), 5);
        assert_eq!(fit("عبد الله", 10).width(), 10);
    }
}
