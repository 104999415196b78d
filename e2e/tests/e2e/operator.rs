//! The operator end to end: the chart installs it (one install shared by every journey), then
//! journeys run concurrently, each in its own namespace:
//! - `data`: examples/minimal.yaml becomes Ready; the example client Job connects over TLS with
//!   the CA from the instance's Secret and runs queries; the pod is deleted and the data is
//!   still there; a configuration change rolls the pod; deleting the ShinyDB removes its
//!   children and keeps the volume and the admin Secret; created again, it serves the same data
//!   to the same admin password.
//! - `certificates`: short certificate lifetimes; renewal and CA rotation happen while a client
//!   keeps opening TLS connections and querying, and none fails.
//! - `invalid`: the API server refuses invalid ShinyDBs naming the field; the operator refuses
//!   a bad configuration override in the status, naming the key.
//! - `backups` (e2e/tests/e2e/backup.rs): ShinyBackups of an instance backed up to moto.
//! - `restores` (e2e/tests/e2e/restore.rs): ShinyRestores into a new instance and in place.
//! - `interrupted` (e2e/tests/e2e/interrupt.rs): a backup whose server is killed; then, alone
//!   after the others, `operator-restart`: the operator stopped during a backup and a slot.
//!
//! Then `helm uninstall` leaves the CRDs and the remaining ShinyDB in place. Each journey's
//! time is printed (see e2e/README.md).
//!
//! Needs the images `e2e/cluster/ci.sh` imports: shinydb/server, shinydb/operator and the
//! client toolbox (busybox + the `shinydb` CLI).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, LogParams, Patch,
    PatchParams, PostParams,
};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use shinydb_e2e::{Cluster, Error, Result, TestNamespace, run_tool, tool, wait_until};

use crate::{backup, interrupt, restore};

pub(crate) const MINUTE: Duration = Duration::from_secs(60);
pub(crate) const OPERATOR_NAMESPACE: &str = "shinydb-system";
pub(crate) const RELEASE: &str = "shinydb-operator";
/// What `shinydb query '….count()'` prints for one document.
const COUNT_ONE: &str = r#"{"count":1}"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The tag of the server and operator images (`SHINYDB_E2E_IMAGE_TAG`, default 0.1.0).
fn image_tag() -> String {
    std::env::var("SHINYDB_E2E_IMAGE_TAG").unwrap_or_else(|_| "0.1.0".into())
}

/// Busybox plus the `shinydb` CLI (`SHINYDB_E2E_CLIENT_IMAGE`).
fn client_image() -> String {
    std::env::var("SHINYDB_E2E_CLIENT_IMAGE")
        .unwrap_or_else(|_| "shinydb/e2e-testbox:client".into())
}

pub(crate) fn say(line: String) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub(crate) fn check(ok: bool, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::Check(message()))
    }
}

pub(crate) fn shinydbs(ns: &TestNamespace) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("shinydb.io", "v1alpha1", "ShinyDB");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "shinydbs");
    Api::namespaced_with(ns.client(), ns.name(), &ar)
}

async fn kubectl(cluster: &Cluster, args: &[&str]) -> Result<String> {
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str()];
    all.extend_from_slice(args);
    run_tool(&tool("kubectl"), &all).await
}

async fn helm(cluster: &Cluster, args: &[&str]) -> Result<String> {
    let kubeconfig = cluster.kubeconfig().display().to_string();
    let mut all = vec!["--kubeconfig", kubeconfig.as_str()];
    all.extend_from_slice(args);
    run_tool(&tool("helm"), &all).await
}

/// Applies a file of examples/ into `ns`.
async fn apply_example(cluster: &Cluster, ns: &TestNamespace, file: &str) -> Result<String> {
    let path = repo().join("examples").join(file).display().to_string();
    kubectl(cluster, &["apply", "-n", ns.name(), "-f", &path]).await
}

/// Applies `body` (JSON) to ShinyDB `name` with kubectl's field manager.
pub(crate) async fn patch_db(ns: &TestNamespace, name: &str, body: Value) -> Result<()> {
    shinydbs(ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(&body))
        .await?;
    Ok(())
}

pub(crate) fn condition(db: &DynamicObject, type_: &str) -> Option<(String, String, String)> {
    db.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find_map(|c| {
            (c["type"] == type_).then(|| {
                let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                (s("status"), s("reason"), s("message"))
            })
        })
}

