//! The WAL's on-disk record format.
//!
//! A segment starts with a 24-byte header: magic `SHNYWAL1`, format version (u32 LE), the
//! sequence number of its first record (u64 LE) and a CRC32 of those 20 bytes. Records follow:
//!
//! ```text
//! version 2: len u32 LE | crc32 u32 LE (of seq, time and payload) | seq u64 LE | commit time u64 LE | payload
//! version 1: len u32 LE | crc32 u32 LE (of seq and payload)       | seq u64 LE | payload
//! payload = count u32 | count × (kind u8 (1 put, 2 delete) | key_len u32 | key | [value_len u32 | value])
//! ```
//!
//! The commit time is milliseconds since the Unix epoch, never decreasing along the log (a clock
//! that steps back repeats the last time): point-in-time recovery stops at the last batch
//! committed at or before a target time. Version 1 segments (written before commit times) stay
//! readable; their records have commit time 0, "unknown".

#![warn(clippy::indexing_slicing)]

use crate::kv::{KvOp, Seq};

/// First bytes of every WAL segment.
pub(crate) const MAGIC: &[u8; 8] = b"SHNYWAL1";
/// The WAL format version this build writes.
pub(crate) const VERSION: u32 = 2;
/// The oldest WAL format version this build reads.
pub(crate) const OLDEST_VERSION: u32 = 1;
/// Bytes of the segment header.
pub(crate) const HEADER_LEN: usize = 24;
/// The largest payload a record may have (a guard against reading garbage lengths).
pub(crate) const MAX_PAYLOAD: usize = 1 << 30;

/// Bytes before a record's payload in format `version`.
pub(crate) const fn record_header_len(version: u32) -> usize {
    if version == 1 { 16 } else { 24 }
}

/// One committed batch as the log holds it: its sequence number, commit time and operations.
/// Also the unit a primary ships to a replica and the archive stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub(crate) seq: Seq,
    pub(crate) commit_ms: u64,
    pub(crate) ops: Vec<KvOp>,
}

impl LogRecord {
    /// The batch's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// When the batch committed, in milliseconds since the Unix epoch (0: written by a build
    /// that did not record commit times).
    pub fn commit_time_ms(&self) -> u64 {
        self.commit_ms
    }

    /// The record's wire form: the WAL's record format (version 2), checksummed and
    /// self-delimiting, so records can be concatenated.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_record(self.seq, self.commit_ms, &self.ops, &mut out);
        out
    }

    /// Appends the wire form to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        encode_record(self.seq, self.commit_ms, &self.ops, out);
    }

    /// Whether the batch puts or deletes a document of the store with this id
    /// ([`crate::StoreInfo::id`]): a replica uses it to notice changes it caches.
    pub fn writes_store(&self, store_id: u32) -> bool {
        let prefix = crate::keys::doc_prefix(store_id);
        self.ops.iter().any(|op| op.key.starts_with(&prefix))
    }
}

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
        /// The segment's format version (how its records are laid out).
        version: u32,
    },
    /// Not a WAL segment, or damaged.
    Bad(String),
    /// A WAL segment of another format version.
    UnknownVersion(u32),
}

/// Decodes a segment header.
#[expect(
    clippy::indexing_slicing,
    reason = "the length is checked against HEADER_LEN first"
)]
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
    if !(OLDEST_VERSION..=VERSION).contains(&version) {
        return Header::UnknownVersion(version);
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&h[12..20]);
    Header::Valid {
        first_seq: u64::from_le_bytes(seq),
        version,
    }
}

/// Appends one record (format [`VERSION`]) holding `ops` at `seq`, committed at `commit_ms`, to
/// `out`.
#[expect(
    clippy::indexing_slicing,
    reason = "offsets inside the bytes this call appended"
)]
pub(crate) fn encode_record(seq: Seq, commit_ms: u64, ops: &[KvOp], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]); // len + crc, filled below
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&commit_ms.to_le_bytes());
    out.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for op in ops {
        if let Some(v) = &op.value {
            out.push(PUT);
            put_bytes(&op.key, out);
            put_bytes(v, out);
        } else {
            out.push(DELETE);
            put_bytes(&op.key, out);
        }
    }
    let payload_len = (out.len() - start - record_header_len(VERSION)) as u32;
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
        /// The record.
        record: LogRecord,
        /// Bytes consumed.
        len: usize,
    },
    /// The buffer ends before the record does.
    Truncated,
    /// The record is damaged (checksum or structure).
    Damaged(String),
}

