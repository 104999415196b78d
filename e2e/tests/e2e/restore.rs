//! Journey `restores` (run by `operator_journeys` with the others): a ShinyDB archiving its log
//! to moto (started without signature checks: see `S3Server::start_unchecked`), with five
//! documents in a base backup and five more written after it, a moment `T` between the 8th
//! and the 9th:
//! - a ShinyRestore to time `T` into a new instance completes; the new instance serves exactly
//!   the 8 documents committed by `T`, to the source's admin password, on a new lineage; the
//!   source is untouched (10 documents);
//! - a new ShinyDB with `spec.bootstrap.restore` from that store to `T` is refused without an
//!   admin password Secret, then starts serving the same 8 documents;
//! - an in-place ShinyRestore without `confirm` is refused by the API server; one to a time
//!   past the archive's end fails its pre-flight check (`TargetBeyondArchive`) before its
//!   safety backup, with the instance never stopped;
//! - an in-place ShinyRestore of the base backup takes a safety backup, stops the instance,
//!   replaces its data and completes: the instance serves the backup's 5 documents;
//! - a chunk of the base backup corrupted in the bucket: an in-place restore of it fails
//!   `ChecksumMismatch` naming the object, and the instance serves its 5 documents again;
//! - every ShinyBackup deleted: the inventory comes back from the bucket (one read-only
//!   ShinyBackup per complete backup);
//! - an every-minute restore drill passes (the newest backup restored into a throwaway
//!   instance serves the manifest's counts), records its recovery time, and the throwaway
//!   instance, its volume and its ShinyRestore are deleted;
//! - a ShinyBackup given the opt-in finalizer `shinydb.io/delete-objects` and deleted takes
//!   its backup's objects out of the bucket.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::Api;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
    PostParams,
};
use serde_json::{Value, json};
use shinydb_e2e::s3::S3Server;
use shinydb_e2e::{Cluster, Error, Result, TestNamespace, wait_until};

use crate::backup::{backup, create_backed_up, field};
use crate::operator::{MINUTE, check, client_pod, events_of, say, shinydbs, wait_running};

const BUCKET: &str = "e2e-restores";

fn shinyrestores(ns: &TestNamespace) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("shinydb.io", "v1alpha1", "ShinyRestore");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "shinyrestores");
    Api::namespaced_with(ns.client(), ns.name(), &ar)
}

fn restore_body(name: &str, spec: Value) -> Result<DynamicObject> {
    Ok(serde_json::from_value(json!({
        "apiVersion": "shinydb.io/v1alpha1",
        "kind": "ShinyRestore",
        "metadata": {"name": name},
        "spec": spec,
    }))?)
}

/// Creates ShinyRestore `name` and waits until it is Completed or Failed; its status.
async fn restore(ns: &TestNamespace, name: &str, spec: Value) -> Result<Value> {
    let api = shinyrestores(ns);
    api.create(&PostParams::default(), &restore_body(name, spec)?)
        .await?;
    wait_until(
        &format!("ShinyRestore {name} to finish"),
        6 * MINUTE,
        || {
            let api = api.clone();
            async move {
                let status = api.get(name).await?.data["status"].clone();
                let done = matches!(status["phase"].as_str(), Some("Completed" | "Failed"));
                Ok(done.then_some(status))
            }
        },
    )
    .await
}

/// Inserts documents `from..=to` into `shop.orders` of `db`.
async fn insert(ns: &TestNamespace, pod: &str, db: &str, from: u32, to: u32) -> Result<()> {
    let script = format!(
        "shinydb ping --wait 60 && for i in $(seq {from} {to}); do \
         shinydb query \"shop.orders.insert({{n: $i}})\" || exit 1; done"
    );
    client_pod(ns, pod, db, &script, 2 * MINUTE).await?;
    Ok(())
}

/// The number of documents `db` serves in `shop.orders`.
async fn count(ns: &TestNamespace, pod: &str, db: &str) -> Result<String> {
    let log = client_pod(
        ns,
        pod,
        db,
        "shinydb ping --wait 120 && shinydb query 'shop.orders.count()'",
        3 * MINUTE,
    )
    .await?;
    Ok(log.trim().lines().last().unwrap_or_default().to_string())
}