/// Waits until ShinyDB `name` is Running with Ready=True at its current generation.
pub(crate) async fn wait_running(
    ns: &TestNamespace,
    name: &str,
    timeout: Duration,
) -> Result<DynamicObject> {
    let api = shinydbs(ns);
    wait_until(
        &format!("ShinyDB {}/{name} to be Running", ns.name()),
        timeout,
        || {
            let api = api.clone();
            async move {
                let db = api.get(name).await?;
                let generation = db.metadata.generation;
                let observed = db.data["status"]["observedGeneration"].as_i64();
                let running = db.data["status"]["phase"] == "Running";
                let ready = condition(&db, "Ready").is_some_and(|c| c.0 == "True");
                Ok((running && ready && observed == generation).then_some(db))
            }
        },
    )
    .await
}

/// Runs `script` in a pod of the client image with the connection settings of ShinyDB `db`
/// (TLS with `ca.crt` from `<db>-tls`, admin password from `<db>-admin`); returns its log.
pub(crate) async fn client_pod(
    ns: &TestNamespace,
    name: &str,
    db: &str,
    script: &str,
    timeout: Duration,
) -> Result<String> {
    let pods: Api<Pod> = ns.api();
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "securityContext": {"runAsNonRoot": true, "runAsUser": 10001},
            "containers": [{
                "name": "client",
                "image": client_image(),
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", script],
                "env": [
                    {"name": "SHINYDB_ENDPOINT", "value": format!("https://{db}.{}.svc:23469", ns.name())},
                    {"name": "SHINYDB_CA_CERT", "value": "/etc/shinydb/ca/ca.crt"},
                    {"name": "SHINYDB_USER", "value": "admin"},
                    {"name": "SHINYDB_PASSWORD",
                     "valueFrom": {"secretKeyRef": {"name": format!("{db}-admin"), "key": "password"}}},
                ],
                "volumeMounts": [{"name": "ca", "mountPath": "/etc/shinydb/ca", "readOnly": true}],
            }],
            "volumes": [{"name": "ca", "secret": {"secretName": format!("{db}-tls"),
                                                  "items": [{"key": "ca.crt", "path": "ca.crt"}]}}],
        },
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    let phase = wait_until(&format!("client pod {name} to finish"), timeout, || {
        let pods = pods.clone();
        async move {
            let phase = pods
                .get(name)
                .await?
                .status
                .and_then(|s| s.phase)
                .unwrap_or_default();
            Ok(matches!(phase.as_str(), "Succeeded" | "Failed").then_some(phase))
        }
    })
    .await?;
    let log = pods.logs(name, &LogParams::default()).await?;
    check(phase == "Succeeded", || {
        format!("client pod {name} {phase}:\n{log}")
    })?;
    Ok(log)
}

pub(crate) async fn events_of(ns: &TestNamespace, name: &str) -> Result<Vec<String>> {
    let events: Api<Event> = ns.api();
    let list = events.list(&ListParams::default()).await?;
    Ok(list
        .items
        .iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| e.reason.clone())
        .collect())
}

/// The last non-empty line of a log.
pub(crate) fn last_line(log: &str) -> &str {
    log.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_default()
}

