//! `status.backup` and the conditions `BackupStoreReachable` and `ContinuousArchiving`, from
//! what the server answers to `Backups/Status`.

use std::path::PathBuf;

use jiff::Timestamp;
use shinydb_client::proto::{ArchiveGap, BackupStatusResponse};
use shinydb_operator::crd::{ShinyDB, ShinyDBStatus};
use shinydb_operator::status::{BACKUP_STORE_REACHABLE, CONTINUOUS_ARCHIVING, Inputs, compute};
use shinydb_server::backup::BackupError;

fn fixture() -> ShinyDB {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/backup.yaml");
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("a ShinyDB")
}

fn now() -> Timestamp {
    "2026-12-02T12:00:00Z".parse().expect("time")
}

fn healthy() -> BackupStatusResponse {
    BackupStatusResponse {
        store: "s3://shiny/prod/db".into(),
        archiving: true,
        lineage: "7f3a".into(),
        archived_seq: 420,
        archive_lag_seconds: 1.6,
        first_recoverable_ms: 1_764_633_600_000,
        last_recoverable_ms: 1_764_676_800_000,
        backups: 3,
        ..BackupStatusResponse::default()
    }
}

fn status_after(
    db: &ShinyDB,
    server: Option<&Result<BackupStatusResponse, String>>,
) -> ShinyDBStatus {
    compute(&Inputs {
        db,
        stateful_set: None,
        problem: None,
        tls: None,
        provided_certificate: None,
        backup: None,
        backup_server: server,
        held_by: None,
        bootstrap: None,
        now: now(),
    })
}

fn condition(s: &ShinyDBStatus, type_: &str) -> (String, String, String) {
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap_or_else(|| panic!("no condition {type_}"));
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[test]
fn a_healthy_archive_reports_its_lineage_recoverability_window_and_lag() {
    let db = fixture();
    let s = status_after(&db, Some(&Ok(healthy())));
    let b = s.backup.clone().expect("status.backup");
    assert_eq!(b.lineage.as_deref(), Some("7f3a"));
    assert_eq!(
        b.first_recoverability_point.as_deref(),
        Some("2025-12-02T00:00:00Z")
    );
    assert_eq!(
        b.last_recoverability_point.as_deref(),
        Some("2025-12-02T12:00:00Z")
    );
    assert_eq!(b.archived_seq, Some(420));
    assert_eq!(b.archive_lag_seconds, Some(2));
    assert_eq!(b.backups, Some(3));
    assert_eq!(condition(&s, BACKUP_STORE_REACHABLE).0, "True");
    let archiving = condition(&s, CONTINUOUS_ARCHIVING);
    assert_eq!(
        (archiving.0.as_str(), archiving.1.as_str()),
        ("True", "Archiving")
    );
}

#[test]
fn refused_credentials_name_the_reason_and_the_secret() {
    let db = fixture();
    let refused = BackupError::InvalidCredentials {
        store: "s3://shiny/prod/db".into(),
        detail: "SignatureDoesNotMatch".into(),
    };
    let server = BackupStatusResponse {
        last_error: refused.to_string(),
        ..healthy()
    };
    let s = status_after(&db, Some(&Ok(server)));
    let (status, reason, message) = condition(&s, BACKUP_STORE_REACHABLE);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", "InvalidCredentials")
    );
    assert!(message.contains("Secret s3"), "{message}");
    assert!(message.contains("SignatureDoesNotMatch"), "{message}");
    assert_eq!(condition(&s, CONTINUOUS_ARCHIVING).1, "ArchiveFailing");
}

#[test]
fn a_gap_in_the_archive_breaks_continuous_archiving() {
    let db = fixture();
    let server = BackupStatusResponse {
        gaps: vec![ArchiveGap { from: 100, to: 180 }],
        ..healthy()
    };
    let s = status_after(&db, Some(&Ok(server)));
    let (status, reason, message) = condition(&s, CONTINUOUS_ARCHIVING);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "ArchiveGap"));
    assert!(message.contains("100 to 180"), "{message}");
}

#[test]
fn a_server_that_cannot_be_asked_leaves_the_last_answer_in_place() {
    let mut db = fixture();
    db.status = Some(status_after(&db, Some(&Ok(healthy()))));
    let unreachable = Err("connection refused".to_string());
    let s = status_after(&db, Some(&unreachable));
    assert_eq!(condition(&s, BACKUP_STORE_REACHABLE).0, "True");
    assert_eq!(s.backup.and_then(|b| b.lineage).as_deref(), Some("7f3a"));
}

#[test]
fn without_spec_backup_there_is_no_backup_status_or_condition() {
    let mut db = fixture();
    db.status = Some(status_after(&db, Some(&Ok(healthy()))));
    db.spec.backup = None;
    let s = status_after(&db, None);
    assert!(s.backup.is_none());
    assert!(
        !s.conditions
            .iter()
            .any(|c| c.type_ == BACKUP_STORE_REACHABLE || c.type_ == CONTINUOUS_ARCHIVING)
    );
}
