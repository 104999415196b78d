//! Rewrites tonic's answer to an oversize request. tonic refuses a request message larger than
//! the decoding limit with `OUT_OF_RANGE` before any handler runs; gRPC servers elsewhere answer
//! `RESOURCE_EXHAUSTED`, which is what clients retry-classify as a limit, so the answer is
//! rewritten here with a message naming the setting.

use http::{HeaderValue, Response};
use tower::util::MapResponseLayer;

/// The layer; `limit` is `limits.max_message_size` in bytes.
pub fn too_large<B>(limit: u64) -> MapResponseLayer<impl Fn(Response<B>) -> Response<B> + Clone> {
    MapResponseLayer::new(move |mut res: Response<B>| {
        let h = res.headers();
        let is_too_large = h.get("grpc-status").is_some_and(|v| v == "11")
            && h.get("grpc-message").is_some_and(|m| {
                m.to_str()
                    .is_ok_and(|m| m.contains("message%20length%20too%20large"))
            });
        if is_too_large {
            let message = format!(
                "the request message is larger than the server's limit of {limit} bytes \
                 (limits.max_message_size)"
            );
            let h = res.headers_mut();
            h.insert("grpc-status", HeaderValue::from_static("8"));
            if let Ok(v) = HeaderValue::from_str(&percent_encode(&message)) {
                h.insert("grpc-message", v);
            }
        }
        res
    })
}

/// Percent-encodes a grpc-message value (the gRPC spec's rule: everything outside printable
/// ASCII, and `%` itself).
fn percent_encode(s: &str) -> String {
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
