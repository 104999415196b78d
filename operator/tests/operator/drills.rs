//! Restore drills' pure parts: the names a run uses, which backup it restores, and how the
//! throwaway instance's store counts are judged against the backup's manifest.

use jiff::Timestamp;
use shinydb_client::proto::StoreDocuments;
use shinydb_operator::controller::{
    compare_counts, drill_instance, drill_restore, newest_completed,
};
use shinydb_operator::crd::{BackupPhase, ShinyBackup, ShinyBackupSpec, ShinyBackupStatus};

fn backup(name: &str, phase: BackupPhase, completed_at: &str) -> ShinyBackup {
    let mut b = ShinyBackup::new(
        name,
        ShinyBackupSpec {
            instance: "db".into(),
        },
    );
    b.status = Some(ShinyBackupStatus {
        phase: Some(phase),
        completed_at: Some(completed_at.into()),
        ..ShinyBackupStatus::default()
    });
    b
}

fn manifest(space: &str, store: &str, documents: u64) -> StoreDocuments {
    StoreDocuments {
        space: space.into(),
        store: store.into(),
        documents,
    }
}

#[test]
fn a_run_is_named_for_its_slot() {
    let slot: Timestamp = "2026-12-03T14:05:00Z".parse().expect("time");
    assert_eq!(drill_instance("db", slot), "db-drill-202612031405");
    assert_eq!(
        drill_restore("db", "weekly", slot),
        "db-drill-weekly-202612031405"
    );
}

#[test]
fn a_drill_restores_the_newest_completed_backup() {
    let backups = vec![
        backup("old", BackupPhase::Completed, "2026-12-01T03:00:00Z"),
        backup("failed", BackupPhase::Failed, "2026-12-03T03:00:00Z"),
        backup("new", BackupPhase::Completed, "2026-12-02T03:00:00Z"),
    ];
    let newest = newest_completed(&backups).map(|b| b.metadata.name.clone());
    assert_eq!(newest, Some(Some("new".to_string())));
    assert!(newest_completed(&backups[1..2]).is_none());
}

#[test]
fn counts_pass_only_when_every_store_matches_the_manifest() {
    // System stores are the server's own restore's to check.
    let expected = vec![
        manifest("_system", "users", 1),
        manifest("shop", "orders", 10),
        manifest("shop", "users", 2),
    ];
    let same = vec![
        ("shop".to_string(), "orders".to_string(), 10),
        ("shop".to_string(), "users".to_string(), 2),
    ];
    let passed = compare_counts(&expected, &same).expect("passes");
    assert!(passed.contains("2 stores, 12 documents"), "{passed}");

    let short = vec![("shop".to_string(), "orders".to_string(), 9)];
    let failed = compare_counts(&expected, &short).expect_err("fails");
    assert!(
        failed.contains("shop.orders: 9 documents, the manifest says 10")
            && failed.contains("shop.users: missing"),
        "{failed}"
    );
}