/// Journey `restores`.
pub(crate) async fn journey_restores(cluster: &Cluster) -> Result<Duration> {
    let start = Instant::now();
    let s3 = S3Server::start_unchecked(&[BUCKET]).await?;
    let ns = cluster.namespace("op-restore").await?;
    create_backed_up(&ns, &s3, BUCKET, "src", json!([]), Value::Null).await?;
    wait_running(&ns, "src", 4 * MINUTE).await?;
    client_pod(
        &ns,
        "schema",
        "src",
        "shinydb ping --wait 60 && shinydb space create shop && shinydb store create shop.orders",
        2 * MINUTE,
    )
    .await?;
    insert(&ns, "first-five", "src", 1, 5).await?;
    let base = backup(&ns, "base", "src").await?;
    check(field(&base, "phase") == "Completed", || {
        format!("base: {base}")
    })?;
    insert(&ns, "three-more", "src", 6, 8).await?;
    let target = Timestamp::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    insert(&ns, "last-two", "src", 9, 10).await?;
    // The archive reaches past T (a commit after it is archived): T is recoverable.
    let lineage = wait_until("the archive to pass the target time", 3 * MINUTE, || {
        let dbs = shinydbs(&ns);
        async move {
            let status = dbs.get("src").await?.data["status"]["backup"].clone();
            let last = status["lastRecoverabilityPoint"]
                .as_str()
                .and_then(|t| t.parse::<Timestamp>().ok());
            Ok(last
                .filter(|l| *l > target)
                .and_then(|_| status["lineage"].as_str().map(str::to_string)))
        }
    })
    .await?;
    say(format!(
        "  restores: 10 documents, base backup and archive past T after {:?}",
        start.elapsed()
    ));

    // Point in time, into a new instance.
    let at_t = restore(
        &ns,
        "to-t",
        json!({"instance": "src", "newInstance": "copy", "target": {"time": target.to_string()}}),
    )
    .await?;
    check(field(&at_t, "phase") == "Completed", || {
        format!("to-t: {at_t}")
    })?;
    let restored = &at_t["restored"];
    check(
        restored["backupId"] == base["backupId"]
            && at_t["checked"]["seq"] == restored["seq"]
            && restored["lineage"].as_str().is_some_and(|l| l != lineage)
            && at_t["recoverySeconds"].is_u64(),
        || format!("to-t: {at_t} (source lineage {lineage})"),
    )?;
    let copied = count(&ns, "count-copy", "copy").await?;
    check(copied == r#"{"count":8}"#, || {
        format!("the copy at T serves {copied}, not the 8 documents committed by T")
    })?;
    let source = count(&ns, "count-src", "src").await?;
    check(source == r#"{"count":10}"#, || {
        format!("the source serves {source} after a restore into a new instance")
    })?;
    let events = events_of(&ns, "to-t").await?;
    for reason in ["RestoreStarted", "RestoreCompleted"] {
        check(events.iter().any(|e| e == reason), || {
            format!("events of to-t: {events:?}")
        })?;
    }
    say(format!(
        "  restores: point in time into a new instance after {:?}",
        start.elapsed()
    ));
    bootstrap_to(&ns, &s3, target).await?;
    say(format!(
        "  restores: a new instance bootstrapped from the store after {:?}",
        start.elapsed()
    ));

    // In place: refused without confirm, then the base backup over the instance's data.
    let unconfirmed = shinyrestores(&ns)
        .create(
            &PostParams::default(),
            &restore_body("unconfirmed", json!({"instance": "src", "mode": "InPlace"}))?,
        )
        .await;
    check(
        matches!(&unconfirmed, Err(kube::Error::Api(e)) if e.code == 422 && e.message.contains("spec.confirm")),
        || format!("an in-place restore without confirm: {unconfirmed:?}"),
    )?;
    // A target past the archive's end: the pre-flight check Job refuses it before the safety
    // backup, so the instance never stops.
    let later = (Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let beyond = restore(
        &ns,
        "beyond",
        json!({"instance": "src", "mode": "InPlace", "confirm": "src",
               "target": {"time": later}}),
    )
    .await?;
    let no_safety = crate::backup::shinybackups(&ns)
        .get_opt("beyond-safety")
        .await?
        .is_none();
    check(
        field(&beyond, "phase") == "Failed"
            && field(&beyond, "reason") == "TargetBeyondArchive"
            && beyond["safetyBackup"].is_null()
            && no_safety,
        || format!("beyond the archive: {beyond} (no safety backup: {no_safety})"),
    )?;
    let back = restore(
        &ns,
        "back",
        json!({"instance": "src", "mode": "InPlace", "confirm": "src",
               "source": {"backup": "base"}}),
    )
    .await?;
    check(field(&back, "phase") == "Completed", || {
        format!("back: {back}")
    })?;
    let safety = backup_status(&ns, "back-safety").await?;
    check(
        field(&back, "safetyBackup") == "back-safety" && field(&safety, "phase") == "Completed",
        || format!("back: {back}; its safety backup: {safety}"),
    )?;
    let after = count(&ns, "count-back", "src").await?;
    check(after == r#"{"count":5}"#, || {
        format!("the instance serves {after} after the in-place restore of the base backup")
    })?;
    say(format!(
        "  restores: in place from a backup after {:?}",
        start.elapsed()
    ));

    // A chunk of the base backup corrupted in the bucket: the in-place restore fails naming
    // the object, before anything is replaced; the instance serves its data again.
    let base_id = field(&base, "backupId");
    let keys = s3.keys().await?;
    let chunk = keys
        .iter()
        .find(|k| k.contains(&format!("/base/{base_id}/")) && k.ends_with(".zst"))
        .ok_or_else(|| Error::Check(format!("no chunk of {base_id} among {keys:?}")))?;
    s3.overwrite(BUCKET, chunk, "not a zstd frame").await?;
    let broken = restore(
        &ns,
        "broken",
        json!({"instance": "src", "mode": "InPlace", "confirm": "src", "safetyBackup": false,
               "source": {"backup": "base"}}),
    )
    .await?;
    check(
        field(&broken, "phase") == "Failed"
            && field(&broken, "reason") == "ChecksumMismatch"
            && field(&broken, "message").contains(chunk.as_str()),
        || format!("broken (chunk {chunk} corrupted): {broken}"),
    )?;
    wait_running(&ns, "src", 4 * MINUTE).await?;
    let kept = count(&ns, "count-kept", "src").await?;
    check(kept == r#"{"count":5}"#, || {
        format!("the instance serves {kept} after a failed in-place restore, not its 5 documents")
    })?;
    say(format!(
        "  restores: a corrupted chunk fails the restore, the data kept, after {:?}",
        start.elapsed()
    ));

    // Every ShinyBackup deleted: the inventory comes back from the bucket, one read-only
    // ShinyBackup per complete backup, Completed as its manifest says.
    let in_bucket: HashSet<String> = s3
        .keys()
        .await?
        .iter()
        .filter_map(|k| k.strip_prefix(&format!("{}/base/", ns.name())))
        .filter_map(|k| k.strip_suffix("/MANIFEST.json"))
        .map(str::to_string)
        .collect();
    let backups = crate::backup::shinybackups(&ns);
    backups
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await?;
    let found = wait_until(
        "the inventory to come back from the bucket",
        3 * MINUTE,
        || {
            let (backups, wanted) = (backups.clone(), in_bucket.len());
            async move {
                let listed = backups
                    .list(&ListParams::default().labels("shinydb.io/discovered=true"))
                    .await?;
                let ids: HashSet<String> = listed
                    .items
                    .iter()
                    .filter(|b| b.data["status"]["phase"] == "Completed")
                    .map(|b| field(&b.data["status"], "backupId").to_string())
                    .collect();
                Ok((ids.len() >= wanted).then_some(ids))
            }
        },
    )
    .await?;
    check(found == in_bucket, || {
        format!("rediscovered {found:?}, the bucket holds {in_bucket:?}")
    })?;
    say(format!(
        "  restores: {} backups rediscovered from the bucket after {:?}",
        found.len(),
        start.elapsed()
    ));

    // A restore drill every minute: the newest backup restored into a throwaway instance,
    // its store counts checked against the manifest, the result recorded, the throwaway gone.
    crate::operator::patch_db(
        &ns,
        "src",
        json!({"spec": {"backup": {"drills": [{"name": "minutely", "cron": "* * * * *"}]}}}),
    )
    .await?;
    let drill = wait_until("a restore drill to end", 5 * MINUTE, || {
        let dbs = shinydbs(&ns);
        async move {
            let db = dbs.get("src").await?;
            let last = db.data["status"]["backup"]["lastDrill"].clone();
            Ok((!last.is_null()).then_some(last))
        }
    })
    .await?;
    check(
        field(&drill, "result") == "Passed"
            && field(&drill, "message").contains("10 documents")
            && drill["recoverySeconds"].is_u64(),
        || format!("the drill: {drill}"),
    )?;
    let throwaway = field(&drill, "restore").replace("-drill-minutely-", "-drill-");
    wait_until("the drill's throwaway instance to go", 3 * MINUTE, || {
        let (dbs, claims, restores) = (
            shinydbs(&ns),
            ns.api::<PersistentVolumeClaim>(),
            shinyrestores(&ns),
        );
        let (throwaway, restore) = (throwaway.clone(), field(&drill, "restore").to_string());
        async move {
            let gone = dbs.get_opt(&throwaway).await?.is_none()
                && claims
                    .get_opt(&format!("data-{throwaway}-0"))
                    .await?
                    .is_none()
                && restores.get_opt(&restore).await?.is_none();
            Ok(gone.then_some(()))
        }
    })
    .await?;
    let events = events_of(&ns, "src").await?;
    check(events.iter().any(|e| e == "DrillPassed"), || {
        format!("events of src: {events:?}")
    })?;
    say(format!(
        "  restores: a drill passed ({}s to recover) and was cleaned up after {:?}",
        drill["recoverySeconds"],
        start.elapsed()
    ));
    deleted_with_objects(&ns, &s3).await?;
    say(format!(
        "  restores: a ShinyBackup deleted with its objects after {:?}",
        start.elapsed()
    ));
    ns.delete().await?;
    Ok(start.elapsed())
}

