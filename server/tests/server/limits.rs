//! Limits and malformed input: oversize messages are answered RESOURCE_EXHAUSTED naming the
//! setting, bodies that are not protobuf INVALID_ARGUMENT, batches past the limit and pages are
//! capped, per-request deadlines are honoured.

use crate::common::{Grpc, Server, ServerOptions, bson_bytes, iid, sample};
use bytes::{Buf, BufMut};
use shinydb_proto::v1::{
    self, PipelineRequest, pipeline_request::Op, pipeline_response::Result as R,
};
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

/// Sends and receives raw bytes, to put malformed bodies on the wire.
#[derive(Clone, Default)]
struct Raw;

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        let mut v = vec![0; src.remaining()];
        src.copy_to_slice(&mut v);
        Ok(Some(v))
    }
}

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_and_malformed_requests_get_clear_errors() {
    let server = Server::start(ServerOptions::default().config(
        "limits:\n  max_message_size: 64KiB\n  max_batch_writes: 10\n  max_page_documents: 100\n",
    ));
    let mut c = server.admin().await;
    c.create_store("l", "t").await;

    // A 100 KB document in a 64 KiB limit.
    let big = bson::doc! {"_id": 1, "blob": "x".repeat(100_000)};
    let e = c
        .docs
        .insert(v1::InsertRequest {
            space: "l".into(),
            store: "t".into(),
            documents: vec![bson_bytes(&big)],
        })
        .await
        .expect_err("too large");
    assert_eq!(e.code(), Code::ResourceExhausted, "{e}");
    assert!(
        e.message().contains("limits.max_message_size"),
        "{}",
        e.message()
    );
    assert!(e.message().contains("65536"), "{}", e.message());

    // The same on the pipelined stream ends the stream with the same code.
    let mut out = c
        .pipeline
        .stream(futures::stream::iter(vec![PipelineRequest {
            id: 1,
            timeout_ms: 0,
            op: Some(Op::Insert(v1::InsertRequest {
                space: "l".into(),
                store: "t".into(),
                documents: vec![bson_bytes(&big)],
            })),
        }]))
        .await
        .expect("open")
        .into_inner();
    let e = loop {
        match out.message().await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("stream ended without the error"),
            Err(e) => break e,
        }
    };
    assert_eq!(e.code(), Code::ResourceExhausted, "{e}");

    // Too many writes in one insert.
    let e = c
        .docs
        .insert(v1::InsertRequest {
            space: "l".into(),
            store: "t".into(),
            documents: (0..11).map(|i| bson_bytes(&sample(i))).collect(),
        })
        .await
        .expect_err("batch limit");
    assert_eq!(e.code(), Code::ResourceExhausted);
    assert!(
        e.message().contains("limits.max_batch_writes"),
        "{}",
        e.message()
    );

    // Pages are capped at max_page_documents.
    for chunk in 0..3 {
        c.insert(
            "l",
            "t",
            (chunk * 10..chunk * 10 + 10).map(sample).collect(),
        )
        .await;
    }
    let page = c
        .docs
        .scan(v1::ScanRequest {
            space: "l".into(),
            store: "t".into(),
            start: None,
            limit: 5000,
            reverse: false,
        })
        .await
        .expect("scan")
        .into_inner();
    assert_eq!(page.documents.len(), 30);
    // Bodies that are not protobuf at all.
    let mut grpc = tonic::client::Grpc::new(c.channel.clone());
    grpc.ready().await.expect("ready");
    let e = grpc
        .unary::<Vec<u8>, Vec<u8>, Raw>(
            tonic::Request::new(vec![0xff, 0xff, 0xff, 0x07]),
            http::uri::PathAndQuery::from_static("/shinydb.v1.Users/Login"),
            Raw,
        )
        .await
        .expect_err("garbage");
    assert_eq!(e.code(), Code::InvalidArgument, "{e}");
    assert!(e.message().contains("malformed request"), "{}", e.message());
    // An unknown method: refused before routing without credentials, unknown with them.
    grpc.ready().await.expect("ready");
    let e = grpc
        .unary::<Vec<u8>, Vec<u8>, Raw>(
            tonic::Request::new(vec![]),
            http::uri::PathAndQuery::from_static("/shinydb.v1.Documents/Nothing"),
            Raw,
        )
        .await
        .expect_err("unknown method");
    assert_eq!(e.code(), Code::Unauthenticated, "{e}");
    let token = server
        .login("admin", crate::common::ADMIN_PASSWORD)
        .await
        .expect("login");
    let mut request = tonic::Request::new(vec![]);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    grpc.ready().await.expect("ready");
    let e = grpc
        .unary::<Vec<u8>, Vec<u8>, Raw>(
            request,
            http::uri::PathAndQuery::from_static("/shinydb.v1.Documents/Nothing"),
            Raw,
        )
        .await
        .expect_err("unknown method");
    assert_eq!(e.code(), Code::Unimplemented, "{e}");

    // A malformed ObjectId.
    let e = c
        .docs
        .get(v1::GetRequest {
            space: "l".into(),
            store: "t".into(),
            id: Some(v1::Id {
                kind: Some(v1::id::Kind::ObjectId(vec![1, 2, 3].into())),
            }),
        })
        .await
        .expect_err("bad oid");
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("12 bytes"), "{}", e.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_capped_and_deadlines_honoured() {
    let server =
        Server::start(ServerOptions::default().config("limits:\n  max_page_documents: 100\n"));
    let mut c = server.admin().await;
    c.create_store("l", "t").await;
    c.insert("l", "t", (0..250).map(sample).collect()).await;
    let page = c
        .docs
        .scan(v1::ScanRequest {
            space: "l".into(),
            store: "t".into(),
            start: None,
            limit: 5000,
            reverse: false,
        })
        .await
        .expect("scan")
        .into_inner();
    assert_eq!(page.documents.len(), 100);
    assert_eq!(page.next, Some(iid(100)));

    // A 1 ms deadline on a 9 000-document insert expires.
    let docs: Vec<bson::Document> = (1000..10_000_i64).map(|i| bson::doc! {"_id": i}).collect();
    let mut out = c
        .pipeline
        .stream(futures::stream::iter(vec![PipelineRequest {
            id: 9,
            timeout_ms: 1,
            op: Some(Op::Insert(v1::InsertRequest {
                space: "l".into(),
                store: "t".into(),
                documents: docs.iter().map(bson_bytes).collect(),
            })),
        }]))
        .await
        .expect("open")
        .into_inner();
    let r = out.message().await.expect("answer").expect("one");
    match r.result {
        Some(R::Error(e)) => {
            assert_eq!(
                Code::from_i32(e.code),
                Code::DeadlineExceeded,
                "{}",
                e.message
            );
            assert!(e.message.contains("deadline of 1 ms"), "{}", e.message);
        }
        other => panic!("finished within 1 ms? {other:?}"),
    }
    // The unary deadline comes from grpc-timeout.
    let mut req = tonic::Request::new(v1::InsertRequest {
        space: "l".into(),
        store: "t".into(),
        documents: (30_000..39_000_i64)
            .map(|i| bson_bytes(&bson::doc! {"_id": i}))
            .collect(),
    });
    req.set_timeout(std::time::Duration::from_millis(1));
    let e = c.docs.insert(req).await.expect_err("deadline");
    assert!(
        matches!(e.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_refused() {
    let server = Server::start(ServerOptions::default().config("network:\n  max_connections: 1\n"));
    let first = server.channel().await;
    let mut users = v1::users_client::UsersClient::new(first.clone());
    let login = || v1::LoginRequest {
        user: "admin".into(),
        password: crate::common::ADMIN_PASSWORD.into(),
    };
    users
        .login(login())
        .await
        .expect("the first connection works");
    let second = server.endpoint().connect().await;
    let refused = match second {
        Err(_) => true,
        Ok(ch) => v1::users_client::UsersClient::new(ch)
            .login(login())
            .await
            .is_err(),
    };
    assert!(refused, "a second connection got through");
    // The log is read by another thread: the line may arrive a moment later.
    crate::common::eventually(
        std::time::Duration::from_secs(10),
        "the refusal in the log",
        || server.log().contains("network.max_connections reached"),
    );
    drop(users);
    drop(first);
    crate::common::eventually(
        std::time::Duration::from_secs(10),
        "a slot frees up",
        || {
            server
                .http_get("/metrics")
                .1
                .contains("shinydb_connections 0")
        },
    );
    let third = server.channel().await;
    v1::users_client::UsersClient::new(third)
        .login(login())
        .await
        .expect("a connection after the first closed");
}
