//! One reconciliation, as steps: dereference (every read) → validate → bootstrap → build (pure) →
//! ownership → apply (and delete what is no longer wanted) → events → scheduled backups and
//! the server's backup state → status; and the error policy (exponential backoff per object).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, ObjectReference, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{info, instrument, warn};

use super::apply::{apply, delete_owned};
use super::backup_status::{self, BACKUP_STATUS_INTERVAL};
use super::dereference::{Fetched, dereference};
use super::events;
use super::ownership::foreign_child;
use super::schedules;
use super::{bootstrap, drills, inventory};
use crate::build::{self, CONFIG_HASH_ANNOTATION, FIELD_MANAGER, Names};
use crate::crd::{BootstrapPhase, ShinyDB, ShinyDBStatus};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::status::{self, Inputs, Problem};
use crate::validate::validate;

/// Longest time between two reconciliations of a healthy instance.
const RESYNC: Duration = Duration::from_secs(3600);
/// First retry delay after a failure; doubles per consecutive failure.
const BACKOFF_BASE: Duration = Duration::from_secs(2);
/// Longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// How soon an instance blocked by a foreign object of a child's name looks again.
const CONFLICT_RETRY: Duration = Duration::from_secs(60);

/// What every reconciliation shares.
pub struct Context {
    /// API client.
    pub client: Client,
    /// Event recorder (shared, so repeated events aggregate into series).
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    failures: Mutex<HashMap<(String, String), u32>>,
    backups_in_flight: Mutex<HashSet<(String, String)>>,
}

impl Context {
    /// A context reporting events as `shinydb-operator` from `instance` (the pod name).
    pub fn new(client: Client, metrics: Arc<Metrics>, instance: Option<String>) -> Context {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance,
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            failures: Mutex::new(HashMap::new()),
            backups_in_flight: Mutex::new(HashSet::new()),
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), u32>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ShinyBackups (namespace, name) whose server this operator waits on now.
    pub fn backups_in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.backups_in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publishes an event about `object`; a failure is logged, never fatal.
    pub async fn publish(
        &self,
        object: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, object).await {
            warn!(error = %e, reason, "cannot publish event");
        }
    }

    async fn event(&self, db: &ShinyDB, type_: EventType, reason: &str, note: String) {
        self.publish(&db.object_ref(&()), type_, reason, "Reconcile", note)
            .await;
    }
}

