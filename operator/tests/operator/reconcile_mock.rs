//! The reconciler against a mock API server (tower-test): error paths, the single field
//! manager, status written only when it changed, and backoff.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Client;
use kube::client::Body;
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use shinydb_operator::controller::{Context, error_policy, reconcile};
use shinydb_operator::crd::{ShinyDB, ShinyDBStatus};
use shinydb_operator::error::Error;
use shinydb_operator::metrics::Metrics;

/// A tiny in-memory API server: GET serves what was applied, PATCH stores, POST echoes,
/// DELETE removes.
#[derive(Default)]
pub(crate) struct Fake {
    pub(crate) objects: BTreeMap<String, Value>,
    /// Paths answered with 403 Forbidden.
    forbidden: Vec<String>,
    /// Every request: method, path and query, body.
    pub(crate) log: Vec<(Method, String, Value)>,
}

fn status_body(code: u16, reason: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": reason,
           "reason": reason, "code": code})
}

impl Fake {
    fn handle(
        &mut self,
        method: Method,
        path: String,
        query: String,
        body: Value,
    ) -> (StatusCode, Value) {
        self.log
            .push((method.clone(), format!("{path}?{query}"), body.clone()));
        if self.forbidden.contains(&path) {
            return (StatusCode::FORBIDDEN, status_body(403, "Forbidden"));
        }
        match method {
            Method::GET => match self.objects.get(&path) {
                Some(v) => (StatusCode::OK, v.clone()),
                None => (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
            },
            Method::PATCH => {
                let mut stored = body;
                if let Some(obj) = stored.as_object_mut() {
                    obj.entry("metadata").or_insert(json!({}));
                }
                if path.ends_with("/status") {
                    // The API server answers with the whole object.
                    let parent = path.trim_end_matches("/status");
                    stored["spec"] = self
                        .objects
                        .get(parent)
                        .map_or_else(|| json!({"version": "0.1.0"}), |o| o["spec"].clone());
                } else {
                    // Onto what is stored, as a merge patch (an apply of a whole object
                    // leaves the whole object).
                    if let Some(existing) = self.objects.get(&path) {
                        let mut merged = existing.clone();
                        merge(&mut merged, &stored);
                        stored = merged;
                    }
                    self.objects.insert(path, stored.clone());
                }
                (StatusCode::OK, stored)
            }
            Method::POST => (StatusCode::CREATED, body),
            Method::DELETE => match self.objects.remove(&path) {
                Some(_) => (
                    StatusCode::OK,
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
                ),
                None => (StatusCode::NOT_FOUND, status_body(404, "NotFound")),
            },
            _ => (
                StatusCode::METHOD_NOT_ALLOWED,
                status_body(405, "MethodNotAllowed"),
            ),
        }
    }

    pub(crate) fn requests(&self, method: Method) -> Vec<&(Method, String, Value)> {
        self.log.iter().filter(|(m, _, _)| *m == method).collect()
    }
}

/// JSON merge patch (RFC 7386) of `patch` onto `target`: objects merge, `null` removes,
/// anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    match (target.as_object_mut(), patch.as_object()) {
        (Some(t), Some(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

fn client(fake: Arc<Mutex<Fake>>) -> Client {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    tokio::spawn(async move {
        while let Some((request, send)) = handle.next_request().await {
            let method = request.method().clone();
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or_default().to_string();
            let bytes = request
                .into_body()
                .collect_bytes()
                .await
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let (code, reply) = fake.lock().expect("lock").handle(method, path, query, body);
            let response = Response::builder()
                .status(code)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&reply).expect("json")))
                .expect("response");
            send.send_response(response);
        }
    });
    Client::new(service, "default")
}

/// The status's `Ready` condition.
fn ready_condition(status: &ShinyDBStatus) -> &Condition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready")
}

fn db(yaml: &str) -> ShinyDB {
    serde_yaml_ng::from_str(yaml).expect("ShinyDB")
}

const MINIMAL: &str = include_str!("../fixtures/minimal.yaml");
const BAD_CONFIG: &str = include_str!("../fixtures/bad-config-key.yaml");
const INSECURE: &str = include_str!("../fixtures/insecure.yaml");

pub(crate) fn context(fake: &Arc<Mutex<Fake>>) -> Arc<Context> {
    let metrics = Arc::new(Metrics::new().expect("metrics"));
    Arc::new(Context::new(
        client(fake.clone()),
        metrics,
        Some("test".into()),
    ))
}

