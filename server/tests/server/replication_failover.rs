//! Failover: with `sync_replicas: 1`, the leader is killed (`kill -9`) while clients write;
//! the most advanced follower is promoted and the other follows it; every acknowledged write
//! is on the new leader; the old leader, started again as a follower, sets its unacknowledged
//! tail aside (`rollback/`) and seeds. `SHINYDB_FAILOVER_ROUNDS` rounds (10 by default).

use std::time::Duration;

use shinydb_proto::v1;

use crate::common::{
    Grpc, Load, Server, all_ids,
    replica::{self, Cluster},
};

/// Each server's configuration once it leads: one follower must have every write.
const SYNC: &str = "  sync_replicas: 1\n";

fn rounds() -> usize {
    std::env::var("SHINYDB_FAILOVER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_a_killed_leader() {
    let cluster = Cluster::new();
    let mut servers: Vec<Server> = vec![cluster.leader(SYNC)];
    for name in ["s1", "s2"] {
        let yaml = cluster.follower_yaml(&servers[0], name, SYNC);
        servers.push(cluster.start(&yaml));
    }
    let names = ["s0", "s1", "s2"];
    let mut leader = 0;
    let mut rolled_back = 0;
    for round in 0..rounds() {
        let store = format!("r{round}");
        for f in (0..3).filter(|&i| i != leader) {
            replica::caught_up(&servers[f], &servers[leader], Duration::from_secs(60)).await;
        }
        servers[leader]
            .admin()
            .await
            .create_store("app", &store)
            .await;
        let load = Load::start(&servers[leader], 3, "app", &store).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        servers[leader].kill();
        let acked = load.finish(Duration::from_secs(10)).await;
        assert!(!acked.is_empty(), "round {round}: nothing was acknowledged");

        // The most advanced follower leads next; the other follows it.
        let followers: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
        let mut best = followers[0];
        let mut best_seq = 0;
        for &f in &followers {
            let seq = replica::status(&servers[f]).await.last_seq;
            if seq >= best_seq {
                (best, best_seq) = (f, seq);
            }
        }
        let promoted = replica::admin(&servers[best])
            .await
            .promote(v1::PromoteRequest {})
            .await
            .expect("promote")
            .into_inner();
        assert_eq!(promoted.epoch, round as u64 + 2, "round {round}");
        let mut on_new = servers[best].admin().await;
        let have = all_ids(&mut on_new, "app", &store).await;
        let missing: Vec<i64> = acked
            .iter()
            .filter(|id| have.binary_search(id).is_err())
            .copied()
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged writes are not on the new leader: {:?}",
            missing.len(),
            &missing[..missing.len().min(10)]
        );
        let other = followers
            .into_iter()
            .find(|&f| f != best)
            .expect("two followers");
        replica::admin(&servers[other])
            .await
            .follow(v1::FollowRequest {
                leader: servers[best].endpoint_uri(),
            })
            .await
            .expect("follow");
        // The old leader comes back and is told to follow the new one (it may come back
        // leading: a role given at run time outlives a restart while the configuration stays).
        let yaml = cluster.follower_yaml(&servers[best], names[leader], SYNC);
        cluster.restart_as(&mut servers[leader], &yaml);
        replica::follow(&servers[leader], &servers[best]).await;
        replica::caught_up(&servers[leader], &servers[best], Duration::from_secs(60)).await;
        replica::caught_up(&servers[other], &servers[best], Duration::from_secs(60)).await;
        let st = replica::status(&servers[leader]).await;
        assert_eq!(st.epoch, round as u64 + 2, "round {round}: {st:?}");
        rolled_back = replica::files_in(&servers[leader].data_dir().join("rollback"))
            .len()
            .max(rolled_back);
        leader = best;
    }
    // Every server ends with the same data.
    let mut want = Vec::new();
    for round in 0..rounds() {
        want.push(
            all_ids(
                &mut servers[leader].admin().await,
                "app",
                &format!("r{round}"),
            )
            .await,
        );
    }
    for f in (0..3).filter(|&i| i != leader) {
        replica::caught_up(&servers[f], &servers[leader], Duration::from_secs(60)).await;
        let mut c = servers[f].admin().await;
        for (round, ids) in want.iter().enumerate() {
            assert_eq!(
                &all_ids(&mut c, "app", &format!("r{round}")).await,
                ids,
                "round {round}"
            );
        }
    }
    eprintln!(
        "failover rounds: {}, rollback files on the last old leader: {rolled_back}",
        rounds()
    );
}