fn key_of(meta: &kube::api::ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

/// Reconciles one ShinyDB. An object that does not deserialize is logged and skipped until it
/// changes, so it cannot stall the others.
pub async fn reconcile(
    obj: Arc<DeserializeGuard<ShinyDB>>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let started = Instant::now();
    let result = match &obj.0 {
        Ok(db) => reconcile_db(db, &ctx).await,
        Err(invalid) => {
            warn!(
                name = ?invalid.metadata.name,
                namespace = ?invalid.metadata.namespace,
                error = %invalid.error,
                "ShinyDB does not match the schema; skipped until it changes"
            );
            Ok(Action::await_change())
        }
    };
    let label = if result.is_ok() { "ok" } else { "error" };
    ctx.metrics
        .reconciliations
        .with_label_values(&[label])
        .inc();
    ctx.metrics
        .duration
        .with_label_values(&[label])
        .observe(started.elapsed().as_secs_f64());
    if result.is_ok() {
        let key = match &obj.0 {
            Ok(db) => key_of(&db.metadata),
            Err(invalid) => key_of(&invalid.metadata),
        };
        ctx.failures().remove(&key);
    }
    result
}

/// Retries a failed reconciliation after 2 s, 4 s, 8 s … up to 5 minutes.
pub fn error_policy(
    obj: Arc<DeserializeGuard<ShinyDB>>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    ctx.metrics
        .errors
        .with_label_values(&[error.metric_label()])
        .inc();
    let key = match &obj.0 {
        Ok(db) => key_of(&db.metadata),
        Err(invalid) => key_of(&invalid.metadata),
    };
    let mut failures = ctx.failures();
    let count = failures.entry(key.clone()).or_insert(0);
    *count = count.saturating_add(1);
    let delay = backoff(*count);
    warn!(namespace = %key.0, name = %key.1, error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

/// The delay before retry number `failures` (1-based).
pub fn backoff(failures: u32) -> Duration {
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    BACKOFF_BASE.saturating_mul(factor).min(BACKOFF_MAX)
}

#[instrument(skip_all, fields(namespace = db.namespace().unwrap_or_default(), name = db.name_any()))]
async fn reconcile_db(db: &ShinyDB, ctx: &Context) -> Result<Action, Error> {
    if db.metadata.deletion_timestamp.is_some() {
        // Children go with the garbage collector (owner references); volumes follow the
        // StatefulSet's retention policy.
        return Ok(Action::await_change());
    }
    let names = Names::of(db)?;
    let now = Timestamp::now();
    let uid = db.uid().unwrap_or_default();

    // 1. dereference: everything this reconciliation reads
    let fetched = dereference(&ctx.client, db, &names).await?;

    // 2. validate what the schema cannot
    let validated = match validate(db, &fetched.referenced) {
        Ok(v) => v,
        Err(problem) => {
            let problem = Problem::InvalidSpec(problem.to_string());
            report(ctx, db, &names, &fetched, &problem, now).await?;
            // A fix to the spec or to a referenced Secret wakes the controller.
            return Ok(Action::await_change());
        }
    };

    // 2b. bootstrap: a new instance's data restored from a store before its first pod
    let bootstrapped = bootstrap::run(ctx, db, &names).await?;
    let mut fetched = fetched;
    fetched.observed.bootstrapping = bootstrapped.holding;

    // 3. build the children (pure)
    let desired = build::build(db, &validated.config, &fetched.observed, now)?;

    // 4. ownership: never adopt an object someone else made
    if let Some(foreign) = foreign_child(&fetched, &desired, &uid) {
        let problem = Problem::NameConflict(format!(
            "{foreign} exists and is not managed by ShinyDB {}: delete or rename it",
            names.instance
        ));
        report(ctx, db, &names, &fetched, &problem, now).await?;
        // The foreign object is not watched: look again later.
        return Ok(Action::requeue(CONFLICT_RETRY));
    }

    // 5. apply the children, and delete those no longer wanted
    let stateful_set = apply_children(&ctx.client, &names, &desired, &fetched, &uid).await?;

    // 6. events for what changed
    publish_events(ctx, db, &names, &desired, fetched.stateful_set.as_ref()).await;

    // 7. schedules: the backups that are due; and how the server's archive and store stand
    // (none while a restore replaces the data: its safety backup was the last)
    let stopped = fetched.observed.held_by.is_some() || bootstrapped.holding;
    let scheduled = if stopped {
        schedules::Scheduled {
            status: db.status.as_ref().and_then(|s| s.backup.clone()),
            next: None,
        }
    } else {
        schedules::run_due(ctx, db, &names, now).await?
    };
    // 7b. drills: restore the newest backup into a throwaway instance and check it
    let drilled = if !stopped && db.spec.backup.is_some() {
        Some(drills::run(ctx, db, &names, now).await?)
    } else {
        None
    };
    let mut backup = scheduled.status;
    if let Some(d) = &drilled {
        let b = backup.get_or_insert_with(Default::default);
        b.drills.clone_from(&d.drills);
        b.last_drill.clone_from(&d.last);
    }
    let ready = stateful_set
        .status
        .as_ref()
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    let backup_server = backup_status::ask(ctx, db, &names, ready).await;

    // 8. status
    let status = status::compute(&Inputs {
        db,
        stateful_set: Some(&stateful_set),
        problem: None,
        tls: desired.tls.as_ref(),
        provided_certificate: validated.provided_certificate.as_ref(),
        backup,
        backup_server: backup_server.as_ref(),
        held_by: fetched.observed.held_by.as_deref(),
        bootstrap: bootstrapped.status.as_ref(),
        now,
    });
    let dbs: Api<ShinyDB> = Api::namespaced(ctx.client.clone(), &names.namespace);
    write_status(&dbs, db, status).await?;

    // 9. inventory: a ShinyBackup for every complete backup in the store that none holds
    inventory::run(ctx, db, &names, backup_server.as_ref()).await?;

    let next = desired
        .tls
        .as_ref()
        .and_then(|t| {
            let wait = t.next_check.duration_since(now);
            Duration::try_from(wait).ok()
        })
        .map_or(RESYNC, |d| d.clamp(Duration::from_secs(1), RESYNC));
    let next = if db.spec.backup.is_some() {
        next.min(BACKUP_STATUS_INTERVAL)
    } else {
        next
    };
    let next = [scheduled.next, drilled.and_then(|d| d.next)]
        .into_iter()
        .flatten()
        .min()
        .and_then(|t| Duration::try_from(t.duration_since(now)).ok())
        .map_or(next, |d| next.min(d.max(Duration::from_secs(1))));
    let running = bootstrapped
        .status
        .as_ref()
        .is_some_and(|b| b.phase == Some(BootstrapPhase::Running));
    Ok(Action::requeue(if running {
        next.min(bootstrap::POLL)
    } else {
        next
    }))
}

/// Applies every desired child, in dependency order (configuration and Secrets before the pods
/// that mount them), deletes the children the spec no longer asks for, and returns the applied
/// StatefulSet.
async fn apply_children(
    client: &Client,
    names: &Names,
    desired: &build::Desired,
    fetched: &Fetched,
    uid: &str,
) -> Result<StatefulSet, Error> {
    let ns = names.namespace.as_str();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), ns);

    apply(&config_maps, &desired.config_map).await?;
    for secret in &desired.secrets {
        apply(&secrets, secret).await?;
    }
    for service in &desired.services {
        apply(&services, service).await?;
    }
    let stateful_set = apply(&sets, &desired.stateful_set).await?;
    match &desired.pdb {
        Some(pdb) => {
            apply(&pdbs, pdb).await?;
        }
        None => {
            delete_owned(&pdbs, fetched.pdb.as_ref(), uid).await?;
        }
    }
    // Secrets of a mode or option the spec left (TLS mode no longer operator-managed, an admin
    // password Secret of the user's own).
    let observed = &fetched.observed;
    for stored in [
        &observed.ca_secret,
        &observed.tls_secret,
        &observed.admin_secret,
    ]
    .into_iter()
    .flatten()
    {
        let wanted = desired
            .secrets
            .iter()
            .any(|s| s.metadata.name == stored.metadata.name);
        if !wanted {
            delete_owned(&secrets, Some(stored), uid).await?;
        }
    }
    Ok(stateful_set)
}

/// Publishes the events of what this reconciliation changed.
async fn publish_events(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    desired: &build::Desired,
    previous: Option<&StatefulSet>,
) {
    match previous.map(pod_config_hash) {
        None => {
            ctx.event(
                db,
                EventType::Normal,
                events::CREATED,
                format!("created StatefulSet {}", names.stateful_set()),
            )
            .await;
        }
        Some(old) if old.as_deref() != Some(desired.config_hash.as_str()) => {
            ctx.event(
                db,
                EventType::Normal,
                events::CONFIG_CHANGED,
                "configuration changed; rolling the pods one at a time".into(),
            )
            .await;
        }
        Some(_) => {}
    }
    for event in desired.tls.iter().flat_map(|t| &t.events) {
        let (reason, note) = events::of_tls(event);
        ctx.event(db, EventType::Normal, reason, note).await;
    }
}

/// Writes the status of an instance that cannot be rolled out, with a warning event when the
/// status changed.
async fn report(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    fetched: &Fetched,
    problem: &Problem,
    now: Timestamp,
) -> Result<(), Error> {
    let dbs: Api<ShinyDB> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let status = status::compute(&Inputs {
        db,
        stateful_set: fetched.stateful_set.as_ref(),
        problem: Some(problem.clone()),
        tls: None,
        provided_certificate: None,
        backup: None,
        backup_server: None,
        held_by: fetched.observed.held_by.as_deref(),
        bootstrap: db.status.as_ref().and_then(|s| s.bootstrap.as_ref()),
        now,
    });
    let message = problem.message();
    if write_status(&dbs, db, status).await? {
        ctx.event(db, EventType::Warning, problem.reason(), message.into())
            .await;
    }
    info!(%message, "not rolled out");
    Ok(())
}

fn pod_config_hash(sts: &StatefulSet) -> Option<String> {
    sts.spec
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(CONFIG_HASH_ANNOTATION)
        .cloned()
}

/// Writes `status` through the status subresource unless it equals the stored one. Returns
/// whether it wrote.
async fn write_status(
    api: &Api<ShinyDB>,
    db: &ShinyDB,
    status: ShinyDBStatus,
) -> Result<bool, Error> {
    if db.status.as_ref() == Some(&status) {
        return Ok(false);
    }
    let body = serde_json::json!({
        "apiVersion": ShinyDB::api_version(&()),
        "kind": ShinyDB::kind(&()),
        "status": status,
    });
    api.patch_status(
        &db.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(Error::Status)?;
    Ok(true)
}
