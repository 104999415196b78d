//! One reconciliation: validate → build → apply → status, with events, and the error policy
//! (exponential backoff per object).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Patch, PatchParams};
use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource, ResourceExt};
use tracing::{info, warn};

use super::apply::{apply, delete_owned, free_or_ours};
use crate::build::tls::TlsEvent;
use crate::build::{self, CONFIG_HASH_ANNOTATION, FIELD_MANAGER, Names, Observed};
use crate::crd::{ShinyDB, ShinyDBStatus, TlsMode};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::status::{self, Inputs, Problem};
use crate::validate::{Referenced, validate};

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
        }
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), u32>> {
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn event(&self, db: &ShinyDB, type_: EventType, reason: &str, note: String) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &db.object_ref(&())).await {
            warn!(error = %e, reason, "cannot publish event");
        }
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

async fn reconcile_db(db: &ShinyDB, ctx: &Context) -> Result<Action, Error> {
    if db.metadata.deletion_timestamp.is_some() {
        // Children go with the garbage collector (owner references); volumes follow the
        // StatefulSet's retention policy.
        return Ok(Action::await_change());
    }
    let names = Names::of(db)?;
    let ns = names.namespace.clone();
    let client = ctx.client.clone();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns);
    let dbs: Api<ShinyDB> = Api::namespaced(client.clone(), &ns);
    let now = Timestamp::now();

    // validate
    let referenced = Referenced {
        tls_secret: match (db.spec.tls.mode, &db.spec.tls.secret_name) {
            (TlsMode::Provided, Some(name)) => secrets.get_opt(name).await?,
            _ => None,
        },
        admin_secret: match &db.spec.auth.admin_password_secret {
            Some(a) => secrets.get_opt(&a.name).await?,
            None => None,
        },
    };
    let validated = match validate(db, &referenced) {
        Ok(v) => v,
        Err(problem) => {
            let problem = Problem::InvalidSpec(problem.to_string());
            report(ctx, db, &names, &problem, now).await?;
            // A fix to the spec or to a referenced Secret wakes the controller.
            return Ok(Action::await_change());
        }
    };

    // build
    let observed = Observed {
        ca_secret: secrets.get_opt(&names.ca_secret()).await?,
        tls_secret: secrets.get_opt(&names.tls_secret()).await?,
        admin_secret: match db.spec.auth.admin_password_secret {
            Some(_) => None,
            None => secrets.get_opt(&names.admin_secret()).await?,
        },
    };
    let previous = sets.get_opt(&names.stateful_set()).await?;
    let desired = build::build(db, &observed, now)?;

    // ownership: an object of a child's name that this instance does not control is never
    // adopted (forced apply would take it over, and the garbage collector would later delete
    // it with the instance)
    if let Some(foreign) =
        foreign_child(&client, &ns, &desired, &db.uid().unwrap_or_default()).await?
    {
        let problem = Problem::NameConflict(format!(
            "{foreign} exists and is not managed by ShinyDB {}: delete or rename it",
            names.instance
        ));
        report(ctx, db, &names, &problem, now).await?;
        // The foreign object is not watched: look again later.
        return Ok(Action::requeue(CONFLICT_RETRY));
    }

    // apply
    apply(
        &Api::<ConfigMap>::namespaced(client.clone(), &ns),
        &desired.config_map,
    )
    .await?;
    for secret in &desired.secrets {
        apply(&secrets, secret).await?;
    }
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    for service in &desired.services {
        apply(&services, service).await?;
    }
    let stateful_set = apply(&sets, &desired.stateful_set).await?;
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &ns);
    match &desired.pdb {
        Some(pdb) => {
            apply(&pdbs, pdb).await?;
        }
        None => {
            let uid = db.uid().unwrap_or_default();
            delete_owned(&pdbs, &names.pdb(), &uid).await?;
        }
    }

    // events for what changed
    match previous.as_ref().map(pod_config_hash) {
        None => {
            ctx.event(
                db,
                EventType::Normal,
                "Created",
                format!("created StatefulSet {}", names.stateful_set()),
            )
            .await
        }
        Some(old) if old.as_deref() != Some(desired.config_hash.as_str()) => {
            ctx.event(
                db,
                EventType::Normal,
                "ConfigChanged",
                "configuration changed; rolling the pods one at a time".into(),
            )
            .await
        }
        Some(_) => {}
    }
    if let Some(tls) = &desired.tls {
        for event in &tls.events {
            let (reason, note) = match event {
                TlsEvent::CaCreated => ("CACreated", "created the instance's CA".to_string()),
                TlsEvent::CaRotated => ("CARotated", "the CA is due for renewal: a new CA joined the trust bundle next to the old one".into()),
                TlsEvent::PreviousCaRetired => ("PreviousCARetired", "the previous CA left the trust bundle".into()),
                TlsEvent::CertificateIssued(why) => ("CertificateIssued", format!("issued a server certificate: {why}")),
            };
            ctx.event(db, EventType::Normal, reason, note).await;
        }
    }

    // status
    let status = status::compute(&Inputs {
        db,
        stateful_set: Some(&stateful_set),
        problem: None,
        tls: desired.tls.as_ref(),
        provided_certificate: validated.provided_certificate.as_ref(),
        now,
    });
    write_status(&dbs, db, status).await?;

    let next = desired
        .tls
        .as_ref()
        .and_then(|t| {
            let wait = t.next_check.duration_since(now);
            Duration::try_from(wait).ok()
        })
        .map_or(RESYNC, |d| d.clamp(Duration::from_secs(1), RESYNC));
    Ok(Action::requeue(next))
}

