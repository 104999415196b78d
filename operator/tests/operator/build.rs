//! The pure `build`, `validate` and `status` functions, driven from YAML fixtures.

use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use shinydb_operator::build::tls::{TlsEvent, bundle_len, cert_info};
use shinydb_operator::build::{self, CONFIG_HASH_ANNOTATION, Desired, Observed};
use shinydb_operator::crd::{ShinyDB, VolumeReclaimPolicy};
use shinydb_operator::validate::{Referenced, ValidationError, validate};

/// The ShinyDB in `tests/fixtures/<name>`.
pub(crate) fn fixture(name: &str) -> ShinyDB {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    serde_yaml_ng::from_str(&text).expect("fixture is a ShinyDB")
}

fn now() -> Timestamp {
    "2026-11-26T00:00:00Z".parse().expect("timestamp")
}

/// `build` with the configuration `validate` would hand it.
fn built(db: &ShinyDB, observed: &Observed, now: Timestamp) -> Result<Desired, build::BuildError> {
    let config = build::server_config_yaml(db).expect("the fixture's configuration is valid");
    build::build(db, &config, observed, now)
}

fn secret_named<'a>(d: &'a Desired, name: &str) -> &'a Secret {
    d.secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Secret {name}"))
}

fn data(secret: &Secret, key: &str) -> String {
    String::from_utf8(secret.data.as_ref().expect("data")[key].0.clone()).expect("utf-8")
}

/// What the API server would hand back next time: the applied Secrets.
fn observed_from(d: &Desired, instance: &str) -> Observed {
    let find = |n: String| {
        d.secrets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(n.as_str()))
            .cloned()
    };
    Observed {
        ca_secret: find(format!("{instance}-ca")),
        tls_secret: find(format!("{instance}-tls")),
        admin_secret: find(format!("{instance}-admin")),
        held_by: None,
        bootstrapping: false,
    }
}

#[test]
fn minimal_instance_builds_every_child_owned_by_the_shinydb() {
    let db = fixture("minimal.yaml");
    let d = built(&db, &Observed::default(), now()).expect("builds");

    let metas: Vec<&ObjectMeta> = std::iter::once(&d.config_map.metadata)
        .chain(d.secrets.iter().map(|s| &s.metadata))
        .chain(d.services.iter().map(|s| &s.metadata))
        .chain(std::iter::once(&d.stateful_set.metadata))
        .collect();
    for m in &metas {
        assert_eq!(m.namespace.as_deref(), Some("apps"));
        assert_eq!(
            m.labels.as_ref().expect("labels")["app.kubernetes.io/managed-by"],
            "shinydb-operator"
        );
        if m.name.as_deref() == Some("db-admin") {
            // Kept with the volume (the_admin_secret_lives_as_long_as_the_volume).
            continue;
        }
        let owners = m.owner_references.as_ref().expect("owner references");
        assert_eq!(owners.len(), 1);
        assert_eq!(owners[0].kind, "ShinyDB");
        assert_eq!(owners[0].uid, "7f1c2d9e-0000-4000-8000-000000000001");
        assert_eq!(owners[0].controller, Some(true));
    }
    let mut names: Vec<&str> = metas.iter().filter_map(|m| m.name.as_deref()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "db",
            "db",
            "db-admin",
            "db-ca",
            "db-config",
            "db-hl",
            "db-tls"
        ]
    );
    assert!(d.pdb.is_none(), "no PDB for one replica");

    let config = &d.config_map.data.as_ref().expect("data")["shinydb.yaml"];
    let config: serde_json::Value = serde_yaml_ng::from_str(config).expect("YAML");
    assert_eq!(config["data_dir"], "/data");
    assert_eq!(config["network"]["listen"], "0.0.0.0:23469");
    assert_eq!(config["network"]["http_listen"], "0.0.0.0:23470");
    assert_eq!(config["tls"]["cert"], "/etc/shinydb/tls/tls.crt");
    assert_eq!(
        config["auth"]["admin_password_file"],
        "/etc/shinydb/admin/password"
    );

    let admin = secret_named(&d, "db-admin");
    assert_eq!(data(admin, "username"), "admin");
    assert_eq!(data(admin, "password").len(), 32);
}