/// A ShinyBackup given the finalizer `shinydb.io/delete-objects`, then deleted: its backup
/// leaves the bucket before the ShinyBackup goes (without the finalizer, the inventory step
/// showed the objects stay).
async fn deleted_with_objects(ns: &TestNamespace, s3: &S3Server) -> Result<()> {
    let doomed = backup(ns, "doomed", "src").await?;
    check(field(&doomed, "phase") == "Completed", || {
        format!("doomed: {doomed}")
    })?;
    let id = field(&doomed, "backupId").to_string();
    let manifest = format!("{}/base/{id}/MANIFEST.json", ns.name());
    let chunk = format!("{}/base/{id}/data.db.0.zst", ns.name());
    for key in [&manifest, &chunk] {
        check(s3.exists(BUCKET, key).await?, || {
            format!("no {key} in the bucket")
        })?;
    }
    let api = crate::backup::shinybackups(ns);
    let finalizer = json!({"metadata": {"finalizers": ["shinydb.io/delete-objects"]}});
    api.patch("doomed", &PatchParams::default(), &Patch::Merge(&finalizer))
        .await?;
    api.delete("doomed", &DeleteParams::default()).await?;
    wait_until("ShinyBackup doomed to go", 2 * MINUTE, || {
        let api = api.clone();
        async move { Ok(api.get_opt("doomed").await?.is_none().then_some(())) }
    })
    .await?;
    for key in [&manifest, &chunk] {
        check(!s3.exists(BUCKET, key).await?, || {
            format!("{key} left after its ShinyBackup")
        })?;
    }
    let events = events_of(ns, "doomed").await?;
    check(events.iter().any(|e| e == "BackupObjectsDeleted"), || {
        format!("events of doomed: {events:?}")
    })
}

