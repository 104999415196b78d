//! The ShinyDB Kubernetes operator.
//!
//! [`crd`] defines the custom resources. A `ShinyDB` is reconciled in steps ([`controller`]):
//! dereference (every read from the API server, into one struct), [`validate`] (what the schema
//! cannot check), [`build`] (the desired child objects: a pure function, tested from YAML
//! fixtures), ownership (never adopt an object someone else made), apply (server-side apply,
//! and deleting children the spec no longer wants), events, and the status ([`status`]).
//! [`backup`] runs ShinyBackups and [`restore`] ShinyRestores. [`metrics`] serves Prometheus
//! metrics and health; [`leader`] runs the controller only on the replica holding the Lease.

pub mod backup;
pub mod build;
pub mod controller;
pub mod crd;
pub mod error;
pub mod leader;
pub mod metrics;
pub mod restore;
pub mod schedule;
pub mod status;
pub mod validate;
