//! The role a server was given at run time (`promote`, `demote`, `follow`), kept in its data
//! directory so that a restart does not undo it: a server told to follow another keeps
//! following that one, a demoted one stays read-only. A server that led when it stopped comes
//! back *demoted* (read-only, following nobody) unless its configuration makes it a leader:
//! another server may lead by now, so it never takes writes again on its own; `promote` (a new
//! epoch) or `follow` decides.
//!
//! The file also records the role the configuration gave when it was written. At start the
//! saved role counts while the configuration still says the same; a configuration changed since
//! (someone, or an operator, chose a role on purpose) wins and the file goes.
//!
//! Two lines: the role, then `configured ` and the configured role; a role is `standalone`,
//! `leader`, `demoted` or `follower <endpoint>`.

use std::{fs, io::Write as _, path::Path};

use super::{Role, error::ReplicationError};

/// The file, inside the data directory.
pub const ROLE_FILE: &str = "replication-role";

/// What the file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The role given at run time.
    pub role: Role,
    /// The role the configuration gave when it was.
    pub configured: Role,
}

/// What was saved in `data_dir`, if anything.
pub fn load(data_dir: &Path) -> Result<Option<Saved>, ReplicationError> {
    let path = data_dir.join(ROLE_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(ReplicationError::File {
                what: "reading",
                path,
                source,
            });
        }
    };
    let mut lines = text.lines().map(str::trim);
    let role = lines.next().and_then(parse);
    let configured = lines
        .next()
        .and_then(|l| l.strip_prefix("configured "))
        .and_then(parse);
    match (role, configured) {
        (Some(role), Some(configured)) => Ok(Some(Saved { role, configured })),
        _ => Err(ReplicationError::RoleFile {
            path,
            found: text.chars().take(200).collect(),
        }),
    }
}

fn parse(line: &str) -> Option<Role> {
    match line.split_once(' ') {
        None if line == "standalone" => Some(Role::Standalone),
        None if line == "leader" => Some(Role::Leader),
        None if line == "demoted" => Some(Role::Demoted),
        Some(("follower", endpoint)) if !endpoint.trim().is_empty() => {
            Some(Role::Follower(endpoint.trim().to_string()))
        }
        _ => None,
    }
}

fn line(role: &Role) -> String {
    match role {
        Role::Follower(endpoint) => format!("follower {endpoint}"),
        other => other.name().to_string(),
    }
}

/// Saves `saved` in `data_dir` durably (a new file renamed over the old one, then the
/// directory synced).
pub fn save(data_dir: &Path, saved: &Saved) -> Result<(), ReplicationError> {
    let path = data_dir.join(ROLE_FILE);
    let tmp = data_dir.join(format!("{ROLE_FILE}.tmp"));
    let err = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| ReplicationError::File { what, path, source }
    };
    let text = format!(
        "{}\nconfigured {}\n",
        line(&saved.role),
        line(&saved.configured)
    );
    let mut f = fs::File::create(&tmp).map_err(err("writing", &tmp))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(err("writing", &tmp))?;
    fs::rename(&tmp, &path).map_err(err("replacing", &path))?;
    fs::File::open(data_dir)
        .and_then(|d| d.sync_all())
        .map_err(err("syncing", data_dir))
}

/// Removes the file (the configuration gives the role again).
pub fn remove(data_dir: &Path) -> Result<(), ReplicationError> {
    let path = data_dir.join(ROLE_FILE);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ReplicationError::File {
            what: "removing",
            path,
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_reads_back_as_saved() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(load(dir.path()).expect("load"), None);
        for role in [
            Role::Leader,
            Role::Demoted,
            Role::Follower("https://db-1:23469".into()),
        ] {
            let saved = Saved {
                role,
                configured: Role::Follower("https://db-0:23469".into()),
            };
            save(dir.path(), &saved).expect("save");
            assert_eq!(load(dir.path()).expect("load"), Some(saved));
        }
        remove(dir.path()).expect("remove");
        assert_eq!(load(dir.path()).expect("load"), None);
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join(ROLE_FILE), "captain\n").expect("write");
        let e = load(dir.path()).expect_err("not a role");
        assert!(e.to_string().contains(ROLE_FILE), "{e}");
        assert!(e.to_string().contains("captain"), "{e}");
    }
}
