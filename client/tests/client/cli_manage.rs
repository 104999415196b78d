//! Management subcommands of `shinydb`: spaces, stores, indexes, users, API keys, status and
//! ping (also waiting for a server that starts later).

use std::time::Duration;

use crate::common::{Connect, admin_cli, run, server};

#[test]
fn spaces_stores_indexes_users_and_keys() {
    let s = server();
    let ok = |args: &[&str]| {
        let (code, out, err) = admin_cli(&s, args);
        assert_eq!(code, 0, "shinydb {args:?}: {err}");
        out
    };
    ok(&["space", "create", "crm"]);
    ok(&["store", "create", "crm.people"]);
    ok(&["store", "create", "crm.notes"]);
    assert_eq!(
        ok(&["space", "list"]).trim(),
        "crm",
        "the system space is hidden"
    );
    assert_eq!(ok(&["store", "list", "crm"]).trim(), "notes\npeople");
    let (code, _, err) = admin_cli(&s, &["space", "create", "crm"]);
    assert_eq!(code, 1);
    assert!(err.contains("crm"), "{err}");

    ok(&[
        "index",
        "create",
        "crm.people",
        "by_city",
        "--fields",
        "city,name",
    ]);
    ok(&[
        "index",
        "create",
        "crm.people",
        "by_mail",
        "--fields",
        "mail",
        "--unique",
    ]);
    let list = ok(&["index", "list", "crm.people"]);
    assert!(
        list.contains("by_city") && list.contains("city, name"),
        "{list}"
    );
    assert!(list.contains("by_mail") && list.contains("true"), "{list}");
    ok(&[
        "query",
        "crm.people.insert({mail: \"a@x\", city: \"Oslo\", name: \"A\"})",
    ]);
    let (code, _, err) = admin_cli(&s, &["query", "crm.people.insert({mail: \"a@x\"})"]);
    assert_eq!(code, 1, "unique index refuses a duplicate");
    assert!(!err.is_empty());
    ok(&["index", "drop", "crm.people", "by_mail"]);
    assert!(!ok(&["index", "list", "crm.people"]).contains("by_mail"));

    // Users: create with the password on stdin, list, grant, passwd, drop.
    let mut c = s.admin_cli();
    c.args([
        "user",
        "create",
        "bob",
        "--role",
        "read_only",
        "--space",
        "crm",
        "--password-stdin",
    ]);
    let o = run(c, "bob-password-1\n");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let users = ok(&["user", "list"]);
    assert!(
        users.contains("bob") && users.contains("read_only@crm"),
        "{users}"
    );
    let as_bob = |pw: &str, args: &[&str]| {
        let mut c = s.cli();
        c.args(["--user", "bob", "--password-stdin"]).args(args);
        run(c, &format!("{pw}\n"))
    };
    assert_eq!(
        as_bob("bob-password-1", &["query", "crm.people.count()"])
            .status
            .code(),
        Some(0)
    );
    let o = as_bob("bob-password-1", &["query", "crm.people.insert({a: 1})"]);
    assert_eq!(o.status.code(), Some(1), "read_only cannot write");
    ok(&[
        "user",
        "grant",
        "bob",
        "--role",
        "read_write",
        "--space",
        "crm",
    ]);
    assert_eq!(
        as_bob("bob-password-1", &["query", "crm.people.insert({a: 1})"])
            .status
            .code(),
        Some(0)
    );
    ok(&[
        "user",
        "revoke",
        "bob",
        "--role",
        "read_write",
        "--space",
        "crm",
    ]);
    let mut c = s.admin_cli();
    c.args(["user", "passwd", "bob"]);
    assert_eq!(run(c, "bob-password-2\n").status.code(), Some(0));
    assert_eq!(
        as_bob("bob-password-1", &["query", "crm.people.count()"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        as_bob("bob-password-2", &["query", "crm.people.count()"])
            .status
            .code(),
        Some(0)
    );

    // API keys: create, use through SHINYDB_API_KEY and --api-key, list, revoke.
    let created = ok(&["apikey", "create", "--description", "ci"]);
    let key = created
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .expect("key line")
        .to_string();
    let id = created
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("id line")
        .to_string();
    let mut c = s.cli();
    c.env("SHINYDB_API_KEY", &key)
        .args(["query", "crm.people.count()"]);
    assert_eq!(run(c, "").status.code(), Some(0));
    assert!(ok(&["apikey", "list"]).contains(&id));
    ok(&["apikey", "revoke", &id]);
    let mut c = s.cli();
    c.args(["--api-key", &key, "query", "crm.people.count()"]);
    let o = run(c, "");
    assert_eq!(o.status.code(), Some(1), "a revoked key is refused");

    ok(&["user", "drop", "bob"]);
    assert!(!ok(&["user", "list"]).contains("bob"));
    ok(&["store", "drop", "crm.notes"]);
    ok(&["space", "drop", "crm", "--cascade"]);
    assert_eq!(ok(&["space", "list"]).trim(), "");

    let status = ok(&["status"]);
    assert!(
        status.contains("version") && status.contains("uptime_seconds"),
        "{status}"
    );
    assert!(status.contains("documents"), "{status}");
    // Every command above logged out when done: only the status call's own session is open.
    let sessions = status
        .lines()
        .find(|l| l.contains("sessions"))
        .and_then(|l| l.split('┆').nth(1))
        .map(|v| {
            v.trim_matches(|c: char| c == '│' || c.is_whitespace())
                .to_string()
        });
    assert_eq!(sessions.as_deref(), Some("1"), "{status}");
}

#[test]
fn ping_waits_for_the_server() {
    let mut s = server();
    let (code, out, err) = admin_cli(&s, &["ping"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("answered"), "{out}");
    // No credentials needed.
    let mut c = s.cli();
    c.arg("ping");
    assert_eq!(run(c, "").status.code(), Some(0));

    // Down: ping fails at once with exit 1, and waits with --wait until the server is back.
    s.kill();
    let (code, _, _) = admin_cli(&s, &["ping"]);
    assert_eq!(code, 1);
    let mut c = s.cli();
    c.args(["ping", "--wait", "60"]);
    let child = std::thread::spawn(move || run(c, ""));
    std::thread::sleep(Duration::from_millis(1500));
    s.restart();
    let o = child.join().expect("ping");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
