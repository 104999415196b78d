//! Epochs: each promotion begins one, recorded as a document in `_system.epochs`
//! (`{_id: epoch, start_seq, leader, at_ms}`) written as the epoch's first batch. The record
//! replicates like any data, so a follower's data says which epoch it has reached, and a
//! seeded copy carries the whole history.

use bson::doc;
use shinydb_engine::{Db, Error, Result};

use crate::auth::store::SYSTEM_SPACE;

/// The store holding the epoch records.
pub const EPOCHS: &str = "epochs";

/// One epoch: its number and the sequence number of its first batch (its record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    /// The epoch.
    pub epoch: u64,
    /// Its first batch.
    pub start_seq: u64,
}

/// Every epoch recorded in `db`, oldest first (empty: the data never had a leader).
pub fn history(db: &Db) -> Result<Vec<Epoch>> {
    let snap = db.snapshot();
    let docs = match snap.scan(SYSTEM_SPACE, EPOCHS, false) {
        Ok(d) => d,
        Err(Error::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for d in docs {
        let d = d?;
        let (Ok(epoch), Ok(start)) = (d.get_i64("_id"), d.get_i64("start_seq")) else {
            return Err(Error::Internal(
                "an epoch record lacks its _id or start_seq".into(),
            ));
        };
        out.push(Epoch {
            epoch: u64::try_from(epoch).unwrap_or(0),
            start_seq: u64::try_from(start).unwrap_or(0),
        });
    }
    out.sort_by_key(|e| e.epoch);
    Ok(out)
}

/// The newest epoch in `db` (0: none).
pub fn current(db: &Db) -> Result<u64> {
    Ok(history(db)?.last().map_or(0, |e| e.epoch))
}

/// Where the data written in epochs up to `epoch` ends on a server whose history is
/// `history`: the batch before the first later epoch began (`None`: no later epoch, so
/// nothing of it was cut off).
pub fn end_of(history: &[Epoch], epoch: u64) -> Option<u64> {
    history
        .iter()
        .find(|e| e.epoch > epoch)
        .map(|e| e.start_seq.saturating_sub(1))
}

/// Begins the next epoch, led by `leader`: writes its record as the next batch. Returns the
/// epoch and its first batch.
pub fn begin(db: &Db, leader: &str) -> Result<(u64, u64)> {
    match db.create_store(SYSTEM_SPACE, EPOCHS) {
        Ok(()) | Err(Error::AlreadyExists { .. }) => {}
        Err(e) => return Err(e),
    }
    let epoch = current(db)? + 1;
    let start = db.last_seq() + 1;
    let at_ms = crate::auth::now_ms();
    db.insert(
        SYSTEM_SPACE,
        EPOCHS,
        doc! {
            "_id": i64::try_from(epoch).unwrap_or(i64::MAX),
            "start_seq": i64::try_from(start).unwrap_or(i64::MAX),
            "leader": leader,
            "at_ms": at_ms,
        },
    )?;
    Ok((epoch, start))
}

/// The current epoch, beginning the first one if the data has none (a leader's first start).
pub fn ensure(db: &Db, leader: &str) -> Result<u64> {
    match current(db)? {
        0 => Ok(begin(db, leader)?.0),
        e => Ok(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_ends_where_the_next_began() {
        let h = [
            Epoch {
                epoch: 1,
                start_seq: 3,
            },
            Epoch {
                epoch: 2,
                start_seq: 40,
            },
        ];
        assert_eq!(end_of(&h, 1), Some(39));
        assert_eq!(end_of(&h, 0), Some(2));
        assert_eq!(end_of(&h, 2), None);
    }
}
