//! A query cannot grow or run without bound: a grouping past `Options::max_query_groups` fails
//! with `QueryError::TooManyGroups` (within it the groups are exact), and a read still running at
//! its deadline stops with `QueryError::DeadlineExceeded`.

use std::time::{Duration, Instant};

use bson::doc;
use shinydb_engine::{
    Db, Options, QueryFailure,
    query::{self, QueryError, QueryResult},
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

#[test]
fn a_read_past_its_deadline_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default()).expect("open");
    db.create_space("s").expect("space");
    db.create_store("s", "t").expect("store");
    let docs = (0..5_000i64).map(|i| doc! {"_id": i, "n": i}).collect();
    db.insert_many("s", "t", docs).expect("insert");
    let q = query::parse("s.t.filter(n >= 0).count()").expect("parse");

    let err = db
        .query_until(&q, Some(Instant::now()))
        .expect_err("already past its deadline");
    assert!(
        matches!(err, QueryFailure::Query(QueryError::DeadlineExceeded)),
        "{err:?}"
    );
    let grouped = query::parse("s.t.groupBy(n).aggregate(c: count)").expect("parse");
    let err = db
        .query_until(&grouped, Some(Instant::now()))
        .expect_err("a grouping stops too");
    assert!(
        matches!(err, QueryFailure::Query(QueryError::DeadlineExceeded)),
        "{err:?}"
    );
    let later = Some(Instant::now() + Duration::from_secs(600));
    assert!(matches!(
        db.query_until(&q, later).expect("in time"),
        QueryResult::Count(5_000)
    ));
}
