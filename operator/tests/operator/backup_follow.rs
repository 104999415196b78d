//! How the backup controller reads what a server answered: failure reasons from the server's
//! own error texts, the manifest that belongs to a ShinyBackup (by its tag, or by time from a
//! server without tags), silence, progress.

use std::collections::HashSet;

use shinydb_client::proto::BackupSummary;
use shinydb_client::{Applied, Code, Error};
use shinydb_operator::backup::{
    Outcome, SILENCE_LIMIT, matching_manifest, of_create_error, progress, silent_too_long,
};
use shinydb_operator::crd::BackupReason;
use shinydb_server::backup::BackupError;

const STORE: &str = "s3://shiny/db";

fn server(code: Code, e: &BackupError) -> Error {
    Error::Server {
        code,
        message: e.to_string(),
        applied: Applied::No,
    }
}

fn reason(o: Outcome) -> Option<BackupReason> {
    match o {
        Outcome::Failed(r, _) => Some(r),
        Outcome::Busy(_) | Outcome::Unknown(_) => None,
    }
}

#[test]
fn the_servers_store_errors_become_reasons() {
    let credentials = BackupError::InvalidCredentials {
        store: STORE.into(),
        detail: "SignatureDoesNotMatch".into(),
    };
    let missing = BackupError::NotFound {
        store: STORE.into(),
        detail: "NoSuchBucket".into(),
    };
    let unreachable = BackupError::Unreachable {
        store: STORE.into(),
        detail: "connection refused".into(),
    };
    let corrupt = BackupError::Corrupt {
        key: "db/base/x/chunk-1".into(),
        expected: "aa".into(),
        found: "bb".into(),
    };
    assert_eq!(
        reason(of_create_error(&server(
            Code::FailedPrecondition,
            &credentials
        ))),
        Some(BackupReason::InvalidCredentials)
    );
    assert_eq!(
        reason(of_create_error(&server(Code::FailedPrecondition, &missing))),
        Some(BackupReason::BucketNotFound)
    );
    assert_eq!(
        reason(of_create_error(&server(Code::Unavailable, &unreachable))),
        Some(BackupReason::StoreUnreachable)
    );
    assert_eq!(
        reason(of_create_error(&server(Code::DataLoss, &corrupt))),
        Some(BackupReason::ChecksumMismatch)
    );
    assert_eq!(
        reason(of_create_error(&server(
            Code::FailedPrecondition,
            &BackupError::NotConfigured
        ))),
        Some(BackupReason::ServerError)
    );
    assert!(matches!(
        of_create_error(&server(Code::Aborted, &BackupError::Busy)),
        Outcome::Busy(_)
    ));
}

#[test]
fn a_broken_connection_or_a_timeout_leaves_the_outcome_to_the_server_and_the_store() {
    let broken = Error::Server {
        code: Code::Unavailable,
        message: "error trying to connect: Network is unreachable".into(),
        applied: Applied::Maybe,
    };
    assert!(matches!(of_create_error(&broken), Outcome::Unknown(_)));
    let timeout = Error::Timeout(std::time::Duration::from_secs(30));
    assert!(matches!(of_create_error(&timeout), Outcome::Unknown(_)));
}

fn summary(id: &str, state: &str, started_at_ms: i64) -> BackupSummary {
    BackupSummary {
        id: id.into(),
        state: state.into(),
        started_at_ms,
        ..BackupSummary::default()
    }
}

fn tagged(id: &str, started_at_ms: i64, tag: &str) -> BackupSummary {
    BackupSummary {
        tag: tag.into(),
        ..summary(id, "complete", started_at_ms)
    }
}

#[test]
fn the_manifest_of_a_backup_is_the_one_tagged_with_its_uid() {
    let backups = vec![
        tagged("later", 40_000, "uid-2"),
        tagged("mine", 30_000, "uid-1"),
    ];
    let none = HashSet::new();
    assert_eq!(
        matching_manifest("uid-1", 21_000, &backups, &none).map(|b| b.id.as_str()),
        Some("mine")
    );
    // Lost (never written): another ShinyBackup's later backup is not taken for it.
    assert_eq!(
        matching_manifest("uid-3", 21_000, &backups, &none),
        None,
        "a backup tagged for another ShinyBackup"
    );
}

#[test]
fn untagged_the_manifest_of_a_backup_is_the_oldest_complete_unclaimed_one_started_after_it() {
    let backups = vec![
        summary("c", "complete", 30_000),
        summary("b", "complete", 20_500),
        summary("i", "incomplete", 20_100),
        summary("a", "complete", 10_000),
    ];
    let none = HashSet::new();
    // Started at 21 s: b started 0.5 s "before" by the server's clock, within the slack.
    assert_eq!(
        matching_manifest("uid-1", 21_000, &backups, &none).map(|b| b.id.as_str()),
        Some("b")
    );
    let claimed = HashSet::from(["b".to_string()]);
    assert_eq!(
        matching_manifest("uid-1", 21_000, &backups, &claimed).map(|b| b.id.as_str()),
        Some("c")
    );
    assert_eq!(matching_manifest("uid-1", 32_001, &backups, &none), None);
}

#[test]
fn a_server_is_silent_too_long_after_the_limit_or_when_never_heard() {
    let heard: jiff::Timestamp = "2026-12-02T10:00:00Z".parse().expect("time");
    let limit = jiff::SignedDuration::try_from(SILENCE_LIMIT).expect("limit");
    assert!(!silent_too_long(
        Some(heard),
        heard + jiff::SignedDuration::from_secs(5)
    ));
    assert!(silent_too_long(Some(heard), heard + limit));
    assert!(silent_too_long(None, heard));
}

#[test]
fn progress_is_a_whole_percentage() {
    assert_eq!(progress(0, 0), "0%");
    assert_eq!(progress(1, 3), "33%");
    assert_eq!(progress(5, 4), "100%");
}
