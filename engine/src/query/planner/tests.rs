use bson::{Bson, RawDocumentBuf};

use super::*;
use crate::query::error::QueryError;
use crate::query::parse;
use crate::query::source::DocStream;

/// Statistics only: the planner never reads documents.
struct Stats {
    indexes: Vec<IndexSummary>,
    count: u64,
}

impl StoreSource for Stats {
    fn scan(&self) -> Result<DocStream<'_>, QueryError> {
        Ok(Box::new(std::iter::empty()))
    }
    fn get(&self, _: &Bson) -> Result<Option<RawDocumentBuf>, QueryError> {
        Ok(None)
    }
    fn indexes(&self) -> Vec<IndexSummary> {
        self.indexes.clone()
    }
    fn index_scan(
        &self,
        _: &str,
        _: Option<&IndexBound>,
        _: Option<&IndexBound>,
        _: bool,
    ) -> Result<DocStream<'_>, QueryError> {
        Ok(Box::new(std::iter::empty()))
    }
    fn count(&self) -> u64 {
        self.count
    }
}

fn index(name: &str, fields: &[&str], distinct: u64, unique: bool) -> IndexSummary {
    IndexSummary {
        name: name.into(),
        fields: fields
            .iter()
            .map(|f| FieldPath::dotted(f).expect("path"))
            .collect(),
        unique,
        entries: 10_000,
        distinct_first: distinct,
    }
}

fn source() -> Stats {
    Stats {
        indexes: vec![
            index("a", &["a"], 10, false),
            index("b", &["b"], 5_000, false),
            index("ab", &["a", "b"], 10, false),
            index("u", &["u"], 10_000, true),
        ],
        count: 10_000,
    }
}

fn plan_of(text: &str) -> Plan {
    plan(&parse(text).expect("parse"), &source())
}

fn index_name(p: &Plan) -> Option<&str> {
    match &p.access {
        Access::Index { index, .. } => Some(index),
        _ => None,
    }
}

#[test]
fn picks_by_estimate() {
    // Equal estimates: the first index listed.
    assert_eq!(index_name(&plan_of("s.t.filter(a = 1)")), Some("a"));
    // b has 5,000 distinct values: a point on it beats a point on a then b.
    assert_eq!(
        index_name(&plan_of("s.t.filter(a = 1 and b = 2)")),
        Some("b")
    );
    // A point on a then a range on b beats a range on b alone.
    assert_eq!(
        index_name(&plan_of("s.t.filter(a = 1 and b > 2)")),
        Some("ab")
    );
    assert_eq!(
        index_name(&plan_of("s.t.filter(b = 2 and c = 3)")),
        Some("b")
    );
    let u = plan_of("s.t.filter(u = 7 and a = 1)");
    assert_eq!(index_name(&u), Some("u"));
    assert_eq!(u.estimated, 1);
}

#[test]
fn unusable_filters_scan() {
    for text in [
        "s.t",
        "s.t.filter(c = 1)",
        "s.t.filter(not a = 1)",
        "s.t.filter(a != 1)",
        "s.t.filter(a = 1 or c = 2)",
        "s.t.filter(a exists)",
    ] {
        assert_eq!(plan_of(text).access, Access::Scan, "{text}");
    }
}

#[test]
fn cartesian_products_of_in_lists_are_capped() {
    let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let text = format!(
        "s.t.filter(a in [{}] and b in [{}])",
        many.join(","),
        many.join(",")
    );
    match plan_of(&text).access {
        Access::Index { ranges, .. } => assert!(ranges.len() <= MAX_RANGES),
        other => panic!("{other:?}"),
    }
}

#[test]
fn contradictions_read_nothing() {
    assert_eq!(plan_of("s.t.filter(a = 1 and a = 2)").access, Access::Empty);
    assert_eq!(plan_of("s.t.filter(a > 5 and a < 5)").access, Access::Empty);
    assert_eq!(
        plan_of("s.t.filter(a = 1 and a = 2 or a = 3 and a = 4)").access,
        Access::Empty
    );
}

#[test]
fn get_reads_by_id() {
    assert_eq!(plan_of("s.t.get(5)").access, Access::Id(Bson::Int32(5)));
}
