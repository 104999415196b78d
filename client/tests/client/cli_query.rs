//! `shinydb query` and `explain`: JSON and table output, exit codes 0, 1 (server or query
//! error, message on stderr) and 2 (usage).

use crate::common::{Connect, admin_cli, run, server};
use serde_json::{Value, json};

#[test]
fn query_prints_json_and_tables_with_exit_codes() {
    let s = server();
    assert_eq!(admin_cli(&s, &["space", "create", "shop"]).0, 0);
    assert_eq!(admin_cli(&s, &["store", "create", "shop.items"]).0, 0);
    let (code, out, err) = admin_cli(
        &s,
        &[
            "query",
            "shop.items.insert([{_id: 1, name: \"pen\", price: 2.5}, {_id: 2, name: \"ink\", price: 7}])",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON value");
    assert_eq!(v, json!({"inserted": 2, "ids": [1, 2]}));

    let (code, out, _) = admin_cli(&s, &["query", "shop.items.orderBy(price, desc)"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(
        v,
        json!([{"_id": 2, "name": "ink", "price": 7}, {"_id": 1, "name": "pen", "price": 2.5}])
    );

    let (code, out, _) = admin_cli(&s, &["query", "shop.items.count()", "--output", "json"]);
    assert_eq!((code, out.trim()), (0, "{\"count\":2}"));

    let (code, out, _) = admin_cli(&s, &["query", "shop.items.limit(5)", "--output", "table"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("name") && out.contains("pen") && out.contains("(2 rows)"),
        "{out}"
    );

    let (code, out, _) = admin_cli(&s, &["explain", "shop.items.filter(price > 3)"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["returned"], json!(1));

    // A query error: exit 1, the caret message on stderr, nothing on stdout.
    let (code, out, err) = admin_cli(&s, &["query", "shop.items.filter(price >)"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains('^'), "{err}");
    let (code, _, err) = admin_cli(&s, &["query", "shop.nothing.limit(1)"]);
    assert_eq!(code, 1);
    assert!(err.contains("nothing"), "{err}");

    // Usage errors: exit 2.
    let (code, _, err) = admin_cli(&s, &["query"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = admin_cli(&s, &["query", "x", "--output", "xml"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = admin_cli(&s, &["store", "create", "no-dot"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("space.store"), "{err}");

    // Credentials from --user and --password-stdin instead of the environment.
    let mut c = s.cli();
    c.args([
        "--user",
        "admin",
        "--password-stdin",
        "query",
        "shop.items.count()",
    ]);
    let o = run(c, &format!("{}\n", crate::common::ADMIN_PASSWORD));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A wrong password: exit 1 with the server's message.
    let mut c = s.cli();
    c.args([
        "--user",
        "admin",
        "--password-stdin",
        "query",
        "shop.items.count()",
    ]);
    let o = run(c, "wrong-password\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(!o.stderr.is_empty());
    // A user without a password: usage error.
    let mut c = s.cli();
    c.args(["--user", "admin", "query", "shop.items.count()"]);
    assert_eq!(run(c, "").status.code(), Some(2));
}
