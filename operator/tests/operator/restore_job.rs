//! What a ShinyRestore runs: the Job's command, configuration and failure policy, the
//! pre-flight check Job (no volume), the new instance's volume, and an instance held stopped.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::EnvVar;
use kube::Resource;
use shinydb_operator::build::{self, Names, Observed, RestoreJob, data_claim, restore_job};
use shinydb_operator::crd::ShinyDB;
use shinydb_operator::validate::{Referenced, validate};

use super::build::fixture;

fn job_of(source: &ShinyDB) -> k8s_openapi::api::batch::v1::Job {
    restore_job(&RestoreJob {
        restore: "r1".into(),
        namespace: "apps".into(),
        owner: source.controller_owner_ref(&()).expect("owner"),
        source,
        instance: "db".into(),
        claim: Some("data-db-0".into()),
        target_args: vec!["--target-time".into(), "2026-12-01T10:15:00Z".into()],
        deadline_seconds: 600,
    })
}

fn env(job: &k8s_openapi::api::batch::v1::Job) -> Vec<EnvVar> {
    let pod = job
        .spec
        .as_ref()
        .expect("spec")
        .template
        .spec
        .clone()
        .expect("pod");
    pod.containers[0].env.clone().expect("env")
}

#[test]
fn runs_the_servers_restore_with_its_report_as_termination_message() {
    let job = job_of(&fixture("backup.yaml"));
    let spec = job.spec.clone().expect("spec");
    let pod = spec.template.spec.clone().expect("pod");
    let c = &pod.containers[0];
    assert_eq!(
        c.args.clone().expect("args"),
        [
            "restore",
            "--replace",
            "--report",
            "/dev/termination-log",
            "--target-time",
            "2026-12-01T10:15:00Z"
        ]
    );
    assert_eq!(c.image.as_deref(), Some("shinydb/server:0.1.0"));
    assert_eq!(
        c.termination_message_policy.as_deref(),
        Some("FallbackToLogsOnError")
    );
    assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    assert_eq!(spec.active_deadline_seconds, Some(600));
    let claim = pod.volumes.clone().expect("volumes")[0]
        .persistent_volume_claim
        .clone()
        .expect("the data claim");
    assert_eq!(claim.claim_name, "data-db-0");
    // The restore's own exit codes end the Job; a lost node or eviction is retried.
    let rule = &spec.pod_failure_policy.expect("policy").rules[0];
    assert_eq!(rule.action, "FailJob");
    assert_eq!(rule.on_exit_codes.clone().expect("codes").values, [1, 2]);
    assert_eq!(spec.backoff_limit, Some(2));
    let labels = job.metadata.labels.clone().expect("labels");
    assert_eq!(labels["shinydb.io/restore"], "r1");
    // The instance it fills is named (its reconciler holds it while the pod runs), yet the
    // pod does not look like a server pod to the instance's Services and StatefulSet.
    assert_eq!(labels["app.kubernetes.io/instance"], "db");
    assert!(
        build::selector_labels("db")
            .iter()
            .any(|(k, v)| labels.get(k) != Some(v)),
        "{labels:?}"
    );
}

#[test]
fn passes_a_backup_configuration_the_server_reads_as_the_instances() {
    let source = fixture("backup.yaml");
    let vars: Vec<(String, String)> = env(&job_of(&source))
        .into_iter()
        .map(|e| (e.name, e.value.expect("a value")))
        .collect();
    let config = shinydb_server::config::Config::load(None, vars, Vec::new())
        .expect("the server accepts the Job's variables");
    let b = &config.backup;
    assert_eq!(b.store.as_deref(), Some("s3://shiny/prod/db"));
    assert_eq!(b.endpoint.as_deref(), Some("http://10.88.0.1:5000"));
    assert!(b.path_style && b.allow_http);
    assert_eq!(
        b.access_key_id_file.as_deref(),
        Some(std::path::Path::new(
            "/etc/shinydb/backup/credentials/access-key-id"
        ))
    );
    assert_eq!(
        b.encryption_key_file.as_deref(),
        Some(std::path::Path::new("/etc/shinydb/backup/key/key"))
    );
    assert_eq!(config.data_dir, std::path::Path::new("/data"));
    // And the Secrets are mounted where those paths point.
    let pod = job_of(&source)
        .spec
        .expect("spec")
        .template
        .spec
        .expect("pod");
    let mounts: Vec<String> = pod.containers[0]
        .volume_mounts
        .clone()
        .expect("mounts")
        .into_iter()
        .map(|m| m.mount_path)
        .collect();
    for dir in [
        "/etc/shinydb/backup/credentials",
        "/etc/shinydb/backup/ca",
        "/etc/shinydb/backup/key",
        "/data",
    ] {
        assert!(mounts.contains(&dir.to_string()), "{dir} in {mounts:?}");
    }
}

