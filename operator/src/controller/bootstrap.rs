//! The bootstrap step: a ShinyDB with `spec.bootstrap.restore` starts on data restored from a
//! backup store. Before its first pod runs, the step makes its data volume claim and a Job
//! (`<instance>-bootstrap`, the restore Job of a ShinyRestore, reading the bootstrap's store)
//! running `shinydb-server restore` into it; the instance is held at zero pods until that Job
//! succeeded. A failed bootstrap keeps it held and says why: no server ever starts on an
//! empty volume in place of the data asked for.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{DeleteParams, PropagationPolicy};
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::Context;
use super::apply::create_once;
use super::dereference::get;
use crate::build::{self, Names, RESTORE_LABEL, RestoreJob, data_claim, restore_job};
use crate::crd::{BackupSettings, BootstrapPhase, BootstrapRestore, BootstrapStatus, ShinyDB};
use crate::error::Error;
use crate::restore::job::{self, Ended};
use crate::restore::plan;

/// How often a running bootstrap is looked at.
pub const POLL: Duration = Duration::from_secs(5);

/// Where an instance's bootstrap stands after this step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bootstrapped {
    /// `status.bootstrap` (`None`: the instance has no `spec.bootstrap.restore`).
    pub status: Option<BootstrapStatus>,
    /// Whether the instance stays at zero pods (the restore runs or failed).
    pub holding: bool,
}

/// The Job's (and its pods') name: `<instance>-bootstrap`.
pub fn job_name(names: &Names) -> String {
    format!("{}-bootstrap", names.instance)
}

/// The instance as the restore Job sees it: its own image and placement, with the
/// bootstrap's store as its backup store.
pub fn source_of(db: &ShinyDB, restore: &BootstrapRestore) -> ShinyDB {
    let mut source = db.clone();
    source.spec.backup = Some(BackupSettings {
        store: restore.store.clone(),
        wal_archive: Default::default(),
        retention: Default::default(),
        encryption: restore.encryption.clone(),
        schedules: Vec::new(),
        drills: Vec::new(),
    });
    source
}

