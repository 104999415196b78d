//! kill -9 under load, then restart: every acknowledged write is there.

use std::{sync::Arc, time::Duration};

use crate::common::{Grpc, Load, Server, ServerOptions, all_ids};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_then_restart_keeps_every_acknowledged_write() {
    let mut server = Server::start(ServerOptions::default());
    for round in 0..2 {
        let store = format!("t{round}");
        let mut admin = server.admin().await;
        admin.create_store("crash", &store).await;
        let load = Load::start(&server, 4, "crash", &store).await;
        crate::common::eventually(Duration::from_secs(30), "writes under way", || {
            load.count() > 500
        });
        server.kill();
        let acked = load.finish(Duration::from_secs(10)).await;
        assert!(acked.len() > 500, "round {round}");

        server = Server::start_in(
            Arc::clone(&server.dir),
            server.ca.clone(),
            None,
            ServerOptions::default(),
        );
        let mut c = server.admin().await;
        let stored = all_ids(&mut c, "crash", &store).await;
        let missing: Vec<&i64> = acked
            .iter()
            .filter(|id| stored.binary_search(id).is_err())
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} of {} acknowledged writes lost: {:?}",
            missing.len(),
            acked.len(),
            &missing[..missing.len().min(10)]
        );
        assert!(server.log().contains("replayed"), "recovered from the WAL");
    }
}
