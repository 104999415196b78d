//! The ShinyDB Kubernetes operator.
//!
//! [`crd`] defines the custom resources. A `ShinyDB` is reconciled in four steps:
//! [`validate`] checks what the schema cannot, [`build`] turns the resource into the desired
//! child objects (a pure function, tested from YAML fixtures), and [`controller`] applies them
//! with server-side apply and writes the status ([`status`]). [`metrics`] serves Prometheus
//! metrics and health; [`leader`] runs the controller only on the replica holding the Lease.

pub mod build;
pub mod controller;
pub mod crd;
pub mod error;
pub mod leader;
pub mod metrics;
pub mod status;
pub mod validate;
