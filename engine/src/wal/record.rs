//! The WAL's on-disk record format.
//!
//! A segment starts with a 24-byte header: magic `SHNYWAL1`, format version (u32 LE), the
//! sequence number of its first record (u64 LE) and a CRC32 of those 20 bytes. Records follow:
//!
//! ```text
//! len u32 LE | crc32 u32 LE (of seq and payload) | seq u64 LE | payload (len bytes)
//! payload = count u32 | count × (kind u8 (1 put, 2 delete) | key_len u32 | key | [value_len u32 | value])
//! ```

use crate::kv::{KvOp, Seq};

/// First bytes of every WAL segment.
pub(crate) const MAGIC: &[u8; 8] = b"SHNYWAL1";
/// The WAL format version this build reads and writes.
pub(crate) const VERSION: u32 = 1;
/// Bytes of the segment header.
pub(crate) const HEADER_LEN: usize = 24;
/// Bytes before a record's payload.
pub(crate) const RECORD_HEADER_LEN: usize = 16;
/// The largest payload a record may have (a guard against reading garbage lengths).
pub(crate) const MAX_PAYLOAD: usize = 1 << 30;

const PUT: u8 = 1;
const DELETE: u8 = 2;

/// Encodes a segment header.
pub(crate) fn encode_header(first_seq: Seq) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32fast::hash(&h[..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// What a segment header says, or why it is unreadable.
pub(crate) enum Header {
    /// A valid header.
    Valid {
        /// The sequence number of its first record.
        first_seq: Seq,
    },
    /// Not a WAL segment, or damaged.
    Bad(String),
    /// A WAL segment of another format version.
    UnknownVersion(u32),
}

/// Decodes a segment header.
pub(crate) fn decode_header(h: &[u8]) -> Header {
    if h.len() < HEADER_LEN {
        return Header::Bad(format!(
            "header is {} bytes, expected {HEADER_LEN}",
            h.len()
        ));
    }
    if &h[..8] != MAGIC {
        return Header::Bad("bad magic number".into());
    }
    let crc = u32::from_le_bytes([h[20], h[21], h[22], h[23]]);
    if crc != crc32fast::hash(&h[..20]) {
        return Header::Bad("header checksum mismatch".into());
    }
    let version = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if version != VERSION {
        return Header::UnknownVersion(version);
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&h[12..20]);
    Header::Valid {
        first_seq: u64::from_le_bytes(seq),
    }
}

/// Appends one record holding `ops` at `seq` to `out`.
pub(crate) fn encode_record(seq: Seq, ops: &[KvOp], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]); // len + crc, filled below
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for op in ops {
        match &op.value {
            Some(v) => {
                out.push(PUT);
                put_bytes(&op.key, out);
                put_bytes(v, out);
            }
            None => {
                out.push(DELETE);
                put_bytes(&op.key, out);
            }
        }
    }
    let payload_len = (out.len() - start - RECORD_HEADER_LEN) as u32;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The payload length [`encode_record`] gives `ops`, computed without encoding them (so a batch
/// too large for a record is refused before anything is written).
pub(crate) fn payload_len(ops: &[KvOp]) -> usize {
    ops.iter().fold(4, |n, op| {
        n.saturating_add(1 + 4 + op.key.len())
            .saturating_add(op.value.as_ref().map_or(0, |v| 4 + v.len()))
    })
}

fn put_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// The outcome of reading one record at the start of `buf`.
pub(crate) enum Decoded {
    /// A whole, valid record and its total length in bytes.
    Record {
        /// Its sequence number.
        seq: Seq,
        /// Its operations.
        ops: Vec<KvOp>,
        /// Bytes consumed.
        len: usize,
    },
    /// The buffer ends before the record does.
    Truncated,
    /// The record is damaged (checksum or structure).
    Damaged(String),
}

/// Reads the record at the start of `buf`.
pub(crate) fn decode_record(buf: &[u8]) -> Decoded {
    if buf.len() < RECORD_HEADER_LEN {
        return Decoded::Truncated;
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if len > MAX_PAYLOAD {
        return Decoded::Damaged(format!("record length {len} is implausible"));
    }
    let total = RECORD_HEADER_LEN + len;
    if buf.len() < total {
        return Decoded::Truncated;
    }
    if crc32fast::hash(&buf[8..total]) != crc {
        return Decoded::Damaged("record checksum mismatch".into());
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&buf[8..16]);
    let seq = u64::from_le_bytes(seq);
    match decode_ops(&buf[RECORD_HEADER_LEN..total]) {
        Some(ops) => Decoded::Record {
            seq,
            ops,
            len: total,
        },
        None => Decoded::Damaged("record payload is malformed".into()),
    }
}

fn decode_ops(mut p: &[u8]) -> Option<Vec<KvOp>> {
    let count = take_u32(&mut p)? as usize;
    let mut ops = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let (&kind, rest) = p.split_first()?;
        p = rest;
        let key = take_bytes(&mut p)?;
        let value = match kind {
            PUT => Some(take_bytes(&mut p)?),
            DELETE => None,
            _ => return None,
        };
        ops.push(KvOp {
            key,
            value: value.map(bytes::Bytes::from),
        });
    }
    p.is_empty().then_some(ops)
}

fn take_u32(p: &mut &[u8]) -> Option<u32> {
    let (head, rest) = p.split_at_checked(4)?;
    *p = rest;
    Some(u32::from_le_bytes([head[0], head[1], head[2], head[3]]))
}

fn take_bytes(p: &mut &[u8]) -> Option<Vec<u8>> {
    let n = take_u32(p)? as usize;
    let (head, rest) = p.split_at_checked(n)?;
    *p = rest;
    Some(head.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_len_is_what_encoding_writes() {
        let ops = vec![
            KvOp::put(b"k1".to_vec(), b"value".to_vec()),
            KvOp::delete(b"key-two".to_vec()),
            KvOp::put(Vec::new(), Vec::new()),
        ];
        let mut buf = Vec::new();
        encode_record(1, &ops, &mut buf);
        assert_eq!(payload_len(&ops), buf.len() - RECORD_HEADER_LEN);
        assert_eq!(payload_len(&[]), 4);
    }

    #[test]
    fn record_round_trip() {
        let ops = vec![
            KvOp::put(b"k1".to_vec(), b"v1".to_vec()),
            KvOp::delete(b"k2".to_vec()),
        ];
        let mut buf = Vec::new();
        encode_record(7, &ops, &mut buf);
        match decode_record(&buf) {
            Decoded::Record { seq, ops: got, len } => {
                assert_eq!(seq, 7);
                assert_eq!(got, ops);
                assert_eq!(len, buf.len());
            }
            _ => panic!("expected a record"),
        }
        assert!(matches!(
            decode_record(&buf[..buf.len() - 1]),
            Decoded::Truncated
        ));
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert!(matches!(decode_record(&buf), Decoded::Damaged(_)));
    }
}