#[test]
fn the_new_instances_volume_is_the_one_its_stateful_set_claims() {
    let source = fixture("backup.yaml");
    let new = Names {
        instance: "db2".into(),
        namespace: "apps".into(),
    };
    let claim = data_claim(&new, &source, "r1");
    assert_eq!(claim.metadata.name.as_deref(), Some("data-db2-0"));
    let mut db2 = fixture("minimal.yaml");
    db2.metadata.name = Some("db2".into());
    db2.metadata.namespace = Some("apps".into());
    let validated = validate(&db2, &Referenced::default()).expect("valid");
    let now: Timestamp = "2026-12-01T00:00:00Z".parse().expect("time");
    let desired = build::build(&db2, &validated.config, &Observed::default(), now).expect("build");
    let template = &desired
        .stateful_set
        .spec
        .volume_claim_templates
        .expect("claims")[0];
    assert_eq!(
        format!("{}-db2-0", template.metadata.name.as_deref().expect("name")),
        "data-db2-0"
    );
    assert_eq!(
        claim.spec.expect("spec").resources,
        template.spec.clone().expect("spec").resources
    );
}

#[test]
fn an_instance_held_by_a_restore_runs_no_pod() {
    let db = fixture("minimal.yaml");
    let validated = validate(&db, &Referenced::default()).expect("valid");
    let now: Timestamp = "2026-12-01T00:00:00Z".parse().expect("time");
    let held = Observed {
        held_by: Some("r1".into()),
        ..Observed::default()
    };
    let desired = build::build(&db, &validated.config, &held, now).expect("build");
    assert_eq!(desired.stateful_set.spec.replicas, Some(0));
    let free = build::build(&db, &validated.config, &Observed::default(), now).expect("build");
    assert_eq!(free.stateful_set.spec.replicas, Some(1));
}

#[test]
fn a_restored_instance_gets_the_sources_password_before_it_exists() {
    let mut db2 = fixture("minimal.yaml");
    db2.metadata.name = Some("db2".into());
    db2.metadata.uid = None;
    let secret = build::admin_secret_copy(
        &db2,
        k8s_openapi::ByteString(b"the-source-password".to_vec()),
        "r1",
    )
    .expect("built without the instance's uid");
    assert_eq!(secret.metadata.name.as_deref(), Some("db2-admin"));
    assert_eq!(secret.metadata.owner_references, None);
    let labels = secret.metadata.labels.clone().expect("labels");
    assert_eq!(labels["shinydb.io/restore"], "r1");
    assert_eq!(labels["app.kubernetes.io/instance"], "db2");
    assert_eq!(
        secret.data.expect("data")["password"].0,
        b"the-source-password"
    );
}

#[test]
fn a_check_job_mounts_no_volume_and_writes_nothing() {
    let source = fixture("backup.yaml");
    let job = restore_job(&RestoreJob {
        restore: "r1-check".into(),
        namespace: "apps".into(),
        owner: source.controller_owner_ref(&()).expect("owner"),
        source: &source,
        instance: "db".into(),
        claim: None,
        target_args: vec!["--latest".into()],
        deadline_seconds: 600,
    });
    let pod = job.spec.expect("spec").template.spec.expect("pod");
    let c = &pod.containers[0];
    assert_eq!(
        c.args.clone().expect("args"),
        [
            "restore",
            "--check",
            "--report",
            "/dev/termination-log",
            "--latest"
        ]
    );
    let volumes = pod.volumes.expect("volumes");
    assert!(
        volumes.iter().all(|v| v.persistent_volume_claim.is_none()),
        "{volumes:?}"
    );
    let mounts = c.volume_mounts.clone().expect("mounts");
    assert!(mounts.iter().all(|m| m.mount_path != "/data"), "{mounts:?}");
}
