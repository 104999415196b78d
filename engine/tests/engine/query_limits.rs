//! A grouped query cannot grow without bound: past `Options::max_query_groups` it fails with
//! `QueryError::TooManyGroups`, and within it the groups are exact.

use bson::doc;
use shinydb_engine::{
    Db, Options, QueryFailure,
    query::{QueryError, QueryResult},
};

#[test]
fn a_grouping_past_the_group_limit_fails_and_within_it_is_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(
        dir.path(),
        Options {
            max_query_groups: 5,
            ..Options::default()
        },
    )
    .expect("open");
    db.create_space("s").expect("space");
    db.create_store("s", "t").expect("store");
    let docs = (0..100i64).map(|i| doc! {"_id": i, "k": i % 10}).collect();
    db.insert_many("s", "t", docs).expect("insert");

    let err = db
        .query_text("s.t.groupBy(k).aggregate(n: count)")
        .expect_err("10 groups > 5");
    assert!(
        matches!(
            err,
            QueryFailure::Query(QueryError::TooManyGroups { max: 5 })
        ),
        "{err:?}"
    );
    match db
        .query_text("s.t.filter(k < 5).groupBy(k).aggregate(n: count)")
        .expect("5 groups")
    {
        QueryResult::Groups(rows) => {
            assert_eq!(rows.len(), 5);
            assert!(
                rows.iter().all(|r| r.get_i64("n").ok() == Some(10)),
                "{rows:?}"
            );
        }
        other => panic!("not groups: {other:?}"),
    }
}
