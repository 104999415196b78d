//! The ShinyRestore controller: restores an instance's backups, in place or into a new
//! instance, through a Job running `shinydb-server restore`, and follows the result until the
//! instance serves it.

pub mod job;
pub mod plan;
mod reconcile;

pub use reconcile::{HOLD_ANNOTATION, POLL, error_policy, holds, reconcile};