#[test]
fn stateful_set_is_hardened_probed_and_keeps_volumes_by_default() {
    let db = fixture("minimal.yaml");
    let d = built(&db, &Observed::default(), now()).expect("builds");
    let spec = &d.stateful_set.spec;
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.service_name.as_deref(), Some("db-hl"));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
    assert_eq!(
        spec.update_strategy
            .as_ref()
            .and_then(|s| s.type_.as_deref()),
        Some("RollingUpdate")
    );
    let retention = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .expect("retention");
    assert_eq!(retention.when_deleted.as_deref(), Some("Retain"));

    let pod = spec.template.spec.as_ref().expect("pod spec");
    let psc = pod.security_context.as_ref().expect("pod security context");
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(10001));
    assert_eq!(psc.fs_group, Some(10001));
    assert_eq!(pod.termination_grace_period_seconds, Some(10 + 20));
    assert_eq!(pod.automount_service_account_token, Some(false));
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("shinydb/server:0.1.0"));
    assert_eq!(
        c.args.as_ref().expect("args"),
        &["--config", "/etc/shinydb/config/shinydb.yaml"]
    );
    let sc = c
        .security_context
        .as_ref()
        .expect("container security context");
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_string()])
    );
    for (probe, path) in [
        (&c.startup_probe, "/healthz"),
        (&c.readiness_probe, "/readyz"),
        (&c.liveness_probe, "/healthz"),
    ] {
        let get = probe
            .as_ref()
            .and_then(|p| p.http_get.as_ref())
            .expect("HTTP probe");
        assert_eq!(get.path.as_deref(), Some(path));
    }
    let mounts: Vec<&str> = c
        .volume_mounts
        .as_ref()
        .expect("mounts")
        .iter()
        .map(|m| m.mount_path.as_str())
        .collect();
    for want in [
        "/data",
        "/etc/shinydb/config",
        "/etc/shinydb/tls",
        "/etc/shinydb/admin",
        "/tmp",
    ] {
        assert!(mounts.contains(&want), "{want} not mounted: {mounts:?}");
    }
    let annotations = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .expect("annotations");
    assert_eq!(annotations[CONFIG_HASH_ANNOTATION], d.config_hash);
    let pvc = &spec.volume_claim_templates.as_ref().expect("claims")[0];
    let req = pvc
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .expect("requests");
    assert_eq!(req["storage"].0, "1Gi");

    let headless = &d.services[0];
    let hs = headless.spec.as_ref().expect("spec");
    assert_eq!(hs.cluster_ip.as_deref(), Some("None"));
    assert_eq!(hs.publish_not_ready_addresses, Some(true));
    let client = d.services[1].spec.as_ref().expect("spec");
    assert_eq!(client.type_.as_deref(), Some("ClusterIP"));
    let ports: Vec<i32> = client
        .ports
        .as_ref()
        .expect("ports")
        .iter()
        .map(|p| p.port)
        .collect();
    assert_eq!(ports, [23469]);
}

#[test]
fn config_change_changes_the_hash_but_certificates_do_not() {
    let db = fixture("minimal.yaml");
    let first = built(&db, &Observed::default(), now()).expect("builds");
    // A rebuild with fresh certificates (nothing observed) keeps the pod template.
    let again = built(&db, &Observed::default(), now()).expect("builds");
    assert_ne!(
        data(secret_named(&first, "db-tls"), "tls.crt"),
        data(secret_named(&again, "db-tls"), "tls.crt")
    );
    assert_eq!(first.stateful_set.spec, again.stateful_set.spec);

    let mut changed = db.clone();
    changed.spec.config = Some(serde_json::json!({"storage": {"durability": "none"}}));
    let rolled = built(&changed, &Observed::default(), now()).expect("builds");
    assert_ne!(first.config_hash, rolled.config_hash);
    assert!(
        rolled.config_map.data.as_ref().expect("data")["shinydb.yaml"].contains("durability: none")
    );
}