/// A new ShinyDB `boot` made with `spec.bootstrap.restore` from `src`'s store to `target`:
/// refused by the API server without an admin password Secret (the restored data keeps
/// `src`'s users); with one holding `src`'s password, it starts on the 8 documents committed
/// by `target`, says how in `status.bootstrap`, and its events.
async fn bootstrap_to(ns: &TestNamespace, s3: &S3Server, target: Timestamp) -> Result<()> {
    let mut boot: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "shinydb.io/v1alpha1",
        "kind": "ShinyDB",
        "metadata": {"name": "boot"},
        "spec": {
            "version": std::env::var("SHINYDB_E2E_IMAGE_TAG").unwrap_or_else(|_| "0.1.0".into()),
            "imagePullPolicy": "Never",
            "bootstrap": {"restore": {
                "store": {
                    "endpoint": s3.endpoint(),
                    "bucket": BUCKET,
                    "prefix": ns.name(),
                    "pathStyle": true,
                    "credentials": {"secretName": "s3"},
                },
                "target": {"time": target.to_string()},
            }},
        },
    }))?;
    let dbs = shinydbs(ns);
    let refused = dbs.create(&PostParams::default(), &boot).await;
    check(
        matches!(&refused, Err(kube::Error::Api(e)) if e.code == 422 && e.message.contains("adminPasswordSecret")),
        || format!("a bootstrap without an admin password Secret: {refused:?}"),
    )?;
    let secrets: Api<Secret> = ns.api();
    let password = secrets.get("src-admin").await?.data.unwrap_or_default();
    let copied: Secret = serde_json::from_value(json!({
        "metadata": {"name": "boot-admin"},
        "data": password,
    }))?;
    secrets.create(&PostParams::default(), &copied).await?;
    boot.data["spec"]["auth"] =
        json!({"adminPasswordSecret": {"name": "boot-admin", "key": "password"}});
    dbs.create(&PostParams::default(), &boot).await?;
    let running = wait_running(ns, "boot", 5 * MINUTE).await?;
    let status = &running.data["status"]["bootstrap"];
    check(
        status["phase"] == "Completed" && status["restored"]["backupId"].is_string(),
        || format!("status.bootstrap of boot: {status}"),
    )?;
    let served = count(ns, "count-boot", "boot").await?;
    check(served == r#"{"count":8}"#, || {
        format!("boot, bootstrapped to T, serves {served}, not the 8 documents committed by T")
    })?;
    let events = events_of(ns, "boot").await?;
    for reason in ["BootstrapStarted", "BootstrapCompleted"] {
        check(events.iter().any(|e| e == reason), || {
            format!("events of boot: {events:?}")
        })?;
    }
    Ok(())
}

async fn backup_status(ns: &TestNamespace, name: &str) -> Result<Value> {
    Ok(crate::backup::shinybackups(ns).get(name).await?.data["status"].clone())
}