/// Reads the record (format `version`) at the start of `buf`.
#[expect(
    clippy::indexing_slicing,
    reason = "the header, then the record length, are checked against the buffer first"
)]
pub(crate) fn decode_record(buf: &[u8], version: u32) -> Decoded {
    let header_len = record_header_len(version);
    if buf.len() < header_len {
        return Decoded::Truncated;
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if len > MAX_PAYLOAD {
        return Decoded::Damaged(format!("record length {len} is implausible"));
    }
    let total = header_len + len;
    if buf.len() < total {
        return Decoded::Truncated;
    }
    if crc32fast::hash(&buf[8..total]) != crc {
        return Decoded::Damaged("record checksum mismatch".into());
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&buf[8..16]);
    let seq = u64::from_le_bytes(seq);
    let commit_ms = if version == 1 {
        0
    } else {
        let mut t = [0u8; 8];
        t.copy_from_slice(&buf[16..24]);
        u64::from_le_bytes(t)
    };
    match decode_ops(&buf[header_len..total]) {
        Some(ops) => Decoded::Record {
            record: LogRecord {
                seq,
                commit_ms,
                ops,
            },
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
    let (head, rest) = p.split_first_chunk::<4>()?;
    *p = rest;
    Some(u32::from_le_bytes(*head))
}

fn take_bytes(p: &mut &[u8]) -> Option<Vec<u8>> {
    let n = take_u32(p)? as usize;
    let (head, rest) = p.split_at_checked(n)?;
    *p = rest;
    Some(head.to_vec())
}

/// A version-1 segment header, as builds before commit times wrote it.
#[cfg(test)]
pub(crate) fn encode_v1_header(first_seq: Seq) -> [u8; HEADER_LEN] {
    let mut h = encode_header(first_seq);
    h[8..12].copy_from_slice(&1u32.to_le_bytes());
    let crc = crc32fast::hash(&h[..20]);
    h[20..24].copy_from_slice(&crc.to_le_bytes());
    h
}

/// A version-1 record (no commit time), as builds before commit times wrote it.
#[cfg(test)]
pub(crate) fn encode_v1_record(seq: Seq, ops: &[KvOp]) -> Vec<u8> {
    let mut v2 = Vec::new();
    encode_record(seq, 0, ops, &mut v2);
    let mut body = seq.to_le_bytes().to_vec();
    body.extend_from_slice(&v2[record_header_len(VERSION)..]);
    let mut out = ((body.len() - 8) as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
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
        encode_record(1, 1_700_000_000_000, &ops, &mut buf);
        assert_eq!(payload_len(&ops), buf.len() - record_header_len(VERSION));
        assert_eq!(payload_len(&[]), 4);
    }

    #[test]
    fn record_round_trip() {
        let ops = vec![
            KvOp::put(b"k1".to_vec(), b"v1".to_vec()),
            KvOp::delete(b"k2".to_vec()),
        ];
        let mut buf = Vec::new();
        encode_record(7, 1_700_000_000_123, &ops, &mut buf);
        match decode_record(&buf, VERSION) {
            Decoded::Record { record, len } => {
                assert_eq!(record.seq, 7);
                assert_eq!(record.commit_ms, 1_700_000_000_123);
                assert_eq!(record.ops, ops);
                assert_eq!(len, buf.len());
            }
            _ => panic!("expected a record"),
        }
        assert!(matches!(
            decode_record(&buf[..buf.len() - 1], VERSION),
            Decoded::Truncated
        ));
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert!(matches!(decode_record(&buf, VERSION), Decoded::Damaged(_)));
    }

    #[test]
    fn version_1_records_still_decode_with_an_unknown_commit_time() {
        let ops = vec![KvOp::put(b"k".to_vec(), b"v".to_vec())];
        let buf = encode_v1_record(3, &ops);
        match decode_record(&buf, 1) {
            Decoded::Record { record, len } => {
                assert_eq!((record.seq, record.commit_ms), (3, 0));
                assert_eq!(record.ops, ops);
                assert_eq!(len, buf.len());
            }
            _ => panic!("expected a record"),
        }
        assert!(matches!(
            decode_header(&encode_v1_header(3)),
            Header::Valid {
                first_seq: 3,
                version: 1
            }
        ));
    }
}