#[test]
fn overrides_reach_the_pods_services_storage_and_pdb() {
    let db = fixture("overrides.yaml");
    let d = built(&db, &Observed::default(), now()).expect("builds");
    let spec = &d.stateful_set.spec;
    let tmpl = &spec.template;
    let labels = tmpl
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .expect("labels");
    assert_eq!(labels["team"], "shop");
    assert_eq!(
        labels["app.kubernetes.io/name"], "shinydb",
        "the operator's labels win"
    );
    let annotations = tmpl
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .expect("annotations");
    assert_eq!(annotations["example.com/owner"], "shop");
    assert_eq!(annotations["prometheus.io/port"], "23470");
    let pod = tmpl.spec.as_ref().expect("pod");
    assert_eq!(
        pod.node_selector.as_ref().expect("nodeSelector")["disktype"],
        "ssd"
    );
    assert_eq!(
        pod.tolerations.as_ref().expect("tolerations")[0]
            .key
            .as_deref(),
        Some("dedicated")
    );
    assert_eq!(pod.priority_class_name.as_deref(), Some("databases"));
    assert_eq!(
        pod.topology_spread_constraints
            .as_ref()
            .expect("spread")
            .len(),
        1
    );
    assert_eq!(pod.termination_grace_period_seconds, Some(40 + 20));
    let c = &pod.containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some("registry.example.com/shinydb/server:0.1.0-custom")
    );
    assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
    assert_eq!(
        c.resources
            .as_ref()
            .and_then(|r| r.limits.as_ref())
            .expect("limits")["memory"]
            .0,
        "2Gi"
    );
    let admin = pod
        .volumes
        .as_ref()
        .expect("volumes")
        .iter()
        .find(|v| v.name == "admin")
        .expect("admin volume");
    let admin = admin.secret.as_ref().expect("secret volume");
    assert_eq!(admin.secret_name.as_deref(), Some("orders-admin-password"));
    assert_eq!(admin.items.as_ref().expect("items")[0].key, "pw");
    assert!(
        d.secrets
            .iter()
            .all(|s| s.metadata.name.as_deref() != Some("orders-admin"))
    );

    let retention = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .expect("retention");
    assert_eq!(retention.when_deleted.as_deref(), Some("Delete"));
    let pvc = spec.volume_claim_templates.as_ref().expect("claims")[0]
        .spec
        .as_ref()
        .expect("spec");
    assert_eq!(pvc.storage_class_name.as_deref(), Some("fast"));

    let client = &d.services[1];
    assert_eq!(
        client.spec.as_ref().and_then(|s| s.type_.as_deref()),
        Some("LoadBalancer")
    );
    assert!(
        client
            .metadata
            .annotations
            .as_ref()
            .expect("annotations")
            .contains_key("service.beta.kubernetes.io/aws-load-balancer-internal")
    );
    let ports: Vec<i32> = client
        .spec
        .as_ref()
        .and_then(|s| s.ports.clone())
        .expect("ports")
        .iter()
        .map(|p| p.port)
        .collect();
    assert_eq!(ports, [23469, 23470], "monitoring exposes the metrics port");

    let pdb = d.pdb.as_ref().expect("PDB for replicas > 1");
    assert_eq!(
        pdb.spec.as_ref().and_then(|s| s.max_unavailable.clone()),
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1))
    );

    let config = &d.config_map.data.as_ref().expect("data")["shinydb.yaml"];
    let config: serde_json::Value = serde_yaml_ng::from_str(config).expect("YAML");
    assert_eq!(config["storage"]["durability"], "interval");
    assert_eq!(config["logging"]["format"], "json");
    assert_eq!(config["data_dir"], "/data", "operator keys stay");

    // Server certificate names use the configured cluster domain, for every replica.
    let tls = d.tls.as_ref().expect("operator-managed");
    let info = cert_info("leaf", tls.leaf.cert.as_bytes()).expect("parses");
    assert!(
        info.dns_names
            .contains(&"orders.shop.svc.corp.internal".to_string())
    );
    assert!(
        info.dns_names
            .contains(&"orders-2.orders-hl.shop.svc.corp.internal".to_string())
    );
}

