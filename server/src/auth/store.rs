//! Users and API keys persisted in the system space `_system` (stores `users` and
//! `api_keys`), written through the engine like any document, so they share its durability.

use bson::Bson;
use serde::{Deserialize, Serialize};
use shinydb_engine::{Db, Error, Write};

use super::roles::Grant;

/// The system space.
pub const SYSTEM_SPACE: &str = "_system";
/// The store of users.
pub const USERS: &str = "users";
/// The store of API keys.
pub const API_KEYS: &str = "api_keys";

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    /// User name.
    #[serde(rename = "_id")]
    pub name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Roles.
    pub grants: Vec<Grant>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

/// An API key as stored: never its secret, only the secret's SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// The key's id, hex.
    #[serde(rename = "_id")]
    pub id: String,
    /// The user it acts as.
    pub user: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// A note for people.
    pub description: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Expiry, milliseconds since the Unix epoch; 0: never.
    pub expires_at_ms: i64,
}

fn ignore_exists(r: Result<(), Error>) -> Result<(), Error> {
    match r {
        Err(Error::AlreadyExists { .. }) => Ok(()),
        other => other,
    }
}

/// Creates the system space and its stores if they are missing.
pub fn ensure(db: &Db) -> Result<(), Error> {
    ignore_exists(db.create_system_space(SYSTEM_SPACE))?;
    ignore_exists(db.create_store(SYSTEM_SPACE, USERS))?;
    ignore_exists(db.create_store(SYSTEM_SPACE, API_KEYS))
}

fn decode<T: for<'de> Deserialize<'de>>(
    raw: Result<bson::RawDocumentBuf, Error>,
) -> Result<T, Error> {
    let doc = raw?;
    bson::from_slice(doc.as_bytes()).map_err(|e| Error::Corruption {
        path: SYSTEM_SPACE.into(),
        detail: format!("a stored user or key does not decode: {e}"),
    })
}

/// Every user and API key.
pub fn load(db: &Db) -> Result<(Vec<UserRecord>, Vec<ApiKeyRecord>), Error> {
    let snap = db.snapshot();
    let users = snap
        .scan(SYSTEM_SPACE, USERS, false)?
        .map(decode)
        .collect::<Result<Vec<UserRecord>, _>>()?;
    let keys = snap
        .scan(SYSTEM_SPACE, API_KEYS, false)?
        .map(decode)
        .collect::<Result<Vec<ApiKeyRecord>, _>>()?;
    Ok((users, keys))
}

fn to_doc<T: Serialize>(v: &T) -> Result<bson::Document, Error> {
    bson::to_document(v).map_err(|e| Error::InvalidArgument(e.to_string()))
}

/// A write inserting a new user.
pub fn insert_user(u: &UserRecord) -> Result<Write, Error> {
    Ok(Write::Insert {
        space: SYSTEM_SPACE.into(),
        store: USERS.into(),
        doc: to_doc(u)?,
    })
}

/// A write replacing a user.
pub fn replace_user(u: &UserRecord) -> Result<Write, Error> {
    Ok(Write::Replace {
        space: SYSTEM_SPACE.into(),
        store: USERS.into(),
        id: Bson::String(u.name.clone()),
        doc: to_doc(u)?,
    })
}

/// A write deleting a user.
pub fn delete_user(name: &str) -> Write {
    Write::Delete {
        space: SYSTEM_SPACE.into(),
        store: USERS.into(),
        id: Bson::String(name.into()),
    }
}

/// A write inserting an API key.
pub fn insert_key(k: &ApiKeyRecord) -> Result<Write, Error> {
    Ok(Write::Insert {
        space: SYSTEM_SPACE.into(),
        store: API_KEYS.into(),
        doc: to_doc(k)?,
    })
}

/// A write deleting an API key.
pub fn delete_key(id: &str) -> Write {
    Write::Delete {
        space: SYSTEM_SPACE.into(),
        store: API_KEYS.into(),
        id: Bson::String(id.into()),
    }
}
