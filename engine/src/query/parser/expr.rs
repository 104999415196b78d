//! Boolean expressions and field paths.

use bson::Bson;

use super::Parser;
use crate::query::error::{ParseError, regex_reason};
use crate::query::ir::{Expr, Op};
use crate::query::lexer::TokenKind;
use crate::value::FieldPath;

const OPERATORS: &str = "an operator (=, !=, >, >=, <, <=, in, contains, startsWith, ~ or exists)";

impl Parser<'_> {
    /// `expr = and_expr { "or" and_expr }`.
    pub(super) fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.and_expr()?];
        while self.is_ident("or") {
            self.advance();
            items.push(self.and_expr()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::Or(items)
        })
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.not_expr()?];
        while self.is_ident("and") {
            self.advance();
            items.push(self.not_expr()?);
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(items)
        })
    }

    /// Whether the token after the next one starts an operator, so that a leading `not` is a
    /// field name (`not = 5`, `not exists`).
    fn operator_follows(&self) -> bool {
        match &self.peek_at(1).kind {
            TokenKind::Eq
            | TokenKind::Ne
            | TokenKind::Gt
            | TokenKind::Ge
            | TokenKind::Lt
            | TokenKind::Le
            | TokenKind::Tilde
            | TokenKind::Dot => true,
            TokenKind::Ident(s) => {
                matches!(s.as_str(), "in" | "contains" | "startsWith" | "exists")
            }
            _ => false,
        }
    }

    fn not_expr(&mut self) -> Result<Expr, ParseError> {
        if self.is_ident("not") && !self.operator_follows() {
            self.advance();
            self.enter()?;
            let inner = self.not_expr()?;
            self.leave();
            return Ok(Expr::Not(Box::new(inner)));
        }
        if self.is(&TokenKind::LParen) {
            self.advance();
            self.enter()?;
            let inner = self.expr()?;
            self.leave();
            self.expect(&TokenKind::RParen, "`and`, `or` or `)`")?;
            return Ok(inner);
        }
        self.pred()
    }

    /// A dotted field path.
    pub(super) fn path(&mut self) -> Result<FieldPath, ParseError> {
        let at = self.peek().clone();
        let mut segments = vec![self.name("a field path")?];
        while self.is(&TokenKind::Dot)
            && matches!(
                self.peek_at(1).kind,
                TokenKind::Ident(_) | TokenKind::QuotedIdent(_)
            )
        {
            self.advance();
            segments.push(self.name("a field name")?);
        }
        FieldPath::new(segments).map_err(|_| self.error_at(&at, "a field path"))
    }

    fn pred(&mut self) -> Result<Expr, ParseError> {
        let path = self.path()?;
        let op_token = self.peek().clone();
        let op_text = self.describe(&op_token);
        let op = match &op_token.kind {
            TokenKind::Eq | TokenKind::Ne => {
                self.advance();
                let v = self.value()?;
                if op_token.kind == TokenKind::Eq {
                    Op::Eq(v)
                } else {
                    Op::Ne(v)
                }
            }
            TokenKind::Gt | TokenKind::Ge | TokenKind::Lt | TokenKind::Le => {
                self.advance();
                let at = self.peek().clone();
                let v = self.value()?;
                if v == Bson::Null {
                    return Err(self.error_at(
                        &at,
                        &format!("a value other than null after {op_text} (null is never ordered; use `exists`)"),
                    ));
                }
                match op_token.kind {
                    TokenKind::Gt => Op::Gt(v),
                    TokenKind::Ge => Op::Gte(v),
                    TokenKind::Lt => Op::Lt(v),
                    _ => Op::Lte(v),
                }
            }
            TokenKind::Tilde => {
                self.advance();
                let at = self.peek().clone();
                let pattern = self.string_arg("a regular expression string after `~`")?;
                if let Err(e) = regex::Regex::new(&pattern) {
                    let reason = regex_reason(&e);
                    return Err(
                        self.error_at(&at, &format!("a valid regular expression ({reason})"))
                    );
                }
                Op::Regex(pattern)
            }
            TokenKind::Ident(word) => match word.as_str() {
                "in" => {
                    self.advance();
                    if !self.is(&TokenKind::LBracket) {
                        return Err(self.error_here("an array after `in`"));
                    }
                    match self.value()? {
                        Bson::Array(items) => Op::In(items),
                        _ => return Err(self.error_at(&op_token, "an array after `in`")),
                    }
                }
                "contains" => {
                    self.advance();
                    Op::Contains(self.string_arg("a string after `contains`")?)
                }
                "startsWith" => {
                    self.advance();
                    Op::StartsWith(self.string_arg("a string after `startsWith`")?)
                }
                "exists" => {
                    self.advance();
                    if self.is_ident("true") {
                        self.advance();
                        Op::Exists(true)
                    } else if self.is_ident("false") {
                        self.advance();
                        Op::Exists(false)
                    } else {
                        Op::Exists(true)
                    }
                }
                _ => return Err(self.error_here(OPERATORS)),
            },
            _ => return Err(self.error_here(OPERATORS)),
        };
        Ok(Expr::pred(path, op))
    }

    fn string_arg(&mut self, expected: &str) -> Result<String, ParseError> {
        match &self.peek().kind {
            TokenKind::Str(s) => {
                let s = s.clone();
                self.advance();
                Ok(s)
            }
            _ => Err(self.error_here(expected)),
        }
    }
}
