//! How a document body is stored in a B+tree leaf: inline, inline compressed, or in the value log.
//!
//! Memtables hold raw BSON; the flush decides the stored form, off the write path.

use bytes::Bytes;

use crate::{
    error::{Error, Result},
    options::Options,
    vlog::{Pointer, ValueLog},
};

const INLINE: u8 = 0;
const INLINE_ZSTD: u8 = 1;
const IN_VLOG: u8 = 2;

/// Byte counts before and after compression, for statistics.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Compression {
    pub raw: u64,
    pub stored: u64,
}

/// The stored form of `raw`, appending to the value log when it is large.
pub(crate) fn encode(
    key: &[u8],
    raw: &[u8],
    opts: &Options,
    vlog: &ValueLog,
    c: &mut Compression,
) -> Result<(Vec<u8>, Option<Pointer>)> {
    let compress = raw.len() > opts.compression_threshold;
    if raw.len() > inline_limit(opts) {
        let p = vlog.append(key, raw, compress)?;
        let mut out = Vec::with_capacity(1 + Pointer::ENCODED_LEN);
        out.push(IN_VLOG);
        p.encode(&mut out);
        c.raw += raw.len() as u64;
        c.stored += u64::from(p.len);
        return Ok((out, Some(p)));
    }
    if compress {
        let z = zstd::bulk::compress(raw, opts.compression_level)
            .map_err(|e| Error::io("compressing with zstd", e))?;
        if z.len() < raw.len() {
            let mut out = Vec::with_capacity(1 + z.len());
            out.push(INLINE_ZSTD);
            out.extend_from_slice(&z);
            c.raw += raw.len() as u64;
            c.stored += z.len() as u64;
            return Ok((out, None));
        }
    }
    let mut out = Vec::with_capacity(1 + raw.len());
    out.push(INLINE);
    out.extend_from_slice(raw);
    Ok((out, None))
}

/// The largest body kept inline in a leaf.
pub(crate) fn inline_limit(opts: &Options) -> usize {
    opts.value_log_threshold.min(2800)
}

/// The value-log pointer in a stored form, if it has one.
pub(crate) fn pointer(stored: &[u8]) -> Option<Pointer> {
    match stored.split_first() {
        Some((&IN_VLOG, rest)) => Pointer::decode(rest),
        _ => None,
    }
}

/// A stored form that points at `p`.
pub(crate) fn with_pointer(p: Pointer) -> Vec<u8> {
    let mut out = vec![IN_VLOG];
    p.encode(&mut out);
    out
}

/// The raw BSON of a stored form.
pub(crate) fn decode(stored: Bytes, vlog: &ValueLog) -> Result<Bytes> {
    match stored.first() {
        Some(&INLINE) => Ok(stored.slice(1..)),
        Some(&INLINE_ZSTD) => zstd::stream::decode_all(&stored[1..])
            .map(Bytes::from)
            .map_err(|e| {
                Error::corruption(
                    "data.db",
                    format!("a compressed document does not decompress: {e}"),
                )
            }),
        Some(&IN_VLOG) => {
            let p = Pointer::decode(&stored[1..])
                .ok_or_else(|| Error::corruption("data.db", "a value-log pointer is malformed"))?;
            vlog.read(p)
        }
        _ => Err(Error::corruption(
            "data.db",
            "a stored document has an unknown form",
        )),
    }
}
