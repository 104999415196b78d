//! The inventory rebuilt from the store: which listed backups need a ShinyBackup (never one a
//! running ShinyBackup may still claim), what it is named and the Completed status it gets
//! from the manifest.

use std::collections::HashSet;

use shinydb_client::proto::BackupSummary;
use shinydb_operator::controller::{Held, discovered_name, discovered_status, unheld};
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
    let held = Held {
        ids: HashSet::from(["20261203T124800Z-5".to_string()]),
        ..Held::default()
    };
    let ids: Vec<&str> = unheld(&listed, &held)
        .iter()
        .map(|b| b.id.as_str())
        .collect();
    assert_eq!(ids, ["20261203T125000Z-9"]);
}

#[test]
fn a_backup_a_running_shinybackup_may_still_claim_is_not_discovered() {
    // Tagged with the uid of a ShinyBackup that has not recorded it yet (the operator
    // restarted while it ran): it is that ShinyBackup's.
    let tagged = BackupSummary {
        tag: "uid-running".into(),
        ..summary("20261203T142700Z-112", "complete")
    };
    let untagged = summary("20261203T142800Z-113", "complete");
    let listed = vec![tagged, untagged];
    let running = Held {
        uids: HashSet::from(["uid-running".to_string()]),
        unfinished: true,
        ..Held::default()
    };
    assert!(unheld(&listed, &running).is_empty());
    // Once none is unfinished, an untagged one (a server without tags) is discovered; so is
    // a backup tagged for a ShinyBackup that is gone.
    let finished = Held::default();
    let ids: Vec<&str> = unheld(&listed, &finished)
        .iter()
        .map(|b| b.id.as_str())
        .collect();
    assert_eq!(ids, ["20261203T142700Z-112", "20261203T142800Z-113"]);
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
