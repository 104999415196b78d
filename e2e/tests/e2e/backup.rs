//! Journey `backups` (run by `operator_journeys` with the others): a ShinyDB whose
//! `spec.backup` names a bucket on moto (started on the cluster's bridge, checking
//! signatures), with data written by an in-cluster client:
//! - a ShinyBackup completes: its status holds the server's backup id, sequence and sizes,
//!   the bucket holds its manifest, and its events say so;
//! - the every-minute schedule creates a ShinyBackup named for its slot, which completes,
//!   and the instance's status shows the schedule's next run; then it is suspended;
//! - a ShinyBackup of an instance that does not exist fails `InstanceNotFound`;
//! - the store's Secret changed to a wrong key: a backup fails `InvalidCredentials`; changed
//!   back: a backup completes, and the server pod was never restarted (the mounted Secret is
//!   read again by every backup).

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{
    ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use shinydb_e2e::s3::S3Server;
use shinydb_e2e::{Cluster, Error, Result, TestNamespace, wait_until};

use crate::operator::{MINUTE, check, client_pod, events_of, pod_uid, say, wait_running};

const BUCKET: &str = "e2e-backups";

pub(crate) fn shinybackups(ns: &TestNamespace) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("shinydb.io", "v1alpha1", "ShinyBackup");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "shinybackups");
    Api::namespaced_with(ns.client(), ns.name(), &ar)
}

fn credentials(id: &str, secret: &str) -> Result<Secret> {
    Ok(serde_json::from_value(json!({
        "metadata": {"name": "s3"},
        "stringData": {"AWS_ACCESS_KEY_ID": id, "AWS_SECRET_ACCESS_KEY": secret},
    }))?)
}

/// Creates ShinyBackup `name` of `instance` and waits until it is Completed or Failed; its
/// status.
pub(crate) async fn backup(ns: &TestNamespace, name: &str, instance: &str) -> Result<Value> {
    let api = shinybackups(ns);
    let body: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "shinydb.io/v1alpha1",
        "kind": "ShinyBackup",
        "metadata": {"name": name},
        "spec": {"instance": instance},
    }))?;
    api.create(&PostParams::default(), &body).await?;
    wait_until(&format!("ShinyBackup {name} to finish"), 3 * MINUTE, || {
        let api = api.clone();
        async move {
            let b = api.get(name).await?;
            let status = b.data["status"].clone();
            let done = matches!(status["phase"].as_str(), Some("Completed" | "Failed"));
            Ok(done.then_some(status))
        }
    })
    .await
}

pub(crate) fn field<'a>(status: &'a Value, key: &str) -> &'a str {
    status[key].as_str().unwrap_or_default()
}

/// Creates Secret `s3` with `s3`'s key and ShinyDB `name`, backed up to `bucket` under the
/// namespace's prefix, archiving its log every 5 s, with `schedules` and the server
/// configuration overrides `config` (null: none).
pub(crate) async fn create_backed_up(
    ns: &TestNamespace,
    s3: &S3Server,
    bucket: &str,
    name: &str,
    schedules: Value,
    config: Value,
) -> Result<()> {
    let secrets: Api<Secret> = ns.api();
    secrets
        .create(
            &PostParams::default(),
            &credentials(&s3.access_key_id, &s3.secret_access_key)?,
        )
        .await?;
    let mut db: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "shinydb.io/v1alpha1",
        "kind": "ShinyDB",
        "metadata": {"name": name},
        "spec": {
            "version": std::env::var("SHINYDB_E2E_IMAGE_TAG").unwrap_or_else(|_| "0.1.0".into()),
            "imagePullPolicy": "Never",
            "backup": {
                "store": {
                    "endpoint": s3.endpoint(),
                    "bucket": bucket,
                    "prefix": ns.name(),
                    "pathStyle": true,
                    "credentials": {"secretName": "s3"},
                },
                "walArchive": {"archiveTimeout": "5s"},
                "schedules": schedules,
            },
        },
    }))?;
    if !config.is_null() {
        db.data["spec"]["config"] = config;
    }
    crate::operator::shinydbs(ns)
        .create(&PostParams::default(), &db)
        .await?;
    Ok(())
}

