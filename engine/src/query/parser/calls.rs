//! The calls of a query chain: `filter(...)`, `orderBy(...)`, `insert(...)`, ...

use bson::{Bson, Document};

use super::Parser;
use crate::query::error::ParseError;
use crate::query::ir::{AggFn, Aggregate, Direction, SortKey};
use crate::query::lexer::{Token, TokenKind};
use crate::value::FieldPath;

/// Every call name, for the error message listing them.
const CALLS: &str = "a call (filter, orderBy, limit, skip, pluck, count, groupBy, aggregate, \
                     having, get, after, explain, insert, set, unset, replace, delete or all)";

impl Parser<'_> {
    /// Parses one call (the `.` before it is already consumed).
    pub(super) fn call(&mut self) -> Result<(), ParseError> {
        let name_token = self.peek().clone();
        let TokenKind::Ident(name) = &name_token.kind else {
            return Err(self.error_here(CALLS));
        };
        let name: &'static str = match name.as_str() {
            "filter" => "filter",
            "orderBy" => "orderBy",
            "limit" => "limit",
            "skip" => "skip",
            "pluck" => "pluck",
            "count" => "count",
            "groupBy" => "groupBy",
            "aggregate" => "aggregate",
            "having" => "having",
            "get" => "get",
            "after" => "after",
            "explain" => "explain",
            "insert" => "insert",
            "set" => "set",
            "unset" => "unset",
            "replace" => "replace",
            "delete" => "delete",
            "all" => "all",
            _ => return Err(self.error_here(CALLS)),
        };
        self.advance();
        self.expect(&TokenKind::LParen, "`(`")?;
        self.calls.push((name, name_token.start));
        match name {
            "filter" => {
                let e = self.expr()?;
                self.draft.filters.push(e);
            }
            "having" => {
                let e = self.expr()?;
                self.draft.havings.push(e);
            }
            "orderBy" => {
                let path = self.path()?;
                let mut direction = Direction::Asc;
                if self.is(&TokenKind::Comma) {
                    self.advance();
                    direction = if self.is_ident("asc") {
                        Direction::Asc
                    } else if self.is_ident("desc") {
                        Direction::Desc
                    } else {
                        return Err(self.error_here("`asc` or `desc`"));
                    };
                    self.advance();
                }
                self.draft.query.order_by.push(SortKey { path, direction });
            }
            "limit" => self.draft.query.limit = Some(self.count_arg()?),
            "skip" => self.draft.query.skip = self.count_arg()?,
            "pluck" => self.draft.query.pluck = Some(self.paths()?),
            "groupBy" => self.draft.query.group_by = self.paths()?,
            "unset" => {
                let paths = self.paths()?;
                self.draft.unset.get_or_insert_with(Vec::new).extend(paths);
            }
            "count" => self.draft.query.count = true,
            "explain" => self.draft.query.explain = true,
            "delete" => self.draft.delete = true,
            "all" => self.draft.query.all = true,
            "aggregate" => self.draft.query.aggregates = self.aggregates()?,
            "get" => {
                let at = self.peek().clone();
                let v = self.value()?;
                if !matches!(
                    v,
                    Bson::String(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::ObjectId(_)
                ) {
                    return Err(
                        self.error_at(&at, "a document id (a string, an integer or oid(...))")
                    );
                }
                self.draft.query.id = Some(v);
            }
            "after" => match &self.peek().kind {
                TokenKind::Str(s) => {
                    self.draft.query.after = Some(s.clone());
                    self.advance();
                }
                _ => return Err(self.error_here("a cursor string")),
            },
            "insert" => {
                let at = self.peek().clone();
                let docs = match self.value()? {
                    Bson::Document(d) => vec![d],
                    Bson::Array(items) if !items.is_empty() => {
                        let mut docs = Vec::with_capacity(items.len());
                        for item in items {
                            match item {
                                Bson::Document(d) => docs.push(d),
                                _ => {
                                    return Err(
                                        self.error_at(&at, "a document or an array of documents")
                                    );
                                }
                            }
                        }
                        docs
                    }
                    _ => return Err(self.error_at(&at, "a document or an array of documents")),
                };
                self.draft.insert.get_or_insert_with(Vec::new).extend(docs);
            }
            "set" => {
                let at = self.peek().clone();
                let doc = self.document_arg(&at)?;
                let mut fields = Vec::with_capacity(doc.len());
                for (k, v) in doc {
                    match FieldPath::dotted(&k) {
                        Ok(p) => fields.push((p, v)),
                        Err(e) => {
                            // Name the key, cut short: it may be thousands of segments long.
                            let mut shown: String = k.chars().take(40).collect();
                            if shown.len() < k.len() {
                                shown.push_str("...");
                            }
                            return Err(self.error_at_offset(
                                at.start,
                                "keys that are dotted field paths",
                                &format!("`{shown}` ({e})"),
                            ));
                        }
                    }
                }
                self.draft.set.get_or_insert_with(Vec::new).extend(fields);
            }
            "replace" => {
                let at = self.peek().clone();
                self.draft.replace = Some(self.document_arg(&at)?);
            }
            _ => {}
        }
        let close = if matches!(name, "filter" | "having") {
            "`and`, `or` or `)`"
        } else {
            "`)`"
        };
        self.expect(&TokenKind::RParen, close)?;
        Ok(())
    }

    /// A non-empty document literal.
    fn document_arg(&mut self, at: &Token) -> Result<Document, ParseError> {
        match self.value()? {
            Bson::Document(d) if !d.is_empty() => Ok(d),
            _ => Err(self.error_at(at, "a non-empty document")),
        }
    }

    /// The argument of `limit` / `skip`: a non-negative integer.
    fn count_arg(&mut self) -> Result<u64, ParseError> {
        match self.peek().kind {
            TokenKind::Int(i) if i >= 0 => {
                self.advance();
                Ok(i.unsigned_abs())
            }
            _ => Err(self.error_here("a non-negative integer")),
        }
    }

    /// `path, path, ...` (at least one).
    fn paths(&mut self) -> Result<Vec<FieldPath>, ParseError> {
        let mut out = vec![self.path()?];
        while self.is(&TokenKind::Comma) {
            self.advance();
            out.push(self.path()?);
        }
        Ok(out)
    }

    /// `alias: fn, ...` (at least one; aliases unique).
    fn aggregates(&mut self) -> Result<Vec<Aggregate>, ParseError> {
        let mut out: Vec<Aggregate> = Vec::new();
        loop {
            let at = self.peek().clone();
            let alias = self.name("an alias")?;
            if out.iter().any(|a| a.alias == alias) {
                return Err(self.error_at(&at, "an alias not used before in this aggregate"));
            }
            self.expect(&TokenKind::Colon, "`:`")?;
            let function = self.agg_fn()?;
            out.push(Aggregate { alias, function });
            if !self.is(&TokenKind::Comma) {
                return Ok(out);
            }
            self.advance();
        }
    }

    fn agg_fn(&mut self) -> Result<AggFn, ParseError> {
        const FNS: &str = "an aggregate function (count, count(path), sum(path), avg(path), \
                           min(path) or max(path))";
        let TokenKind::Ident(name) = &self.peek().kind else {
            return Err(self.error_here(FNS));
        };
        let name = name.clone();
        if !matches!(name.as_str(), "count" | "sum" | "avg" | "min" | "max") {
            return Err(self.error_here(FNS));
        }
        self.advance();
        if name == "count" {
            if !self.is(&TokenKind::LParen) {
                return Ok(AggFn::Count);
            }
            self.advance();
            if self.is(&TokenKind::RParen) {
                self.advance();
                return Ok(AggFn::Count);
            }
            let p = self.path()?;
            self.expect(&TokenKind::RParen, "`)`")?;
            return Ok(AggFn::CountField(p));
        }
        self.expect(&TokenKind::LParen, "`(` and a field path")?;
        let p = self.path()?;
        self.expect(&TokenKind::RParen, "`)`")?;
        Ok(match name.as_str() {
            "sum" => AggFn::Sum(p),
            "avg" => AggFn::Avg(p),
            "min" => AggFn::Min(p),
            _ => AggFn::Max(p),
        })
    }
}
