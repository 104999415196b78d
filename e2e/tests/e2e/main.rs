//! End-to-end tests on the real single-node cluster of `e2e/cluster` (run by `e2e/cluster/ci.sh`): one binary, a module per behaviour.

mod image_layout;
mod operator;
mod smoke;
