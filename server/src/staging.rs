//! Replacing a data directory by a copy built beside it (a restore, a follower's seed), also
//! when the data directory is a mount point (a Kubernetes volume), which cannot be renamed.
//!
//! - A missing target: the copy is built in `<parent>/.<name>.<purpose>` and renamed into
//!   place in one step.
//! - An existing target: the copy is built inside it, in `.staging-<purpose>`. The swap moves
//!   the target's entries into `.replaced-<purpose>`, then the copy's entries up, under a
//!   journal (`.swap`) written only once the copy is complete and synced. A swap cut short by a
//!   crash is finished by [`finish_interrupted`], which the next restore, seed and server start
//!   call first, so the directory is never left half old, half new.
//!
//! `lost+found` (the file system's own) stays where it is.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// The journal of a swap in progress: the purpose, then the phase.
const JOURNAL: &str = ".swap";
const STAGING_PREFIX: &str = ".staging-";
const REPLACED_PREFIX: &str = ".replaced-";
/// Entries of a target that are never its data.
const FILE_SYSTEM_OWN: &str = "lost+found";

/// Phase of a swap, as the journal records it.
const PHASE_ASIDE: &str = "aside";
const PHASE_IN: &str = "in";

/// A file operation of staging or swapping failed.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub struct StagingError {
    /// What was being done.
    pub what: &'static str,
    /// The path it was done to.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

fn err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StagingError {
    let path = path.to_path_buf();
    move |source| StagingError { what, path, source }
}

/// A directory being built to replace a target directory.
#[derive(Debug)]
pub struct Staging {
    path: PathBuf,
    target: PathBuf,
    purpose: String,
    inside: bool,
}

impl Staging {
    /// An empty staging directory for replacing `target` (for `purpose`, a short name such as
    /// `restore` or `seed`): inside `target` when it exists, beside it otherwise. A swap an
    /// earlier run left unfinished is finished first; a leftover staging directory is removed.
    pub fn new(target: &Path, purpose: &str) -> Result<Staging, StagingError> {
        finish_interrupted(target)?;
        let inside = target.is_dir();
        let path = if inside {
            target.join(format!("{STAGING_PREFIX}{purpose}"))
        } else {
            let name = target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .ok_or_else(|| StagingError {
                    what: "replacing",
                    path: target.to_path_buf(),
                    source: io::Error::other("the directory needs a name"),
                })?;
            target
                .parent()
                .unwrap_or(Path::new("."))
                .join(format!(".{name}.{purpose}"))
        };
        if path.exists() {
            fs::remove_dir_all(&path).map_err(err("removing a leftover", &path))?;
        }
        fs::create_dir_all(&path).map_err(err("creating", &path))?;
        Ok(Staging {
            path,
            target: target.to_path_buf(),
            purpose: purpose.to_string(),
            inside,
        })
    }

    /// Where the copy is built.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes the copy; the target stays as it was.
    pub fn discard(self) {
        let _ = fs::remove_dir_all(&self.path);
    }

    /// Syncs the copy and puts it in the target's place; what the target held is removed.
    pub fn swap(self) -> Result<(), StagingError> {
        sync_tree(&self.path)?;
        if !self.inside {
            fs::rename(&self.path, &self.target)
                .map_err(err("moving the copy to", &self.target))?;
            return sync_dir(self.target.parent().unwrap_or(Path::new(".")));
        }
        write_journal(&self.target, &self.purpose, PHASE_ASIDE)?;
        finish_interrupted(&self.target).map(drop)
    }
}

/// Whether `dir` holds anything besides `lost+found` and a staging directory.
pub fn holds_data(dir: &Path) -> Result<bool, StagingError> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(err("reading", dir))?;
                if !reserved(&entry.file_name().to_string_lossy()) {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StagingError {
            what: "reading",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Finishes a swap into `target` that a crash cut short, and removes what an earlier swap
/// set aside. Returns whether there was a swap to finish.
pub fn finish_interrupted(target: &Path) -> Result<bool, StagingError> {
    let journal = target.join(JOURNAL);
    let text = match fs::read_to_string(&journal) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            remove_replaced(target)?;
            return Ok(false);
        }
        Err(source) => {
            return Err(StagingError {
                what: "reading",
                path: journal,
                source,
            });
        }
    };
    let mut lines = text.lines();
    let (Some(purpose), Some(phase)) = (lines.next(), lines.next()) else {
        return Err(StagingError {
            what: "reading",
            path: journal,
            source: io::Error::new(io::ErrorKind::InvalidData, "not a swap journal"),
        });
    };
    let staging = target.join(format!("{STAGING_PREFIX}{purpose}"));
    let replaced = target.join(format!("{REPLACED_PREFIX}{purpose}"));
    if phase == PHASE_ASIDE {
        // Until the journal says `in`, every unreserved entry of the target is old data.
        fs::create_dir_all(&replaced).map_err(err("creating", &replaced))?;
        move_entries(target, &replaced)?;
        sync_dir(target)?;
        write_journal(target, purpose, PHASE_IN)?;
    }
    move_entries(&staging, target)?;
    sync_dir(target)?;
    fs::remove_file(&journal).map_err(err("removing", &journal))?;
    sync_dir(target)?;
    let _ = fs::remove_dir(&staging);
    remove_replaced(target)?;
    tracing::info!(dir = %target.display(), purpose, "data directory swapped");
    Ok(true)
}

fn reserved(name: &str) -> bool {
    name == FILE_SYSTEM_OWN
        || name == JOURNAL
        || name.starts_with(STAGING_PREFIX)
        || name.starts_with(REPLACED_PREFIX)
}

