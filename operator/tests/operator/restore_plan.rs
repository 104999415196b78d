//! A ShinyRestore's pure half: the target it asks for, the pre-flight refusals (and the
//! volume's size against what the check found), the Job's report, the instance a restore into
//! a new instance creates, and its deadline.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::json;
use shinydb_operator::crd::{
    BackupStatus, RestoreMode, Restored, ShinyBackup, ShinyDB, ShinyDBStatus, ShinyRestore,
};
use shinydb_operator::restore::plan::{
    Refusal, Report, World, check, check_job_name, fits, new_instance, parse_report, past_deadline,
    target,
};

fn restore(spec: serde_json::Value) -> ShinyRestore {
    serde_json::from_value(json!({
        "apiVersion": "shinydb.io/v1alpha1",
        "kind": "ShinyRestore",
        "metadata": {"name": "r1", "namespace": "apps", "uid": "u-1"},
        "spec": spec,
    }))
    .expect("a ShinyRestore")
}

fn instance(with_backup: bool) -> ShinyDB {
    let mut spec = json!({"version": "0.1.0"});
    if with_backup {
        spec["backup"] = json!({"store": {"bucket": "shiny"}});
    }
    serde_json::from_value(json!({
        "apiVersion": "shinydb.io/v1alpha1",
        "kind": "ShinyDB",
        "metadata": {"name": "db", "namespace": "apps"},
        "spec": spec,
    }))
    .expect("a ShinyDB")
}

fn backup(instance: &str, status: serde_json::Value) -> ShinyBackup {
    serde_json::from_value(json!({
        "apiVersion": "shinydb.io/v1alpha1",
        "kind": "ShinyBackup",
        "metadata": {"name": "b1", "namespace": "apps"},
        "spec": {"instance": instance},
        "status": status,
    }))
    .expect("a ShinyBackup")
}

fn world() -> World {
    World {
        instance: Some(instance(true)),
        ..World::default()
    }
}

mod the_target {
    use super::*;

    #[test]
    fn is_the_latest_state_when_nothing_is_named() {
        let t = target(
            &restore(json!({"instance": "db", "newInstance": "db2"})).spec,
            None,
        );
        assert_eq!(t.args, ["--latest"]);
        assert_eq!(t.words, "latest");
    }

    #[test]
    fn is_exactly_the_named_backup() {
        let r =
            restore(json!({"instance": "db", "newInstance": "db2", "source": {"backup": "b1"}}));
        let t = target(&r.spec, Some("20261201T101500Z-abc"));
        assert_eq!(t.args, ["--backup", "20261201T101500Z-abc"]);
        assert_eq!(t.words, "backup 20261201T101500Z-abc");
    }

    #[test]
    fn passes_a_time_a_seq_and_a_lineage() {
        let r = restore(json!({"instance": "db", "newInstance": "db2",
            "target": {"time": "2026-12-01T10:15:00Z"}, "source": {"lineage": "L1"}}));
        assert_eq!(
            target(&r.spec, None).args,
            ["--target-time", "2026-12-01T10:15:00Z", "--lineage", "L1"]
        );
        let r = restore(json!({"instance": "db", "newInstance": "db2", "target": {"seq": 42}}));
        let t = target(&r.spec, None);
        assert_eq!(t.args, ["--target-seq", "42"]);
        assert_eq!(t.words, "seq 42");
    }
}

mod the_checks {
    use super::*;

    fn into_new() -> ShinyRestore {
        restore(json!({"instance": "db", "newInstance": "db2"}))
    }

    #[test]
    fn pass_with_an_instance_that_has_a_store() {
        assert_eq!(check(&into_new(), &world()), Ok(None));
    }

    #[test]
    fn refuse_a_missing_instance_and_one_without_a_store() {
        let missing = check(&into_new(), &World::default()).expect_err("refused");
        assert_eq!(missing.reason(), "InstanceNotFound");
        let bare = World {
            instance: Some(instance(false)),
            ..World::default()
        };
        let refused = check(&into_new(), &bare).expect_err("refused");
        assert_eq!(refused.reason(), "BackupNotConfigured");
        assert!(refused.to_string().contains("spec.backup"), "{refused}");
    }

    #[test]
    fn give_the_id_of_a_completed_backup_and_refuse_others() {
        let r = restore(json!({"instance": "db", "mode": "InPlace", "confirm": "db",
            "source": {"backup": "b1"}}));
        assert_eq!(
            check(&r, &world()).expect_err("none").reason(),
            "BackupNotFound"
        );
        let done = World {
            backup: Some(backup(
                "db",
                json!({"phase": "Completed", "backupId": "B-1"}),
            )),
            ..world()
        };
        assert_eq!(check(&r, &done), Ok(Some("B-1".into())));
        let running = World {
            backup: Some(backup("db", json!({"phase": "Running"}))),
            ..world()
        };
        assert_eq!(
            check(&r, &running).expect_err("running").reason(),
            "BackupNotCompleted"
        );
        let other = World {
            backup: Some(backup(
                "other",
                json!({"phase": "Completed", "backupId": "B-2"}),
            )),
            ..world()
        };
        assert!(matches!(
            check(&r, &other),
            Err(Refusal::BackupOfAnotherInstance { .. })
        ));
    }

