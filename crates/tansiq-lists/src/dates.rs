//! Dates as lists write them, turned into the schema's partial dates
//! (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`).

use chrono::NaiveDate;

/// Ranges longer than this many years are kept as their two ends only.
const MAX_EXPANDED_YEARS: i32 = 15;

/// A point in time known to the year, month or day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Point {
    year: i32,
    month: Option<u32>,
    day: Option<u32>,
}

impl Point {
    fn render(self) -> String {
        match (self.month, self.day) {
            (Some(m), Some(d)) => format!("{:04}-{m:02}-{d:02}", self.year),
            (Some(m), None) => format!("{:04}-{m:02}", self.year),
            _ => format!("{:04}", self.year),
        }
    }
}

/// What a free-text date said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DateSpec {
    /// Partial dates, most precise first for a single point; every year of
    /// a range (or its two ends when it is long).
    pub dates: Vec<String>,
    /// "circa", "approximately", or a range.
    pub approximate: bool,
}

fn valid_year(y: i32) -> bool {
    (1000..=2999).contains(&y)
}

fn make_point(year: i32, month: Option<u32>, day: Option<u32>) -> Option<Point> {
    if !valid_year(year) {
        return None;
    }
    match (month, day) {
        (Some(m), Some(d)) => {
            NaiveDate::from_ymd_opt(year, m, d)?;
        }
        (Some(m), None) if !(1..=12).contains(&m) => return None,
        (None, Some(_)) => return None,
        _ => {}
    }
    Some(Point { year, month, day })
}

/// A strict ISO date `YYYY-MM-DD`, optionally followed by a time zone or
/// time (`1976-01-01-05:00`, `1976-01-01Z`, `1976-01-01T00:00:00`), as in
/// the UN list's `xs:date` values. Returns `YYYY-MM-DD`.
pub(crate) fn iso_date(s: &str) -> Option<String> {
    let s = s.trim();
    let head = s.get(..10)?;
    let tail = &s[10..];
    let ok_tail = tail.is_empty()
        || tail == "Z"
        || tail.starts_with('T')
        || ((tail.starts_with('-') || tail.starts_with('+'))
            && tail.len() == 6
            && tail.as_bytes()[3] == b':');
    if !ok_tail {
        return None;
    }
    let date = NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()?;
    let y = chrono::Datelike::year(&date);
    valid_year(y).then(|| head.to_string())
}

/// A schema partial date: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, valid.
pub(crate) fn is_partial_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str, len: usize| -> Option<u32> {
        (p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    match parts.as_slice() {
        [y] => num(y, 4).is_some_and(|y| valid_year(y as i32)),
        [y, m] => match (num(y, 4), num(m, 2)) {
            (Some(y), Some(m)) => make_point(y as i32, Some(m), None).is_some(),
            _ => false,
        },
        [y, m, d] => match (num(y, 4), num(m, 2), num(d, 2)) {
            (Some(y), Some(m), Some(d)) => make_point(y as i32, Some(m), Some(d)).is_some(),
            _ => false,
        },
        _ => false,
    }
}

fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&[&str]; 12] = [
        &["jan", "january", "janvier"],
        &["feb", "february", "fevrier", "février"],
        &["mar", "march", "mars"],
        &["apr", "april", "avril"],
        &["may", "mai"],
        &["jun", "june", "juin"],
        &["jul", "july", "juillet"],
        &["aug", "august", "aout", "août"],
        &["sep", "sept", "september", "septembre"],
        &["oct", "october", "octobre"],
        &["nov", "november", "novembre"],
        &["dec", "december", "decembre", "décembre"],
    ];
    MONTHS
        .iter()
        .position(|names| names.contains(&word))
        .map(|i| i as u32 + 1)
}

fn number(word: &str, max_len: usize) -> Option<u32> {
    if !word.is_empty() && word.len() <= max_len && word.bytes().all(|b| b.is_ascii_digit()) {
        word.parse().ok()
    } else {
        None
    }
}

