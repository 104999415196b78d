//! Errors of the query engine: syntax errors with their position, and everything else.

use std::fmt;

/// Everything that can go wrong while parsing, validating or executing a query.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Malformed query text (or a type error found while parsing), with its position.
    #[error(transparent)]
    Parse(Box<ParseError>),
    /// A well-formed query that breaks a rule (`delete()` without a filter, `having` without
    /// grouping, ...), found when a query built without the parser is validated.
    #[error("invalid query: {0}")]
    Invalid(String),
    /// An `after(...)` cursor that is malformed or belongs to a different ordering.
    #[error("invalid cursor: {0}")]
    Cursor(String),
    /// A write that cannot be applied (`_id` changed, `a.b` set where `a` is a number, ...).
    /// Nothing was written.
    #[error("write refused: {0}")]
    Write(String),
    /// A write query was executed without a writer.
    #[error("write refused: this query writes, but it was run read-only")]
    ReadOnly,
    /// The storage layer failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// A document could not be encoded or decoded as BSON.
    #[error("BSON error: {0}")]
    Bson(String),
    /// A read was still running at its deadline ([`crate::query::Limits`]); it stopped.
    #[error("the query ran past its deadline and was stopped")]
    DeadlineExceeded,
    /// A grouped query would make more groups than allowed ([`crate::query::Limits`]).
    #[error("the query makes more than {max} groups")]
    TooManyGroups {
        /// The limit.
        max: usize,
    },
}

impl From<ParseError> for QueryError {
    fn from(e: ParseError) -> Self {
        QueryError::Parse(Box::new(e))
    }
}

impl From<bson::raw::Error> for QueryError {
    fn from(e: bson::raw::Error) -> Self {
        QueryError::Bson(e.to_string())
    }
}

/// A syntax or type error in query text: where it is and what was expected there.
///
/// Its `Display` is three lines: the message with the position, the offending source line, and
/// a caret under the spot:
///
/// ```text
/// line 1, column 30: expected a value, found `)`
/// sales.orders.filter(TotalDue > )
///                                ^
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of the error.
    pub line: usize,
    /// 1-based column (in characters) of the error.
    pub column: usize,
    /// The whole message, usually `expected X, found Y`.
    pub message: String,
    /// What the parser expected at this spot, when the error is a syntax error.
    pub expected: Option<String>,
    /// The text of the line holding the error, cut to [`EXCERPT_CHARS`] characters on either
    /// side of the error (`...` marks a cut), so a long query cannot make a long message.
    pub source_line: String,
    /// 1-based column of the error within `source_line` (differs from `column` when the line
    /// was cut on the left).
    pub excerpt_column: usize,
}

/// How many characters of the offending line a [`ParseError`] keeps on either side of the error.
pub const EXCERPT_CHARS: usize = 60;

impl ParseError {
    /// The line under `source_line` with a caret at the error's column (tabs are kept so the
    /// caret lines up).
    pub fn caret_line(&self) -> String {
        let mut s: String = self
            .source_line
            .chars()
            .take(self.excerpt_column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        s.push('^');
        s
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}\n{}\n{}",
            self.line,
            self.column,
            self.message,
            self.source_line,
            self.caret_line()
        )
    }
}

impl std::error::Error for ParseError {}

/// The one-line reason of a regex error (`unclosed group`).
pub(crate) fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(
            || text.lines().last().unwrap_or_default().trim().to_string(),
            str::to_string,
        )
}
