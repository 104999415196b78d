//! `shinydb import` and `export`: NDJSON and JSON arrays, a round trip, and a bad line that
//! stops the import with its line number and nothing half-imported from its batch.

use std::fmt::Write as _;

use crate::common::{admin_cli, server};
use serde_json::Value;

#[test]
fn import_export_round_trip_and_bad_lines() {
    let s = server();
    let dir = s.dir.path();
    let mut nd = String::new();
    for i in 0..250 {
        writeln!(
            nd,
            "{{\"_id\": {i}, \"name\": \"item {i}\", \"tags\": [\"a\", \"b\"], \"nested\": {{\"n\": {}}}, \"when\": {{\"$date\": \"2024-01-0{}T00:00:00Z\"}}}}",
            i * 3,
            i % 9 + 1
        )
        .expect("write");
        if i % 50 == 0 {
            nd.push('\n'); // blank lines are skipped
        }
    }
    let file = dir.join("items.ndjson");
    std::fs::write(&file, &nd).expect("write file");
    // The space and store are created by the import.
    let (code, out, err) = admin_cli(
        &s,
        &[
            "import",
            "shop.items",
            file.to_str().expect("path"),
            "--batch",
            "40",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "imported 250 documents into shop.items");

    let (code, exported, err) = admin_cli(&s, &["export", "shop.items"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = exported.lines().collect();
    assert_eq!(lines.len(), 250);
    let first: Value = serde_json::from_str(lines[0]).expect("json");
    assert_eq!(first["name"], "item 0");
    assert!(first["when"]["$date"].is_string(), "dates survive: {first}");

    // Import the export into another store: exporting that gives the same text.
    let again = dir.join("again.ndjson");
    std::fs::write(&again, &exported).expect("write");
    let (code, _, err) = admin_cli(
        &s,
        &[
            "import",
            "shop.copy",
            again.to_str().expect("path"),
            "--format",
            "ndjson",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (_, copy, _) = admin_cli(&s, &["export", "shop.copy"]);
    assert_eq!(copy, exported);

    // A JSON array file.
    let arr = dir.join("arr.json");
    std::fs::write(
        &arr,
        "[{\"_id\": \"x\", \"v\": 1}, {\"_id\": \"y\", \"v\": 2}]",
    )
    .expect("write");
    let (code, out, err) = admin_cli(&s, &["import", "shop.arr", arr.to_str().expect("path")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "imported 2 documents into shop.arr");

    // A bad line 7 with batches of 5: the first batch (lines 1-5) is in, line 6 is not.
    let bad = dir.join("bad.ndjson");
    let mut text = String::new();
    for i in 1..=6 {
        writeln!(text, "{{\"_id\": {i}}}").expect("write");
    }
    text.push_str("{\"_id\": 7, oops}\n{\"_id\": 8}\n");
    std::fs::write(&bad, text).expect("write");
    let (code, out, err) = admin_cli(
        &s,
        &[
            "import",
            "shop.bad",
            bad.to_str().expect("path"),
            "--batch",
            "5",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("line 7"), "{err}");
    assert!(err.contains("imported 5 documents"), "{err}");
    let (_, count, _) = admin_cli(&s, &["query", "shop.bad.count()"]);
    assert_eq!(count.trim(), "{\"count\":5}");
    let (_, six, _) = admin_cli(&s, &["query", "shop.bad.get(6)"]);
    assert_eq!(six.trim(), "[]", "nothing of the bad line's batch");

    // A line that is JSON but not an object.
    std::fs::write(&bad, "{\"_id\": 1}\n[1, 2]\n").expect("write");
    let (code, _, err) = admin_cli(&s, &["import", "shop.bad2", bad.to_str().expect("path")]);
    assert_eq!(code, 1);
    assert!(err.contains("line 2") && err.contains("object"), "{err}");

    // A missing file: exit 1 naming it.
    let (code, _, err) = admin_cli(&s, &["import", "shop.x", "/nonexistent/file.ndjson"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/file.ndjson"), "{err}");
}
