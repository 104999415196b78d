//! Reading the WAL back: recovery after a crash, and streaming the log to a replica.

use std::{
    fs::{self, OpenOptions},
    path::Path,
};

use tracing::warn;

use super::{
    list_segments,
    record::{self, Decoded, Header},
};
use crate::{
    error::{Error, Result},
    kv::{KvOp, Seq},
};

/// What recovery found in the WAL.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ReplayOutcome {
    /// The last sequence number in the log (or the checkpoint, if the log held nothing newer).
    pub last_seq: Seq,
    /// Records applied.
    pub applied: u64,
    /// Bytes cut off a torn tail.
    pub truncated_bytes: u64,
}

/// Replays every record after `checkpoint` in order through `apply`, truncating a torn tail of
/// the newest segment. Damage anywhere else is an error: replay never skips a record.
pub(crate) fn replay(
    dir: &Path,
    checkpoint: Seq,
    mut apply: impl FnMut(Seq, Vec<KvOp>) -> Result<()>,
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
        let first_seq = match record::decode_header(&buf) {
            Header::Valid { first_seq } => first_seq,
            Header::UnknownVersion(v) => {
                return Err(Error::UnsupportedFormat {
                    path: path.clone(),
                    detail: format!(
                        "WAL format version {v}; this build reads version {}",
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
            match record::decode_record(&buf[pos..]) {
                Decoded::Record { seq, ops, len } => {
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
                        apply(seq, ops)?;
                        outcome.applied += 1;
                        outcome.last_seq = seq;
                    }
                    expected = seq + 1;
                    pos += len;
                }
                Decoded::Truncated | Decoded::Damaged(_)
                    if last_segment && !valid_record_after(&buf, pos, expected) =>
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
fn valid_record_after(buf: &[u8], pos: usize, damaged_seq: Seq) -> bool {
    let next = (damaged_seq + 1).to_le_bytes();
    let mut from = pos + 1;
    while let Some(found) = find(&buf[from.min(buf.len())..], &next) {
        let seq_at = from + found;
        if seq_at >= 8
            && seq_at - 8 > pos
            && let Decoded::Record { seq, .. } = record::decode_record(&buf[seq_at - 8..])
            && seq == damaged_seq + 1
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
pub(crate) fn read_records(dir: &Path, after: Seq, limit: usize) -> Result<Vec<(Seq, Vec<KvOp>)>> {
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
        if !matches!(record::decode_header(&buf), Header::Valid { .. }) {
            return Err(Error::corruption(path, "bad WAL segment header"));
        }
        let mut pos = record::HEADER_LEN;
        while pos < buf.len() && out.len() < limit {
            match record::decode_record(&buf[pos..]) {
                Decoded::Record { seq, ops, len } => {
                    if seq > after {
                        out.push((seq, ops));
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