fn year_word(word: &str) -> Option<i32> {
    (word.len() == 4)
        .then(|| number(word, 4))
        .flatten()
        .map(|y| y as i32)
}

/// One point: `12 Jan 1965`, `Jan 12 1965`, `Jan 1965`, `1965`,
/// `1965-01-12`, `1965-01`, or a month alone (`Aug`, year borrowed later).
fn parse_point(words: &[&str]) -> Option<(Option<i32>, Option<u32>, Option<u32>)> {
    match words {
        [w] => {
            if let Some(y) = year_word(w) {
                return Some((Some(y), None, None));
            }
            if let Some(m) = month_number(w) {
                return Some((None, Some(m), None));
            }
            let parts: Vec<&str> = w.split('-').collect();
            match parts.as_slice() {
                [y, m] => Some((Some(year_word(y)?), Some(number(m, 2)?), None)),
                [y, m, d] => Some((
                    Some(year_word(y)?),
                    Some(number(m, 2)?),
                    Some(number(d, 2)?),
                )),
                _ => None,
            }
        }
        [a, b] => {
            if let (Some(m), Some(y)) = (month_number(a), year_word(b)) {
                return Some((Some(y), Some(m), None));
            }
            if let (Some(d), Some(m)) = (number(a, 2), month_number(b)) {
                return Some((None, Some(m), Some(d)));
            }
            None
        }
        [a, b, c] => {
            let y = year_word(c)?;
            if let (Some(d), Some(m)) = (number(a, 2), month_number(b)) {
                return Some((Some(y), Some(m), Some(d)));
            }
            if let (Some(m), Some(d)) = (month_number(a), number(b, 2)) {
                return Some((Some(y), Some(m), Some(d)));
            }
            None
        }
        _ => None,
    }
}

/// Parses dates written by hand in list remarks: `12 Jan 1965`,
/// `Jan 1965`, `1965`, `circa 1962`, `1962 to 1964`, `1962-1964`,
/// `01 Jan 1962 to 31 Dec 1964`, `Between Aug. and Sep. 1977`,
/// `Nov. 1973`, `1965-01-12`. `None` when the text is not such a date.
pub(crate) fn parse_free_date(text: &str) -> Option<DateSpec> {
    let lower = text.trim().to_lowercase();
    let cleaned: String = lower
        .chars()
        .map(|c| match c {
            '.' | ',' | ';' | '(' | ')' => ' ',
            '–' | '—' => '-',
            c => c,
        })
        .collect();
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    let mut approximate = false;
    while let Some(first) = words.first() {
        match *first {
            "circa" | "ca" | "c" | "approximately" | "approx" | "about" | "around" => {
                approximate = true;
                words.remove(0);
            }
            "between" | "from" => {
                words.remove(0);
            }
            _ => break,
        }
    }
    if words.is_empty() {
        return None;
    }
    // "1962-1964" as one word.
    let joined: Vec<String>;
    if let [w] = words.as_slice() {
        if let Some((a, b)) = w.split_once('-') {
            if year_word(a).is_some() && year_word(b).is_some() {
                joined = vec![a.to_string(), "to".into(), b.to_string()];
                words = joined.iter().map(String::as_str).collect();
            }
        }
    }
    let sep = words
        .iter()
        .position(|w| matches!(*w, "to" | "and" | "-" | "until" | "or"));
    let (first, second) = match sep {
        Some(i) => (&words[..i], Some(&words[i + 1..])),
        None => (&words[..], None),
    };
    let a = parse_point(first)?;
    let Some(second) = second else {
        let p = make_point(a.0?, a.1, a.2)?;
        return Some(DateSpec {
            dates: vec![p.render()],
            approximate,
        });
    };
    let b = parse_point(second)?;
    let by = b.0?;
    // "Aug and Sep 1977", "12 Jan to 14 Feb 1977": the first borrows the year.
    let ay = a.0.unwrap_or(by);
    let pa = make_point(ay, a.1, a.2)?;
    let pb = make_point(by, b.1, b.2)?;
    let (lo, hi) = if pa <= pb { (pa, pb) } else { (pb, pa) };
    let dates = if lo == hi {
        vec![lo.render()]
    } else if lo.year == hi.year {
        if lo.month.is_some() && lo.month == hi.month {
            vec![Point {
                year: lo.year,
                month: lo.month,
                day: None,
            }
            .render()]
        } else {
            vec![format!("{:04}", lo.year)]
        }
    } else if hi.year - lo.year <= MAX_EXPANDED_YEARS {
        (lo.year..=hi.year).map(|y| format!("{y:04}")).collect()
    } else {
        vec![format!("{:04}", lo.year), format!("{:04}", hi.year)]
    };
    Some(DateSpec {
        dates,
        approximate: true,
    })
}

