//! The engine against an independent oracle: every query of the families below runs on the
//! sample data four times — on an in-memory store without indexes and one with indexes, and on a
//! real engine without secondary indexes and one with them — and each result must equal what the
//! oracle (plain iteration, tests/common/oracle.rs) computes from the same data.
//!
//! This module holds the case type, the helpers the families share, the runner each family's
//! test calls, and the checks over all families together (how many cases there are, how many
//! use an index). One file per family holds its cases and its test.

mod aggregates;
mod calls;
mod comparisons;
mod logic;
mod operators;

use std::collections::HashMap;
use std::fmt;

use bson::{Bson, Document, oid::ObjectId};
use serde_json::Value;
use shinydb_engine::query::{QueryResult, execute, parse};
use shinydb_engine::sample::SampleData;

use crate::common::oracle::{self, json_eq, rows};
use crate::common::{Stores, run, store_of, stores};

/// What the oracle says a case's query returns, computed from the sample data.
type Expect = Box<dyn Fn(&SampleData) -> Value>;

/// One query (YQL text) and its oracle.
struct Case {
    text: String,
    expect: Expect,
}

/// A case from its query text and its oracle.
fn case(text: impl Into<String>, expect: impl Fn(&SampleData) -> Value + 'static) -> Case {
    Case {
        text: text.into(),
        expect: Box::new(expect),
    }
}

/// A BSON date from RFC 3339 text.
fn date(s: &str) -> Bson {
    Bson::DateTime(bson::DateTime::parse_rfc3339_str(s).expect("date"))
}

/// A BSON ObjectId from its hex text.
fn oid(s: &str) -> Bson {
    Bson::ObjectId(ObjectId::parse_str(s).expect("oid"))
}

/// The oracle of `store.filter(...).pluck(_id)`: the `_id`s of the documents of `store` that
/// match `pred`.
fn ids_of(
    store: &'static str,
    pred: impl Fn(&Document) -> bool + 'static,
) -> impl Fn(&SampleData) -> Value {
    move |d| oracle::ids(&rows(d.store(store).expect("store"), &pred))
}

/// The oracle of `store.filter(...).count()`: how many documents of `store` match `pred`.
fn count_of(
    store: &'static str,
    pred: impl Fn(&Document) -> bool + 'static,
) -> impl Fn(&SampleData) -> Value {
    move |d| oracle::count(rows(d.store(store).expect("store"), &pred).len())
}

/// Every case of every family.
fn all_cases() -> Vec<Case> {
    let mut v = comparisons::cases();
    v.extend(operators::cases());
    v.extend(logic::cases());
    v.extend(calls::cases());
    v.extend(aggregates::cases());
    v
}

/// The failures of a family's cases, one entry per case and run that disagreed with the oracle
/// (the query, which run, what it got and what the oracle expected). Its `Debug` is the plain
/// text, so a failing test lists them one per line (a `String` error would print escaped).
struct Disagreements(String);

impl fmt::Debug for Disagreements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The in-memory stores (without and with indexes) of the store a query reads, built on first use.
fn stores_of<'a>(by_store: &'a mut HashMap<String, Stores>, text: &str) -> &'a Stores {
    let name = store_of(text);
    by_store
        .entry(name.clone())
        .or_insert_with(|| stores(crate::common::sample_data(), &name))
}

/// Runs every case of one family on both in-memory stores and both engines and compares each
/// result with the oracle's; `Err` lists every case and run that disagreed.
fn agree_with_the_oracle(cases: &[Case]) -> Result<(), Disagreements> {
    let data = crate::common::sample_data();
    let engines = crate::common::engine_dbs(data);
    let mut by_store: HashMap<String, Stores> = HashMap::new();
    let mut failures = Vec::new();
    for c in cases {
        let s = stores_of(&mut by_store, &c.text);
        let expected = (c.expect)(data);
        for (label, source) in [("without indexes", &s.plain), ("with indexes", &s.indexed)] {
            let got = run(source, &c.text).to_json();
            if !json_eq(&got, &expected) {
                let show = |v: &Value| {
                    let t = v.to_string();
                    if t.len() > 600 {
                        format!("{}...", &t[..600])
                    } else {
                        t
                    }
                };
                failures.push(format!(
                    "{} ({label})\n  got:      {}\n  expected: {}",
                    c.text,
                    show(&got),
                    show(&expected)
                ));
            }
        }
        for (label, db) in [
            ("engine without indexes", &engines.plain),
            ("engine with indexes", &engines.indexed),
        ] {
            match db.query_text(&c.text) {
                Ok(r) if json_eq(&r.to_json(), &expected) => {}
                Ok(r) => failures.push(format!(
                    "{} ({label})\n  got:      {}\n  expected: {}",
                    c.text,
                    r.to_json(),
                    expected
                )),
                Err(e) => failures.push(format!("{} ({label}): {e}", c.text)),
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Disagreements(format!(
            "{} of {} cases failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        )))
    }
}

/// Whether an explained access path reads a secondary index (one, or a union of several).
fn uses_an_index(access: &Value) -> bool {
    access["type"] == "index" || access["type"] == "union"
}

#[test]
fn there_are_at_least_150_cases() {
    let cases = all_cases();
    assert!(cases.len() >= 150, "only {} cases", cases.len());
}

#[test]
fn at_least_60_cases_use_an_index_in_the_planner_and_in_the_engine() {
    let data = crate::common::sample_data();
    let engines = crate::common::engine_dbs(data);
    let mut by_store: HashMap<String, Stores> = HashMap::new();
    let mut engine_index_plans = 0;
    let mut index_plans = 0;
    for c in &all_cases() {
        let s = stores_of(&mut by_store, &c.text);
        let mut q = parse(&c.text).expect("parse");
        q.explain = true;
        if let Ok(QueryResult::Explain(e)) = engines.indexed.query(&q)
            && uses_an_index(&e.access.to_json())
        {
            engine_index_plans += 1;
        }
        if let Ok(QueryResult::Explain(e)) = execute(&s.indexed, None, &q)
            && uses_an_index(&e.access.to_json())
        {
            index_plans += 1;
        }
    }
    assert!(index_plans >= 60, "only {index_plans} cases used an index");
    assert!(
        engine_index_plans >= 60,
        "only {engine_index_plans} cases used an engine index"
    );
}