pub(crate) fn pod_uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// Journey `data`.
async fn journey_data(cluster: &Cluster) -> Result<Duration> {
    let start = Instant::now();
    let ns = cluster.namespace("op-data").await?;
    apply_example(cluster, &ns, "minimal.yaml").await?;
    let db = wait_running(&ns, "minimal", 4 * MINUTE).await?;
    let endpoint = db.data["status"]["endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    check(
        endpoint == format!("minimal.{}.svc.cluster.local:23469", ns.name()),
        || endpoint.clone(),
    )?;
    say(format!("  data: Ready after {:?}", start.elapsed()));

    // The example Job: TLS with the CA from the instance's Secret, queries.
    apply_example(cluster, &ns, "client-job.yaml").await?;
    let jobs: Api<Job> = ns.api();
    wait_until("Job minimal-client to succeed", 3 * MINUTE, || {
        let jobs = jobs.clone();
        async move {
            let status = jobs.get("minimal-client").await?.status.unwrap_or_default();
            if status.failed.unwrap_or(0) > 0 {
                return Err(Error::Check("Job minimal-client failed".into()));
            }
            Ok((status.succeeded.unwrap_or(0) > 0).then_some(()))
        }
    })
    .await?;
    let pods: Api<Pod> = ns.api();
    let job_pod = pods
        .list(&ListParams::default().labels("job-name=minimal-client"))
        .await?
        .items
        .into_iter()
        .next()
        .ok_or_else(|| Error::Check("no pod of Job minimal-client".into()))?;
    let log = pods
        .logs(
            &job_pod.name_any(),
            &LogParams {
                container: Some("count".into()),
                ..LogParams::default()
            },
        )
        .await?;
    check(log.trim() == COUNT_ONE, || {
        format!("the Job counted {log:?}")
    })?;
    say(format!(
        "  data: client Job done after {:?}",
        start.elapsed()
    ));

    // The pod goes; the data stays.
    let before = pods.get("minimal-0").await?;
    pods.delete("minimal-0", &DeleteParams::default()).await?;
    wait_until("a new pod minimal-0", 2 * MINUTE, || {
        let pods = pods.clone();
        let old = pod_uid(&before);
        async move {
            Ok(pods
                .get_opt("minimal-0")
                .await?
                .filter(|p| pod_uid(p) != old)
                .map(|_| ()))
        }
    })
    .await?;
    wait_running(&ns, "minimal", 3 * MINUTE).await?;
    let out = client_pod(
        &ns,
        "after-restart",
        "minimal",
        "shinydb ping --wait 60 && shinydb query 'examples.greetings.count()'",
        2 * MINUTE,
    )
    .await?;
    check(last_line(&out) == COUNT_ONE, || {
        format!("after the restart: {out}")
    })?;
    say(format!(
        "  data: survived a pod deletion after {:?}",
        start.elapsed()
    ));

    // A configuration change rolls the pod (new config hash, new pod) and the data stays.
    let sets: Api<StatefulSet> = ns.api();
    let hash = |s: &StatefulSet| {
        s.spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get("shinydb.io/config-hash").cloned())
            .unwrap_or_default()
    };
    let old_hash = hash(&sets.get("minimal").await?);
    let old_pod = pod_uid(&pods.get("minimal-0").await?);
    patch_db(
        &ns,
        "minimal",
        json!({"spec": {"config": {"storage": {"durability": "interval"}}}}),
    )
    .await?;
    wait_until("the StatefulSet to get the new config hash", MINUTE, || {
        let sets = sets.clone();
        let old = old_hash.clone();
        async move { Ok((hash(&sets.get("minimal").await?) != old).then_some(())) }
    })
    .await?;
    wait_until("pod minimal-0 to be replaced", 2 * MINUTE, || {
        let pods = pods.clone();
        let old = old_pod.clone();
        async move {
            Ok(pods
                .get_opt("minimal-0")
                .await?
                .filter(|p| pod_uid(p) != old)
                .map(|_| ()))
        }
    })
    .await?;
    wait_running(&ns, "minimal", 3 * MINUTE).await?;
    let cm: Api<ConfigMap> = ns.api();
    let config = cm.get("minimal-config").await?.data.unwrap_or_default();
    check(
        config
            .get("shinydb.yaml")
            .is_some_and(|c| c.contains("durability: interval")),
        || format!("{config:?}"),
    )?;
    let out = client_pod(
        &ns,
        "after-rollout",
        "minimal",
        "shinydb ping --wait 60 && shinydb query 'examples.greetings.count()'",
        2 * MINUTE,
    )
    .await?;
    check(last_line(&out) == COUNT_ONE, || {
        format!("after the rollout: {out}")
    })?;
    let reasons = events_of(&ns, "minimal").await?;
    check(reasons.iter().any(|r| r == "ConfigChanged"), || {
        format!("events: {reasons:?}")
    })?;
    say(format!(
        "  data: config rollout done after {:?}",
        start.elapsed()
    ));

    // Delete the ShinyDB: children go (garbage collector); the volume stays (Retain), and with
    // it the admin Secret, whose password the data directory knows.
    shinydbs(&ns)
        .delete("minimal", &DeleteParams::foreground())
        .await?;
    let services: Api<Service> = ns.api();
    let secrets: Api<Secret> = ns.api();
    wait_until("the children of minimal to be deleted", 2 * MINUTE, || {
        let (sets, services, secrets, cm) =
            (sets.clone(), services.clone(), secrets.clone(), cm.clone());
        async move {
            let gone = sets.get_opt("minimal").await?.is_none()
                && services.get_opt("minimal").await?.is_none()
                && services.get_opt("minimal-hl").await?.is_none()
                && cm.get_opt("minimal-config").await?.is_none()
                && secrets.get_opt("minimal-tls").await?.is_none()
                && secrets.get_opt("minimal-ca").await?.is_none();
            Ok(gone.then_some(()))
        }
    })
    .await?;
    let pvc = ns
        .api::<PersistentVolumeClaim>()
        .get_opt("data-minimal-0")
        .await?;
    check(
        pvc.is_some_and(|p| p.metadata.deletion_timestamp.is_none()),
        || "the PVC was deleted".into(),
    )?;
    check(secrets.get_opt("minimal-admin").await?.is_some(), || {
        "the admin Secret went with the ShinyDB while its volume stayed".into()
    })?;
    // Created again under the same name: the kept volume and password, so admin still gets in
    // and the data is there.
    apply_example(cluster, &ns, "minimal.yaml").await?;
    wait_running(&ns, "minimal", 4 * MINUTE).await?;
    let out = client_pod(
        &ns,
        "after-recreate",
        "minimal",
        "shinydb ping --wait 60 && shinydb query 'examples.greetings.count()'",
        2 * MINUTE,
    )
    .await?;
    check(last_line(&out) == COUNT_ONE, || {
        format!("after deleting and creating the ShinyDB again: {out}")
    })?;
    say(format!(
        "  data: created again on the kept volume after {:?}",
        start.elapsed()
    ));
    ns.delete().await?;
    Ok(start.elapsed())
}

