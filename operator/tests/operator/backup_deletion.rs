//! Deleting a ShinyBackup with the opt-in finalizer `shinydb.io/delete-objects`, against a
//! mock API server: a backup that never completed, or whose instance is gone, lets its
//! ShinyBackup go at once (the latter with a warning that the objects stay), conditional on
//! the version read and keeping any other finalizer.

use std::sync::{Arc, Mutex};

use http::Method;
use kube::runtime::controller::Action;
use serde_json::json;
use shinydb_operator::backup::{self, DELETE_OBJECTS_FINALIZER};
use shinydb_operator::crd::ShinyBackup;

use super::reconcile_mock::{Fake, context};

const BACKUPS: &str = "/apis/shinydb.io/v1alpha1/namespaces/apps/shinybackups";

fn deleted(status: serde_json::Value) -> ShinyBackup {
    serde_json::from_value(json!({
        "apiVersion": "shinydb.io/v1alpha1",
        "kind": "ShinyBackup",
        "metadata": {"name": "b1", "namespace": "apps", "uid": "u-b1", "resourceVersion": "9",
                     "deletionTimestamp": "2026-12-03T12:00:00Z",
                     "finalizers": ["example.com/keep", DELETE_OBJECTS_FINALIZER]},
        "spec": {"instance": "gone"},
        "status": status,
    }))
    .expect("a ShinyBackup")
}

/// Reconciles `backup`; returns the requests made.
async fn reconciled(backup: ShinyBackup) -> Vec<(Method, String, serde_json::Value)> {
    let fake = Arc::new(Mutex::new(Fake::default()));
    fake.lock().expect("lock").objects.insert(
        format!("{BACKUPS}/b1"),
        serde_json::to_value(&backup).expect("JSON"),
    );
    let ctx = context(&fake);
    let action = backup::reconcile(Arc::new(backup), ctx)
        .await
        .expect("reconciled");
    assert_eq!(action, Action::await_change());
    fake.lock().expect("lock").log.clone()
}

/// The finalizer-removing patch among `log`.
fn release(log: &[(Method, String, serde_json::Value)]) -> serde_json::Value {
    log.iter()
        .find(|(m, p, _)| *m == Method::PATCH && p.starts_with(&format!("{BACKUPS}/b1?")))
        .map(|(_, _, body)| body.clone())
        .unwrap_or_else(|| panic!("no patch of b1 in {log:?}"))
}

#[tokio::test]
async fn a_backup_that_never_completed_goes_at_once() {
    let log = reconciled(deleted(json!({"phase": "Failed"}))).await;
    let body = release(&log);
    assert_eq!(body["metadata"]["finalizers"], json!(["example.com/keep"]));
    assert_eq!(body["metadata"]["resourceVersion"], "9");
    assert!(
        !log.iter().any(|(_, p, _)| p.contains("/shinydbs/")),
        "nothing to delete, no instance to ask: {log:?}"
    );
}

#[tokio::test]
async fn the_objects_of_a_gone_instance_stay_with_a_warning() {
    let log = reconciled(deleted(
        json!({"phase": "Completed", "backupId": "20261203T120000Z-ab12"}),
    ))
    .await;
    release(&log);
    let warning = log
        .iter()
        .find(|(m, p, _)| *m == Method::POST && p.contains("/events"))
        .map(|(_, _, body)| body.clone())
        .expect("an event");
    assert_eq!(warning["reason"], "BackupObjectsKept");
    assert_eq!(warning["type"], "Warning");
    assert!(
        warning["note"]
            .as_str()
            .is_some_and(|n| n.contains("20261203T120000Z-ab12")),
        "{warning}"
    );
}