/// Journey `backups`.
pub(crate) async fn journey_backups(cluster: &Cluster) -> Result<Duration> {
    let start = Instant::now();
    let s3 = S3Server::start(&[BUCKET]).await?;
    let ns = cluster.namespace("op-backup").await?;
    let secrets: Api<Secret> = ns.api();
    let schedules = json!([{"name": "minutely", "cron": "* * * * *"}]);
    create_backed_up(&ns, &s3, BUCKET, "kept", schedules, Value::Null).await?;
    wait_running(&ns, "kept", 4 * MINUTE).await?;
    client_pod(
        &ns,
        "writer",
        "kept",
        "shinydb ping --wait 60 && shinydb space create shop && shinydb store create shop.orders \
         && for i in 1 2 3 4 5 6 7 8 9 10; do shinydb query \"shop.orders.insert({n: $i})\" || exit 1; done",
        2 * MINUTE,
    )
    .await?;
    say(format!(
        "  backups: instance ready with data after {:?}",
        start.elapsed()
    ));

    // A backup completes, and its manifest is in the bucket.
    let first = backup(&ns, "first", "kept").await?;
    check(field(&first, "phase") == "Completed", || {
        format!("first: {first}")
    })?;
    let id = field(&first, "backupId").to_string();
    check(
        !id.is_empty()
            && first["storedBytes"].as_u64() > Some(0)
            && first["seq"].as_u64() > Some(0),
        || format!("first: {first}"),
    )?;
    check(field(&first, "pod") == "kept-0", || {
        format!("first: {first}")
    })?;
    let keys = s3.keys().await?;
    check(
        keys.iter()
            .any(|k| k.starts_with(ns.name()) && k.contains(&id) && k.ends_with("MANIFEST.json")),
        || format!("no manifest of {id} among {keys:?}"),
    )?;
    let events = events_of(&ns, "first").await?;
    for reason in ["BackupStarted", "BackupCompleted"] {
        check(events.iter().any(|e| e == reason), || {
            format!("events of first: {events:?}")
        })?;
    }
    say(format!(
        "  backups: first completed after {:?}",
        start.elapsed()
    ));

    // The every-minute schedule's run: a ShinyBackup named for its slot, labelled with the
    // schedule, completed; the instance's status names it. Then the schedule is suspended.
    let scheduled = wait_until("a scheduled ShinyBackup to complete", 3 * MINUTE, || {
        let api = shinybackups(&ns);
        async move {
            let list = api
                .list(&ListParams::default().labels("shinydb.io/schedule=minutely"))
                .await?;
            Ok(list
                .items
                .into_iter()
                .find(|b| b.data["status"]["phase"] == "Completed")
                .map(|b| b.name_any()))
        }
    })
    .await?;
    check(
        scheduled.starts_with("kept-minutely-") && scheduled.len() == "kept-minutely-".len() + 12,
        || scheduled.clone(),
    )?;
    let db = crate::operator::shinydbs(&ns).get("kept").await?;
    let schedule = &db.data["status"]["backup"]["schedules"][0];
    check(
        schedule["name"] == "minutely" && schedule["nextScheduleTime"].is_string(),
        || format!("status.backup: {}", db.data["status"]["backup"]),
    )?;
    crate::operator::patch_db(
        &ns,
        "kept",
        json!({"spec": {"backup": {"schedules": [{"name": "minutely", "cron": "* * * * *", "suspend": true}]}}}),
    )
    .await?;
    say(format!(
        "  backups: scheduled {scheduled} completed after {:?}",
        start.elapsed()
    ));

    // An instance that does not exist.
    let orphan = backup(&ns, "orphan", "missing").await?;
    check(
        field(&orphan, "phase") == "Failed" && field(&orphan, "reason") == "InstanceNotFound",
        || format!("orphan: {orphan}"),
    )?;

    // A wrong key: backups fail InvalidCredentials once the kubelet has updated the mounted
    // Secret; the right key again: they complete. The pod is never restarted.
    let pods: Api<Pod> = ns.api();
    let pod_before = pod_uid(&pods.get("kept-0").await?);
    let patch = |secret: &str| json!({"stringData": {"AWS_SECRET_ACCESS_KEY": secret}});
    secrets
        .patch(
            "s3",
            &PatchParams::default(),
            &Patch::Merge(&patch("not-the-secret")),
        )
        .await?;
    let refused = until_backup(&ns, "wrong", |s| field(s, "phase") == "Failed").await?;
    check(field(&refused, "reason") == "InvalidCredentials", || {
        format!("wrong key: {refused}")
    })?;
    check(field(&refused, "message").contains(BUCKET), || {
        format!("wrong key: {refused}")
    })?;
    say(format!(
        "  backups: a wrong key fails InvalidCredentials after {:?}",
        start.elapsed()
    ));
    secrets
        .patch(
            "s3",
            &PatchParams::default(),
            &Patch::Merge(&patch(&s3.secret_access_key)),
        )
        .await?;
    until_backup(&ns, "fixed", |s| field(s, "phase") == "Completed").await?;
    check(pod_uid(&pods.get("kept-0").await?) == pod_before, || {
        "the server pod was restarted".into()
    })?;
    say(format!(
        "  backups: the right key again completes after {:?}",
        start.elapsed()
    ));
    ns.delete().await?;
    Ok(start.elapsed())
}

/// Creates ShinyBackups `<prefix>-1`, `<prefix>-2`, … (10 s apart) until one ends as `wanted`
/// says (the kubelet updates a mounted Secret within about a minute); that one's status.
async fn until_backup(
    ns: &TestNamespace,
    prefix: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Result<Value> {
    for attempt in 1..=12 {
        let status = backup(ns, &format!("{prefix}-{attempt}"), "kept").await?;
        if wanted(&status) {
            return Ok(status);
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    Err(Error::Check(format!(
        "no ShinyBackup {prefix}-N ended as wanted in 12 attempts"
    )))
}
