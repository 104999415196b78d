//! The YQL parser: recursive descent over the tokens of [`super::lexer`].
//!
//! ```ebnf
//! query     = name , [ "." , name ] , { "." , call } , EOF ;   (* an IDENT followed by "(" is a call *)
//! name      = IDENT | QIDENT ;
//! call      = IDENT , "(" , [ args ] , ")" ;
//! expr      = and_expr , { "or" , and_expr } ;
//! and_expr  = not_expr , { "and" , not_expr } ;
//! not_expr  = "not" , not_expr | "(" , expr , ")" | pred ;
//! pred      = path , ( ( "=" | "!=" | ">" | ">=" | "<" | "<=" ) , value | "in" , array
//!                    | "contains" , STRING | "startsWith" , STRING | "~" , STRING
//!                    | "exists" , [ "true" | "false" ] ) ;
//! path      = name , { "." , name } ;
//! value     = STRING | NUMBER | "true" | "false" | "null" | array | document
//!           | "oid" , "(" , STRING , ")" | "date" , "(" , STRING , ")" ;
//! array     = "[" , [ value , { "," , value } ] , "]" ;
//! document  = "{" , [ key , ":" , value , { "," , key , ":" , value } ] , "}" ;   key = STRING | name ;
//! ```
//!
//! Keywords are contextual and lowercase: `count`, `and`, `in`, ... are ordinary field names
//! wherever a name is expected. The parser checks types as it goes (`in 5`, `~ 3`, `limit(-1)`
//! are errors) and finally validates the whole query ([`super::validate`]); every error carries
//! the position of the offending token.

mod calls;
mod expr;
mod literal;

use bson::Bson;

use super::error::{EXCERPT_CHARS, ParseError, QueryError};
use super::ir::{MAX_EXPR_DEPTH, Mutation, Query};
use super::lexer::{Token, TokenKind, found_text, tokenize};
use super::validate;
use crate::value::FieldPath;

/// Parses and validates YQL text.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    let mut p = Parser::new(text);
    let q = p.query()?;
    Ok(q)
}

static EOF: Token = Token {
    kind: TokenKind::Eof,
    start: 0,
    end: 0,
};

pub(super) struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    /// Every call seen: its name and the byte offset of the name, to place validation errors.
    calls: Vec<(&'static str, usize)>,
    draft: Draft,
}

