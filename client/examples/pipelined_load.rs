//! Drives a running server with concurrent pipelined inserts then gets, and prints throughput
//! and the client's latency metrics.
//!
//! ```sh
//! SHINYDB_ADMIN_PASSWORD=change-me-please cargo run --release --bin shinydb-server &
//! cargo run --release -p shinydb-client --example pipelined_load -- \
//!     http://127.0.0.1:23469 admin change-me-please 64 20000
//! ```
//!
//! Arguments: endpoint, user, password, concurrent callers, operations per phase.

use std::time::Instant;

use futures::{StreamExt, stream};
use shinydb_client::{Client, Error, bson::doc};
use tonic::Code;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, endpoint, user, password, callers, ops] = args.as_slice() else {
        return Err("usage: pipelined_load ENDPOINT USER PASSWORD CALLERS OPS".into());
    };
    let callers: usize = callers.parse()?;
    let ops: i64 = ops.parse()?;
    let client = Client::builder(endpoint)
        .password(user, password)
        .connect()
        .await?;
    // A fresh store each run.
    for r in [
        client.create_space("load").await,
        client.drop_store("load", "kv").await,
    ] {
        match r {
            Ok(())
            | Err(Error::Server {
                code: Code::AlreadyExists | Code::NotFound,
                ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    client.create_store("load", "kv").await?;
    let kv = client.store("load", "kv");
    let started = Instant::now();
    let inserted = stream::iter(0..ops)
        .map(|i| {
            let kv = kv.clone();
            async move { kv.insert(doc! {"_id": i, "v": format!("value {i}")}).await }
        })
        .buffer_unordered(callers)
        .filter(|r| std::future::ready(r.is_ok()))
        .count()
        .await;
    let writes = started.elapsed();
    let started = Instant::now();
    let found = stream::iter(0..ops)
        .map(|i| {
            let kv = kv.clone();
            async move { kv.get(i).await }
        })
        .buffer_unordered(callers)
        .filter(|r| std::future::ready(matches!(r, Ok(Some(_)))))
        .count()
        .await;
    let reads = started.elapsed();
    println!(
        "writes: {inserted}/{ops} in {:.2} s = {:.0}/s; reads: {found}/{ops} in {:.2} s = {:.0}/s",
        writes.as_secs_f64(),
        inserted as f64 / writes.as_secs_f64(),
        reads.as_secs_f64(),
        found as f64 / reads.as_secs_f64()
    );
    for (name, m) in client.metrics().ops {
        println!(
            "{name:>8}: ok {} errors {} p50 {:?} p99 {:?} max {:?}",
            m.ok, m.errors, m.p50, m.p99, m.max
        );
    }
    Ok(())
}
