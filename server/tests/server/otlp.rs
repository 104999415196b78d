//! OpenTelemetry export: with `tracing.otlp_endpoint` set, the server sends its request spans
//! over OTLP/gRPC; a small collector in the test receives and records them.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::common::{Grpc, Server, ServerOptions, sample};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value::Value,
};
use tokio_stream::wrappers::TcpListenerStream;

/// A collector that keeps every export request.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().expect("lock").push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// (service name, span name, user attribute) of every span received.
fn spans(c: &Collector) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    for req in c.0.lock().expect("lock").iter() {
        for rs in &req.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                .and_then(|a| a.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let user = span
                        .attributes
                        .iter()
                        .find(|a| a.key == "user")
                        .and_then(|a| a.value.as_ref())
                        .and_then(|v| match &v.value {
                            Some(Value::StringValue(s)) => Some(s.clone()),
                            _ => None,
                        });
                    out.push((service.clone(), span.name.clone(), user));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_spans_are_exported_over_otlp() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let svc = TraceServiceServer::new(collector.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
    });

    let mut server = Server::start(ServerOptions::default().config(&format!(
        "tracing:\n  otlp_endpoint: http://{addr}\n  service_name: shinydb-test\n"
    )));
    let mut c = server.admin().await;
    c.create_store("o", "t").await;
    c.insert("o", "t", vec![sample(1)]).await;
    let _ = c.get("o", "t", crate::common::iid(1)).await;
    // A caller's W3C trace context is continued.
    let mut req = tonic::Request::new(shinydb_proto::v1::InfoRequest {});
    req.metadata_mut().insert(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .expect("ascii"),
    );
    c.server.info(req).await.expect("info");

    // Shutdown flushes what the batch exporter still holds.
    server.signal(15);
    let code = tokio::task::block_in_place(|| server.wait(Duration::from_secs(30)));
    assert_eq!(code, Some(0), "{}", server.log());
    crate::common::eventually(Duration::from_secs(10), "spans at the collector", || {
        spans(&collector).iter().any(|s| s.1 == "Documents/Get")
    });
    let traced = collector
        .0
        .lock()
        .expect("lock")
        .iter()
        .flat_map(|r| r.resource_spans.iter())
        .flat_map(|rs| rs.scope_spans.iter())
        .flat_map(|ss| ss.spans.iter())
        .find(|s| s.name == "Server/Info")
        .map(|s| (hex::encode(&s.trace_id), hex::encode(&s.parent_span_id)))
        .expect("Server/Info span");
    assert_eq!(
        traced,
        (
            "0af7651916cd43dd8448eb211c80319c".to_string(),
            "b7ad6b7169203331".to_string()
        )
    );
    let got = spans(&collector);
    for name in [
        "Users/Login",
        "Catalog/CreateStore",
        "Documents/Insert",
        "Documents/Get",
    ] {
        let span = got
            .iter()
            .find(|s| s.1 == name)
            .unwrap_or_else(|| panic!("no {name} span in {got:?}"));
        assert_eq!(span.0, "shinydb-test");
        if name != "Users/Login" {
            assert_eq!(span.2.as_deref(), Some("admin"), "{span:?}");
        }
    }
}
