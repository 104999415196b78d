//! Journeys `interrupted` and `operator-restart` (run by `operator_journeys`) on one ShinyDB
//! whose every-minute scheduled backups are slowed to about ten seconds
//! (`backup.max_upload_rate` over ~3 MB of incompressible data), so that one can be cut:
//! - `interrupted`, alongside the other journeys: the server pod is killed while a scheduled
//!   backup runs; that ShinyBackup ends `Failed` (`Interrupted`) within two minutes;
//! - `operator-restart`, after them and alone (it stops the operator every journey uses): the
//!   operator is scaled to zero while a scheduled backup runs and across the next slot, then
//!   back. The running backup ends `Completed` (its server finished it and the bucket holds
//!   it), the slot missed meanwhile runs once, no backup is taken twice (each complete backup
//!   in the bucket belongs to exactly one Completed ShinyBackup), and the instance's status
//!   counts them.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use shinydb_e2e::s3::S3Server;
use shinydb_e2e::{Cluster, Error, Result, TestNamespace, wait_until};

use crate::backup::{create_backed_up, field, shinybackups};
use crate::operator::{
    MINUTE, OPERATOR_NAMESPACE, RELEASE, check, client_pod, patch_db, say, shinydbs, wait_running,
};

const BUCKET: &str = "e2e-interruptions";
const INSTANCE: &str = "steady";
const SCHEDULE: &str = "minutely";
/// ~4 MB of base64 text from /dev/urandom as NDJSON documents, imported into `shop.blobs`.
const BLOBS: &str = r#"shinydb ping --wait 60 && shinydb space create shop && shinydb store create shop.blobs && head -c 3000000 /dev/urandom | base64 | awk '{printf "{\"blob\":\"%s\"}\n", $0}' | shinydb import shop.blobs /dev/stdin --format ndjson"#;

/// The instance both journeys use, with its bucket.
pub(crate) struct Steady {
    ns: TestNamespace,
    s3: S3Server,
}

/// The scheduled ShinyBackups of the instance.
async fn scheduled(ns: &TestNamespace) -> Result<Vec<DynamicObject>> {
    let selector = format!("shinydb.io/schedule={SCHEDULE}");
    Ok(shinybackups(ns)
        .list(&ListParams::default().labels(&selector))
        .await?
        .items)
}

/// Waits for a scheduled ShinyBackup not among `seen` to be Running; its name.
async fn next_running(ns: &TestNamespace, seen: &HashSet<String>) -> Result<String> {
    wait_until("a new scheduled backup to run", 3 * MINUTE, || async {
        Ok(scheduled(ns)
            .await?
            .into_iter()
            .find(|b| !seen.contains(&b.name_any()) && b.data["status"]["phase"] == "Running")
            .map(|b| b.name_any()))
    })
    .await
}

/// Waits for ShinyBackup `name` to be Completed or Failed; its status.
async fn finished(ns: &TestNamespace, name: &str) -> Result<Value> {
    let api = shinybackups(ns);
    wait_until(&format!("ShinyBackup {name} to finish"), 3 * MINUTE, || {
        let api = api.clone();
        async move {
            let status = api.get_opt(name).await?.map(|b| b.data["status"].clone());
            Ok(status.filter(|s| matches!(s["phase"].as_str(), Some("Completed" | "Failed"))))
        }
    })
    .await
}

/// Journey `interrupted`: the instance, then its server pod killed during a scheduled backup.
pub(crate) async fn journey_interrupted(cluster: &Cluster) -> Result<(Duration, Steady)> {
    let start = Instant::now();
    let s3 = S3Server::start_unchecked(&[BUCKET]).await?;
    let ns = cluster.namespace("op-interrupt").await?;
    create_backed_up(
        &ns,
        &s3,
        BUCKET,
        INSTANCE,
        json!([{"name": SCHEDULE, "cron": "* * * * *"}]),
        json!({"backup": {"max_upload_rate": "256KiB", "chunk_size": "1MiB", "parallelism": 1}}),
    )
    .await?;
    wait_running(&ns, INSTANCE, 4 * MINUTE).await?;
    client_pod(&ns, "blobs", INSTANCE, BLOBS, 3 * MINUTE).await?;
    say(format!(
        "  interrupted: instance ready with ~3 MB after {:?}",
        start.elapsed()
    ));

    // Backups scheduled before the data was written are quick: wait for a later one.
    let seen: HashSet<String> = scheduled(&ns)
        .await?
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let cut = next_running(&ns, &seen).await?;
    let pods: Api<Pod> = ns.api();
    let force = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    pods.delete(&format!("{INSTANCE}-0"), &force).await?;
    let killed = Instant::now();
    let status = finished(&ns, &cut).await?;
    check(
        field(&status, "phase") == "Failed" && field(&status, "reason") == "Interrupted",
        || format!("{cut}, its server killed: {status}"),
    )?;
    check(killed.elapsed() < 2 * MINUTE, || {
        format!(
            "{cut} took {:?} to fail after its server was killed",
            killed.elapsed()
        )
    })?;
    say(format!(
        "  interrupted: {cut} failed Interrupted {:?} after its server was killed ({:?} in)",
        killed.elapsed(),
        start.elapsed()
    ));
    Ok((start.elapsed(), Steady { ns, s3 }))
}

