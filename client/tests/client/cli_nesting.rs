//! The `shinydb` command line parses a query before sending it, so a cursor nested far deeper
//! than its stack (in `query` or in the shell) is its own input to refuse: an error naming the
//! cursor and the usual exit code, never a crash.

use crate::common::{Connect, admin_cli, run, server};
use bson::{RawDocumentBuf, doc};

/// `{"a": {"a": … {"x": 1} …}}` as hex, `levels` deep, built without recursion.
fn nested_cursor(levels: usize) -> String {
    let mut inner = RawDocumentBuf::from_document(&doc! {"x": 1})
        .expect("leaf")
        .into_bytes();
    for _ in 1..levels {
        let mut next = Vec::with_capacity(inner.len() + 8);
        next.extend_from_slice(&((inner.len() + 8) as i32).to_le_bytes());
        next.extend_from_slice(&[0x03, b'a', 0]);
        next.extend_from_slice(&inner);
        next.push(0);
        inner = next;
    }
    inner.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_deeply_nested_cursor_is_an_error_in_query_and_in_the_shell() {
    let s = server();
    assert_eq!(admin_cli(&s, &["space", "create", "s"]).0, 0);
    assert_eq!(admin_cli(&s, &["store", "create", "s.t"]).0, 0);

    // One argument may hold at most 128 KiB: 7,500 levels fit.
    let text = format!(
        "s.t.orderBy(n).limit(2).after(\"{}\")",
        nested_cursor(7_500)
    );
    let (code, out, err) = admin_cli(&s, &["query", &text]);
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("cursor"), "{err}");

    // Standard input has no such limit: 20,000 levels through the shell, which carries on.
    let script = format!(
        ".output json\ns.t.orderBy(n).limit(2).after(\"{}\")\ns.t.count()\n",
        nested_cursor(20_000)
    );
    let mut c = s.admin_cli();
    c.arg("shell");
    let o = run(c, &script);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("cursor"), "{err}");
    assert!(out.contains("{\"count\":0}"), "{out}");
}
