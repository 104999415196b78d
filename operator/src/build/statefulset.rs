//! The StatefulSet running the server pods.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    RollingUpdateStatefulSetStrategy, StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy,
    StatefulSetSpec, StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    HTTPGetAction, KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext,
    PodSpec, PodTemplateSpec, Probe, SeccompProfile, SecretVolumeSource, SecurityContext, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::config::{
    ADMIN_DIR, BACKUP_CA_DIR, BACKUP_CREDENTIALS_DIR, BACKUP_KEY_DIR, CONFIG_DIR, CONFIG_FILE,
    DATA_DIR, ServerConfig, TLS_DIR,
};
use super::{GRPC_PORT, HTTP_PORT, Names, labels, selector_labels};
use crate::crd::{ShinyDB, TlsMode, VolumeReclaimPolicy};

/// Pod annotation holding the configuration hash; a new hash rolls the pods.
pub const CONFIG_HASH_ANNOTATION: &str = "shinydb.io/config-hash";
/// The runtime image's user and group (e2e/cluster/image-layout.env).
const IMAGE_UID: i64 = 10001;
/// Extra seconds past the server's shutdown grace for the checkpoint before SIGKILL.
const CHECKPOINT_SECONDS: i64 = 20;

/// The image of `db`: `spec.image`, or `shinydb/server:<version>`.
pub fn image(db: &ShinyDB) -> String {
    db.spec
        .image
        .clone()
        .unwrap_or_else(|| format!("shinydb/server:{}", db.spec.version))
}

fn http_probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

pub(super) fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..VolumeMount::default()
    }
}

fn secret_volume(name: &str, secret: String, items: Option<Vec<KeyToPath>>) -> Volume {
    Volume {
        name: name.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret),
            items,
            default_mode: Some(0o440),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}

fn container(db: &ShinyDB) -> Container {
    let mut mounts = vec![
        mount("data", DATA_DIR, false),
        mount("config", CONFIG_DIR, true),
        mount("admin", ADMIN_DIR, true),
        mount("tmp", "/tmp", false),
    ];
    if db.spec.tls.mode != TlsMode::Disabled {
        mounts.push(mount("tls", TLS_DIR, true));
    }
    for (volume, dir) in backup_volumes(db) {
        mounts.push(mount(&volume.name, dir, true));
    }
    Container {
        name: "shinydb".into(),
        image: Some(image(db)),
        image_pull_policy: Some(db.spec.image_pull_policy.as_str().into()),
        args: Some(vec![
            "--config".into(),
            format!("{CONFIG_DIR}/{CONFIG_FILE}"),
        ]),
        ports: Some(vec![
            ContainerPort {
                name: Some("grpc".into()),
                container_port: GRPC_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("http".into()),
                container_port: HTTP_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
        ]),
        // The WAL replay of a large database can take a while: up to 10 minutes to start.
        startup_probe: Some(http_probe("/healthz", 2, 300)),
        readiness_probe: Some(http_probe("/readyz", 5, 2)),
        liveness_probe: Some(http_probe("/healthz", 10, 6)),
        resources: db.spec.resources.clone(),
        security_context: Some(container_security()),
        volume_mounts: Some(mounts),
        ..Container::default()
    }
}

/// The server container's restrictions: no privileges, a read-only root filesystem.
pub(super) fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}

