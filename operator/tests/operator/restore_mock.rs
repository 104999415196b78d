//! The restore against a mock API server: a refused restore is Failed with its reason, written
//! on the version it was decided from, with a warning event; an instance held by an unfinished
//! in-place restore is applied with no pod, and says why; so is one whose restore was deleted
//! or failed while a pod of its Job still runs.

use std::sync::{Arc, Mutex};

use http::Method;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use serde_json::json;
use shinydb_operator::controller::reconcile;
use shinydb_operator::crd::{ShinyDB, ShinyRestore};
use shinydb_operator::restore;

use super::reconcile_mock::{Fake, context};

const RESTORES: &str = "/apis/shinydb.io/v1alpha1/namespaces/apps/shinyrestores";

fn in_place(phase: &str) -> serde_json::Value {
    json!({
        "apiVersion": "shinydb.io/v1alpha1",
        "kind": "ShinyRestore",
        "metadata": {"name": "r1", "namespace": "apps", "uid": "u-r1", "resourceVersion": "7"},
        "spec": {"instance": "db", "mode": "InPlace", "confirm": "db"},
        "status": {"phase": phase},
    })
}

#[tokio::test]
async fn a_restore_of_a_missing_instance_fails_with_nothing_touched() {
    let body = json!({
        "apiVersion": "shinydb.io/v1alpha1",
        "kind": "ShinyRestore",
        "metadata": {"name": "r1", "namespace": "apps", "uid": "u-r1", "resourceVersion": "7"},
        "spec": {"instance": "gone", "newInstance": "copy"},
    });
    let fake = Arc::new(Mutex::new(Fake::default()));
    fake.lock()
        .expect("lock")
        .objects
        .insert(format!("{RESTORES}/r1"), body.clone());
    let ctx = context(&fake);
    let r: ShinyRestore = serde_json::from_value(body).expect("a ShinyRestore");
    let action = restore::reconcile(Arc::new(r), ctx)
        .await
        .expect("a refusal is not a reconcile error");
    assert_eq!(action, Action::await_change());
    let fake = fake.lock().expect("lock");
    let patches = fake.requests(Method::PATCH);
    assert_eq!(patches.len(), 1, "only the status: {:?}", fake.log);
    let (_, path, body) = patches[0];
    assert!(
        path.starts_with(&format!("{RESTORES}/r1/status?")),
        "{path}"
    );
    assert_eq!(body["metadata"]["resourceVersion"], "7");
    assert_eq!(body["status"]["phase"], "Failed");
    assert_eq!(body["status"]["reason"], "InstanceNotFound");
    let posts = fake.requests(Method::POST);
    assert!(
        posts.iter().all(|(_, p, _)| p.contains("/events")),
        "nothing but events is created: {posts:?}"
    );
    assert_eq!(posts[0].2["reason"], "RestoreFailed");
}

const PODS: &str = "/api/v1/namespaces/apps/pods";

/// A pod of restore `r1`'s Job filling instance `db`'s volume, in `phase`.
fn restore_pod(phase: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "r1-x7k2p", "namespace": "apps",
                     "labels": {"shinydb.io/restore": "r1", "app.kubernetes.io/instance": "db"}},
        "status": {"phase": phase},
    })
}

/// The StatefulSet's replicas and the ShinyDB's status after one reconcile of `db`, held
/// by `r1`, with that restore in `restore_phase` (`None`: deleted) and its Job's `pods`.
async fn applied_replicas_with(
    restore_phase: Option<&str>,
    pods: Vec<serde_json::Value>,
) -> (serde_json::Value, serde_json::Value) {
    let fake = Arc::new(Mutex::new(Fake::default()));
    {
        let mut f = fake.lock().expect("lock");
        if let Some(phase) = restore_phase {
            f.objects.insert(format!("{RESTORES}/r1"), in_place(phase));
        }
        f.objects.insert(
            PODS.into(),
            json!({"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": pods}),
        );
    }
    let ctx = context(&fake);
    let mut db: ShinyDB =
        serde_yaml_ng::from_str(include_str!("../fixtures/minimal.yaml")).expect("ShinyDB");
    db.metadata.annotations =
        Some([(restore::HOLD_ANNOTATION.to_string(), "r1".to_string())].into());
    reconcile(Arc::new(DeserializeGuard(Ok(db))), ctx)
        .await
        .expect("reconciled");
    let fake = fake.lock().expect("lock");
    let patches = fake.requests(Method::PATCH);
    let sts = patches
        .iter()
        .find(|(_, p, _)| p.contains("/statefulsets/db?"))
        .expect("the StatefulSet is applied")
        .2
        .clone();
    let status = patches
        .iter()
        .find(|(_, p, _)| p.contains("/shinydbs/db/status?"))
        .expect("the status is written")
        .2
        .clone();
    (sts["spec"]["replicas"].clone(), status["status"].clone())
}

/// The `Ready` condition of a ShinyDB status (JSON).
fn ready(status: &serde_json::Value) -> serde_json::Value {
    status["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .find(|c| c["type"] == "Ready")
        .expect("Ready")
        .clone()
}

async fn applied_replicas(restore_phase: &str) -> (serde_json::Value, serde_json::Value) {
    applied_replicas_with(Some(restore_phase), Vec::new()).await
}

#[tokio::test]
async fn an_unfinished_in_place_restore_holds_its_instance_at_zero_pods() {
    let (replicas, status) = applied_replicas("Running").await;
    assert_eq!(replicas, 0);
    let ready = ready(&status);
    assert_eq!(ready["reason"], "RestoreInProgress");
    assert!(
        ready["message"].as_str().is_some_and(|m| m.contains("r1")),
        "{ready}"
    );
}

#[tokio::test]
async fn a_restore_past_its_data_holds_nothing() {
    let (replicas, _) = applied_replicas("Verifying").await;
    assert_eq!(replicas, 1);
}

#[tokio::test]
async fn a_deleted_restore_holds_its_instance_until_its_jobs_pod_is_gone() {
    // Deleting a running restore deletes its Job, whose pod takes a while to stop: the
    // server must not start on the volume that pod still writes.
    let (replicas, status) = applied_replicas_with(None, vec![restore_pod("Running")]).await;
    assert_eq!(replicas, 0);
    let ready = ready(&status);
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains("r1-x7k2p")),
        "{ready}"
    );
    let (replicas, _) = applied_replicas_with(None, vec![restore_pod("Failed")]).await;
    assert_eq!(replicas, 1, "a pod that ended holds nothing");
    let (replicas, _) = applied_replicas_with(Some("Failed"), vec![restore_pod("Pending")]).await;
    assert_eq!(
        replicas, 0,
        "nor does a failed restore while its pod still runs"
    );
}
