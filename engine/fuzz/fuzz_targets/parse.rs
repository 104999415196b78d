//! The YQL parser must never panic: any input is either a valid query (which then validates and
//! serialises) or an error with a position inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shinydb_engine::query::{QueryError, parse, validate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Ok(q) => {
            assert!(validate(&q).is_ok());
            let json = serde_json::to_string(&q).expect("a parsed query serialises");
            let _ = serde_json::from_str::<shinydb_engine::query::Query>(&json);
        }
        Err(QueryError::Parse(e)) => {
            assert!(e.line >= 1 && e.column >= 1);
            let _ = e.to_string();
        }
        Err(other) => panic!("parse returned a non-parse error: {other}"),
    }
});