/// Runs the bootstrap of `db`, if it has one that has not completed.
pub async fn run(ctx: &Context, db: &ShinyDB, names: &Names) -> Result<Bootstrapped, Error> {
    let old = db.status.as_ref().and_then(|s| s.bootstrap.clone());
    let Some(spec) = db.spec.bootstrap.as_ref().and_then(|b| b.restore.as_ref()) else {
        return Ok(Bootstrapped {
            status: old,
            holding: false,
        });
    };
    let status = old.unwrap_or_default();
    match status.phase {
        Some(BootstrapPhase::Completed) => {
            return Ok(Bootstrapped {
                status: Some(status),
                holding: false,
            });
        }
        Some(BootstrapPhase::Failed) => {
            return Ok(Bootstrapped {
                status: Some(status),
                holding: true,
            });
        }
        Some(BootstrapPhase::Running) | None => {}
    }
    let now = Timestamp::now();
    let started_at = status.started_at.clone().unwrap_or_else(|| now.to_string());
    let name = job_name(names);
    let ns = names.namespace.as_str();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), ns);
    let running = BootstrapStatus {
        phase: Some(BootstrapPhase::Running),
        job: Some(name.clone()),
        started_at: Some(started_at.clone()),
        ..status
    };
    let deadline: Duration = spec.deadline.into();
    if plan::past_deadline(Some(&started_at), deadline, now) {
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..DeleteParams::default()
        };
        if let Err(e) = jobs.delete(&name, &params).await
            && !matches!(&e, kube::Error::Api(s) if s.code == 404)
        {
            return Err(Error::Apply {
                what: format!("deleting Job {name}"),
                source: e,
            });
        }
        let message = format!(
            "the restore Job {name} did not succeed within spec.bootstrap.restore.deadline ({}s)",
            deadline.as_secs()
        );
        return failed(ctx, db, running, "DeadlineExceeded", message).await;
    }

    // The volume first: the StatefulSet takes over a claim of its template's name.
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), ns);
    let claim_name = names.data_claim(0);
    let claim = data_claim(names, db, &name);
    create_once(&claims, &claim).await?;
    let stored: Option<PersistentVolumeClaim> = get(&ctx.client, ns, &claim_name).await?;
    if stored.is_some_and(|c| c.labels().get(RESTORE_LABEL) != Some(&name)) {
        let message = format!(
            "PersistentVolumeClaim {claim_name} exists already (an earlier instance's volume?): \
             a bootstrap never restores over data; delete it and create the instance again"
        );
        return failed(ctx, db, running, "ClaimExists", message).await;
    }

    let source = source_of(db, spec);
    let target = plan::target_of(spec.target.as_ref(), spec.lineage.as_deref(), None);
    let remaining = deadline
        .saturating_sub(plan::elapsed(Some(&started_at), now).unwrap_or_default())
        .max(Duration::from_secs(60));
    let wanted = restore_job(&RestoreJob {
        restore: name.clone(),
        namespace: ns.to_string(),
        owner: build::owner_reference(db)?,
        source: &source,
        instance: names.instance.clone(),
        claim: Some(claim_name.clone()),
        target_args: target.args,
        deadline_seconds: i64::try_from(remaining.as_secs()).unwrap_or(i64::MAX),
    });
    if create_once(&jobs, &wanted).await? {
        ctx.publish(
            &kube::Resource::object_ref(db, &()),
            EventType::Normal,
            "BootstrapStarted",
            "Bootstrap",
            format!(
                "restoring {} from {} into volume {claim_name} (Job {name})",
                target.words,
                store_url(spec)
            ),
        )
        .await;
    }
    let Some(stored) = get::<Job>(&ctx.client, ns, &name).await? else {
        return Ok(Bootstrapped {
            status: Some(running),
            holding: true,
        });
    };
    let uid = db.uid().unwrap_or_default();
    if !super::controlled_by(&stored.metadata, &uid) {
        let message = format!("a Job {name} exists and is not this instance's: delete it");
        return failed(ctx, db, running, "JobNameConflict", message).await;
    }
    match job::ended(&ctx.client, &stored).await? {
        None => Ok(Bootstrapped {
            status: Some(BootstrapStatus {
                message: Some(format!(
                    "Job {name} restores {} into volume {claim_name}",
                    target.words
                )),
                ..running
            }),
            holding: true,
        }),
        Some(Ended::Failed { reason, message }) => failed(ctx, db, running, &reason, message).await,
        Some(Ended::Restored(restored)) => {
            let message = format!(
                "restored backup {} and {} archived batches (seq {}) from {}",
                restored.backup_id,
                restored.replayed,
                restored.seq,
                store_url(spec)
            );
            ctx.publish(
                &kube::Resource::object_ref(db, &()),
                EventType::Normal,
                "BootstrapCompleted",
                "Bootstrap",
                message.clone(),
            )
            .await;
            Ok(Bootstrapped {
                status: Some(BootstrapStatus {
                    phase: Some(BootstrapPhase::Completed),
                    reason: None,
                    message: Some(message),
                    restored: Some(restored),
                    completed_at: Some(Timestamp::now().to_string()),
                    ..running
                }),
                holding: false,
            })
        }
    }
}

/// The store in words: `s3://bucket/prefix`.
fn store_url(spec: &BootstrapRestore) -> String {
    let store = &spec.store;
    match store.prefix.as_deref().map(|p| p.trim_matches('/')) {
        Some(p) if !p.is_empty() => format!("s3://{}/{p}", store.bucket),
        _ => format!("s3://{}", store.bucket),
    }
}

/// A failed bootstrap: held, with its reason and a warning event (once: the status records it).
async fn failed(
    ctx: &Context,
    db: &ShinyDB,
    status: BootstrapStatus,
    reason: &str,
    message: String,
) -> Result<Bootstrapped, Error> {
    ctx.publish(
        &kube::Resource::object_ref(db, &()),
        EventType::Warning,
        "BootstrapFailed",
        "Bootstrap",
        format!("{reason}: {message}"),
    )
    .await;
    Ok(Bootstrapped {
        status: Some(BootstrapStatus {
            phase: Some(BootstrapPhase::Failed),
            reason: Some(reason.to_string()),
            message: Some(message),
            completed_at: Some(Timestamp::now().to_string()),
            ..status
        }),
        holding: true,
    })
}
