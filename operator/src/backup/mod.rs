//! The ShinyBackup controller: asks an instance's server for a base backup and follows it to
//! `Completed` or `Failed`, with the server and the bucket as the truth; deletes a backup's
//! objects from the store when its ShinyBackup, deleted, carries the opt-in finalizer.

mod connect;
mod deletion;
mod outcome;
mod reconcile;

pub use connect::{ConnectError, admin_client, admin_password, pod_endpoint};
pub use deletion::{DELETE_OBJECTS_FINALIZER, awaits_deletion};
pub use outcome::{Outcome, of_create_error, store_reason};
pub use reconcile::{
    POLL, SILENCE_LIMIT, error_policy, matching_manifest, progress, reconcile, silent_too_long,
};
