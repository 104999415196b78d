//! How a restore Job ended, from its status and its pod's termination message: what a
//! ShinyRestore and a bootstrap (`spec.bootstrap.restore`) both follow.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};

use super::plan::{self, Report};
use crate::build::RESTORE_LABEL;
use crate::crd::Restored;
use crate::error::Error;

/// How a restore Job ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The volume holds the restored data.
    Restored(Restored),
    /// It failed: a reason name (`ChecksumMismatch`, `RestoreJobFailed`, ...) and words.
    Failed {
        /// The reason's name.
        reason: String,
        /// What happened.
        message: String,
    },
}

/// How `job` ended: `Some(true)` succeeded, `Some(false)` failed, `None` still runs.
pub fn outcome(job: &Job) -> Option<bool> {
    let status = job.status.as_ref()?;
    if status.succeeded.unwrap_or(0) > 0 {
        return Some(true);
    }
    let failed = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Failed" && c.status == "True");
    failed.then_some(false)
}

/// How restore Job `job` (labelled for the restore of its own name) ended; `None`: it
/// still runs.
pub async fn ended(client: &Client, job: &Job) -> Result<Option<Ended>, Error> {
    let Some(succeeded) = outcome(job) else {
        return Ok(None);
    };
    let name = job.name_any();
    let ns = job.namespace().unwrap_or_default();
    let message = termination_message(client, &ns, &name).await?;
    let report = message.as_deref().and_then(plan::parse_report);
    Ok(Some(match (succeeded, report) {
        (true, Some(Report::Restored(restored))) => Ended::Restored(restored),
        (_, Some(Report::Failed { reason, message })) => Ended::Failed { reason, message },
        (_, _) => {
            let why = job
                .status
                .iter()
                .flat_map(|s| s.conditions.iter().flatten())
                .find(|c| c.type_ == "Failed" && c.status == "True")
                .and_then(|c| c.message.clone())
                .unwrap_or_else(|| "it left no report".into());
            let tail = message.unwrap_or_default();
            Ended::Failed {
                reason: "RestoreJobFailed".into(),
                message: format!("Job {name} failed: {why}; its last words: {}", tail.trim()),
            }
        }
    }))
}

/// The termination message of the restore container that ended last (the one that
/// succeeded, if one did).
async fn termination_message(
    client: &Client,
    ns: &str,
    restore: &str,
) -> Result<Option<String>, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pods = pods
        .list(&ListParams::default().labels(&format!("{RESTORE_LABEL}={restore}")))
        .await
        .map_err(|source| Error::Fetch {
            what: format!("pods of Job {restore}"),
            source,
        })?;
    let ended = pods.items.iter().filter_map(|p| {
        let statuses = p.status.as_ref()?.container_statuses.as_ref()?;
        let terminated = statuses
            .iter()
            .find(|c| c.name == "restore")?
            .state
            .as_ref()?
            .terminated
            .as_ref()?;
        Some(terminated.clone())
    });
    let chosen = ended.max_by_key(|t| (t.exit_code == 0, t.finished_at.as_ref().map(|f| f.0)));
    Ok(chosen.and_then(|t| t.message))
}