/// Journey `certificates`.
async fn journey_certificates(cluster: &Cluster) -> Result<Duration> {
    let start = Instant::now();
    let ns = cluster.namespace("op-certs").await?;
    // CA 3m, certificates 2m, renewed 90 s before expiry (so every 30 s): a new CA settles for
    // 45 s (longer than this cluster's kubelet, syncing every 10 s, takes to update mounted
    // Secrets) before the certificate moves to it.
    let db: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "shinydb.io/v1alpha1", "kind": "ShinyDB",
        "metadata": {"name": "rotating"},
        "spec": {"version": image_tag(), "imagePullPolicy": "Never",
                 "tls": {"caDuration": "3m", "certificateDuration": "2m", "renewBefore": "90s"}},
    }))?;
    shinydbs(&ns).create(&PostParams::default(), &db).await?;
    wait_running(&ns, "rotating", 4 * MINUTE).await?;
    client_pod(&ns, "setup", "rotating", "shinydb ping --wait 60 && shinydb space create rot && shinydb store create rot.items && shinydb query 'rot.items.insert({n: 1})'", 2 * MINUTE).await?;
    let secrets: Api<Secret> = ns.api();
    let first_ca = secrets
        .get("rotating-ca")
        .await?
        .data
        .unwrap_or_default()
        .get("ca.crt")
        .cloned();

    // The client queries over a new TLS connection every 2 s, reading ca.crt each time, for
    // 200 s: through renewals, the CA rotation (at 90 s), the certificate's move to the new CA
    // (135 s) and the old CA's retirement (180 s).
    let script = "ok=0; fail=0; end=$(( $(date +%s) + 200 )); \
                  while [ $(date +%s) -lt $end ]; do \
                    if shinydb --timeouts fast query 'rot.items.count()' >/dev/null 2>/tmp/err; then ok=$((ok+1)); \
                    else fail=$((fail+1)); echo \"FAIL at $(date +%s): $(cat /tmp/err)\"; fi; sleep 2; done; \
                  echo \"ok=$ok fail=$fail\"; [ $fail -eq 0 ]";
    let log = client_pod(&ns, "steady-client", "rotating", script, 5 * MINUTE).await?;
    say(format!(
        "  certificates: client during rotation: {}",
        log.lines().last().unwrap_or_default()
    ));

    let reasons = events_of(&ns, "rotating").await?;
    for want in ["CACreated", "CARotated"] {
        check(reasons.iter().any(|r| r == want), || {
            format!("no {want} event: {reasons:?}")
        })?;
    }
    let ca_now = secrets
        .get("rotating-ca")
        .await?
        .data
        .unwrap_or_default()
        .get("ca.crt")
        .cloned();
    check(ca_now != first_ca, || "the CA did not rotate".into())?;
    // Clients are handed the current CA first in ca.crt.
    let tls = secrets.get("rotating-tls").await?.data.unwrap_or_default();
    let bundle = tls.get("ca.crt").map(|b| b.0.clone()).unwrap_or_default();
    let newest = ca_now.as_ref().map(|c| c.0.clone()).unwrap_or_default();
    check(!newest.is_empty() && bundle.starts_with(&newest), || {
        "ca.crt does not start with the current CA".into()
    })?;
    // The pod never restarted for a certificate.
    let pod = ns.api::<Pod>().get("rotating-0").await?;
    let restarts = pod
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default()
        .iter()
        .map(|c| c.restart_count)
        .sum::<i32>();
    check(restarts == 0, || {
        format!("server restarted {restarts} times")
    })?;
    // Left in place for the uninstall journey.
    Ok(start.elapsed())
}