    #[test]
    fn never_touch_an_existing_instance_or_volume() {
        let mut existing = instance(false);
        existing.metadata.name = Some("db2".into());
        let taken = World {
            new_instance: Some(existing),
            ..world()
        };
        let refused = check(&into_new(), &taken).expect_err("refused");
        assert_eq!(refused.reason(), "InstanceExists");
        let claimed = World {
            foreign_claim: Some("data-db2-0".into()),
            ..world()
        };
        let refused = check(&into_new(), &claimed).expect_err("refused");
        assert_eq!(refused.reason(), "ClaimExists");
        assert!(refused.to_string().contains("data-db2-0"), "{refused}");
    }

    #[test]
    fn refuse_a_time_before_the_oldest_backup() {
        let mut db = instance(true);
        db.status = Some(ShinyDBStatus {
            backup: Some(BackupStatus {
                first_recoverability_point: Some("2026-12-01T10:00:00Z".into()),
                ..BackupStatus::default()
            }),
            ..ShinyDBStatus::default()
        });
        let w = World {
            instance: Some(db),
            ..World::default()
        };
        let early = restore(json!({"instance": "db", "newInstance": "db2",
            "target": {"time": "2026-12-01T09:59:59Z"}}));
        assert_eq!(
            check(&early, &w).expect_err("early").reason(),
            "TargetNotRecoverable"
        );
        let later = restore(json!({"instance": "db", "newInstance": "db2",
            "target": {"time": "2026-12-01T10:00:01Z"}}));
        assert_eq!(check(&later, &w), Ok(None));
    }
}

mod the_report {
    use super::*;

    #[test]
    fn of_a_restore_becomes_the_status_restored() {
        let text = r#"{"ok":true,"id":"B-1","seq":120,"commitTimeMs":1796119200000,
            "replayed":7,"lineage":"L2","bytes":4096,"seconds":1.5}"#;
        assert_eq!(
            parse_report(text),
            Some(Report::Restored(Restored {
                backup_id: "B-1".into(),
                seq: 120,
                commit_time: Some("2026-12-01T10:00:00Z".into()),
                replayed: 7,
                lineage: "L2".into(),
                bytes: 4096,
            }))
        );
    }

    #[test]
    fn of_a_failure_keeps_the_servers_reason() {
        let text = r#"{"ok":false,"reason":"NoBackup","message":"no complete backup"}"#;
        assert_eq!(
            parse_report(text),
            Some(Report::Failed {
                reason: "NoBackup".into(),
                message: "no complete backup".into()
            })
        );
    }

    #[test]
    fn is_absent_when_the_message_is_a_log_tail() {
        assert_eq!(parse_report("thread 'main' panicked at ..."), None);
        assert_eq!(parse_report(""), None);
    }
}

#[test]
fn a_new_instance_has_the_sources_spec_without_its_backups() {
    let mut source = instance(true);
    source.spec.replicas = 1;
    let new = new_instance(&source, "db2", "r1");
    assert_eq!(new.metadata.name.as_deref(), Some("db2"));
    assert_eq!(new.metadata.namespace.as_deref(), Some("apps"));
    assert_eq!(new.spec.backup, None);
    assert_eq!(new.spec.version, source.spec.version);
    assert_eq!(
        new.metadata
            .labels
            .expect("labels")
            .get("shinydb.io/restore"),
        Some(&"r1".to_string())
    );
}

#[test]
fn the_deadline_counts_from_the_start() {
    let now: Timestamp = "2026-12-01T11:00:00Z".parse().expect("time");
    let hour = Duration::from_secs(3600);
    assert!(!past_deadline(Some("2026-12-01T10:00:01Z"), hour, now));
    assert!(past_deadline(Some("2026-12-01T10:00:00Z"), hour, now));
    assert!(!past_deadline(None, hour, now));
}

#[test]
fn the_examples_are_restores_of_the_backup_example() {
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/restore.yaml");
    let text = std::fs::read_to_string(&path).expect("examples/restore.yaml");
    let restores: Vec<ShinyRestore> = text
        .split("\n---\n")
        .map(|doc| serde_yaml_ng::from_str(doc).expect("a ShinyRestore"))
        .collect();
    assert_eq!(restores.len(), 2);
    let (into_new, in_place) = (&restores[0].spec, &restores[1].spec);
    assert_eq!(into_new.mode, RestoreMode::NewInstance);
    assert_eq!(
        target(into_new, None).args,
        ["--target-time", "2026-12-01T10:15:00Z"]
    );
    assert_eq!(in_place.mode, RestoreMode::InPlace);
    assert_eq!(
        in_place.confirm.as_deref(),
        Some(in_place.instance.as_str())
    );
    assert!(in_place.safety_backup);
    assert_eq!(target(in_place, None).args, ["--latest"]);
}

#[test]
fn a_volume_smaller_than_what_the_restore_writes_is_refused() {
    let gi = Quantity("1Gi".into());
    assert_eq!(fits(1 << 30, "data-db-0", &gi), Ok(()));
    let refused = fits((1 << 30) + 1, "data-db-0", &gi).expect_err("too small");
    assert_eq!(refused.reason(), "VolumeTooSmall");
    let text = refused.to_string();
    assert!(
        text.contains("data-db-0") && text.contains("1Gi") && text.contains("1073741825"),
        "{text}"
    );
    // Decimal units too; a size that does not parse is left to the Job.
    assert!(fits(2_000_000_001, "c", &Quantity("2G".into())).is_err());
    assert_eq!(fits(u64::MAX, "c", &Quantity("lots".into())), Ok(()));
}

#[test]
fn the_check_job_is_named_after_the_restore_within_a_label_value() {
    assert_eq!(check_job_name("r1"), "r1-check");
    let long = "r".repeat(63);
    assert_eq!(check_job_name(&long).len(), 63);
}
