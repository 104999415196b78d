//! Integration tests of the operator (pure build/status functions from fixtures, CRDs, reconcile against a mock API): one binary, a module per behaviour.

#![expect(
    clippy::expect_used,
    reason = "a test stops at the first broken step, saying which"
)]

mod backup_conditions;
mod backup_deletion;
mod backup_follow;
mod backup_settings;
mod bootstrap;
mod build;
mod crds;
mod drills;
mod inventory;
mod reconcile_mock;
mod restore_job;
mod restore_mock;
mod restore_plan;
mod schedules;
mod status;
