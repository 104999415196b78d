//! `shinydb backup create`, `list`, `status`, `verify` and `delete` against a server that
//! backs up into a local directory (a backup's tag is listed with it, a bad tag refused);
//! without `--wait`, `create` returns while the server runs the backup, which completes on
//! its own; without a configured store a backup fails, saying what to set.

use std::time::{Duration, Instant};

use crate::common::{Server, admin_cli, server, server_with};

/// `shinydb ARGS` as admin, which must succeed: its output.
fn ok(s: &Server, args: &[&str]) -> String {
    let (code, out, err) = admin_cli(s, args);
    assert_eq!(code, 0, "shinydb {args:?}: {err}");
    out
}

#[test]
fn backups_are_created_and_listed() {
    let bucket = tempfile::tempdir().expect("tempdir");
    let s = server_with(&format!(
        "backup:\n  store: file://{}\n",
        bucket.path().display()
    ));
    let ok = |args: &[&str]| ok(&s, args);
    ok(&["space", "create", "app"]);
    ok(&["store", "create", "app.items"]);
    ok(&["query", "app.items.insert({n: 1})"]);
    let created = ok(&["backup", "create", "--wait", "--tag", "before-upgrade"]);
    assert!(created.contains("complete"), "{created}");
    let id = created
        .lines()
        .find(|l| l.contains("complete"))
        .and_then(|l| {
            l.split_whitespace()
                .find(|w| w.ends_with(|c: char| c.is_ascii_digit()))
        })
        .expect("a backup id")
        .to_string();
    let listed = ok(&["backup", "list"]);
    assert!(
        listed
            .lines()
            .any(|l| l.contains(&id) && l.contains("before-upgrade")),
        "{id}, tagged before-upgrade, not in:\n{listed}"
    );
    let (code, _, err) = admin_cli(&s, &["backup", "create", "--tag", "two words"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("tag"), "{err}");
    assert!(
        bucket
            .path()
            .join("base")
            .join(&id)
            .join("MANIFEST.json")
            .exists(),
        "no manifest for {id}"
    );
    let status = ok(&["backup", "status"]);
    let row = |name: &str| {
        status
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} row in:\n{status}"))
            .to_string()
    };
    assert!(row("archiving").contains(" on "), "{status}");
    assert!(row("complete backups").contains(" 1 "), "{status}");
    assert!(
        row("lineage").split_whitespace().any(|w| w.len() == 16),
        "{status}"
    );
    assert!(row("last error").contains("none"), "{status}");
}

#[test]
fn without_a_store_a_backup_says_what_to_configure() {
    let s = server();
    let (code, _, err) = admin_cli(&s, &["backup", "create"]);
    assert_eq!(code, 1);
    assert!(err.contains("backup.store"), "{err}");
}

#[test]
fn without_wait_a_backup_completes_after_the_command_returns() {
    let bucket = tempfile::tempdir().expect("tempdir");
    // Slow on purpose: ~300 KB stored at 64 KiB/s take a few seconds.
    let s = server_with(&format!(
        "backup:\n  store: file://{}\n  max_upload_rate: 64KiB\n",
        bucket.path().display()
    ));
    let ok = |args: &[&str]| ok(&s, args);
    ok(&["space", "create", "app"]);
    ok(&["store", "create", "app.blobs"]);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..10 {
        let hex: String = (0..60_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from_digit((x % 16) as u32, 16).expect("a hex digit")
            })
            .collect();
        ok(&["query", &format!("app.blobs.insert({{s: \"{hex}\"}})")]);
    }
    let started = ok(&["backup", "create", "--tag", "detached"]);
    assert!(
        started.contains("backup started (tag detached)"),
        "{started}"
    );
    let running = ok(&["backup", "status"]);
    assert!(
        running
            .lines()
            .any(|l| l.contains("running backup") && l.contains(" of ")),
        "not running once the command returned:\n{running}"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let listed = ok(&["backup", "list"]);
        if listed
            .lines()
            .any(|l| l.contains("detached") && l.contains("complete"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the detached backup never completed:\n{listed}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