/// Every year from `from` to `to` (either order), or the two ends when the
/// range is long.
pub(crate) fn year_range(from: i32, to: i32) -> Option<Vec<String>> {
    if !valid_year(from) || !valid_year(to) {
        return None;
    }
    let (lo, hi) = if from <= to { (from, to) } else { (to, from) };
    Some(if hi - lo <= MAX_EXPANDED_YEARS {
        (lo..=hi).map(|y| format!("{y:04}")).collect()
    } else {
        vec![format!("{lo:04}"), format!("{hi:04}")]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_dates() {
        type Want<'a> = Option<(&'a [&'a str], bool)>;
        let cases: &[(&str, Want)] = &[
            ("12 Jan 1965", Some((&["1965-01-12"], false))),
            ("01 Feb 1962", Some((&["1962-02-01"], false))),
            ("Jan 1965", Some((&["1965-01"], false))),
            ("Nov. 1973 ", Some((&["1973-11"], false))),
            ("August 1961", Some((&["1961-08"], false))),
            ("1965", Some((&["1965"], false))),
            ("circa 1962", Some((&["1962"], true))),
            ("circa 12 Jan 1962", Some((&["1962-01-12"], true))),
            ("1962 to 1964", Some((&["1962", "1963", "1964"], true))),
            ("circa 1962-1964", Some((&["1962", "1963", "1964"], true))),
            ("01 Jan 1962 to 31 Dec 1962", Some((&["1962"], true))),
            ("01 Jan 1962 to 31 Jan 1962", Some((&["1962-01"], true))),
            ("10 Oct 1970 to 10 Oct 1970", Some((&["1970-10-10"], true))),
            ("Mar 1970 to Feb 1971", Some((&["1970", "1971"], true))),
            ("Between Aug. and Sep. 1977", Some((&["1977"], true))),
            ("1900 to 1990", Some((&["1900", "1990"], true))),
            ("1965-01-12", Some((&["1965-01-12"], false))),
            ("31 Feb 1965", None),
            ("30-35 years old", None),
            ("24/06/1402 (Hijri Calendar)", None),
            ("", None),
            ("Jan", None),
        ];
        for (input, want) in cases {
            let got = parse_free_date(input);
            let want = want.map(|(d, a)| DateSpec {
                dates: d.iter().map(|s| s.to_string()).collect(),
                approximate: a,
            });
            assert_eq!(got, want, "parse_free_date({input:?})");
        }
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso_date("1964-07-17").as_deref(), Some("1964-07-17"));
        assert_eq!(iso_date(" 1964-07-17-04:00").as_deref(), Some("1964-07-17"));
        assert_eq!(iso_date("1964-13-17"), None);
        assert_eq!(iso_date("1964-07"), None);
        assert_eq!(iso_date("1964-07-17junk"), None);
    }

    #[test]
    fn partial_dates() {
        for ok in ["1962", "1962-02", "1962-02-01"] {
            assert!(is_partial_date(ok), "{ok}");
        }
        for bad in [
            "62",
            "1962-2",
            "1962-13",
            "1962-02-30",
            "19620201",
            "",
            "abcd",
        ] {
            assert!(!is_partial_date(bad), "{bad}");
        }
    }
}
