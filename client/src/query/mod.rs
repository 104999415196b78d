//! Queries: YQL text, the typed builder, and results.

mod builder;
mod output;

pub use builder::{Field, Filter, QueryBuilder, agg, field};
pub(crate) use output::decode;
pub use output::{Plan, QueryOutput};
pub use shinydb_engine::query::{Direction, Query};
