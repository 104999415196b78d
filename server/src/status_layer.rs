//! Rewrites two of tonic's answers that are given before any handler runs, so that clients see
//! the status codes the protocol documents:
//!
//! - a request message larger than the decoding limit: tonic says `OUT_OF_RANGE`; ShinyDB
//!   answers `RESOURCE_EXHAUSTED` (a limit), naming the `limits.max_message_size` setting;
//! - a request body that is not a valid protobuf message: tonic says `INTERNAL`; it is the
//!   client's mistake, so ShinyDB answers `INVALID_ARGUMENT`.

use http::{HeaderMap, HeaderValue, Response};
use tonic::Code;
use tower::util::MapResponseLayer;

/// The layer; `limit` is `limits.max_message_size` in bytes.
pub fn rewrite<B>(limit: u64) -> MapResponseLayer<impl Fn(Response<B>) -> Response<B> + Clone> {
    MapResponseLayer::new(move |mut res: Response<B>| {
        if let Some((code, message)) = rewritten(res.headers(), limit) {
            let h = res.headers_mut();
            h.insert("grpc-status", HeaderValue::from(code as i32));
            if let Ok(v) = HeaderValue::from_str(&message) {
                h.insert("grpc-message", v);
            }
        }
        res
    })
}

/// The new status and (percent-encoded) message, if the response is one to rewrite.
fn rewritten(h: &HeaderMap, limit: u64) -> Option<(Code, String)> {
    let status = h.get("grpc-status")?.to_str().ok()?;
    let message = h
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .unwrap_or("");
    if status == "11" && message.contains("message%20length%20too%20large") {
        return Some((
            Code::ResourceExhausted,
            percent_encode(&format!(
                "the request message is larger than the server's limit of {limit} bytes \
                 (limits.max_message_size)"
            )),
        ));
    }
    if status == "13" && message.contains("failed%20to%20decode%20Protobuf%20message") {
        return Some((
            Code::InvalidArgument,
            format!(
                "{}{message}",
                percent_encode("malformed request: not a valid message of this method's type: ")
            ),
        ));
    }
    None
}

/// Percent-encodes a grpc-message value (the gRPC spec's rule: everything outside printable
/// ASCII, and `%` itself).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
