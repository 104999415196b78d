//! A role given at run time outlives a restart: a follower promoted after its leader died
//! comes back demoted, not following the dead leader its configuration names and not taking
//! writes on its own; one told to follow another server follows that one — until the
//! configuration changes, which then wins. A damaged role file stops the start, naming the
//! file.

use std::time::Duration;

use bson::doc;
use shinydb_proto::v1;

use crate::common::{
    Grpc,
    replica::{self, Cluster},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_time_roles_outlive_a_restart_but_never_as_a_writer() {
    let cluster = Cluster::new();
    let mut leader = cluster.leader("");
    let mut c = leader.admin().await;
    c.create_store("app", "items").await;
    c.insert("app", "items", vec![doc! {"_id": 1_i64}]).await;
    let yaml = cluster.follower_yaml(&leader, "f1", "");
    let mut f = cluster.start(&yaml);
    replica::caught_up(&f, &leader, Duration::from_secs(30)).await;
    leader.kill();

    replica::admin(&f)
        .await
        .promote(v1::PromoteRequest {})
        .await
        .expect("promote");
    let epoch = replica::status(&f).await.epoch;
    // Configured as a follower of the dead leader, it led when it stopped: it comes back
    // read-only, following nobody (another server may lead by now).
    cluster.restart_as(&mut f, &yaml);
    let st = replica::status(&f).await;
    assert_eq!((st.role.as_str(), st.epoch), ("demoted", epoch), "{st:?}");
    let e = f
        .admin()
        .await
        .docs
        .insert(v1::InsertRequest {
            space: "app".into(),
            store: "items".into(),
            documents: vec![crate::common::bson_bytes(&doc! {"_id": 3_i64})],
        })
        .await
        .expect_err("it takes no writes on its own");
    assert_eq!(e.code(), tonic::Code::Unavailable, "{e}");
    // Promoted again, it leads a new epoch.
    replica::admin(&f)
        .await
        .promote(v1::PromoteRequest {})
        .await
        .expect("promote again");
    assert_eq!(replica::status(&f).await.epoch, epoch + 1);
    let mut fc = f.admin().await;
    fc.insert("app", "items", vec![doc! {"_id": 2_i64}]).await;

    let elsewhere = "https://127.0.0.1:9";
    replica::admin(&f)
        .await
        .follow(v1::FollowRequest {
            leader: elsewhere.into(),
        })
        .await
        .expect("follow");
    cluster.restart_as(&mut f, &yaml);
    let st = replica::status(&f).await;
    assert_eq!(
        (st.role.as_str(), st.leader.as_str()),
        ("follower", elsewhere)
    );
    // Still the same data: both documents.
    let mut fc = f.admin().await;
    assert_eq!(
        crate::common::all_ids(&mut fc, "app", "items").await,
        vec![1, 2]
    );

    // A configuration changed since then is a deliberate choice: it wins.
    let chosen = "https://127.0.0.1:10";
    let changed = yaml.replace(&leader.endpoint_uri(), chosen);
    assert_ne!(changed, yaml);
    cluster.restart_as(&mut f, &changed);
    let st = replica::status(&f).await;
    assert_eq!((st.role.as_str(), st.leader.as_str()), ("follower", chosen));
    assert!(!f.data_dir().join("replication-role").exists());
}

#[test]
fn a_damaged_role_file_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(
        data.join("replication-role"),
        "captain\nconfigured leader\n",
    )
    .expect("write");
    let out = std::process::Command::new(crate::common::bin())
        .args(["--data-dir", data.to_str().expect("utf8")])
        .args(["--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
        .env("SHINYDB_ADMIN_PASSWORD", crate::common::ADMIN_PASSWORD)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("replication-role") && err.contains("captain"),
        "{err}"
    );
}
