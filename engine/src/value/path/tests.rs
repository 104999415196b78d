use bson::{Bson, RawDocumentBuf, doc};

use super::*;

fn p(s: &str) -> FieldPath {
    s.parse().expect("path")
}

#[test]
fn lookup_walks_sub_documents_only() {
    let d = doc! {"a": {"b": {"c": 5}}, "arr": [{"x": 1}], "s": "str", "n": null};
    let raw = RawDocumentBuf::from_document(&d).expect("raw");
    assert_eq!(lookup(&raw, &p("a.b.c")), Some(RawBsonRef::Int32(5)));
    assert!(matches!(
        lookup(&raw, &p("a.b")),
        Some(RawBsonRef::Document(_))
    ));
    assert_eq!(lookup(&raw, &p("a.x")), None);
    assert_eq!(lookup(&raw, &p("arr.x")), None);
    assert_eq!(
        lookup(&raw, &FieldPath::dotted("arr.0").expect("path")),
        None
    );
    assert_eq!(lookup(&raw, &p("s.len")), None);
    assert_eq!(lookup(&raw, &p("n")), Some(RawBsonRef::Null));
    assert_eq!(lookup(&raw, &p("missing")), None);
    assert_eq!(get_path(&d, &p("a.b.c")), Some(&Bson::Int32(5)));
    assert_eq!(get_path(&d, &p("arr.x")), None);
}

#[test]
fn set_creates_intermediate_documents_and_keeps_positions() {
    let mut d = doc! {"x": 1, "a": {"b": 1, "c": 2}};
    set_path(&mut d, &p("a.b"), Bson::Int32(9)).expect("set");
    set_path(&mut d, &p("new.deep.field"), Bson::from("v")).expect("set");
    assert_eq!(
        d,
        doc! {"x": 1, "a": {"b": 9, "c": 2}, "new": {"deep": {"field": "v"}}}
    );
    let before = d.clone();
    let err = set_path(&mut d, &p("x.y.z"), Bson::Null).expect_err("x is not a document");
    assert_eq!(err.to_string(), "cannot set x.y.z: x is not a document");
    assert_eq!(d, before);
}

#[test]
fn unset_removes_only_existing_fields() {
    let mut d = doc! {"a": {"b": 1, "c": 2}, "s": "x"};
    assert_eq!(unset_path(&mut d, &p("a.b")), Some(Bson::Int32(1)));
    assert_eq!(unset_path(&mut d, &p("a.zz")), None);
    assert_eq!(unset_path(&mut d, &p("s.t")), None);
    assert_eq!(d, doc! {"a": {"c": 2}, "s": "x"});
}

#[test]
fn paths_display_and_parse_with_backquotes() {
    let path =
        FieldPath::new(vec!["first name".into(), "a`b".into(), "ok_1".into()]).expect("path");
    assert_eq!(path.to_string(), "`first name`.`a``b`.ok_1");
    assert_eq!(path.to_string().parse::<FieldPath>(), Ok(path.clone()));
    assert_eq!(path.to_dotted(), "first name.a`b.ok_1");
    assert_eq!(p("Address.City").segments(), ["Address", "City"]);
    assert!("a..b".parse::<FieldPath>().is_err());
    assert!("1a".parse::<FieldPath>().is_err());
    assert!("`open".parse::<FieldPath>().is_err());
    assert!("".parse::<FieldPath>().is_err());
    assert_eq!(FieldPath::dotted("a.b"), Ok(p("a.b")));
    assert_eq!(
        FieldPath::dotted("a..b"),
        Err(PathError::EmptySegment("a..b".into()))
    );
    assert_eq!(FieldPath::new(vec![]), Err(PathError::Empty));
    assert!(FieldPath::field("a\0b").is_err());
    assert!(FieldPath::id().is_id());
    assert!(p("a").is_prefix_of(&p("a.b")));
    assert!(!p("a.b").is_prefix_of(&p("a")));
}

#[test]
fn paths_serialize_as_segment_lists() {
    let path = p("Address.City");
    let json = serde_json::to_string(&path).expect("json");
    assert_eq!(json, r#"["Address","City"]"#);
    assert_eq!(
        serde_json::from_str::<FieldPath>(&json).expect("back"),
        path
    );
    assert!(serde_json::from_str::<FieldPath>("[]").is_err());
}
