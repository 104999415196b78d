//! ShinyDB's embedded storage and query engine.

pub mod value;
