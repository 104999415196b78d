//! Integration tests that drive the real `shinydb-server` binary over TLS: one binary, a module per behaviour.

#![expect(
    clippy::expect_used,
    reason = "a test stops at the first broken step, saying which"
)]

mod api_key_lifetime;
mod backup_credentials;
mod backup_encryption;
mod backup_lifecycle;
mod backup_pace;
mod backup_pitr;
mod backup_restore;
mod catalog;
mod common;
mod config_cli;
mod connections;
mod crash_restart;
mod credentials;
mod documents;
mod engine_failure;
mod first_start;
mod http_endpoints;
mod limits;
mod login_limits;
mod mtls;
mod nesting;
mod otlp;
mod permissions;
mod pipeline;
mod pipeline_query;
mod query;
mod read_slots;
mod replication_archiving;
mod replication_epochs;
mod replication_failover;
mod replication_interrupted;
mod replication_reseed;
mod replication_role_kept;
mod replication_staleness;
mod replication_streaming;
mod replication_sync;
mod replication_users;
mod restore_volume;
mod result_cap;
mod shutdown;
mod tls_reload;
mod users;