/// The server pods' user and group (the image's), owning the data volume.
pub(super) fn pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(IMAGE_UID),
        run_as_group: Some(IMAGE_UID),
        fs_group: Some(IMAGE_UID),
        fs_group_change_policy: Some("OnRootMismatch".into()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// A scratch directory (`/tmp`: the root filesystem is read-only).
pub(super) fn tmp_volume() -> Volume {
    Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// The data volume claim of one pod: `spec.storage`'s class and size, read-write by one node.
pub(super) fn data_claim_spec(db: &ShinyDB) -> PersistentVolumeClaimSpec {
    PersistentVolumeClaimSpec {
        access_modes: Some(vec!["ReadWriteOnce".into()]),
        storage_class_name: db.spec.storage.storage_class_name.clone(),
        resources: Some(VolumeResourceRequirements {
            requests: Some(BTreeMap::from([(
                "storage".to_string(),
                db.spec.storage.size.clone(),
            )])),
            ..VolumeResourceRequirements::default()
        }),
        ..PersistentVolumeClaimSpec::default()
    }
}

fn volumes(names: &Names, db: &ShinyDB) -> Vec<Volume> {
    let admin = match &db.spec.auth.admin_password_secret {
        Some(s) => secret_volume(
            "admin",
            s.name.clone(),
            Some(vec![KeyToPath {
                key: s.key.clone(),
                path: "password".into(),
                ..KeyToPath::default()
            }]),
        ),
        None => secret_volume(
            "admin",
            names.admin_secret(),
            Some(vec![KeyToPath {
                key: "password".into(),
                path: "password".into(),
                ..KeyToPath::default()
            }]),
        ),
    };
    let mut volumes = vec![
        Volume {
            name: "config".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: names.config_map(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        admin,
        tmp_volume(),
    ];
    let tls_items = Some(
        ["tls.crt", "tls.key", "ca.crt"]
            .map(|k| KeyToPath {
                key: k.into(),
                path: k.into(),
                ..KeyToPath::default()
            })
            .to_vec(),
    );
    match (db.spec.tls.mode, &db.spec.tls.secret_name) {
        (TlsMode::OperatorManaged, _) => {
            volumes.push(secret_volume("tls", names.tls_secret(), tls_items));
        }
        (TlsMode::Provided, Some(secret)) => {
            volumes.push(secret_volume("tls", secret.clone(), tls_items));
        }
        (TlsMode::Provided, None) | (TlsMode::Disabled, _) => {}
    }
    volumes.extend(backup_volumes(db).into_iter().map(|(v, _)| v));
    volumes
}

fn item(key: &str, path: &str) -> KeyToPath {
    KeyToPath {
        key: key.into(),
        path: path.into(),
        ..KeyToPath::default()
    }
}

/// The Secrets `spec.backup` names, as volumes with their mount points: the store's access
/// keys, its CA and the encryption key. Secret volumes follow the Secret's changes, and the
/// server reads these files again for every backup, so a rotated key needs no restart.
pub(super) fn backup_volumes(db: &ShinyDB) -> Vec<(Volume, &'static str)> {
    let Some(backup) = &db.spec.backup else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(c) = &backup.store.credentials {
        let items = vec![
            item(&c.access_key_id_key, "access-key-id"),
            item(&c.secret_access_key_key, "secret-access-key"),
        ];
        out.push((
            secret_volume("backup-credentials", c.secret_name.clone(), Some(items)),
            BACKUP_CREDENTIALS_DIR,
        ));
    }
    if let Some(ca) = &backup.store.ca_secret {
        let items = vec![item(&ca.key, "ca.crt")];
        out.push((
            secret_volume("backup-ca", ca.name.clone(), Some(items)),
            BACKUP_CA_DIR,
        ));
    }
    if let Some(e) = &backup.encryption {
        let items = vec![item(&e.key_secret.key, "key")];
        out.push((
            secret_volume("backup-key", e.key_secret.name.clone(), Some(items)),
            BACKUP_KEY_DIR,
        ));
    }
    out
}

/// The StatefulSet: one pod (replication does not exist yet), none while an in-place restore
/// holds the instance (`held`), ordered rolling updates, non-root with a read-only root
/// filesystem, the config hash on the pod template.
pub(super) fn stateful_set(
    names: &Names,
    owner: &OwnerReference,
    db: &ShinyDB,
    config: &ServerConfig,
    config_hash: &str,
    held: bool,
) -> StatefulSet {
    let overrides = &db.spec.pod_template;
    let mut pod_labels = overrides.labels.clone();
    pod_labels.extend(labels(db));
    let mut annotations: BTreeMap<String, String> = overrides.annotations.clone();
    annotations.insert(CONFIG_HASH_ANNOTATION.into(), config_hash.into());
    if db.spec.monitoring.enabled {
        annotations.insert("prometheus.io/scrape".into(), "true".into());
        annotations.insert("prometheus.io/port".into(), HTTP_PORT.to_string());
        annotations.insert("prometheus.io/path".into(), "/metrics".into());
    }
    let grace = i64::try_from(config.grace_seconds).unwrap_or(i64::MAX / 2) + CHECKPOINT_SECONDS;
    let when_deleted = match db.spec.storage.reclaim_policy {
        VolumeReclaimPolicy::Retain => "Retain",
        VolumeReclaimPolicy::Delete => "Delete",
    };
    StatefulSet {
        metadata: ObjectMeta {
            name: Some(names.stateful_set()),
            namespace: Some(names.namespace.clone()),
            labels: Some(labels(db)),
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        spec: StatefulSetSpec {
            // Until replication exists one pod serves; more are reported, not run.
            replicas: Some(if held { 0 } else { 1 }),
            service_name: Some(names.headless_service()),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&names.instance)),
                ..LabelSelector::default()
            },
            pod_management_policy: Some("OrderedReady".into()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateStatefulSetStrategy {
                    partition: Some(0),
                    ..RollingUpdateStatefulSetStrategy::default()
                }),
            }),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(when_deleted.into()),
                    when_scaled: Some("Retain".into()),
                },
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container(db)],
                    volumes: Some(volumes(names, db)),
                    security_context: Some(pod_security()),
                    termination_grace_period_seconds: Some(grace),
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    node_selector: (!overrides.node_selector.is_empty())
                        .then(|| overrides.node_selector.clone()),
                    tolerations: (!overrides.tolerations.is_empty())
                        .then(|| overrides.tolerations.clone()),
                    affinity: overrides.affinity.clone(),
                    topology_spread_constraints: (!overrides
                        .topology_spread_constraints
                        .is_empty())
                    .then(|| overrides.topology_spread_constraints.clone()),
                    priority_class_name: overrides.priority_class_name.clone(),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    labels: Some(selector_labels(&names.instance)),
                    ..ObjectMeta::default()
                },
                spec: Some(data_claim_spec(db)),
                ..PersistentVolumeClaim::default()
            }]),
            ..StatefulSetSpec::default()
        },
        status: None,
    }
}
