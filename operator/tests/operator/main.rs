//! Integration tests of the operator (pure build/status functions from fixtures, CRDs, reconcile against a mock API): one binary, a module per behaviour.

mod build;
mod crds;
mod reconcile_mock;
mod status;
