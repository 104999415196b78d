//! Leader election on a `coordination.k8s.io` Lease (kube-lease-manager): every replica
//! serves metrics and health, only the lease holder runs the controller. A leader that loses
//! the lease exits, so it never reconciles next to the new leader.

use std::sync::Arc;

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tracing::info;

use crate::controller::{self, Context};
use crate::error::RunError;
use crate::metrics::Metrics;

/// Seconds a lease lasts without renewal.
const LEASE_SECONDS: u64 = 15;
/// Seconds before expiry the holder renews it.
const GRACE_SECONDS: u64 = 5;

/// Where the lease lives and who we are.
#[derive(Clone, Debug)]
pub struct LeaseOptions {
    /// Lease name.
    pub name: String,
    /// Lease namespace (the operator's own).
    pub namespace: String,
    /// This replica's identity (its pod name).
    pub identity: String,
}

/// Waits for the lease, then runs the controller over `namespaces` until a shutdown signal.
pub async fn run_as_leader(
    client: Client,
    lease: LeaseOptions,
    namespaces: Vec<String>,
    metrics: Arc<Metrics>,
) -> Result<(), RunError> {
    let manager = LeaseManagerBuilder::new(client.clone(), &lease.name)
        .with_namespace(&lease.namespace)
        .with_identity(&lease.identity)
        .with_duration(LEASE_SECONDS)
        .with_grace(GRACE_SECONDS)
        .build()
        .await?;
    let (mut is_leader, lease_task) = manager.watch().await;
    metrics.set_ready();
    info!(lease = %lease.name, namespace = %lease.namespace, identity = %lease.identity, "waiting for the leader lease");
    loop {
        if *is_leader.borrow_and_update() {
            break;
        }
        tokio::select! {
            changed = is_leader.changed() => changed.map_err(|_| RunError::LostLease)?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
    metrics.leader.set(1);
    info!(identity = %lease.identity, "became the leader; starting the controller");
    let ctx = Arc::new(Context::new(
        client.clone(),
        metrics.clone(),
        Some(lease.identity.clone()),
    ));
    let lost = async {
        loop {
            if is_leader.changed().await.is_err() || !*is_leader.borrow_and_update() {
                return;
            }
        }
    };
    let result = tokio::select! {
        () = controller::run(client, &namespaces, ctx) => Ok(()),
        () = lost => Err(RunError::LostLease),
    };
    metrics.leader.set(0);
    // Dropping the receiver makes the lease task release the lease for the next leader.
    drop(is_leader);
    if result.is_ok() {
        let _ = lease_task.await;
        info!("released the leader lease");
    }
    result
}
