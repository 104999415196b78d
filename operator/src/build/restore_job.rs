//! What a ShinyRestore runs: the Job running `shinydb-server restore` on a data volume, and
//! (restoring into a new instance) the volume it fills before that instance exists.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{
    Job, JobSpec, PodFailurePolicy, PodFailurePolicyOnExitCodesRequirement, PodFailurePolicyRule,
};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, PodSpec,
    PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::config::{DATA_DIR, backup_env};
use super::statefulset::{
    backup_volumes, container_security, data_claim_spec, mount, pod_security, tmp_volume,
};
use super::{Names, image, selector_labels};
use crate::crd::ShinyDB;

/// The label naming the ShinyRestore an object was made for.
pub const RESTORE_LABEL: &str = "shinydb.io/restore";
/// The restore container's name (its exit codes decide the Job's failure policy).
const CONTAINER: &str = "restore";
/// Where the restore writes its JSON outcome: the container's termination message.
const REPORT: &str = "/dev/termination-log";

/// One restore Job to build.
#[derive(Clone, Debug)]
pub struct RestoreJob<'a> {
    /// The ShinyRestore's name (the Job's too).
    pub restore: String,
    /// Its namespace.
    pub namespace: String,
    /// The ShinyRestore that owns it.
    pub owner: OwnerReference,
    /// The instance whose store holds the backups (image, pod placement, backup settings).
    pub source: &'a ShinyDB,
    /// The instance whose data volume the Job fills (its pod carries that instance's label,
    /// so the instance stays stopped while the pod runs).
    pub instance: String,
    /// The data volume claim the restore fills; `None`: the Job only checks that the target
    /// can be restored (`--check`), and mounts no volume.
    pub claim: Option<String>,
    /// The target arguments of `shinydb-server restore` (`--latest`, `--target-time T`, ...).
    pub target_args: Vec<String>,
    /// The Job's deadline in seconds.
    pub deadline_seconds: i64,
}

fn restore_labels(restore: &str, instance: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/instance".to_string(),
            instance.to_string(),
        ),
        (
            "app.kubernetes.io/name".to_string(),
            "shinydb-restore".to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "shinydb-operator".to_string(),
        ),
        (RESTORE_LABEL.to_string(), restore.to_string()),
    ])
}

/// The Job: one pod running `shinydb-server restore --replace` on the claim (or `--check`,
/// without one), with the source's
/// backup settings as `SHINYDB_BACKUP_*` variables and its Secrets mounted where the server
/// pods have them. The outcome is the container's termination message; exit codes 1 (the
/// restore failed) and 2 (bad configuration) fail the Job at once, anything else (the node
/// went away, the pod was evicted) is retried twice.
pub fn restore_job(job: &RestoreJob<'_>) -> Job {
    let source = job.source;
    let mode = if job.claim.is_some() {
        "--replace"
    } else {
        "--check"
    };
    let mut args = vec![
        "restore".to_string(),
        mode.into(),
        "--report".into(),
        REPORT.into(),
    ];
    args.extend(job.target_args.iter().cloned());
    let mut env = vec![EnvVar {
        name: "SHINYDB_DATA_DIR".into(),
        value: Some(DATA_DIR.into()),
        ..EnvVar::default()
    }];
    if let Some(backup) = &source.spec.backup {
        env.extend(backup_env(backup).into_iter().map(|(name, value)| EnvVar {
            name,
            value: Some(value),
            ..EnvVar::default()
        }));
    }
    let mut mounts = vec![mount("tmp", "/tmp", false)];
    let mut volumes = vec![tmp_volume()];
    if let Some(claim) = &job.claim {
        mounts.insert(0, mount("data", DATA_DIR, false));
        volumes.insert(
            0,
            Volume {
                name: "data".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: claim.clone(),
                    read_only: Some(false),
                }),
                ..Volume::default()
            },
        );
    }
    for (volume, dir) in backup_volumes(source) {
        mounts.push(mount(&volume.name, dir, true));
        volumes.push(volume);
    }
    let overrides = &source.spec.pod_template;
    let labels = restore_labels(&job.restore, &job.instance);
    Job {
        metadata: ObjectMeta {
            name: Some(job.restore.clone()),
            namespace: Some(job.namespace.clone()),
            labels: Some(labels.clone()),
            owner_references: Some(vec![job.owner.clone()]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(2),
            active_deadline_seconds: Some(job.deadline_seconds),
            pod_failure_policy: Some(PodFailurePolicy {
                rules: vec![PodFailurePolicyRule {
                    action: "FailJob".into(),
                    on_exit_codes: Some(PodFailurePolicyOnExitCodesRequirement {
                        container_name: Some(CONTAINER.into()),
                        operator: "In".into(),
                        values: vec![1, 2],
                    }),
                    on_pod_conditions: None,
                }],
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: CONTAINER.into(),
                        image: Some(image(source)),
                        image_pull_policy: Some(source.spec.image_pull_policy.as_str().into()),
                        args: Some(args),
                        env: Some(env),
                        resources: source.spec.resources.clone(),
                        security_context: Some(container_security()),
                        termination_message_policy: Some("FallbackToLogsOnError".into()),
                        volume_mounts: Some(mounts),
                        ..Container::default()
                    }],
                    volumes: Some(volumes),
                    security_context: Some(pod_security()),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    node_selector: (!overrides.node_selector.is_empty())
                        .then(|| overrides.node_selector.clone()),
                    tolerations: (!overrides.tolerations.is_empty())
                        .then(|| overrides.tolerations.clone()),
                    priority_class_name: overrides.priority_class_name.clone(),
                    ..PodSpec::default()
                }),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// The data volume claim of `new`'s first pod, made (with `source`'s storage) before `new`
/// exists so that a restore fills it; the StatefulSet adopts it by name. It carries the
/// instance's labels and `restore`'s, and no owner: it outlives the ShinyRestore.
pub fn data_claim(new: &Names, source: &ShinyDB, restore: &str) -> PersistentVolumeClaim {
    let mut labels = selector_labels(&new.instance);
    labels.insert(RESTORE_LABEL.into(), restore.into());
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(new.data_claim(0)),
            namespace: Some(new.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(data_claim_spec(source)),
        status: None,
    }
}
