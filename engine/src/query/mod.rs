//! YQL and the query engine.
//!
//! Text goes lexer → parser → typed query ([`Query`], also produced by the client's builder and
//! shipped by the server with `serde`) → validation → planner → executor, which reads one store
//! through [`StoreSource`] and writes through [`StoreWriter`].
//!
//! ```text
//! sales.orders.filter(EmployeeID = 289 and TotalDue > 1000).orderBy(TotalDue, desc).limit(5)
//! ```
//!
//! - [`parse`] turns text into a validated [`Query`] (errors carry line, column and a caret);
//! - [`execute`] runs it and returns a [`QueryResult`], whose [`QueryResult::to_json`] is the
//!   shape every interface prints;
//! - [`validate`] holds a query built without the parser to the same rules.
//!
//! # Wiring it to a store
//!
//! Implement [`StoreSource`] over one consistent snapshot of one store and [`StoreWriter`] as
//! one atomic batch, then call `execute(&snapshot, Some(&mut batch), &query)`:
//! - `scan` yields documents in `_id` order (the executor relies on it to stop early);
//! - `index_scan` yields documents in index order — key values in [`crate::value::compare`]
//!   order with a missing field as null, then `_id` — and honours prefix bounds as documented
//!   on [`IndexBound`]; `indexes` reports entries and distinct first-field values, which drive
//!   the choice between indexes;
//! - `get` treats ids that compare equal as the same id (`3` and `3.0`);
//! - `apply` assigns an `_id` to inserted documents that have none and returns the ids.
//!
//! Writes read their selection through the same source first, so the snapshot and the batch
//! should belong to one transaction (or the batch should re-check that the documents it
//! replaces or deletes have not changed).
//!
//! Whatever the textual order of the calls, execution is
//! filter → group/aggregate → having → orderBy → skip → limit → pluck. The rules of each step
//! are documented where they live: [`eval`] (filters), `sort` (order), `aggregate`
//! (grouping), [`project`] (pluck), [`planner`] (index use).

mod aggregate;
mod cursor;
mod error;
pub mod eval;
mod executor;
mod ir;
mod lexer;
mod parser;
pub mod planner;
pub mod project;
mod result;
mod serde_ext;
mod sort;
mod source;
mod validate;

pub use error::{EXCERPT_CHARS, ParseError, QueryError};
pub use executor::{Limits, execute, execute_with};
pub use ir::{
    AggFn, Aggregate, Direction, Expr, MAX_EXPR_DEPTH, Mutation, Op, Predicate, Query, SortKey,
};
pub use parser::parse;
pub use result::{Explain, QueryResult};
pub use source::{DocStream, IndexBound, IndexSummary, StoreSource, StoreWriter, WriteOp};
pub use validate::validate;
