//! `spec.backup` becomes the server's `backup:` configuration and read-only Secret volumes;
//! `validate` refuses Secrets that are missing or lack their key, and `spec.config` keys that
//! `spec.backup` decides.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use serde_json::json;
use shinydb_operator::build::{self, Desired, Observed};
use shinydb_operator::crd::ShinyDB;
use shinydb_operator::validate::{Referenced, Validated, ValidationError, validate};

fn fixture() -> ShinyDB {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/backup.yaml");
    let text = std::fs::read_to_string(&path).expect("fixture exists");
    serde_yaml_ng::from_str(&text).expect("fixture is a ShinyDB")
}

/// Secret `name` holding `keys` (each with a placeholder value).
pub(crate) fn secret(name: &str, keys: &[&str]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(
            keys.iter()
                .map(|k| ((*k).to_string(), ByteString(b"value".to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

fn all_secrets() -> Referenced {
    Referenced {
        backup_secrets: BTreeMap::from([
            ("s3".into(), secret("s3", &["id", "secret"])),
            ("s3-ca".into(), secret("s3-ca", &["bundle.pem"])),
            ("backup-key".into(), secret("backup-key", &["hex"])),
        ]),
        ..Referenced::default()
    }
}

/// `build` with what `validate` returned.
fn built(db: &ShinyDB, validated: &Validated) -> Desired {
    build::build(
        db,
        &validated.config,
        &Observed::default(),
        "2026-12-02T00:00:00Z".parse().expect("time"),
    )
    .expect("builds")
}

#[test]
fn the_server_configuration_names_the_store_its_options_and_the_mounted_files() {
    let validated = validate(&fixture(), &all_secrets()).expect("valid");
    let config: serde_json::Value =
        serde_yaml_ng::from_str(&validated.config.yaml).expect("the configuration is YAML");
    assert_eq!(
        config["backup"],
        json!({
            "store": "s3://shiny/prod/db",
            "endpoint": "http://10.88.0.1:5000",
            "allow_http": true,
            "region": "us-east-1",
            "path_style": true,
            "access_key_id_file": "/etc/shinydb/backup/credentials/access-key-id",
            "secret_access_key_file": "/etc/shinydb/backup/credentials/secret-access-key",
            "ca_file": "/etc/shinydb/backup/ca/ca.crt",
            "encryption_key_file": "/etc/shinydb/backup/key/key",
            "archive": {"enabled": true, "timeout_seconds": 30},
            "retention": {"recovery_window_seconds": 336 * 3600, "min_backups": 3},
            // A tuning key spec.config may still set.
            "parallelism": 2,
        })
    );
}

#[test]
fn the_pods_mount_each_named_secret_key_read_only_under_a_fixed_name() {
    let db = fixture();
    let validated = validate(&db, &all_secrets()).expect("valid");
    let desired = built(&db, &validated);
    let spec = desired.stateful_set.spec.template.spec.expect("pod spec");
    let volume = |name: &str| {
        let v = spec
            .volumes
            .as_ref()
            .expect("volumes")
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no volume {name}"));
        let s = v.secret.as_ref().expect("a Secret volume");
        let items: Vec<(String, String)> = s
            .items
            .as_ref()
            .expect("items")
            .iter()
            .map(|i| (i.key.clone(), i.path.clone()))
            .collect();
        (s.secret_name.clone().expect("name"), items)
    };
    let pair = |k: &str, p: &str| (k.to_string(), p.to_string());
    assert_eq!(
        volume("backup-credentials"),
        (
            "s3".into(),
            vec![
                pair("id", "access-key-id"),
                pair("secret", "secret-access-key")
            ]
        )
    );
    assert_eq!(
        volume("backup-ca"),
        ("s3-ca".into(), vec![pair("bundle.pem", "ca.crt")])
    );
    assert_eq!(
        volume("backup-key"),
        ("backup-key".into(), vec![pair("hex", "key")])
    );
    let mounts = spec.containers[0].volume_mounts.as_ref().expect("mounts");
    for (name, path) in [
        ("backup-credentials", "/etc/shinydb/backup/credentials"),
        ("backup-ca", "/etc/shinydb/backup/ca"),
        ("backup-key", "/etc/shinydb/backup/key"),
    ] {
        let m = mounts
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no mount {name}"));
        assert_eq!(m.mount_path, path);
        assert_eq!(m.read_only, Some(true));
    }
}

#[test]
fn a_missing_secret_or_key_is_refused_naming_the_field_and_the_secret() {
    let db = fixture();
    let mut referenced = all_secrets();
    referenced.backup_secrets.remove("s3-ca");
    let err = validate(&db, &referenced).expect_err("refused");
    assert!(
        matches!(err, ValidationError::BackupSecretMissing { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        r#"spec.backup.store.caSecret: Secret "s3-ca" not found"#
    );

    let mut referenced = all_secrets();
    referenced
        .backup_secrets
        .insert("s3".into(), secret("s3", &["id"]));
    let err = validate(&db, &referenced).expect_err("refused");
    assert_eq!(
        err.to_string(),
        r#"spec.backup.store.credentials.secretAccessKeyKey: Secret "s3" has no non-empty key "secret""#
    );
}

#[test]
fn spec_config_cannot_set_what_spec_backup_decides() {
    let mut db = fixture();
    db.spec.config = Some(json!({"backup": {"store": "s3://elsewhere"}}));
    let err = validate(&db, &all_secrets()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "spec.config.backup.store comes from spec.backup: set it there"
    );
}

#[test]
fn an_instance_without_spec_backup_has_no_backup_volumes() {
    let mut db = fixture();
    db.spec.backup = None;
    db.spec.config = None;
    let validated = validate(&db, &Referenced::default()).expect("valid");
    let config: serde_json::Value = serde_yaml_ng::from_str(&validated.config.yaml).expect("YAML");
    assert!(config.get("backup").is_none(), "{config}");
    let desired = built(&db, &validated);
    let volumes = desired
        .stateful_set
        .spec
        .template
        .spec
        .expect("pod")
        .volumes;
    assert!(
        !volumes
            .unwrap_or_default()
            .iter()
            .any(|v| v.name.starts_with("backup-")),
    );
}

#[test]
fn the_backup_example_is_a_valid_shinydb_with_a_valid_schedule() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/backup.yaml");
    let text = std::fs::read_to_string(&path).expect("examples/backup.yaml");
    let doc = text
        .split("\n---\n")
        .find(|d| d.contains("kind: ShinyDB\n"))
        .expect("a ShinyDB document");
    let mut db: ShinyDB = serde_yaml_ng::from_str(doc).expect("a ShinyDB");
    db.metadata.namespace = Some("apps".into());
    db.metadata.uid = Some("7f1c2d9e-0000-4000-8000-000000000002".into());
    let referenced = Referenced {
        backup_secrets: BTreeMap::from([(
            "backup-s3".into(),
            secret("backup-s3", &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]),
        )]),
        ..Referenced::default()
    };
    let validated = validate(&db, &referenced).expect("valid");
    assert!(
        validated
            .config
            .yaml
            .contains("s3://shinydb-backups/prod/backed-up")
    );
}