/// Journey `invalid`.
async fn journey_invalid(cluster: &Cluster) -> Result<Duration> {
    let start = Instant::now();
    let ns = cluster.namespace("op-invalid").await?;
    let api = shinydbs(&ns);
    let make = |name: &str, spec: Value| -> Result<DynamicObject> {
        Ok(serde_json::from_value(json!({
            "apiVersion": "shinydb.io/v1alpha1", "kind": "ShinyDB",
            "metadata": {"name": name}, "spec": spec,
        }))?)
    };
    let refused = |r: std::result::Result<DynamicObject, kube::Error>, field: &str| -> Result<()> {
        match r {
            Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains(field) => Ok(()),
            other => Err(Error::Check(format!(
                "expected a 422 naming {field}, got {other:?}"
            ))),
        }
    };
    let pp = PostParams::default();
    let insecure = make(
        "insecure",
        json!({"version": "0.1.0", "tls": {"mode": "Disabled"}}),
    )?;
    refused(api.create(&pp, &insecure).await, "spec.tls.allowInsecure")?;
    let too_many = make("many", json!({"version": "0.1.0", "replicas": 12}))?;
    refused(api.create(&pp, &too_many).await, "spec.replicas")?;
    let provided = make(
        "provided",
        json!({"version": "0.1.0", "tls": {"mode": "Provided"}}),
    )?;
    refused(api.create(&pp, &provided).await, "spec.tls.secretName")?;

    // kubectl shows the same message.
    let path = std::env::temp_dir().join(format!("invalid-{}.yaml", ns.name()));
    std::fs::write(
        &path,
        "apiVersion: shinydb.io/v1alpha1\nkind: ShinyDB\nmetadata: {name: bad}\nspec: {version: 0.1.0, tls: {mode: Disabled}}\n",
    )?;
    let out = kubectl(
        cluster,
        &["apply", "-n", ns.name(), "-f", &path.display().to_string()],
    )
    .await;
    let _ = std::fs::remove_file(&path);
    match out {
        Err(Error::Tool { message, .. }) if message.contains("spec.tls.allowInsecure") => {}
        other => {
            return Err(Error::Check(format!(
                "kubectl apply of an invalid ShinyDB: {other:?}"
            )));
        }
    }

    // Immutable storage size.
    let ok = make(
        "sized",
        json!({"version": image_tag(), "imagePullPolicy": "Never",
                                  "config": {"storage": {"durabilty": "sync"}}}),
    )?;
    api.create(&pp, &ok).await?;
    let r = api
        .patch(
            "sized",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"storage": {"size": "2Gi"}}})),
        )
        .await;
    refused(r, "spec.storage.size is immutable")?;

    // The operator refuses the bad configuration key in the status and an event.
    let failed = wait_until("ShinyDB sized to report InvalidSpec", 2 * MINUTE, || {
        let api = api.clone();
        async move {
            let db = api.get("sized").await?;
            Ok(condition(&db, "Ready")
                .filter(|c| c.1 == "InvalidSpec")
                .map(|c| c.2))
        }
    })
    .await?;
    check(failed.contains("durabilty"), || failed.clone())?;
    check(
        ns.api::<StatefulSet>().get_opt("sized").await?.is_none(),
        || "rolled out anyway".into(),
    )?;
    // Fixing it rolls it out.
    api.patch(
        "sized",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"config": {"storage": {"durabilty": null, "durability": "sync"}}}}),
        ),
    )
    .await?;
    wait_running(&ns, "sized", 4 * MINUTE).await?;
    ns.delete().await?;
    Ok(start.elapsed())
}

