//! The inventory rebuilt from the store: which listed backups need a ShinyBackup, what it is
//! named and the Completed status it gets from the manifest.

use std::collections::HashSet;

use shinydb_client::proto::BackupSummary;
use shinydb_operator::controller::{discovered_name, discovered_status, unheld};
use shinydb_operator::crd::BackupPhase;

fn summary(id: &str, state: &str) -> BackupSummary {
    BackupSummary {
        id: id.into(),
        state: state.into(),
        seq: 42,
        started_at_ms: 1_764_763_200_000,
        ended_at_ms: 1_764_763_205_500,
        raw_bytes: 4096,
        stored_bytes: 1024,
        tag: String::new(),
        stores: Vec::new(),
    }
}

#[test]
fn only_complete_backups_no_shinybackup_holds_are_discovered() {
    let listed = vec![
        summary("20261203T125000Z-9", "complete"),
        summary("20261203T124900Z-7", "incomplete"),
        summary("20261203T124800Z-5", "complete"),
    ];
    let held = HashSet::from(["20261203T124800Z-5".to_string()]);
    let ids: Vec<&str> = unheld(&listed, &held)
        .iter()
        .map(|b| b.id.as_str())
        .collect();
    assert_eq!(ids, ["20261203T125000Z-9"]);
}

#[test]
fn a_discovered_backup_is_named_for_its_instance_and_id_in_lowercase() {
    assert_eq!(
        discovered_name("kept", "20261203T125000Z-9"),
        "kept-20261203t125000z-9"
    );
}

#[test]
fn a_discovered_backup_is_completed_as_its_manifest_says() {
    let status = discovered_status(&summary("20261203T125000Z-9", "complete"));
    assert_eq!(status.phase, Some(BackupPhase::Completed));
    assert_eq!(status.backup_id.as_deref(), Some("20261203T125000Z-9"));
    assert_eq!(
        (status.seq, status.raw_bytes, status.stored_bytes),
        (Some(42), Some(4096), Some(1024))
    );
    assert_eq!(status.started_at.as_deref(), Some("2025-12-03T12:00:00Z"));
    assert_eq!(
        status.completed_at.as_deref(),
        Some("2025-12-03T12:00:05.5Z")
    );
    assert!(
        status
            .message
            .as_deref()
            .is_some_and(|m| m.contains("found in the store")),
        "{status:?}"
    );
}
