//! How far a running backup or restore is: bytes done of bytes expected, read by
//! `Backups/Status` and the restore command's progress bar while the work goes on.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes done of bytes expected; both 0 before the work knows its size.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicU64,
    total: AtomicU64,
}

impl Progress {
    /// Starts over: `total` bytes to do, none done.
    pub fn start(&self, total: u64) {
        self.done.store(0, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    /// `n` more bytes done.
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// (done, total).
    pub fn get(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }
}
