//! End-to-end tests on the real single-node cluster of `e2e/cluster` (run by `e2e/cluster/ci.sh`): one binary, a module per behaviour.

#![expect(
    clippy::expect_used,
    reason = "a test stops at the first broken step, saying which"
)]

mod backup;
mod image_layout;
mod interrupt;
mod operator;
mod restore;
mod smoke;