#[test]
fn provided_and_disabled_tls_mount_the_right_secret_or_none() {
    let db = fixture("provided-tls.yaml");
    let d = built(&db, &Observed::default(), now()).expect("builds");
    assert!(d.tls.is_none());
    assert!(d.secrets.iter().all(|s| {
        !s.metadata
            .name
            .as_deref()
            .unwrap_or_default()
            .ends_with("-tls")
    }));
    let pod = d.stateful_set.spec.template.spec.clone().expect("pod");
    let tls = pod
        .volumes
        .as_ref()
        .expect("volumes")
        .iter()
        .find(|v| v.name == "tls")
        .expect("tls volume");
    assert_eq!(
        tls.secret.as_ref().and_then(|s| s.secret_name.as_deref()),
        Some("billing-cert")
    );

    let db = fixture("insecure.yaml");
    let d = built(&db, &Observed::default(), now()).expect("builds");
    let config = &d.config_map.data.as_ref().expect("data")["shinydb.yaml"];
    assert!(config.contains("allow_insecure: true"));
    assert!(!config.contains("tls:"));
    let pod = d.stateful_set.spec.template.spec.clone().expect("pod");
    assert!(
        pod.volumes
            .as_ref()
            .expect("volumes")
            .iter()
            .all(|v| v.name != "tls")
    );
}

#[test]
fn operator_managed_certificate_is_signed_by_the_ca_and_names_every_endpoint() {
    let db = fixture("minimal.yaml");
    let d = built(&db, &Observed::default(), now()).expect("builds");
    let tls = d.tls.as_ref().expect("tls");
    assert_eq!(tls.events.len(), 2, "{:?}", tls.events);
    assert_eq!(tls.events[0], TlsEvent::CaCreated);
    let leaf_pem = data(secret_named(&d, "db-tls"), "tls.crt");
    let ca_pem = data(secret_named(&d, "db-tls"), "ca.crt");
    assert_eq!(bundle_len(ca_pem.as_bytes()), 1);
    let (_, leaf) = x509_parser::pem::parse_x509_pem(leaf_pem.as_bytes()).expect("pem");
    let leaf = leaf.parse_x509().expect("x509");
    let (_, ca) = x509_parser::pem::parse_x509_pem(ca_pem.as_bytes()).expect("pem");
    let ca = ca.parse_x509().expect("x509");
    leaf.verify_signature(Some(ca.public_key()))
        .expect("leaf signed by the CA");
    let info = cert_info("leaf", leaf_pem.as_bytes()).expect("info");
    for name in [
        "db",
        "db.apps",
        "db.apps.svc",
        "db.apps.svc.cluster.local",
        "db-hl.apps.svc.cluster.local",
        "db-0.db-hl.apps.svc.cluster.local",
        "localhost",
    ] {
        assert!(
            info.dns_names.contains(&name.to_string()),
            "{name} missing: {:?}",
            info.dns_names
        );
    }
    // 90 days by default, backdated one minute for clock skew.
    assert_eq!(info.not_after, now() + SignedDuration::from_hours(2160));
    assert_eq!(info.not_before, now() - SignedDuration::from_secs(60));
    // The CA key stays in the CA Secret only.
    assert!(data(secret_named(&d, "db-ca"), "ca.key").contains("PRIVATE KEY"));
    assert!(
        !secret_named(&d, "db-tls")
            .data
            .as_ref()
            .expect("data")
            .contains_key("ca.key")
    );

    // A rebuild a day later changes nothing.
    let later = built(
        &db,
        &observed_from(&d, "db"),
        now() + SignedDuration::from_hours(24),
    )
    .expect("builds");
    assert_eq!(later.secrets, d.secrets);
    assert!(later.tls.as_ref().expect("tls").events.is_empty());
}

#[test]
fn certificate_is_renewed_inside_the_renewal_window() {
    let db = fixture("minimal.yaml");
    let d = built(&db, &Observed::default(), now()).expect("builds");
    // Default: 90 days, renewed 15 days before expiry.
    let t = now() + SignedDuration::from_hours(2160 - 360);
    let renewed = built(&db, &observed_from(&d, "db"), t).expect("builds");
    let tls = renewed.tls.as_ref().expect("tls");
    assert_eq!(
        tls.events,
        [TlsEvent::CertificateIssued(
            "the server certificate is due for renewal".into()
        )]
    );
    assert_eq!(tls.leaf_not_after, t + SignedDuration::from_hours(2160));
    assert_eq!(tls.ca, d.tls.as_ref().expect("tls").ca, "the CA stays");
    assert_eq!(
        renewed.config_hash, d.config_hash,
        "no restart for a new certificate"
    );
}

