//! The status computation: conditions keyed by type with stable transition times, and the
//! replication report for more than one replica.

use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetStatus};
use shinydb_operator::crd::{Phase, ShinyDB};
use shinydb_operator::status::{Inputs, Problem, compute};

fn fixture(name: &str) -> ShinyDB {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("ShinyDB")
}

fn sts(ready: i32, current: &str, update: &str) -> StatefulSet {
    let mut s: StatefulSet = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "db", "generation": 3},
        "spec": {"replicas": 1, "serviceName": "db-hl", "selector": {},
                 "template": {"spec": {"containers": []}}},
    }))
    .expect("sts");
    s.status = Some(StatefulSetStatus {
        observed_generation: Some(3),
        replicas: 1,
        ready_replicas: Some(ready),
        updated_replicas: Some(1),
        current_revision: Some(current.into()),
        update_revision: Some(update.into()),
        ..StatefulSetStatus::default()
    });
    s
}

fn inputs<'a>(db: &'a ShinyDB, set: &'a StatefulSet, now: Timestamp) -> Inputs<'a> {
    Inputs {
        db,
        stateful_set: Some(set),
        problem: None,
        tls: None,
        provided_certificate: None,
        backup: None,
        backup_server: None,
        held_by: None,
        bootstrap: None,
        now,
    }
}

fn condition(
    db_status: &shinydb_operator::crd::ShinyDBStatus,
    t: &str,
) -> (String, String, Timestamp) {
    let c = db_status
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .expect("condition");
    (c.status.clone(), c.reason.clone(), c.last_transition_time.0)
}

#[test]
fn ready_instance_runs_and_transition_times_stay_put() {
    let t0: Timestamp = "2026-11-26T00:00:00Z".parse().expect("ts");
    let mut db = fixture("minimal.yaml");
    let starting = sts(0, "r1", "r1");
    let s1 = compute(&inputs(&db, &starting, t0));
    assert_eq!(s1.phase, Some(Phase::Progressing));
    assert_eq!(condition(&s1, "Ready").0, "False");
    db.status = Some(s1);

    let t1 = t0 + SignedDuration::from_secs(30);
    let ready = sts(1, "r1", "r1");
    let s2 = compute(&inputs(&db, &ready, t1));
    assert_eq!(s2.phase, Some(Phase::Running));
    assert_eq!(s2.ready_replicas, 1);
    assert_eq!(
        condition(&s2, "Ready"),
        ("True".into(), "Serving".into(), t1)
    );
    assert_eq!(condition(&s2, "Progressing").0, "False");
    db.status = Some(s2.clone());

    // Nothing changed an hour later: the same status, so no write.
    let s3 = compute(&inputs(&db, &ready, t1 + SignedDuration::from_hours(1)));
    assert_eq!(s3, s2);

    // A rollout (new revision) is Progressing; the pod going away degrades a running instance.
    db.status = Some(s3);
    let rolling = sts(1, "r1", "r2");
    let s4 = compute(&inputs(&db, &rolling, t1 + SignedDuration::from_hours(2)));
    assert_eq!(condition(&s4, "Progressing").1, "RollingOut");
    assert_eq!(
        condition(&s4, "Ready").2,
        t1,
        "still ready: the transition time is kept"
    );
    let gone = sts(0, "r2", "r2");
    let s5 = compute(&inputs(&db, &gone, t1 + SignedDuration::from_hours(3)));
    assert_eq!(s5.phase, Some(Phase::Degraded));
    assert_eq!(condition(&s5, "Degraded").1, "PodsNotReady");
}

#[test]
fn more_than_one_replica_is_reported_as_replication_unavailable() {
    let db = fixture("overrides.yaml");
    let ready = sts(1, "r1", "r1");
    let s = compute(&inputs(
        &db,
        &ready,
        "2026-11-26T00:00:00Z".parse().expect("ts"),
    ));
    let (status, reason, _) = condition(&s, "Ready");
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "ReplicationUnavailable")
    );
    assert_eq!(s.phase, Some(Phase::Degraded));
    assert_eq!(
        s.endpoint.as_deref(),
        Some("orders.shop.svc.corp.internal:23469")
    );
    assert_eq!(
        s.admin_secret_name.as_deref(),
        Some("orders-admin-password")
    );
}

#[test]
fn a_problem_fails_the_instance_with_the_message() {
    let db = fixture("minimal.yaml");
    let ready = sts(1, "r1", "r1");
    let mut i = inputs(&db, &ready, "2026-11-26T00:00:00Z".parse().expect("ts"));
    i.problem = Some(Problem::InvalidSpec(
        "spec.config: config key `storage.x`: unknown field".into(),
    ));
    let s = compute(&i);
    assert_eq!(s.phase, Some(Phase::Failed));
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(c.reason, "InvalidSpec");
    assert!(c.message.contains("storage.x"));
}
