//! Literal values: JSON (strings, numbers, `true`, `false`, `null`, arrays, objects) extended
//! with single-quoted strings, bare or backquoted object keys, `oid("...")`, `date("...")`, and
//! the extended-JSON forms `{"$oid": "..."}` and `{"$date": "..." | millis}`.
//!
//! Integers become int32 when they fit, else int64; numbers with a fraction or an exponent
//! become doubles. Duplicate keys are an error.

use bson::oid::ObjectId;
use bson::{Bson, Document};

use super::Parser;
use crate::query::error::ParseError;
use crate::query::lexer::{Token, TokenKind};

const OID: &str = "24 hexadecimal digits in oid(\"...\")";
const DATE: &str = "an RFC 3339 date such as \"2026-01-31T12:00:00Z\"";

impl Parser<'_> {
    /// One literal value.
    pub(super) fn value(&mut self) -> Result<Bson, ParseError> {
        let t = self.peek().clone();
        let v = match &t.kind {
            TokenKind::Str(s) => Bson::String(s.clone()),
            TokenKind::Int(i) => match i32::try_from(*i) {
                Ok(small) => Bson::Int32(small),
                Err(_) => Bson::Int64(*i),
            },
            TokenKind::Float(f) => Bson::Double(*f),
            TokenKind::Ident(w) if w == "true" => Bson::Boolean(true),
            TokenKind::Ident(w) if w == "false" => Bson::Boolean(false),
            TokenKind::Ident(w) if w == "null" => Bson::Null,
            TokenKind::Ident(w)
                if (w == "oid" || w == "date") && self.peek_at(1).kind == TokenKind::LParen =>
            {
                let is_oid = w == "oid";
                self.advance();
                self.advance();
                let at = self.peek().clone();
                let TokenKind::Str(s) = &at.kind else {
                    return Err(self.error_here(if is_oid { OID } else { DATE }));
                };
                let v = if is_oid { parse_oid(s) } else { parse_date(s) };
                let Some(v) = v else {
                    return Err(self.error_at(&at, if is_oid { OID } else { DATE }));
                };
                self.advance();
                self.expect(&TokenKind::RParen, "`)`")?;
                return Ok(v);
            }
            TokenKind::LBracket => return self.array(),
            TokenKind::LBrace => return self.document(),
            _ => return Err(self.error_here("a value")),
        };
        self.advance();
        Ok(v)
    }

    fn array(&mut self) -> Result<Bson, ParseError> {
        self.advance();
        self.enter()?;
        let mut items = Vec::new();
        if !self.is(&TokenKind::RBracket) {
            loop {
                items.push(self.value()?);
                if !self.is(&TokenKind::Comma) {
                    break;
                }
                self.advance();
            }
        }
        self.expect(&TokenKind::RBracket, "`,` or `]`")?;
        self.leave();
        Ok(Bson::Array(items))
    }

    fn document(&mut self) -> Result<Bson, ParseError> {
        let open = self.advance();
        self.enter()?;
        let mut doc = Document::new();
        if !self.is(&TokenKind::RBrace) {
            loop {
                let key_token = self.peek().clone();
                let key = match &key_token.kind {
                    TokenKind::Str(s) | TokenKind::Ident(s) | TokenKind::QuotedIdent(s) => {
                        s.clone()
                    }
                    _ => return Err(self.error_here("a key (a string or a name)")),
                };
                if key.contains('\0') {
                    return Err(self.error_at(&key_token, "a key without NUL characters"));
                }
                if doc.contains_key(&key) {
                    return Err(self.error_at(&key_token, "a key not already in this document"));
                }
                self.advance();
                self.expect(&TokenKind::Colon, "`:`")?;
                let v = self.value()?;
                doc.insert(key, v);
                if !self.is(&TokenKind::Comma) {
                    break;
                }
                self.advance();
            }
        }
        self.expect(&TokenKind::RBrace, "`,` or `}`")?;
        self.leave();
        self.extended_json(doc, &open)
    }

    /// Turns `{"$oid": "..."}` and `{"$date": ...}` into their values.
    fn extended_json(&self, doc: Document, open: &Token) -> Result<Bson, ParseError> {
        if doc.len() != 1 {
            return Ok(Bson::Document(doc));
        }
        let converted = match (doc.get("$oid"), doc.get("$date")) {
            (Some(Bson::String(s)), _) => Some(parse_oid(s).ok_or(OID)),
            (Some(_), _) => Some(Err(OID)),
            (_, Some(Bson::String(s))) => Some(parse_date(s).ok_or(DATE)),
            (_, Some(Bson::Int32(ms))) => Some(Ok(Bson::DateTime(bson::DateTime::from_millis(
                i64::from(*ms),
            )))),
            (_, Some(Bson::Int64(ms))) => {
                Some(Ok(Bson::DateTime(bson::DateTime::from_millis(*ms))))
            }
            (_, Some(_)) => Some(Err(DATE)),
            _ => None,
        };
        match converted {
            None => Ok(Bson::Document(doc)),
            Some(Ok(v)) => Ok(v),
            Some(Err(expected)) => Err(self.error_at(open, expected)),
        }
    }
}

fn parse_oid(s: &str) -> Option<Bson> {
    if s.len() != 24 {
        return None;
    }
    ObjectId::parse_str(s).ok().map(Bson::ObjectId)
}

fn parse_date(s: &str) -> Option<Bson> {
    bson::DateTime::parse_rfc3339_str(s)
        .ok()
        .map(Bson::DateTime)
}
