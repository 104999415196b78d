//! The data directory's lock: one engine per directory, across processes and within one.

use std::{
    fs::{File, TryLockError},
    path::Path,
};

use crate::error::{Error, Result};

/// An exclusive lock on `LOCK` in the data directory, held while the engine is open.
///
/// The lock belongs to the open file, and a child process started by another thread copies
/// every open file until it runs its program; closing alone would leave the lock held by
/// that copy for a moment. Dropping unlocks explicitly first, so the directory opens again at
/// once.
pub(crate) struct DirLock(File);

impl DirLock {
    /// Takes the lock, or says the directory is open elsewhere.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join("LOCK");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock(file)),
            Err(TryLockError::WouldBlock) => Err(Error::Locked {
                dir: dir.to_path_buf(),
            }),
            Err(TryLockError::Error(e)) => Err(Error::io(format!("locking {}", path.display()), e)),
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Closing follows; an unlock that fails leaves only what closing releases anyway.
        let _ = self.0.unlock();
    }
}
