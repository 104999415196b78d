//! The controller: watches ShinyDBs, their children, their pods and the Secrets they name, and
//! runs [`reconcile::reconcile`] for each change.

mod apply;
mod backup_status;
mod bootstrap;
mod dereference;
mod drills;
mod events;
mod inventory;
mod ownership;
mod reconcile;
mod schedules;

pub use apply::{apply, write_status_of};
pub use bootstrap::{Bootstrapped, source_of as bootstrap_source};
pub use dereference::get as get_opt;
pub use drills::{DRILL_LABEL, compare_counts, drill_instance, drill_restore, newest_completed};
pub use inventory::{DISCOVERED_LABEL, Held, discovered_name, discovered_status, unheld};
pub use ownership::controlled_by;
pub use reconcile::{Context, error_policy, reconcile};
pub use schedules::{INSTANCE_LABEL, SCHEDULE_LABEL};

use std::sync::Arc;

use futures::future::{self, BoxFuture};
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, Resource, ResourceExt};

use crate::crd::{RestoreMode, ShinyBackup, ShinyDB, ShinyRestore, TlsMode};
use crate::validate::backup_secret_keys;
use crate::{backup, restore};

/// Label selector of every object the operator creates (children and pods).
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=shinydb-operator";

type Guarded = DeserializeGuard<ShinyDB>;

/// The ShinyDBs a Secret matters to: its owner, and those naming it (provided TLS certificate,
/// admin password, backup store keys), so that a rotated user Secret is noticed.
pub fn instances_of_secret(store: &Store<Guarded>, secret: &Secret) -> Vec<ObjectRef<Guarded>> {
    let ns = secret.namespace().unwrap_or_default();
    let name = secret.name_any();
    let mut refs: Vec<ObjectRef<Guarded>> = secret
        .owner_references()
        .iter()
        .filter(|o| o.kind == ShinyDB::kind(&()) && o.api_version == ShinyDB::api_version(&()))
        .map(|o| ObjectRef::new(&o.name).within(&ns))
        .collect();
    for guarded in store.state() {
        let Ok(db) = &guarded.0 else { continue };
        if db.namespace().as_deref() != Some(ns.as_str()) {
            continue;
        }
        let tls = db.spec.tls.mode == TlsMode::Provided
            && db.spec.tls.secret_name.as_deref() == Some(name.as_str());
        let admin = db
            .spec
            .auth
            .admin_password_secret
            .as_ref()
            .is_some_and(|a| a.name == name);
        let backup = backup_secret_keys(db).iter().any(|(_, n, _)| *n == name);
        if tls || admin || backup {
            refs.push(ObjectRef::new(&db.name_any()).within(&ns));
        }
    }
    refs
}

/// The ShinyDB a server pod belongs to (from its instance label).
pub fn instance_of_pod(pod: &Pod) -> Option<ObjectRef<Guarded>> {
    let instance = pod.labels().get("app.kubernetes.io/instance")?;
    Some(ObjectRef::new(instance).within(&pod.namespace()?))
}

/// The ShinyDB an in-place restore holds (its start, end or deletion changes the pods).
pub fn instance_held_by(restore: &ShinyRestore) -> Option<ObjectRef<Guarded>> {
    let ns = restore.namespace()?;
    (restore.spec.mode == RestoreMode::InPlace)
        .then(|| ObjectRef::new(&restore.spec.instance).within(&ns))
}

/// The API of `K` in `namespace`, or in every namespace.
fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn controller_for(
    client: &Client,
    namespace: Option<&str>,
    ctx: Arc<Context>,
) -> BoxFuture<'static, ()> {
    let managed = watcher::Config::default().labels(MANAGED_SELECTOR);
    let controller = Controller::new(
        api::<Guarded>(client, namespace),
        watcher::Config::default(),
    );
    let store = controller.store();
    controller
        .owns(api::<StatefulSet>(client, namespace), managed.clone())
        .owns(api::<Service>(client, namespace), managed.clone())
        .owns(api::<ConfigMap>(client, namespace), managed.clone())
        .owns(
            api::<PodDisruptionBudget>(client, namespace),
            managed.clone(),
        )
        .watches(
            api::<Secret>(client, namespace),
            watcher::Config::default(),
            move |s| instances_of_secret(&store, &s),
        )
        .watches(api::<Pod>(client, namespace), managed, |p| {
            instance_of_pod(&p)
        })
        .watches(
            api::<ShinyRestore>(client, namespace),
            watcher::Config::default(),
            |r| instance_held_by(&r),
        )
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(object = %obj, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile failed or was skipped"),
            }
        })
        .boxed()
}

/// The ShinyBackup controller of `namespace` (every namespace: `None`).
fn backup_controller_for(
    client: &Client,
    namespace: Option<&str>,
    ctx: Arc<Context>,
) -> BoxFuture<'static, ()> {
    Controller::new(
        api::<ShinyBackup>(client, namespace),
        watcher::Config::default(),
    )
    .shutdown_on_signal()
    .run(backup::reconcile, backup::error_policy, ctx)
    .for_each(|result| async move {
        match result {
            Ok((obj, _)) => tracing::debug!(object = %obj, "backup reconciled"),
            Err(e) => tracing::debug!(error = %e, "backup reconcile failed or was skipped"),
        }
    })
    .boxed()
}

/// The ShinyRestore controller of `namespace` (every namespace: `None`), woken by its Jobs.
fn restore_controller_for(
    client: &Client,
    namespace: Option<&str>,
    ctx: Arc<Context>,
) -> BoxFuture<'static, ()> {
    Controller::new(
        api::<ShinyRestore>(client, namespace),
        watcher::Config::default(),
    )
    .owns(
        api::<Job>(client, namespace),
        watcher::Config::default().labels(MANAGED_SELECTOR),
    )
    .shutdown_on_signal()
    .run(restore::reconcile, restore::error_policy, ctx)
    .for_each(|result| async move {
        match result {
            Ok((obj, _)) => tracing::debug!(object = %obj, "restore reconciled"),
            Err(e) => tracing::debug!(error = %e, "restore reconcile failed or was skipped"),
        }
    })
    .boxed()
}

/// Runs the ShinyDB, ShinyBackup and ShinyRestore controllers over `namespaces` (all namespaces when empty)
/// until SIGTERM or SIGINT.
pub async fn run(client: Client, namespaces: &[String], ctx: Arc<Context>) {
    let scopes: Vec<Option<&str>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.iter().map(|ns| Some(ns.as_str())).collect()
    };
    let mut controllers: Vec<BoxFuture<'static, ()>> = Vec::new();
    for ns in scopes {
        controllers.push(controller_for(&client, ns, ctx.clone()));
        controllers.push(backup_controller_for(&client, ns, ctx.clone()));
        controllers.push(restore_controller_for(&client, ns, ctx.clone()));
    }
    future::join_all(controllers).await;
}
