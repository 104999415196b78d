//! ShinyDB's embedded storage and query engine.

pub mod query;
pub mod sample;
pub mod value;
