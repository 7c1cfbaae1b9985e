//! Screening: names typed one per line or a CSV/JSONL list uploaded,
//! screened as the viewer against every list they may see; results with
//! the matcher's explanations, and the last results as CSV.

use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use minijinja::context;

use tansiq_node::NodeError;

use crate::ui::session::ScreenRow;
use crate::ui::view::{self, as_viewer, UiError, UiState, Viewer};

/// Most names one screening takes here (as the API's /screen).
pub const MAX_NAMES: usize = crate::local::MAX_SCREEN_NAMES;
/// Hits shown per name.
const TOP: usize = 5;

pub async fn form(State(st): State<UiState>, Extension(v): Extension<Viewer>) -> Response {
    let r = view::page(
        &st,
        "screen.html",
        context! {..view::base(&v, "/ui/screen"), ..context! {results => Option::<()>::None}},
    );
    view::respond(&st, &v, r)
}

/// A multipart form's fields: its text fields by name, the uploaded
/// list (file name, text) if one was chosen.
#[derive(Default)]
pub struct Input {
    pub fields: std::collections::HashMap<String, String>,
    pub file: Option<(String, String)>,
}

impl Input {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
}

/// Reads a multipart form (bounded by the interface's body limit); the
/// file field is `list`.
pub async fn read_form(mut mp: Multipart) -> Result<Input, NodeError> {
    let mut input = Input::default();
    let bad = |e: axum::extract::multipart::MultipartError| {
        NodeError::bad(format!("form: {}", e.body_text()))
    };
    while let Some(f) = mp.next_field().await.map_err(bad)? {
        let name = f.name().unwrap_or("").to_string();
        let file_name = f.file_name().map(str::to_string);
        let bytes = f.bytes().await.map_err(bad)?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| NodeError::bad(format!("{name}: not UTF-8 text")));
        if name == "list" {
            if !bytes.is_empty() {
                input.file = Some((file_name.unwrap_or_else(|| "list".into()), text?));
            }
        } else {
            input.fields.insert(name, text?);
        }
    }
    Ok(input)
}

/// The queries of the form: the uploaded list if any (its format from
/// its name's extension, else its content), else one name per line of
/// the `names` field.
pub fn queries(input: &Input) -> Result<Vec<tansiq_match::Query>, NodeError> {
    let parsed: Vec<tansiq_lists::NameQuery> = match &input.file {
        Some((name, text)) => {
            // Only the file's own name, never a path of the client's.
            let base = name.rsplit(['/', '\\']).next().unwrap_or("list");
            tansiq_lists::queries_from_text(std::path::Path::new(base), text)
                .map_err(|e| NodeError::bad(e.to_string()))?
        }
        None => input
            .field("names")
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, n)| tansiq_lists::NameQuery {
                id: format!("{}", i + 1),
                name: n.to_string(),
                birth_date: None,
                nationality: vec![],
                gender: None,
            })
            .collect(),
    };
    if parsed.is_empty() {
        return Err(NodeError::bad(
            "no names to screen: type names or choose a CSV or JSONL file",
        ));
    }
    if parsed.len() > MAX_NAMES {
        return Err(NodeError::bad(format!("at most {MAX_NAMES} names at once")));
    }
    Ok(parsed
        .into_iter()
        .map(|q| tansiq_match::Query {
            id: q.id,
            name: q.name,
            birth_date: q.birth_date,
            nationality: q.nationality,
            gender: q.gender,
            documents: vec![],
        })
        .collect())
}

pub fn threshold(input: &Input) -> Result<f64, NodeError> {
    match input.field("threshold") {
        None => Ok(tansiq_match::DEFAULT_THRESHOLD),
        Some(s) => s
            .parse::<f64>()
            .ok()
            .filter(|t| (0.0..=1.0).contains(t))
            .ok_or_else(|| NodeError::bad("threshold must be a number between 0 and 1")),
    }
}

pub async fn run(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    mp: Multipart,
) -> Response {
    let r = async {
        let input = read_form(mp).await?;
        let qs = queries(&input)?;
        let t = threshold(&input)?;
        let started = std::time::Instant::now();
        let (qs, hits) = as_viewer(&st, &v, move |node, actor| {
            let hits = node.screen(actor, &qs, t, TOP)?;
            Ok((qs, hits))
        })
        .await?;
        let mut rows = Vec::new();
        let mut results = Vec::new();
        let mut with_hits = 0;
        for (q, hits) in qs.iter().zip(hits) {
            with_hits += usize::from(!hits.is_empty());
            for h in &hits {
                rows.push(ScreenRow {
                    query_id: q.id.clone(),
                    query_name: q.name.clone(),
                    entry_id: h.entry_id.clone(),
                    score: (h.score * 10_000.0).round() / 10_000.0,
                    matched_name: h.matched_name.clone(),
                    explanation: h.explanation.clone(),
                });
            }
            results.push(
                context! {id => q.id, name => q.name, hits => hits.iter().map(|h| context! {
                    entry_id => h.entry_id, score => format!("{:.2}", h.score),
                    matched_name => h.matched_name, explanation => h.explanation,
                    arabic => super::records::is_arabic(&h.matched_name),
                }).collect::<Vec<_>>()},
            );
        }
        st.sessions.set_screening(&v.key, rows);
        view::page(
            &st,
            "screen.html",
            context! {..view::base(&v, "/ui/screen"), ..context! {
                results => results, screened => qs.len(), with_hits => with_hits,
                millis => started.elapsed().as_millis() as u64,
            }},
        )
    }
    .await;
    view::respond(&st, &v, r)
}

/// A CSV field, quoted where needed; a leading formula character is
/// neutralised (a spreadsheet opening the file runs no formula).
fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The last screening of this session as CSV.
pub async fn csv(State(st): State<UiState>, Extension(v): Extension<Viewer>) -> Response {
    let Some(rows) = st.sessions.screening(&v.key) else {
        return view::error_page(
            &st,
            Some(&v),
            UiError::Node(NodeError::NotFound(
                "no screening in this session yet".into(),
            )),
        );
    };
    let mut out = String::from("query_id,query_name,entry_id,score,matched_name,explanation\r\n");
    for r in rows.iter() {
        out.push_str(&format!(
            "{},{},{},{:.4},{},{}\r\n",
            field(&r.query_id),
            field(&r.query_name),
            field(&r.entry_id),
            r.score,
            field(&r.matched_name),
            field(&r.explanation)
        ));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"screening.csv\"",
            ),
        ],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