/// What the calls have said so far.
#[derive(Default)]
struct Draft {
    query: Query,
    filters: Vec<super::ir::Expr>,
    havings: Vec<super::ir::Expr>,
    insert: Option<Vec<bson::Document>>,
    set: Option<Vec<(FieldPath, Bson)>>,
    unset: Option<Vec<FieldPath>>,
    replace: Option<bson::Document>,
    delete: bool,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text,
            tokens: tokenize(text),
            pos: 0,
            depth: 0,
            calls: Vec::new(),
            draft: Draft::default(),
        }
    }

    pub(super) fn peek(&self) -> &Token {
        self.peek_at(0)
    }

    pub(super) fn peek_at(&self, n: usize) -> &Token {
        self.tokens
            .get(self.pos + n)
            .or_else(|| self.tokens.last())
            .unwrap_or(&EOF)
    }

    pub(super) fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    pub(super) fn is(&self, kind: &TokenKind) -> bool {
        &self.peek().kind == kind
    }

    pub(super) fn is_ident(&self, word: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Ident(s) if s == word)
    }

    /// Consumes a token of this kind or fails with `expected`.
    pub(super) fn expect(&mut self, kind: &TokenKind, expected: &str) -> Result<Token, ParseError> {
        if self.is(kind) {
            Ok(self.advance())
        } else {
            Err(self.error_here(expected))
        }
    }

    /// An error at the next token: `expected X, found <that token>`.
    pub(super) fn error_here(&self, expected: &str) -> ParseError {
        self.error_at(self.peek(), expected)
    }

    /// An error at `token`. An invalid token reports its own lexical error instead.
    pub(super) fn error_at(&self, token: &Token, expected: &str) -> ParseError {
        if let TokenKind::Invalid(lex) = &token.kind {
            return self.error_at_offset(token.start, &lex.expected, &lex.found);
        }
        self.error_at_offset(token.start, expected, &self.describe(token))
    }

    /// `` `text` `` of a token, or "end of input".
    pub(super) fn describe(&self, token: &Token) -> String {
        match token.kind {
            TokenKind::Eof => "end of input".to_string(),
            _ => found_text(self.text, token.start, token.end),
        }
    }

    pub(super) fn error_at_offset(&self, offset: usize, expected: &str, found: &str) -> ParseError {
        self.message_at(
            offset,
            format!("expected {expected}, found {found}"),
            Some(expected),
        )
    }

    /// A positioned error with a free-form message.
    pub(super) fn message_at(
        &self,
        offset: usize,
        message: String,
        expected: Option<&str>,
    ) -> ParseError {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
        let rest = self.text.get(line_start..).unwrap_or_default();
        let whole_line: Vec<char> = rest
            .split('\n')
            .next()
            .unwrap_or_default()
            .trim_end_matches('\r')
            .chars()
            .collect();
        let from = (column - 1).saturating_sub(EXCERPT_CHARS);
        let to = (column - 1 + EXCERPT_CHARS).min(whole_line.len());
        let mut source_line = String::new();
        if from > 0 {
            source_line.push_str("...");
        }
        source_line.extend(whole_line.get(from..to).unwrap_or_default());
        if to < whole_line.len() {
            source_line.push_str("...");
        }
        ParseError {
            line,
            column,
            message,
            expected: expected.map(str::to_string),
            source_line,
            excerpt_column: column - from + if from > 0 { 3 } else { 0 },
        }
    }

    /// Enters one level of nesting (parentheses, `not`, arrays, documents).
    pub(super) fn enter(&mut self) -> Result<(), ParseError> {
        if self.depth >= MAX_EXPR_DEPTH {
            return Err(self.error_here(&format!("at most {MAX_EXPR_DEPTH} levels of nesting")));
        }
        self.depth += 1;
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// A name: an identifier or a backquoted identifier.
    pub(super) fn name(&mut self, expected: &str) -> Result<String, ParseError> {
        match &self.peek().kind {
            TokenKind::Ident(s) | TokenKind::QuotedIdent(s) => {
                let s = s.clone();
                self.advance();
                Ok(s)
            }
            _ => Err(self.error_here(expected)),
        }
    }

    /// Whether the next tokens are `.` IDENT `(`: a call.
    fn call_ahead(&self) -> bool {
        self.is(&TokenKind::Dot)
            && matches!(self.peek_at(1).kind, TokenKind::Ident(_))
            && self.peek_at(2).kind == TokenKind::LParen
    }

    fn query(&mut self) -> Result<Query, QueryError> {
        let mut names = vec![self.name("a space or store name")?];
        while self.is(&TokenKind::Dot) && !self.call_ahead() {
            if names.len() == 2 {
                self.advance();
                if matches!(self.peek().kind, TokenKind::Ident(_)) {
                    self.advance();
                    return Err(self.error_here("`(`").into());
                }
                return Err(self.error_here("a call such as filter(...)").into());
            }
            self.advance();
            names.push(self.name("a store name")?);
        }
        let mut names = names.into_iter();
        let first = names.next().unwrap_or_default();
        match names.next() {
            Some(store) => {
                self.draft.query.space = Some(first);
                self.draft.query.store = store;
            }
            None => self.draft.query.store = first,
        }
        while self.is(&TokenKind::Dot) {
            self.advance();
            self.call()?;
        }
        if !self.is(&TokenKind::Eof) {
            return Err(self
                .error_here("`.` and a call, or the end of the query")
                .into());
        }
        let query = self.finish()?;
        if let Err(v) = validate::check(&query) {
            let offset = self
                .calls
                .iter()
                .rev()
                .find(|(name, _)| *name == v.call)
                .map_or(self.text.len(), |&(_, at)| at);
            return Err(self.message_at(offset, v.message, None).into());
        }
        Ok(query)
    }

    /// Assembles the query from the draft.
    fn finish(&mut self) -> Result<Query, ParseError> {
        let d = std::mem::take(&mut self.draft);
        let mut q = d.query;
        q.filter = join(d.filters);
        q.having = join(d.havings);
        let mut writes: Vec<(&'static str, Mutation)> = Vec::new();
        if let Some(docs) = d.insert {
            writes.push(("insert", Mutation::Insert(docs)));
        }
        if d.set.is_some() || d.unset.is_some() {
            let name = if d.set.is_some() { "set" } else { "unset" };
            writes.push((
                name,
                Mutation::Update {
                    set: d.set.unwrap_or_default(),
                    unset: d.unset.unwrap_or_default(),
                },
            ));
        }
        if let Some(doc) = d.replace {
            writes.push(("replace", Mutation::Replace(doc)));
        }
        if d.delete {
            writes.push(("delete", Mutation::Delete));
        }
        if writes.len() > 1 {
            let names: Vec<&str> = writes.iter().map(|(n, _)| *n).collect();
            let last = self
                .calls
                .iter()
                .rev()
                .find(|(n, _)| names.contains(n))
                .map_or(self.text.len(), |&(_, at)| at);
            return Err(self.message_at(
                last,
                format!(
                    "a query makes one kind of write, but this one has {}",
                    names
                        .iter()
                        .map(|n| if *n == "delete" {
                            "delete()".to_string()
                        } else {
                            format!("{n}(...)")
                        })
                        .collect::<Vec<_>>()
                        .join(" and ")
                ),
                None,
            ));
        }
        q.write = writes.pop().map(|(_, w)| w);
        Ok(q)
    }
}

/// Joins several expressions with `and` (one stays itself, none is `None`).
fn join(mut exprs: Vec<super::ir::Expr>) -> Option<super::ir::Expr> {
    match exprs.len() {
        0 => None,
        1 => exprs.pop(),
        _ => Some(super::ir::Expr::And(exprs)),
    }
}

#[cfg(test)]
mod tests;