/// Scales the operator's Deployment to `replicas` and waits until that many pods are ready.
async fn scale_operator(cluster: &Cluster, replicas: i32) -> Result<()> {
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), OPERATOR_NAMESPACE);
    deployments
        .patch(
            RELEASE,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": replicas}})),
        )
        .await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client(), OPERATOR_NAMESPACE);
    let selector = format!("app.kubernetes.io/instance={RELEASE}");
    wait_until(&format!("{replicas} operator pods"), 3 * MINUTE, || {
        let (deployments, pods, selector) = (deployments.clone(), pods.clone(), &selector);
        async move {
            let pods = pods.list(&ListParams::default().labels(selector)).await?;
            let ready = deployments
                .get(RELEASE)
                .await?
                .status
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            let count = i32::try_from(pods.items.len()).unwrap_or(i32::MAX);
            Ok((count == replicas && ready == replicas).then_some(()))
        }
    })
    .await
}

/// Journey `operator-restart`: the operator stopped during a scheduled backup and across the
/// next slot.
pub(crate) async fn journey_operator_restart(
    cluster: &Cluster,
    steady: Steady,
) -> Result<Duration> {
    let start = Instant::now();
    let Steady { ns, s3 } = steady;
    wait_running(&ns, INSTANCE, 4 * MINUTE).await?;
    let seen: HashSet<String> = scheduled(&ns)
        .await?
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    let running = next_running(&ns, &seen).await?;
    scale_operator(cluster, 0).await?;
    // Stay stopped until 10 s after the next slot: its run is due while no operator runs.
    let now = Timestamp::now().as_second();
    let slot = Timestamp::from_second(now - now.rem_euclid(60) + 60)
        .map_err(|e| Error::Check(e.to_string()))?;
    let due = format!("{INSTANCE}-{SCHEDULE}-{}", slot.strftime("%Y%m%d%H%M"));
    let wait = slot.duration_since(Timestamp::now()).as_secs_f64().max(0.0) + 10.0;
    tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    check(shinybackups(&ns).get_opt(&due).await?.is_none(), || {
        format!("{due} exists while no operator runs")
    })?;
    scale_operator(cluster, 1).await?;
    say(format!(
        "  operator-restart: stopped during {running} and across slot {slot}, back after {:?}",
        start.elapsed()
    ));

    let followed = finished(&ns, &running).await?;
    check(
        field(&followed, "phase") == "Completed" && !field(&followed, "backupId").is_empty(),
        || format!("{running}, the operator stopped while it ran: {followed}"),
    )?;
    let caught_up = finished(&ns, &due).await?;
    check(field(&caught_up, "phase") == "Completed", || {
        format!("{due}, due while the operator was stopped: {caught_up}")
    })?;
    say(format!(
        "  operator-restart: {running} and the caught-up {due} completed after {:?}",
        start.elapsed()
    ));

    // Nothing more scheduled, nothing left running: the bucket and the resources agree.
    patch_db(
        &ns,
        INSTANCE,
        json!({"spec": {"backup": {"schedules": [{"name": SCHEDULE, "cron": "* * * * *", "suspend": true}]}}}),
    )
    .await?;
    let backups = wait_until("every ShinyBackup to finish", 3 * MINUTE, || async {
        let all = shinybackups(&ns).list(&ListParams::default()).await?.items;
        let done = all.iter().all(|b| {
            matches!(
                b.data["status"]["phase"].as_str(),
                Some("Completed" | "Failed")
            )
        });
        Ok(done.then_some(all))
    })
    .await?;
    let held: Vec<String> = backups
        .iter()
        .filter(|b| b.data["status"]["phase"] == "Completed")
        .map(|b| field(&b.data["status"], "backupId").to_string())
        .collect();
    let distinct: HashSet<&String> = held.iter().collect();
    check(distinct.len() == held.len(), || {
        format!("two ShinyBackups hold one backup: {held:?}")
    })?;
    let keys = s3.keys().await?;
    let in_bucket: HashSet<&str> = keys
        .iter()
        .filter_map(|k| k.strip_prefix(&format!("{}/base/", ns.name())))
        .filter_map(|k| k.strip_suffix("/MANIFEST.json"))
        .collect();
    let distinct: HashSet<&str> = held.iter().map(String::as_str).collect();
    check(in_bucket == distinct, || {
        format!(
            "complete backups in the bucket {in_bucket:?}, held by Completed ShinyBackups {distinct:?}"
        )
    })?;
    let counted = wait_until(
        "status.backup.backups to count them",
        2 * MINUTE,
        || async {
            let db = shinydbs(&ns).get(INSTANCE).await?;
            let count = db.data["status"]["backup"]["backups"].as_u64();
            Ok((count == Some(in_bucket.len() as u64)).then_some(count))
        },
    )
    .await?;
    say(format!(
        "  operator-restart: {counted:?} complete backups, each held once, after {:?}",
        start.elapsed()
    ));
    ns.delete().await?;
    Ok(start.elapsed())
}
