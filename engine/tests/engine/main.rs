//! Integration tests of the storage and query engine: one binary, a module per behaviour.

#![expect(
    clippy::expect_used,
    reason = "a test stops at the first broken step, saying which"
)]

mod batch_limits;
mod common;
mod crash;
mod documents;
mod gc;
mod gc_damage;
mod index_build_crash;
mod larger_than_cache;
mod model;
mod nesting;
mod query_engine;
mod query_limits;
mod query_oracle;
mod query_pages;
mod query_parser_robust;
mod query_planner;
mod query_results;
mod query_writes;
mod recovery_corruption;
mod reopen;
mod replication;
