//! The headless Service (stable pod DNS names) and the client Service.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec as K8sServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{GRPC_PORT, HTTP_PORT, Names, labels, selector_labels};
use crate::crd::ShinyDB;

fn port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

/// The headless Service: `<pod>.<instance>-hl.<ns>.svc` resolves to each pod, ready or not
/// (so peers and the operator can reach starting pods).
pub(super) fn headless(names: &Names, owner: &OwnerReference, db: &ShinyDB) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(names.headless_service()),
            namespace: Some(names.namespace.clone()),
            labels: Some(labels(db)),
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        spec: Some(K8sServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(&names.instance)),
            ports: Some(vec![port("grpc", GRPC_PORT), port("http", HTTP_PORT)]),
            ..K8sServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The client Service: gRPC (and the metrics port when monitoring is on), ready pods only.
pub(super) fn client(names: &Names, owner: &OwnerReference, db: &ShinyDB) -> Service {
    let mut ports = vec![port("grpc", GRPC_PORT)];
    if db.spec.monitoring.enabled {
        ports.push(port("http", HTTP_PORT));
    }
    Service {
        metadata: ObjectMeta {
            name: Some(names.client_service()),
            namespace: Some(names.namespace.clone()),
            labels: Some(labels(db)),
            annotations: (!db.spec.service.annotations.is_empty())
                .then(|| db.spec.service.annotations.clone()),
            owner_references: Some(vec![owner.clone()]),
            ..ObjectMeta::default()
        },
        spec: Some(K8sServiceSpec {
            type_: Some(db.spec.service.type_.as_str().into()),
            selector: Some(selector_labels(&names.instance)),
            ports: Some(ports),
            ..K8sServiceSpec::default()
        }),
        ..Service::default()
    }
}
