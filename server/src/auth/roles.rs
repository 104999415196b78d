//! Roles, grants and the permission matrix.
//!
//! | operation | needs |
//! |---|---|
//! | read documents, queries that read, list stores and indexes, store stats | `read_only` in the space |
//! | insert, update, replace, delete, batches, queries that write | `read_write` in the space |
//! | create or drop stores and indexes | `admin` in the space |
//! | create or drop spaces, users, roles; other users' keys and passwords; server stats and log level | global `admin` |
//! | list spaces (only those it may read), own password, own API keys, logout, whoami, server info | any authenticated user |
//! | stream the replication log, take a seeding snapshot | global `replication` or global `admin` |
//!
//! A grant without a space applies to every space. Roles are ordered: `admin` includes
//! `read_write`, which includes `read_only`; `replication` (global only) includes nothing else. System spaces (names starting with `_`) are never
//! reachable through the document, query or catalog services.

use std::{fmt, sync::Arc};

use serde::{Deserialize, Serialize};
use shinydb_proto::v1;
use tonic::Status;

/// A role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Only the replication log and snapshots, globally (a follower's credential). First, so
    /// that it includes no other role.
    Replication,
    /// Reads.
    ReadOnly,
    /// Reads and document writes.
    ReadWrite,
    /// Everything.
    Admin,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Replication => "replication",
            Role::ReadOnly => "read_only",
            Role::ReadWrite => "read_write",
            Role::Admin => "admin",
        })
    }
}

impl Role {
    /// From the protocol's enum value.
    pub fn from_proto(v: i32) -> Result<Role, Status> {
        match v1::Role::try_from(v) {
            Ok(v1::Role::ReadOnly) => Ok(Role::ReadOnly),
            Ok(v1::Role::ReadWrite) => Ok(Role::ReadWrite),
            Ok(v1::Role::Admin) => Ok(Role::Admin),
            Ok(v1::Role::Replication) => Ok(Role::Replication),
            _ => Err(Status::invalid_argument(format!(
                "role {v} is not one of read_only (1), read_write (2), admin (3), replication (4)"
            ))),
        }
    }

    /// The protocol's enum value.
    pub fn to_proto(self) -> v1::Role {
        match self {
            Role::ReadOnly => v1::Role::ReadOnly,
            Role::ReadWrite => v1::Role::ReadWrite,
            Role::Admin => v1::Role::Admin,
            Role::Replication => v1::Role::Replication,
        }
    }
}

/// A role granted globally (`space: None`) or in one space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// The space, or every space.
    pub space: Option<String>,
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.space {
            Some(s) => write!(f, "{} on {s}", self.role),
            None => write!(f, "{} globally", self.role),
        }
    }
}

impl Grant {
    /// From the protocol.
    pub fn from_proto(g: &v1::Grant) -> Result<Grant, Status> {
        let space = match g.space.as_deref() {
            None | Some("") => None,
            Some(s) if s.starts_with('_') => {
                return Err(Status::invalid_argument(format!(
                    "space {s} is reserved for the system; roles cannot be granted on it"
                )));
            }
            Some(s) => Some(s.to_string()),
        };
        let role = Role::from_proto(g.role)?;
        if role == Role::Replication
            && let Some(s) = &space
        {
            return Err(Status::invalid_argument(format!(
                "the replication role is global; it cannot be granted on space {s}"
            )));
        }
        Ok(Grant { role, space })
    }

    /// To the protocol.
    pub fn to_proto(&self) -> v1::Grant {
        v1::Grant {
            role: self.role.to_proto() as i32,
            space: self.space.clone(),
        }
    }
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read documents or the catalog.
    Read,
    /// Write documents.
    Write,
    /// Change stores, indexes (in a space) or spaces, users and settings (globally).
    Admin,
    /// Read the replication log and snapshots (the `replication` role or global admin).
    Replicate,
}

impl Access {
    fn role(self) -> Role {
        match self {
            Access::Read => Role::ReadOnly,
            Access::Write => Role::ReadWrite,
            Access::Admin => Role::Admin,
            Access::Replicate => Role::Replication,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::Admin => "administer",
            Access::Replicate => "replicate",
        }
    }
}

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// A session token from `Login`.
    Session([u8; 16]),
    /// An API key.
    ApiKey([u8; 16]),
    /// The replica set's shared peer key (`replication.credential_file`).
    PeerKey,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// User name.
    pub user: String,
    /// Its grants, as they are now.
    pub grants: Arc<Vec<Grant>>,
    /// Session or API key.
    pub method: Method,
    /// When the credential expires, milliseconds since the Unix epoch (0: never).
    pub expires_at_ms: i64,
}

impl Principal {
    /// Whether the caller has `access` in `space` (`None`: globally).
    pub fn allows(&self, access: Access, space: Option<&str>) -> bool {
        if space.is_some_and(|s| s.starts_with('_')) {
            return false;
        }
        if access == Access::Replicate {
            return self
                .grants
                .iter()
                .any(|g| g.space.is_none() && matches!(g.role, Role::Replication | Role::Admin));
        }
        let need = access.role();
        self.grants.iter().any(|g| {
            g.role >= need
                && match (&g.space, space) {
                    (None, _) => true,
                    (Some(gs), Some(s)) => gs == s,
                    (Some(_), None) => false,
                }
        })
    }

    /// `PermissionDenied` unless the caller has `access` in `space` (`None`: globally).
    pub fn require(&self, access: Access, space: Option<&str>) -> Result<(), Status> {
        if let Some(s) = space
            && s.starts_with('_')
        {
            return Err(Status::permission_denied(format!(
                "space {s} is reserved for the system"
            )));
        }
        if self.allows(access, space) {
            return Ok(());
        }
        let held = if self.grants.is_empty() {
            "no roles".to_string()
        } else {
            self.grants
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let where_ = match space {
            Some(s) => format!("in space {s}"),
            None => "globally".to_string(),
        };
        Err(Status::permission_denied(format!(
            "user {} may not {} {where_}: it needs the {} role there and holds {held}",
            self.user,
            access.verb(),
            access.role(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(grants: Vec<Grant>) -> Principal {
        Principal {
            user: "u".into(),
            grants: Arc::new(grants),
            method: Method::Session([0; 16]),
            expires_at_ms: 0,
        }
    }

    #[test]
    fn roles_nest_and_spaces_scope() {
        let g = |role, space: Option<&str>| Grant {
            role,
            space: space.map(String::from),
        };
        let ro = p(vec![g(Role::ReadOnly, None)]);
        assert!(ro.allows(Access::Read, Some("a")));
        assert!(!ro.allows(Access::Write, Some("a")));
        let rw_a = p(vec![g(Role::ReadWrite, Some("a"))]);
        assert!(rw_a.allows(Access::Write, Some("a")));
        assert!(rw_a.allows(Access::Read, Some("a")));
        assert!(!rw_a.allows(Access::Read, Some("b")));
        assert!(!rw_a.allows(Access::Read, None));
        let admin = p(vec![g(Role::Admin, None)]);
        assert!(admin.allows(Access::Admin, None));
        assert!(!admin.allows(Access::Read, Some("_system")));
        let e = rw_a
            .require(Access::Admin, Some("a"))
            .expect_err("must fail");
        assert!(e.message().contains("read_write on a"), "{}", e.message());
    }
}
