//! `spec.bootstrap.restore`: the Secrets it names are checked like `spec.backup`'s, the
//! restore Job reads the bootstrap's store and fills the instance's own volume, and the
//! instance runs no pod and says why until the data is restored (or the restore failed).

use std::collections::BTreeMap;

use jiff::Timestamp;
use kube::Resource;
use shinydb_operator::build::{self, Names, Observed, RestoreJob, restore_job};
use shinydb_operator::controller::bootstrap_source;
use shinydb_operator::crd::{BootstrapPhase, BootstrapStatus, Phase, ShinyDB};
use shinydb_operator::restore::plan;
use shinydb_operator::status::{Inputs, compute};
use shinydb_operator::validate::{Referenced, validate};

use super::backup_settings::secret;
use super::build::fixture;

fn referenced() -> Referenced {
    Referenced {
        admin_secret: Some(secret("old-admin", &["password"])),
        backup_secrets: BTreeMap::from([
            ("old-s3".into(), secret("old-s3", &["id", "secret"])),
            ("old-key".into(), secret("old-key", &["hex"])),
        ]),
        ..Referenced::default()
    }
}

#[test]
fn the_secrets_of_the_bootstrap_store_are_checked() {
    let db = fixture("bootstrap.yaml");
    validate(&db, &referenced()).expect("valid with its Secrets");
    let mut missing = referenced();
    missing.backup_secrets.remove("old-s3");
    let err = validate(&db, &missing).expect_err("the store's Secret is missing");
    let text = err.to_string();
    assert!(
        text.contains("spec.bootstrap.restore.store.credentials") && text.contains("old-s3"),
        "{text}"
    );
}

#[test]
fn the_restore_job_reads_the_bootstrap_store_into_the_instances_volume() {
    let db = fixture("bootstrap.yaml");
    let spec = db
        .spec
        .bootstrap
        .as_ref()
        .and_then(|b| b.restore.as_ref())
        .expect("a bootstrap restore");
    let source = bootstrap_source(&db, spec);
    let names = Names::of(&db).expect("names");
    let target = plan::target_of(spec.target.as_ref(), spec.lineage.as_deref(), None);
    let job = restore_job(&RestoreJob {
        restore: "copy-bootstrap".into(),
        namespace: "apps".into(),
        owner: db.controller_owner_ref(&()).expect("owner"),
        source: &source,
        instance: names.instance.clone(),
        claim: Some(names.data_claim(0)),
        target_args: target.args,
        deadline_seconds: 3600,
    });
    let pod = job.spec.expect("spec").template.spec.expect("pod");
    let c = &pod.containers[0];
    let args = c.args.clone().expect("args");
    assert_eq!(
        args[4..],
        [
            "--target-time",
            "2026-12-01T10:15:00Z",
            "--lineage",
            "0123456789abcdef"
        ]
    );
    let vars: Vec<(String, String)> = c
        .env
        .clone()
        .expect("env")
        .into_iter()
        .map(|e| (e.name, e.value.expect("a value")))
        .collect();
    let config = shinydb_server::config::Config::load(None, vars, Vec::new())
        .expect("the server accepts the Job's variables");
    assert_eq!(config.backup.store.as_deref(), Some("s3://shiny/prod/db"));
    assert!(config.backup.encryption_key_file.is_some());
    let volumes = pod.volumes.expect("volumes");
    let claim = volumes[0]
        .persistent_volume_claim
        .as_ref()
        .expect("the data claim");
    assert_eq!(claim.claim_name, "data-copy-0");
    let secrets: Vec<String> = volumes
        .iter()
        .filter_map(|v| v.secret.as_ref()?.secret_name.clone())
        .collect();
    assert!(
        secrets.contains(&"old-s3".to_string()) && secrets.contains(&"old-key".to_string()),
        "{secrets:?}"
    );
}

#[test]
fn until_the_data_is_restored_no_pod_runs() {
    let db = fixture("bootstrap.yaml");
    let validated = validate(&db, &referenced()).expect("valid");
    let now: Timestamp = "2026-12-03T00:00:00Z".parse().expect("time");
    let waiting = Observed {
        bootstrapping: true,
        ..Observed::default()
    };
    let desired = build::build(&db, &validated.config, &waiting, now).expect("build");
    assert_eq!(desired.stateful_set.spec.replicas, Some(0));
    let done = build::build(&db, &validated.config, &Observed::default(), now).expect("build");
    assert_eq!(done.stateful_set.spec.replicas, Some(1));
}

fn status_with(db: &ShinyDB, bootstrap: &BootstrapStatus) -> shinydb_operator::crd::ShinyDBStatus {
    compute(&Inputs {
        db,
        stateful_set: None,
        problem: None,
        tls: None,
        provided_certificate: None,
        backup: None,
        backup_server: None,
        held_by: None,
        bootstrap: Some(bootstrap),
        now: "2026-12-03T00:00:00Z".parse().expect("time"),
    })
}

fn ready(s: &shinydb_operator::crd::ShinyDBStatus) -> (String, String, String) {
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[test]
fn the_status_says_the_data_is_being_restored_or_why_it_was_not() {
    let db = fixture("bootstrap.yaml");
    let running = BootstrapStatus {
        phase: Some(BootstrapPhase::Running),
        job: Some("copy-bootstrap".into()),
        message: Some("Job copy-bootstrap restores time 2026-12-01T10:15:00Z".into()),
        ..BootstrapStatus::default()
    };
    let s = status_with(&db, &running);
    assert_eq!(s.phase, Some(Phase::Progressing));
    let (status, reason, message) = ready(&s);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "Bootstrapping")
    );
    assert!(message.contains("copy-bootstrap"), "{message}");
    assert_eq!(s.bootstrap.as_ref(), Some(&running));

    let failed = BootstrapStatus {
        phase: Some(BootstrapPhase::Failed),
        reason: Some("NoBackup".into()),
        message: Some("no backup in s3://shiny/prod/db ends before 2026-12-01T10:15:00Z".into()),
        ..running
    };
    let s = status_with(&db, &failed);
    assert_eq!(s.phase, Some(Phase::Failed));
    let (status, reason, message) = ready(&s);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "NoBackup"));
    assert!(
        message.contains("no backup in s3://shiny/prod/db"),
        "{message}"
    );
    let degraded = s
        .conditions
        .iter()
        .find(|c| c.type_ == "Degraded")
        .expect("Degraded");
    assert_eq!(degraded.status, "True");

    let completed = BootstrapStatus {
        phase: Some(BootstrapPhase::Completed),
        ..failed
    };
    let s = status_with(&db, &completed);
    assert_ne!(ready(&s).1, "Bootstrapping");
    assert_ne!(s.phase, Some(Phase::Failed));
}

#[test]
fn the_example_bootstraps_from_the_backup_examples_bucket() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let text =
        std::fs::read_to_string(dir.join("bootstrap.yaml")).expect("examples/bootstrap.yaml");
    let db: ShinyDB = serde_yaml_ng::from_str(&text).expect("a ShinyDB");
    let restore = db
        .spec
        .bootstrap
        .and_then(|b| b.restore)
        .expect("a bootstrap restore");
    let backed_up = std::fs::read_to_string(dir.join("backup.yaml")).expect("examples/backup.yaml");
    let source: ShinyDB = backed_up
        .split("\n---\n")
        .find_map(|doc| serde_yaml_ng::from_str(doc).ok())
        .expect("the backed-up ShinyDB");
    assert_eq!(Some(restore.store), source.spec.backup.map(|b| b.store));
    assert!(db.spec.auth.admin_password_secret.is_some());
}
