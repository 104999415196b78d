//! Reading the WAL back: recovery after a crash, and streaming the log to a replica.

use std::{
    fs::{self, OpenOptions},
    path::Path,
};

use tracing::warn;

use super::{
    list_segments,
    record::{self, Decoded, Header, LogRecord},
};
use crate::{
    error::{Error, Result},
    kv::Seq,
};

/// What recovery found in the WAL.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ReplayOutcome {
    /// The last sequence number in the log (or the checkpoint, if the log held nothing newer).
    pub last_seq: Seq,
    /// Records applied.
    pub applied: u64,
    /// The commit time of the last record in the log (0 if none, or unknown).
    pub last_commit_ms: u64,
    /// Bytes cut off a torn tail.
    pub truncated_bytes: u64,
}

/// Replays every record after `checkpoint` in order through `apply`, truncating a torn tail of
/// the newest segment. Damage anywhere else is an error: replay never skips a record.
pub(crate) fn replay(
    dir: &Path,
    checkpoint: Seq,
    mut apply: impl FnMut(LogRecord) -> Result<()>,
) -> Result<ReplayOutcome> {
    let segments = list_segments(dir)?;
    let mut outcome = ReplayOutcome {
        last_seq: checkpoint,
        ..Default::default()
    };
    let count = segments.len();
    for (i, (_, path)) in segments.iter().enumerate() {
        let last_segment = i + 1 == count;
        let buf =
            fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let (first_seq, version) = match record::decode_header(&buf) {
            Header::Valid { first_seq, version } => (first_seq, version),
            Header::UnknownVersion(v) => {
                return Err(Error::UnsupportedFormat {
                    path: path.clone(),
                    detail: format!(
                        "WAL format version {v}; this build reads versions {} to {}",
                        record::OLDEST_VERSION,
                        record::VERSION
                    ),
                });
            }
            Header::Bad(detail) => {
                if last_segment && buf.len() < record::HEADER_LEN {
                    // A crash while creating the newest segment: it holds nothing.
                    warn!(path = %path.display(), "removing a WAL segment torn during creation");
                    fs::remove_file(path)
                        .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
                    continue;
                }
                return Err(Error::corruption(path, detail));
            }
        };
        let mut expected = first_seq;
        let mut pos = record::HEADER_LEN;
        while pos < buf.len() {
            match record::decode_record(&buf[pos..], version) {
                Decoded::Record { record, len } => {
                    let seq = record.seq;
                    if seq != expected {
                        return Err(Error::corruption(
                            path,
                            format!(
                                "record at offset {pos} has sequence {seq}, expected {expected}"
                            ),
                        ));
                    }
                    if seq > checkpoint {
                        if seq != outcome.last_seq + 1 {
                            return Err(Error::corruption(
                                path,
                                format!(
                                    "the log jumps from sequence {} to {seq}: records are missing",
                                    outcome.last_seq
                                ),
                            ));
                        }
                        outcome.last_commit_ms = record.commit_ms;
                        apply(record)?;
                        outcome.applied += 1;
                        outcome.last_seq = seq;
                    }
                    expected = seq + 1;
                    pos += len;
                }
                Decoded::Truncated | Decoded::Damaged(_)
                    if last_segment && !valid_record_after(&buf, pos, expected, version) =>
                {
                    let cut = (buf.len() - pos) as u64;
                    warn!(path = %path.display(), offset = pos, bytes = cut, "truncating a torn WAL tail");
                    let f = OpenOptions::new()
                        .write(true)
                        .open(path)
                        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
                    f.set_len(pos as u64)
                        .and_then(|()| f.sync_all())
                        .map_err(|e| Error::io(format!("truncating {}", path.display()), e))?;
                    outcome.truncated_bytes = cut;
                    break;
                }
                Decoded::Truncated => {
                    return Err(Error::corruption(
                        path,
                        format!("record at offset {pos} is cut short, but newer segments follow"),
                    ));
                }
                Decoded::Damaged(detail) => {
                    return Err(Error::corruption(
                        path,
                        format!(
                            "record at offset {pos} (sequence {expected}): {detail}, and valid records follow it"
                        ),
                    ));
                }
            }
        }
    }
    Ok(outcome)
}

/// Whether a valid record with a later sequence number than the damaged one at `pos` exists
/// further on: then the damage is in the middle of the log, not a torn tail.
fn valid_record_after(buf: &[u8], pos: usize, damaged_seq: Seq, version: u32) -> bool {
    let next = (damaged_seq + 1).to_le_bytes();
    let mut from = pos + 1;
    while let Some(found) = find(&buf[from.min(buf.len())..], &next) {
        let seq_at = from + found;
        if seq_at >= 8
            && seq_at - 8 > pos
            && let Decoded::Record { record, .. } =
                record::decode_record(&buf[seq_at - 8..], version)
            && record.seq == damaged_seq + 1
        {
            return true;
        }
        from = seq_at + 1;
    }
    false
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads up to `limit` records with sequence numbers above `after`, for streaming the log.
/// Stops quietly at an incomplete tail (a write in progress).
pub(crate) fn read_records(dir: &Path, after: Seq, limit: usize) -> Result<Vec<LogRecord>> {
    let segments = list_segments(dir)?;
    let mut out = Vec::new();
    // Skip segments that end before `after`: a segment ends where the next one starts.
    let start = segments
        .iter()
        .rposition(|(first, _)| *first <= after + 1)
        .unwrap_or(0);
    for (_, path) in &segments[start..] {
        let buf =
            fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let Header::Valid { version, .. } = record::decode_header(&buf) else {
            return Err(Error::corruption(path, "bad WAL segment header"));
        };
        let mut pos = record::HEADER_LEN;
        while pos < buf.len() && out.len() < limit {
            match record::decode_record(&buf[pos..], version) {
                Decoded::Record { record, len } => {
                    if record.seq > after {
                        out.push(record);
                    }
                    pos += len;
                }
                Decoded::Truncated => break,
                Decoded::Damaged(d) => {
                    return Err(Error::corruption(path, format!("offset {pos}: {d}")));
                }
            }
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kv::KvOp;

    #[test]
    fn a_version_1_segment_beside_a_version_2_one_replays_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let put = |k: &str| vec![KvOp::put(k.as_bytes().to_vec(), b"v".to_vec())];
        let mut old = record::encode_v1_header(1).to_vec();
        old.extend(record::encode_v1_record(1, &put("a")));
        old.extend(record::encode_v1_record(2, &put("b")));
        fs::write(dir.path().join(super::super::segment_name(1)), old).expect("write");
        let mut new = record::encode_header(3).to_vec();
        record::encode_record(3, 1_700_000_000_000, &put("c"), &mut new);
        fs::write(dir.path().join(super::super::segment_name(3)), new).expect("write");

        let mut seen = Vec::new();
        let outcome = replay(dir.path(), 0, |r| {
            seen.push((r.seq, r.commit_ms, r.ops));
            Ok(())
        })
        .expect("replays");
        assert_eq!(
            seen,
            vec![
                (1, 0, put("a")),
                (2, 0, put("b")),
                (3, 1_700_000_000_000, put("c"))
            ]
        );
        assert_eq!(outcome.last_seq, 3);
        assert_eq!(outcome.last_commit_ms, 1_700_000_000_000);
        let read = read_records(dir.path(), 1, 10).expect("reads");
        assert_eq!(read.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 3]);
    }
}