/// Moves every unreserved entry of `from` into `to`.
fn move_entries(from: &Path, to: &Path) -> Result<(), StagingError> {
    let entries = match fs::read_dir(from) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StagingError {
                what: "reading",
                path: from.to_path_buf(),
                source,
            });
        }
    };
    for entry in entries {
        let entry = entry.map_err(err("reading", from))?;
        let name = entry.file_name();
        if reserved(&name.to_string_lossy()) {
            continue;
        }
        fs::rename(entry.path(), to.join(&name)).map_err(err("moving", &entry.path()))?;
    }
    Ok(())
}

fn remove_replaced(target: &Path) -> Result<(), StagingError> {
    let Ok(entries) = fs::read_dir(target) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(REPLACED_PREFIX)
        {
            let path = entry.path();
            fs::remove_dir_all(&path).map_err(err("removing the replaced data in", &path))?;
        }
    }
    Ok(())
}

fn write_journal(target: &Path, purpose: &str, phase: &str) -> Result<(), StagingError> {
    let journal = target.join(JOURNAL);
    let next = target.join(format!("{JOURNAL}.next"));
    fs::write(&next, format!("{purpose}\n{phase}\n")).map_err(err("writing", &next))?;
    File::open(&next)
        .and_then(|f| f.sync_all())
        .map_err(err("syncing", &next))?;
    fs::rename(&next, &journal).map_err(err("writing", &journal))?;
    sync_dir(target)
}

fn sync_dir(dir: &Path) -> Result<(), StagingError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err("syncing", dir))
}

/// Syncs every file and directory under `dir`, and `dir` itself.
fn sync_tree(dir: &Path) -> Result<(), StagingError> {
    for entry in fs::read_dir(dir).map_err(err("reading", dir))? {
        let entry = entry.map_err(err("reading", dir))?;
        let path = entry.path();
        if entry.file_type().map_err(err("reading", &path))?.is_dir() {
            sync_tree(&path)?;
        } else {
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(err("syncing", &path))?;
        }
    }
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn build(staging: &Staging, files: &[(&str, &str)]) {
        for (name, text) in files {
            fs::write(staging.path().join(name), text).expect("write");
        }
    }

    #[test]
    fn a_missing_target_is_renamed_into_place() {
        let root = tempfile::tempdir().expect("tempdir");
        let target = root.path().join("data");
        let staging = Staging::new(&target, "restore").expect("stage");
        assert!(!staging.path().starts_with(&target));
        build(&staging, &[("a", "new")]);
        staging.swap().expect("swap");
        assert_eq!(names(&target), ["a"]);
        assert_eq!(names(root.path()), ["data"], "nothing left beside it");
    }

    #[test]
    fn an_existing_target_is_replaced_from_inside_keeping_lost_and_found() {
        let root = tempfile::tempdir().expect("tempdir");
        let target = root.path().join("volume");
        fs::create_dir_all(target.join("lost+found")).expect("mkdir");
        fs::create_dir_all(target.join("wal")).expect("mkdir");
        fs::write(target.join("wal/1"), "old").expect("write");
        fs::write(target.join("a"), "old").expect("write");
        assert!(holds_data(&target).expect("look"));

        let staging = Staging::new(&target, "restore").expect("stage");
        assert!(
            staging.path().starts_with(&target),
            "built inside the volume"
        );
        build(&staging, &[("a", "new"), ("b", "new")]);
        staging.swap().expect("swap");
        assert_eq!(names(&target), ["a", "b", "lost+found"]);
        assert_eq!(fs::read_to_string(target.join("a")).expect("read"), "new");
    }

    #[test]
    fn an_empty_volume_holds_no_data() {
        let root = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(root.path().join("lost+found")).expect("mkdir");
        assert!(!holds_data(root.path()).expect("look"));
        assert!(!holds_data(&root.path().join("missing")).expect("look"));
    }

    #[test]
    fn a_discarded_copy_leaves_the_target_as_it_was() {
        let root = tempfile::tempdir().expect("tempdir");
        fs::write(root.path().join("a"), "old").expect("write");
        let staging = Staging::new(root.path(), "restore").expect("stage");
        build(&staging, &[("a", "new")]);
        staging.discard();
        assert_eq!(names(root.path()), ["a"]);
        assert_eq!(
            fs::read_to_string(root.path().join("a")).expect("read"),
            "old"
        );
    }

    /// A crash after the journal said `aside` and one old entry moved: the next start finishes
    /// the swap forward; a crash after `in` with one new entry moved likewise.
    #[test]
    fn a_swap_cut_short_in_either_phase_is_finished() {
        for phase in [PHASE_ASIDE, PHASE_IN] {
            let root = tempfile::tempdir().expect("tempdir");
            let t = root.path();
            let staging = t.join(".staging-restore");
            let replaced = t.join(".replaced-restore");
            fs::create_dir_all(&staging).expect("mkdir");
            fs::create_dir_all(&replaced).expect("mkdir");
            fs::write(staging.join("b"), "new").expect("write");
            if phase == PHASE_ASIDE {
                fs::write(replaced.join("x"), "old").expect("write");
                fs::write(t.join("a"), "old").expect("write");
                fs::write(staging.join("a"), "new").expect("write");
            } else {
                fs::write(replaced.join("a"), "old").expect("write");
                fs::write(t.join("a"), "new").expect("write");
            }
            write_journal(t, "restore", phase).expect("journal");

            assert!(finish_interrupted(t).expect("finish"), "{phase}");
            assert_eq!(names(t), ["a", "b"], "{phase}");
            assert_eq!(fs::read_to_string(t.join("a")).expect("read"), "new");
            assert!(!finish_interrupted(t).expect("again"), "{phase}: done once");
        }
    }
}
