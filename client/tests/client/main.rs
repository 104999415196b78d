//! Integration tests of the client library and the `shinydb` command line against the real server: one binary, a module per behaviour.

#![expect(
    clippy::expect_used,
    reason = "a test stops at the first broken step, saying which"
)]

mod catalog_users_server;
mod cli_backup;
mod cli_import_export;
mod cli_manage;
mod cli_nesting;
mod cli_query;
mod cli_shell;
mod common;
mod credentials;
mod documents_pipelined;
mod queries;
mod replicas;
mod resilience;