/// `helm uninstall` leaves the CRDs and ShinyDBs (and their pods) in place.
async fn journey_uninstall(cluster: &Cluster) -> Result<Duration> {
    let start = Instant::now();
    helm(
        cluster,
        &[
            "uninstall",
            RELEASE,
            "-n",
            OPERATOR_NAMESPACE,
            "--wait",
            "--timeout",
            "2m",
        ],
    )
    .await?;
    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client());
    for name in [
        "shinydbs.shinydb.io",
        "shinybackups.shinydb.io",
        "shinyrestores.shinydb.io",
    ] {
        let crd = crds.get_opt(name).await?;
        check(
            crd.is_some_and(|c| c.metadata.deletion_timestamp.is_none()),
            || format!("CRD {name} removed"),
        )?;
    }
    let gvk = GroupVersionKind::gvk("shinydb.io", "v1alpha1", "ShinyDB");
    let all: Api<DynamicObject> = Api::all_with(
        cluster.client(),
        &ApiResource::from_gvk_with_plural(&gvk, "shinydbs"),
    );
    let left = all.list(&ListParams::default()).await?;
    check(
        left.items.iter().any(|d| d.name_any() == "rotating"),
        || "ShinyDB rotating is gone".into(),
    )?;
    let sets: Api<StatefulSet> = Api::all(cluster.client());
    let running = sets
        .list(&ListParams::default().labels("app.kubernetes.io/instance=rotating"))
        .await?;
    check(running.items.len() == 1, || {
        "its StatefulSet is gone".into()
    })?;
    Ok(start.elapsed())
}

#[tokio::test]
async fn operator_journeys() -> Result<()> {
    let Some(cluster) = Cluster::from_env().await? else {
        return Ok(());
    };
    let start = Instant::now();
    let chart = repo().join("charts/shinydb-operator").display().to_string();
    let tag = format!("image.tag={}", image_tag());
    helm(
        &cluster,
        &[
            "install",
            RELEASE,
            &chart,
            "-n",
            OPERATOR_NAMESPACE,
            "--create-namespace",
            "--set",
            &tag,
            "--set",
            "image.pullPolicy=Never",
            "--set",
            "logLevel=shinydb_operator=debug\\,info",
            "--wait",
            "--timeout",
            "3m",
        ],
    )
    .await?;
    let install = start.elapsed();
    say(format!("operator journeys: helm install {install:?}"));

    let (data, certificates, invalid, backups, restores, interrupted) = tokio::join!(
        journey_data(&cluster),
        journey_certificates(&cluster),
        journey_invalid(&cluster),
        backup::journey_backups(&cluster),
        restore::journey_restores(&cluster),
        interrupt::journey_interrupted(&cluster),
    );
    let (interrupted, steady) = match interrupted {
        Ok((t, steady)) => (Ok(t), Some(steady)),
        Err(e) => (Err(e), None),
    };
    let mut failures = Vec::new();
    for (name, result) in [
        ("data", data),
        ("certificates", certificates),
        ("invalid", invalid),
        ("backups", backups),
        ("restores", restores),
        ("interrupted", interrupted),
    ] {
        match result {
            Ok(t) => say(format!("operator journeys: {name} {t:?}")),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    // Alone, after the others: it stops the operator they all use.
    if let Some(steady) = steady {
        match interrupt::journey_operator_restart(&cluster, steady).await {
            Ok(t) => say(format!("operator journeys: operator-restart {t:?}")),
            Err(e) => failures.push(format!("operator-restart: {e}")),
        }
    }
    if !failures.is_empty() {
        let logs = kubectl(
            &cluster,
            &[
                "logs",
                "-n",
                OPERATOR_NAMESPACE,
                "deploy/shinydb-operator",
                "--tail=60",
            ],
        )
        .await;
        say(format!(
            "operator log:\n{}",
            logs.unwrap_or_else(|e| e.to_string())
        ));
        return Err(Error::Check(failures.join("\n")));
    }
    let uninstall = journey_uninstall(&cluster).await?;
    say(format!(
        "operator journeys: helm uninstall {uninstall:?}; total {:?}",
        start.elapsed()
    ));
    Ok(())
}