#[tokio::test]
async fn invalid_config_is_reported_in_status_and_an_event_without_touching_children() {
    let fake = Arc::new(Mutex::new(Fake::default()));
    let ctx = context(&fake);
    let action = reconcile(Arc::new(DeserializeGuard(Ok(db(BAD_CONFIG)))), ctx)
        .await
        .expect("an invalid spec is not a reconcile error");
    assert_eq!(action, Action::await_change());

    let fake = fake.lock().expect("lock");
    let patches = fake.requests(Method::PATCH);
    assert_eq!(
        patches.len(),
        1,
        "only the status is written: {:?}",
        fake.log
    );
    let (_, path, body) = patches[0];
    assert!(
        path.starts_with("/apis/shinydb.io/v1alpha1/namespaces/dev/shinydbs/typo/status?"),
        "{path}"
    );
    assert!(
        path.contains("fieldManager=shinydb-operator") && path.contains("force=true"),
        "{path}"
    );
    let status: ShinyDBStatus = serde_json::from_value(body["status"].clone()).expect("status");
    let ready = ready_condition(&status);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "InvalidSpec")
    );
    assert!(
        ready.message.contains("spec.config") && ready.message.contains("durabilty"),
        "{}",
        ready.message
    );
    assert_eq!(status.observed_generation, Some(2));

    let events = fake.requests(Method::POST);
    assert_eq!(events.len(), 1);
    assert!(
        events[0]
            .1
            .starts_with("/apis/events.k8s.io/v1/namespaces/dev/events")
    );
    assert_eq!(events[0].2["reason"], "InvalidSpec");
    assert_eq!(events[0].2["type"], "Warning");
}

#[tokio::test]
async fn api_errors_fail_the_reconcile_and_back_off_exponentially() {
    let fake = Arc::new(Mutex::new(Fake {
        forbidden: vec!["/api/v1/namespaces/apps/secrets/db-ca".into()],
        ..Fake::default()
    }));
    let ctx = context(&fake);
    let obj = Arc::new(DeserializeGuard(Ok(db(MINIMAL))));
    let mut delays = Vec::new();
    for _ in 0..4 {
        let err = reconcile(obj.clone(), ctx.clone())
            .await
            .expect_err("forbidden");
        assert!(
            matches!(&err, Error::Fetch { what, .. } if what == "Secret db-ca")
                && err.api_status().is_some_and(|s| s.code == 403),
            "{err}"
        );
        delays.push(error_policy(obj.clone(), &err, ctx.clone()));
    }
    let secs = [2, 4, 8, 16].map(|s| Action::requeue(Duration::from_secs(s)));
    assert_eq!(delays, secs);
    assert!(
        ctx.metrics
            .render()
            .contains("shinydb_operator_reconcile_errors_total{error=\"api\"} 4")
    );
    assert!(
        fake.lock()
            .expect("lock")
            .requests(Method::PATCH)
            .is_empty(),
        "nothing applied"
    );
}

#[tokio::test]
async fn a_malformed_object_is_skipped_not_retried() {
    let fake = Arc::new(Mutex::new(Fake::default()));
    let ctx = context(&fake);
    let guard: DeserializeGuard<ShinyDB> = serde_json::from_value(
        json!({"apiVersion": "shinydb.io/v1alpha1", "kind": "ShinyDB",
            "metadata": {"name": "broken", "namespace": "dev"}, "spec": {"replicas": "many"}}),
    )
    .expect("the guard itself deserializes");
    assert!(guard.0.is_err());
    let action = reconcile(Arc::new(guard), ctx).await.expect("skipped");
    assert_eq!(action, Action::await_change());
    assert!(fake.lock().expect("lock").log.is_empty());
}

