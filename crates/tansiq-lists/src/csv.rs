//! A strict RFC 4180 CSV reader that knows where every record and field
//! starts, so that errors can name the line and column at fault.
//!
//! Strict means: a double quote may only open a field, must close it, and
//! a quote inside a quoted field is doubled (`""`). A stray quote in the
//! middle of an unquoted field, text after a closing quote, and a quote
//! that is never closed are errors, not silently repaired data.

/// One record, with the line and column where each field starts.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub fields: Vec<String>,
    /// (line, column) of each field's first character, 1-based.
    pub starts: Vec<(u64, u64)>,
    /// Line the record starts on.
    pub line: u64,
    /// Byte offset just past the record (for progress).
    pub end_offset: u64,
}

impl Record {
    pub fn line_of(&self, field: usize) -> (u64, u64) {
        self.starts.get(field).copied().unwrap_or((self.line, 1))
    }
}

/// A syntax error at a line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

pub(crate) struct Reader<'a> {
    text: &'a str,
    pos: usize,
    line: u64,
    column: u64,
    delimiter: char,
    /// Whether a quoted field may contain line breaks.
    multiline: bool,
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str, delimiter: char, multiline: bool) -> Reader<'a> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Reader {
            text,
            pos: 0,
            line: 1,
            column: 1,
            delimiter,
            multiline,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.text[self.pos..].chars();
        it.next();
        it.next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn at_line_end(&self) -> bool {
        match self.peek() {
            None | Some('\n') => true,
            Some('\r') => matches!(self.peek2(), None | Some('\n')),
            _ => false,
        }
    }

    fn eat_line_end(&mut self) {
        if self.peek() == Some('\r') {
            self.bump();
        }
        if self.peek() == Some('\n') {
            self.bump();
        }
    }

    fn err(&self, line: u64, column: u64, message: String) -> SyntaxError {
        SyntaxError {
            line,
            column,
            message,
        }
    }

    /// The next record, skipping blank lines and a trailing DOS end-of-file
    /// marker (Ctrl-Z, as in OFAC's files). `None` at the end.
    pub fn next_record(&mut self) -> Option<Result<Record, SyntaxError>> {
        loop {
            // Skip blank lines and a lone Ctrl-Z line.
            self.peek()?;
            if self.at_line_end() {
                self.eat_line_end();
                continue;
            }
            let rest = &self.text[self.pos..];
            if rest.starts_with('\u{1a}') && rest[1..].trim().is_empty() {
                self.pos = self.text.len();
                return None;
            }
            return Some(self.record());
        }
    }

    /// After a syntax error in single-line mode (where a record is exactly
    /// one line): moves past the rest of the line the error is on, so that
    /// reading resumes on the next line, and returns that line's text.
    pub fn skip_line(&mut self) -> &'a str {
        debug_assert!(!self.multiline, "a multi-line record has no known end");
        let text = self.text;
        let start = text[..self.pos].rfind('\n').map_or(0, |i| i + 1);
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
        text[start..self.pos].trim_end_matches(['\r', '\n'])
    }

    /// Bytes read so far (for progress).
    pub fn offset(&self) -> u64 {
        self.pos as u64
    }

    fn record(&mut self) -> Result<Record, SyntaxError> {
        let line = self.line;
        let mut fields = Vec::new();
        let mut starts = Vec::new();
        loop {
            let start = (self.line, self.column);
            let n = fields.len() + 1;
            let field = if self.peek() == Some('"') {
                self.quoted(n)?
            } else {
                self.unquoted(n)?
            };
            fields.push(field);
            starts.push(start);
            match self.peek() {
                Some(c) if c == self.delimiter => {
                    self.bump();
                }
                _ => {
                    // at_line_end holds here: both field readers stop only at
                    // a delimiter or a line end.
                    self.eat_line_end();
                    break;
                }
            }
        }
        Ok(Record {
            fields,
            starts,
            line,
            end_offset: self.pos as u64,
        })
    }

    fn unquoted(&mut self, n: usize) -> Result<String, SyntaxError> {
        let mut out = String::new();
        while !self.at_line_end() {
            let c = self.peek().unwrap_or(self.delimiter);
            if c == self.delimiter {
                break;
            }
            if c == '"' {
                return Err(self.err(
                    self.line,
                    self.column,
                    format!(
                        "a double quote in the middle of field {n}, which does not start with one; \
                         enclose the whole field in double quotes and write each quote inside it twice (\"\")"
                    ),
                ));
            }
            out.push(c);
            self.bump();
        }
        Ok(out)
    }

    fn quoted(&mut self, n: usize) -> Result<String, SyntaxError> {
        let (open_line, open_col) = (self.line, self.column);
        self.bump();
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(self.err(
                        open_line,
                        open_col,
                        format!(
                            "the double quote that opens field {n} is never closed (the file ends inside it); \
                             check for an unbalanced double quote"
                        ),
                    ))
                }
                Some('"') => {
                    if self.peek2() == Some('"') {
                        self.bump();
                        self.bump();
                        out.push('"');
                        continue;
                    }
                    self.bump();
                    let next = self.peek();
                    if next == Some(self.delimiter) || self.at_line_end() {
                        return Ok(out);
                    }
                    return Err(self.err(
                        self.line,
                        self.column,
                        format!(
                            "after the closing double quote of field {n}, expected a comma or the end of the line \
                             but found {:?}; a double quote inside a quoted field must be written twice (\"\")",
                            next.unwrap_or(' ')
                        ),
                    ));
                }
                Some('\n') | Some('\r') if !self.multiline => {
                    return Err(self.err(
                        open_line,
                        open_col,
                        format!(
                            "the double quote that opens field {n} is not closed on the same line; \
                             fields of this format never span lines, so a double quote is probably unbalanced"
                        ),
                    ));
                }
                Some(c) => {
                    out.push(c);
                    self.bump();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str, multiline: bool) -> Result<Vec<Vec<String>>, SyntaxError> {
        let mut r = Reader::new(text, ',', multiline);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record() {
            out.push(rec?.fields);
        }
        Ok(out)
    }

    #[test]
    fn parses_rfc4180() {
        let got = all("a,\"b, c\",\"say \"\"hi\"\"\"\r\n\n1,,3\n\u{1a}", false).unwrap();
        assert_eq!(
            got,
            vec![vec!["a", "b, c", "say \"hi\""], vec!["1", "", "3"]]
        );
        assert_eq!(all("x,\"two\nlines\"\n", true).unwrap()[0][1], "two\nlines");
    }

    #[test]
    fn skip_line_resumes_on_the_next_line() {
        let text = "1,a\"b,c\n2,\"d\n3,e\"\" f\r\n4,g\n";
        let mut r = Reader::new(text, ',', false);
        let mut got = Vec::new();
        while let Some(rec) = r.next_record() {
            match rec {
                Ok(rec) => got.push(format!("ok {} {}", rec.line, rec.fields.join("|"))),
                Err(e) => {
                    let skipped = r.skip_line();
                    got.push(format!("bad {} {skipped}", e.line));
                }
            }
        }
        assert_eq!(
            got,
            vec![
                "bad 1 1,a\"b,c",
                "bad 2 2,\"d",
                "bad 3 3,e\"\" f",
                "ok 4 4|g"
            ]
        );
    }

    #[test]
    fn rejects_bad_quoting() {
        let cases: &[(&str, bool, u64, u64, &str)] = &[
            ("a,b\nc,\"d\n", true, 2, 3, "never closed"),
            ("a,b\nc,\"d\ne\n", false, 2, 3, "same line"),
            ("a,b\nc,d\"e\n", false, 2, 4, "middle of field 2"),
            (
                "a,\"b\"c\n",
                false,
                1,
                6,
                "after the closing double quote of field 2",
            ),
        ];
        for (text, multi, line, column, what) in cases {
            let e = all(text, *multi).unwrap_err();
            assert_eq!((e.line, e.column), (*line, *column), "{text:?}: {e:?}");
            assert!(e.message.contains(what), "{text:?}: {}", e.message);
        }
    }
}