/// Walks a CA rotation step by step; at every step the server certificate is signed by a CA
/// in the bundle clients trust, and a client holding the bundle of the step before also
/// trusts it.
#[test]
fn ca_rotation_keeps_old_and_new_trusted_until_the_certificate_moved() {
    let db = fixture("short-certificates.yaml");
    // caDuration 10m, certificateDuration 4m, renewBefore 2m: propagation is 1m.
    let t0 = now();
    let mut d = built(&db, &Observed::default(), t0).expect("builds");
    let mut previous_bundle = d.tls.as_ref().expect("tls").bundle.clone();
    let mut seen = Vec::new();
    let mut t = t0;
    while t < t0 + SignedDuration::from_mins(20) {
        t += SignedDuration::from_secs(15);
        d = built(&db, &observed_from(&d, "rot"), t).expect("builds");
        let tls = d.tls.as_ref().expect("tls");
        let leaf = cert_info("leaf", tls.leaf.cert.as_bytes()).expect("leaf");
        assert!(t < leaf.not_after, "certificate expired at {t}");
        for bundle in [&tls.bundle, &previous_bundle] {
            let trusted = x509_parser::pem::Pem::iter_from_buffer(bundle.as_bytes())
                .filter_map(Result::ok)
                .any(|p| {
                    p.parse_x509()
                        .map(|c| c.subject().to_string() == leaf.issuer)
                        .unwrap_or(false)
                });
            assert!(
                trusted,
                "at {t} the certificate's issuer {} is not in a client's bundle",
                leaf.issuer
            );
        }
        assert!(tls.next_check > t);
        previous_bundle = tls.bundle.clone();
        seen.extend(tls.events.iter().cloned().map(|e| (t, e)));
    }
    let kinds: Vec<&TlsEvent> = seen.iter().map(|(_, e)| e).collect();
    let rotated = kinds
        .iter()
        .position(|e| **e == TlsEvent::CaRotated)
        .expect("CA rotated");
    let moved = kinds
        .iter()
        .position(|e| **e == TlsEvent::CertificateIssued("moving to the new CA".into()))
        .expect("certificate moved to the new CA");
    let retired = kinds
        .iter()
        .position(|e| **e == TlsEvent::PreviousCaRetired)
        .expect("old CA retired");
    assert!(rotated < moved && moved < retired, "{seen:?}");
    // The certificate moved only after the new CA had been published for a minute.
    assert!(
        seen[moved].0.duration_since(seen[rotated].0) >= SignedDuration::from_mins(1),
        "{seen:?}"
    );
}

#[test]
fn the_admin_secret_lives_as_long_as_the_volume() {
    let mut db = fixture("minimal.yaml");
    let kept = built(&db, &Observed::default(), now()).expect("builds");
    assert_eq!(
        secret_named(&kept, "db-admin").metadata.owner_references,
        None,
        "with reclaimPolicy Retain the admin Secret must outlive the ShinyDB"
    );
    db.spec.storage.reclaim_policy = VolumeReclaimPolicy::Delete;
    let deleted = built(&db, &Observed::default(), now()).expect("builds");
    let owners = secret_named(&deleted, "db-admin")
        .metadata
        .owner_references
        .clone()
        .expect("owned when the volume goes with the ShinyDB");
    assert_eq!(owners[0].uid, "7f1c2d9e-0000-4000-8000-000000000001");
}

#[test]
fn generated_admin_password_is_kept_across_builds() {
    let db = fixture("minimal.yaml");
    let d = built(&db, &Observed::default(), now()).expect("builds");
    let again = built(&db, &observed_from(&d, "db"), now()).expect("builds");
    assert_eq!(
        data(secret_named(&d, "db-admin"), "password"),
        data(secret_named(&again, "db-admin"), "password")
    );
}

#[test]
fn invalid_config_is_refused_naming_the_key() {
    let err =
        validate(&fixture("bad-config-key.yaml"), &Referenced::default()).expect_err("refused");
    let msg = err.to_string();
    assert!(msg.starts_with("spec.config"), "{msg}");
    assert!(msg.contains("storage"), "{msg}");
    assert!(msg.contains("durabilty"), "{msg}");

    let err =
        validate(&fixture("operator-owned-key.yaml"), &Referenced::default()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "spec.config.data_dir is set by the operator and cannot be overridden"
    );

    let mut db = fixture("minimal.yaml");
    db.spec.config = Some(serde_json::json!({"storage": {"compression_level": 99}}));
    let err = validate(&db, &Referenced::default()).expect_err("refused");
    assert!(err.to_string().contains("compression_level"), "{err}");
}

