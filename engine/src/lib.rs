//! ShinyDB's embedded storage and query engine.
