use bson::{RawDocumentBuf, doc};

use super::*;
use crate::query::parse;

fn matches(filter_text: &str, d: bson::Document) -> bool {
    let q = parse(&format!("s.t.filter({filter_text})")).expect("parse");
    let f = Filter::compile(&q.filter.expect("filter")).expect("compile");
    f.matches(&RawDocumentBuf::from_document(&d).expect("raw"))
}

#[test]
fn missing_and_null_fail_every_comparison() {
    for op in [
        "= 1",
        "!= 1",
        "> 1",
        ">= 1",
        "< 1",
        "<= 1",
        "in [1]",
        "contains \"a\"",
        "startsWith \"a\"",
        "~ \"a\"",
    ] {
        assert!(!matches(&format!("x {op}"), doc! {}), "missing {op}");
        assert!(!matches(&format!("x {op}"), doc! {"x": null}), "null {op}");
    }
    assert!(matches("x = null", doc! {}));
    assert!(matches("x = null", doc! {"x": null}));
    assert!(!matches("x = null", doc! {"x": 0}));
    assert!(matches("x != null", doc! {"x": 0}));
    assert!(!matches("x != null", doc! {"x": null}));
    assert!(!matches("x != null", doc! {}));
    assert!(matches("x exists", doc! {"x": false}));
    assert!(!matches("x exists", doc! {"x": null}));
    assert!(matches("x exists false", doc! {"x": null}));
    assert!(matches("x exists false", doc! {}));
    assert!(matches("x in [null, 5]", doc! {}));
    assert!(matches("not (x > 1)", doc! {}));
}

#[test]
fn numbers_compare_exactly_and_kinds_never_mix() {
    assert!(matches("x = 3", doc! {"x": 3.0}));
    assert!(matches("x = 3.0", doc! {"x": 3_i64}));
    assert!(!matches("x = 3", doc! {"x": "3"}));
    assert!(!matches("x != 3", doc! {"x": "3"}));
    assert!(!matches("x > 3", doc! {"x": "4"}));
    assert!(matches(
        "x > 9007199254740992.0",
        doc! {"x": 9_007_199_254_740_993_i64}
    ));
    assert!(!matches(
        "x > 9007199254740992",
        doc! {"x": 9_007_199_254_740_992.0}
    ));
    assert!(matches("x in [\"a\", 2.0]", doc! {"x": 2}));
    assert!(matches("x > \"B\"", doc! {"x": "a"}));
    assert!(!matches("x > \"b\"", doc! {"x": "a"}));
    assert!(matches("x = true", doc! {"x": true}));
    assert!(!matches("x = 1", doc! {"x": true}));
    assert!(matches("x = [1, 2]", doc! {"x": [1, 2.0]}));
    assert!(matches("x = {\"a\": 1}", doc! {"x": {"a": 1}}));
    assert!(!matches("x = 1", doc! {"x": [1]}));
}

#[test]
fn string_operators_are_case_sensitive_and_strings_only() {
    assert!(matches("x contains \"oad\"", doc! {"x": "Road-150"}));
    assert!(!matches("x contains \"ROAD\"", doc! {"x": "Road-150"}));
    assert!(matches("x startsWith \"Ro\"", doc! {"x": "Road"}));
    assert!(!matches("x startsWith \"ro\"", doc! {"x": "Road"}));
    assert!(matches("x ~ \"^R.a\"", doc! {"x": "Road"}));
    assert!(matches("x ~ \"\\\\d+\"", doc! {"x": "a12"}));
    assert!(!matches("x contains \"1\"", doc! {"x": 1}));
    assert!(!matches("x contains \"a\"", doc! {"x": ["a"]}));
}

#[test]
fn paths_reach_into_sub_documents_but_not_arrays() {
    assert!(matches("a.b = 1", doc! {"a": {"b": 1}}));
    assert!(!matches("a.b = 1", doc! {"a": [{"b": 1}]}));
    assert!(matches("a.b = null", doc! {"a": [{"b": 1}]}));
    assert!(matches("`a b`.c = 1", doc! {"a b": {"c": 1}}));
}

#[test]
fn boolean_logic() {
    let d = doc! {"a": 1, "b": 2};
    assert!(matches("a = 1 and b = 2", d.clone()));
    assert!(!matches("a = 1 and b = 3", d.clone()));
    assert!(matches("a = 9 or b = 2", d.clone()));
    assert!(matches("not a = 9", d.clone()));
    assert!(matches("a = 9 or a = 1 and b = 2", d.clone()));
    assert!(!matches("(a = 9 or a = 1) and b = 3", d));
}
