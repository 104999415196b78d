//! YCSB against ShinyDB and PostgreSQL on one machine: the workload generator (workloads A–F,
//! Zipfian/latest/uniform keys), closed- and open-loop drivers with HdrHistogram latencies, the
//! targets, the echo that shows the transport's floor, the throwaway PostgreSQL and ShinyDB
//! services, and the suite that runs everything and writes the markdown report.
//!
//! Data flows one way: [`cli`] → [`suite`] (or a single `load`/`run`) → [`target`] sessions
//! driven by [`driver`] with operations from [`workload`] → [`report`].

pub mod cli;
pub mod driver;
pub mod echo;
pub mod error;
pub mod report;
pub mod runner;
pub mod services;
pub mod suite;
pub mod target;
pub mod tls;
pub mod transport;
pub mod workload;

pub use error::BenchError;