#[tokio::test]
async fn applies_every_child_under_one_field_manager_and_skips_unchanged_status() {
    let fake = Arc::new(Mutex::new(Fake::default()));
    let ctx = context(&fake);
    let first = db(MINIMAL);
    let action = reconcile(Arc::new(DeserializeGuard(Ok(first.clone()))), ctx.clone())
        .await
        .expect("reconciled");
    // Certificates are due in weeks: the next look is the hourly resync.
    assert_eq!(action, Action::requeue(Duration::from_secs(3600)));

    let status = {
        let fake = fake.lock().expect("lock");
        let patches = fake.requests(Method::PATCH);
        let paths: Vec<&str> = patches
            .iter()
            .map(|(_, p, _)| p.split('?').next().unwrap_or_default())
            .collect();
        assert_eq!(
            paths,
            [
                "/api/v1/namespaces/apps/configmaps/db-config",
                "/api/v1/namespaces/apps/secrets/db-ca",
                "/api/v1/namespaces/apps/secrets/db-tls",
                "/api/v1/namespaces/apps/secrets/db-admin",
                "/api/v1/namespaces/apps/services/db-hl",
                "/api/v1/namespaces/apps/services/db",
                "/apis/apps/v1/namespaces/apps/statefulsets/db",
                "/apis/shinydb.io/v1alpha1/namespaces/apps/shinydbs/db/status",
            ]
        );
        for (_, path, body) in &patches {
            assert!(
                path.contains("fieldManager=shinydb-operator") && path.contains("force=true"),
                "{path}"
            );
            assert!(
                body["apiVersion"].is_string() && body["kind"].is_string(),
                "{path}: {body}"
            );
        }
        let reasons: Vec<&str> = fake
            .requests(Method::POST)
            .iter()
            .filter_map(|(_, _, b)| b["reason"].as_str())
            .collect();
        assert_eq!(reasons, ["Created", "CACreated", "CertificateIssued"]);
        let status: ShinyDBStatus =
            serde_json::from_value(patches[7].2["status"].clone()).expect("status");
        assert_eq!(status.tls_secret_name.as_deref(), Some("db-tls"));
        assert_eq!(status.admin_secret_name.as_deref(), Some("db-admin"));
        assert_eq!(
            status.endpoint.as_deref(),
            Some("db.apps.svc.cluster.local:23469")
        );
        assert!(status.certificate_expiry.is_some());
        status
    };

    // The next pass sees the stored children and the written status: it applies again
    // (idempotent) but writes no status and publishes no event.
    fake.lock().expect("lock").log.clear();
    let mut second = first;
    second.status = Some(status);
    reconcile(Arc::new(DeserializeGuard(Ok(second))), ctx)
        .await
        .expect("reconciled");
    let fake = fake.lock().expect("lock");
    assert!(
        fake.requests(Method::POST).is_empty(),
        "no events: {:?}",
        fake.requests(Method::POST)
    );
    assert!(
        fake.requests(Method::PATCH)
            .iter()
            .all(|(_, p, _)| !p.contains("/status")),
        "status unchanged, not written"
    );
}

#[tokio::test]
async fn an_object_of_a_childs_name_that_someone_else_made_is_not_adopted() {
    let config_map = "/api/v1/namespaces/apps/configmaps/db-config";
    let foreign = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "db-config", "namespace": "apps"}, "data": {"mine": "yes"}});
    let fake = Arc::new(Mutex::new(Fake::default()));
    fake.lock()
        .expect("lock")
        .objects
        .insert(config_map.into(), foreign.clone());
    let ctx = context(&fake);
    let action = reconcile(Arc::new(DeserializeGuard(Ok(db(MINIMAL)))), ctx)
        .await
        .expect("a conflict is reported, not a reconcile error");
    assert_eq!(action, Action::requeue(Duration::from_secs(60)));

    let fake = fake.lock().expect("lock");
    assert_eq!(
        fake.objects.get(config_map),
        Some(&foreign),
        "the ConfigMap was changed"
    );
    let patches = fake.requests(Method::PATCH);
    assert_eq!(
        patches.len(),
        1,
        "only the status is written: {:?}",
        fake.log
    );
    let status: ShinyDBStatus =
        serde_json::from_value(patches[0].2["status"].clone()).expect("status");
    let ready = ready_condition(&status);
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "NameConflict")
    );
    assert!(
        ready.message.contains("ConfigMap db-config"),
        "{}",
        ready.message
    );
    let reasons: Vec<&str> = fake
        .requests(Method::POST)
        .iter()
        .filter_map(|(_, _, b)| b["reason"].as_str())
        .collect();
    assert_eq!(reasons, ["NameConflict"]);
}

#[tokio::test]
async fn secrets_of_a_mode_the_spec_left_are_deleted_only_if_owned() {
    let owned = |name: &str| {
        json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "dev", "ownerReferences": [{
                "apiVersion": "shinydb.io/v1alpha1", "kind": "ShinyDB", "name": "scratch",
                "uid": "7f1c2d9e-0000-4000-8000-000000000004", "controller": true}]}})
    };
    let fake = Arc::new(Mutex::new(Fake::default()));
    {
        let mut f = fake.lock().expect("lock");
        // Left from when the instance had operator-managed TLS; now it is plaintext. The CA
        // Secret is the operator's; a Secret of the certificate's name is someone else's.
        f.objects.insert(
            "/api/v1/namespaces/dev/secrets/scratch-ca".into(),
            owned("scratch-ca"),
        );
        f.objects.insert(
            "/api/v1/namespaces/dev/secrets/scratch-tls".into(),
            json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "scratch-tls", "namespace": "dev"}}),
        );
    }
    let ctx = context(&fake);
    reconcile(Arc::new(DeserializeGuard(Ok(db(INSECURE)))), ctx)
        .await
        .expect("reconciled");
    let fake = fake.lock().expect("lock");
    let deleted: Vec<&str> = fake
        .requests(Method::DELETE)
        .iter()
        .map(|(_, p, _)| p.split('?').next().unwrap_or_default())
        .collect();
    assert_eq!(deleted, ["/api/v1/namespaces/dev/secrets/scratch-ca"]);
    assert!(
        fake.objects
            .contains_key("/api/v1/namespaces/dev/secrets/scratch-tls")
    );
}