/// Writes the status of an instance that cannot be rolled out, with a warning event when the
/// status changed.
async fn report(
    ctx: &Context,
    db: &ShinyDB,
    names: &Names,
    problem: &Problem,
    now: Timestamp,
) -> Result<(), Error> {
    let ns = &names.namespace;
    let sets: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), ns);
    let dbs: Api<ShinyDB> = Api::namespaced(ctx.client.clone(), ns);
    let existing = sets.get_opt(&names.stateful_set()).await?;
    let status = status::compute(&Inputs {
        db,
        stateful_set: existing.as_ref(),
        problem: Some(problem.clone()),
        tls: None,
        provided_certificate: None,
        now,
    });
    let message = problem.message();
    if write_status(&dbs, db, status).await? {
        ctx.event(db, EventType::Warning, problem.reason(), message.into())
            .await;
    }
    info!(namespace = %ns, name = %names.instance, %message, "not rolled out");
    Ok(())
}

/// The first child (as `Kind name`) whose name is taken by an object that the instance with
/// `uid` does not control.
async fn foreign_child(
    client: &Client,
    ns: &str,
    desired: &build::Desired,
    uid: &str,
) -> Result<Option<String>, Error> {
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    if !free_or_ours(&config_maps, &desired.config_map, uid).await? {
        return Ok(Some(format!("ConfigMap {}", desired.config_map.name_any())));
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    for secret in &desired.secrets {
        if !free_or_ours(&secrets, secret, uid).await? {
            return Ok(Some(format!("Secret {}", secret.name_any())));
        }
    }
    let services: Api<Service> = Api::namespaced(client.clone(), ns);
    for service in &desired.services {
        if !free_or_ours(&services, service, uid).await? {
            return Ok(Some(format!("Service {}", service.name_any())));
        }
    }
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    if !free_or_ours(&sets, &desired.stateful_set, uid).await? {
        return Ok(Some(format!(
            "StatefulSet {}",
            desired.stateful_set.name_any()
        )));
    }
    if let Some(pdb) = &desired.pdb {
        let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), ns);
        if !free_or_ours(&pdbs, pdb, uid).await? {
            return Ok(Some(format!("PodDisruptionBudget {}", pdb.name_any())));
        }
    }
    Ok(None)
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
    .await?;
    Ok(true)
}