fn secret(entries: &[(&str, &[u8])]) -> Secret {
    Secret {
        data: Some(
            entries
                .iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

#[test]
fn referenced_secrets_are_checked() {
    let db = fixture("provided-tls.yaml");
    let err = validate(&db, &Referenced::default()).expect_err("missing");
    assert_eq!(
        err.to_string(),
        "spec.tls.secretName: Secret \"billing-cert\" not found"
    );

    let partial = secret(&[("tls.crt", b"x"), ("tls.key", b"y")]);
    let err = validate(
        &db,
        &Referenced {
            tls_secret: Some(partial),
            admin_secret: None,
            ..Referenced::default()
        },
    )
    .expect_err("no ca");
    assert!(
        matches!(err, ValidationError::TlsSecretKey { key: "ca.crt", .. }),
        "{err}"
    );

    let garbage = secret(&[("tls.crt", b"not pem"), ("tls.key", b"y"), ("ca.crt", b"z")]);
    let err = validate(
        &db,
        &Referenced {
            tls_secret: Some(garbage),
            admin_secret: None,
            ..Referenced::default()
        },
    )
    .expect_err("bad pem");
    assert!(
        err.to_string()
            .starts_with("spec.tls.secretName: Secret \"billing-cert\": tls.crt"),
        "{err}"
    );

    // A real certificate (made by the operator's own CA for another instance) is accepted and
    // its expiry reported.
    let other = built(&fixture("minimal.yaml"), &Observed::default(), now()).expect("builds");
    let tls = other.tls.as_ref().expect("tls");
    let good = secret(&[
        ("tls.crt", tls.leaf.cert.as_bytes()),
        ("tls.key", tls.leaf.key.as_bytes()),
        ("ca.crt", tls.bundle.as_bytes()),
    ]);
    let ok = validate(
        &db,
        &Referenced {
            tls_secret: Some(good),
            admin_secret: None,
            ..Referenced::default()
        },
    )
    .expect("valid");
    assert_eq!(
        ok.provided_certificate.expect("info").not_after,
        tls.leaf_not_after
    );

    let db = fixture("overrides.yaml");
    let err = validate(&db, &Referenced::default()).expect_err("missing admin secret");
    assert_eq!(
        err.to_string(),
        "spec.auth.adminPasswordSecret.name: Secret \"orders-admin-password\" not found"
    );
    let wrong_key = secret(&[("password", b"long enough password")]);
    let err = validate(
        &db,
        &Referenced {
            tls_secret: None,
            admin_secret: Some(wrong_key),
            ..Referenced::default()
        },
    )
    .expect_err("key");
    assert!(
        err.to_string()
            .starts_with("spec.auth.adminPasswordSecret.key"),
        "{err}"
    );
}

#[test]
fn tls_disabled_needs_allow_insecure() {
    let mut db = fixture("insecure.yaml");
    assert!(validate(&db, &Referenced::default()).is_ok());
    db.spec.tls.allow_insecure = false;
    let err = validate(&db, &Referenced::default()).expect_err("refused");
    assert!(err.to_string().contains("spec.tls.allowInsecure"), "{err}");
}

/// A renewal due before a fresh CA's settling time is not held back by it (there is no
/// previous CA to settle from).
#[test]
fn renewal_is_not_held_back_by_a_fresh_ca() {
    let mut db = fixture("short-certificates.yaml");
    db.spec.tls.ca_duration = std::time::Duration::from_secs(360).into();
    db.spec.tls.certificate_duration = std::time::Duration::from_secs(240).into();
    db.spec.tls.renew_before = std::time::Duration::from_secs(180).into();
    let d = built(&db, &Observed::default(), now()).expect("builds");
    let due = now() + SignedDuration::from_secs(60);
    assert_eq!(d.tls.as_ref().expect("tls").next_check, due);
    let renewed = built(&db, &observed_from(&d, "rot"), due).expect("builds");
    assert_eq!(
        renewed.tls.as_ref().expect("tls").events,
        [TlsEvent::CertificateIssued(
            "the server certificate is due for renewal".into()
        )]
    );
}
