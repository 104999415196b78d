//! The parser never panics (the cargo-fuzz target in engine/fuzz explores the same property):
//! every input parses to a valid, serialisable query or fails with a position inside the input.

use proptest::prelude::*;
use shinydb_engine::query::{Query, QueryError, parse, validate};

const WORDS: &[&str] = &[
    "sales",
    "orders",
    ".",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "filter",
    "orderBy",
    "limit",
    "skip",
    "pluck",
    "count",
    "groupBy",
    "aggregate",
    "having",
    "get",
    "after",
    "explain",
    "insert",
    "set",
    "unset",
    "replace",
    "delete",
    "all",
    "and",
    "or",
    "not",
    "in",
    "contains",
    "startsWith",
    "exists",
    "~",
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "true",
    "false",
    "null",
    "asc",
    "desc",
    "sum",
    "avg",
    "min",
    "max",
    "oid",
    "date",
    "\"x\"",
    "'y'",
    "`a b`",
    "1",
    "-2",
    "3.5",
    "1e3",
    "\"65a1b2c3d4e5f60718293a4b\"",
    "\"2026-01-31T12:00:00Z\"",
    " ",
    "\n",
    "\"\\u00e9\"",
    "\"\\q\"",
    "!",
    "#",
    "-",
    "\"open",
    "`open",
    "99999999999999999999",
];

fn check(text: &str) -> Result<(), TestCaseError> {
    match parse(text) {
        Ok(q) => {
            prop_assert!(validate(&q).is_ok(), "{text}");
            let json = serde_json::to_string(&q).expect("serialise");
            let back: Query = serde_json::from_str(&json).expect("deserialise");
            // NaN-free queries round-trip exactly.
            if !json.contains("NaN") {
                prop_assert_eq!(back, q);
            }
        }
        Err(QueryError::Parse(e)) => {
            let lines = text.split('\n').count();
            prop_assert!(e.line >= 1 && e.line <= lines, "{text}: line {}", e.line);
            prop_assert!(e.column >= 1);
            prop_assert_eq!(e.to_string().lines().count().max(3), 3);
        }
        Err(other) => prop_assert!(false, "{text}: unexpected {other}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,80}") {
        check(&text)?;
    }

    #[test]
    fn token_soup_never_panics(words in proptest::collection::vec(proptest::sample::select(WORDS), 0..40)) {
        check(&words.concat())?;
    }

    #[test]
    fn mutated_queries_never_panic(cut in 0usize..200, insert in proptest::sample::select(WORDS)) {
        let base = r#"sales.orders.filter(EmployeeID = 289 and (TotalDue > 1e3 or Comment ~ "^R")).groupBy(a.b).aggregate(n: count, s: sum(x)).having(n > 1).orderBy(s, desc).limit(5)"#;
        let at = base.char_indices().map(|(i, _)| i).nth(cut % base.chars().count()).unwrap_or(0);
        let mut text = base.to_string();
        text.insert_str(at, insert);
        check(&text)?;
        let mut shorter = base.to_string();
        shorter.truncate(at);
        check(&shorter)?;
    }
}
