//! ShinyDB's embedded storage and query engine.

pub mod query;
pub mod value;
