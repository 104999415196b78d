//! Authentication and access control: users with argon2id passwords, sessions and API keys
//! (random 256-bit secrets kept only as SHA-256 hashes, compared in constant time), roles
//! ([`roles`]) and failed-login limits ([`ratelimit`]).
//!
//! Users and API keys live in the system space ([`store`]) and are cached in memory; sessions
//! live only in memory, so a restart ends them (clients log in again). The methods that write
//! block (engine writes, argon2): call them from a blocking thread.
//!
//! Servers of one replica set may also share a *peer key* (`replication.credential_file`
//! holding a secret that is not a ShinyDB token): it grants only the `replication` role, and
//! needs no write, so a leader that waits for followers before acknowledging writes can accept
//! its first follower.

pub mod password;
pub mod ratelimit;
pub mod roles;
pub mod store;
pub mod token;

use std::{collections::HashMap, net::IpAddr, path::Path, sync::Arc, time::Duration};

use parking_lot::{Mutex, RwLock};
use shinydb_engine::Db;
use tonic::Status;
use tracing::{info, warn};

use crate::{config::AuthConfig, error::ServerError};
use ratelimit::FailedLogins;
pub use roles::{Access, Grant, Method, Principal, Role};
use store::{ApiKeyRecord, UserRecord};
use token::{SecretHash, Token, TokenId, TokenKind};

/// The user created on first start.
pub const ADMIN_USER: &str = "admin";

/// The file holding a generated first admin password, inside the data directory.
pub const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

/// Who a caller presenting the peer key is, in logs and `WhoAmI` (not a valid user name, so
/// no user can be mistaken for it).
pub const PEER_USER: &str = "(replication peer)";

/// The shortest peer key accepted.
pub const MIN_PEER_KEY_LENGTH: usize = 32;

/// Milliseconds since the Unix epoch (saturating, as BSON dates are).
pub fn now_ms() -> i64 {
    bson::DateTime::now().timestamp_millis()
}

struct UserEntry {
    record: UserRecord,
    grants: Arc<Vec<Grant>>,
}

struct KeyEntry {
    record: ApiKeyRecord,
    hash: SecretHash,
}

struct Session {
    user: String,
    hash: SecretHash,
    expires_at_ms: i64,
}

/// The outcome of a login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    /// The session token, given to the client once.
    pub token: String,
    /// When it expires, milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
}

/// A new API key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Its id.
    pub id: String,
    /// The key, given to the client once.
    pub key: String,
    /// When it expires (0: never).
    pub expires_at_ms: i64,
}

/// Users, sessions and API keys.
pub struct Auth {
    db: Arc<Db>,
    users: RwLock<HashMap<String, UserEntry>>,
    keys: RwLock<HashMap<TokenId, KeyEntry>>,
    sessions: RwLock<HashMap<TokenId, Session>>,
    /// Serializes changes to users and keys (read, modify, write through the engine).
    changes: Mutex<()>,
    limiter: FailedLogins,
    session_lifetime: Duration,
    max_key_lifetime: Duration,
    min_password: usize,
    /// The hash of the replica set's shared peer key, if it has one.
    peer_key: RwLock<Option<SecretHash>>,
}

/// Why a peer key was refused.
#[derive(Debug, thiserror::Error)]
pub enum PeerKeyError {
    /// It is too short to be a secret.
    #[error("it has {0} characters: a peer key needs at least {MIN_PEER_KEY_LENGTH}")]
    TooShort(usize),
}

fn internal(e: impl std::fmt::Display) -> Status {
    Status::internal(e.to_string())
}

/// Checks a user name: a letter, then letters, digits, `_`, `-` or `.`; at most 64 characters.
pub fn validate_user_name(name: &str) -> Result<(), Status> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name.len() <= 64;
    if ok {
        Ok(())
    } else {
        // Echo at most 64 characters of it: the name may be megabytes long.
        let mut shown: String = name.chars().take(64).collect();
        if shown.len() < name.len() {
            shown.push_str("...");
        }
        Err(Status::invalid_argument(format!(
            "invalid user name {shown:?}: a letter, then letters, digits, '_', '-' or '.'; at \
             most 64 characters"
        )))
    }
}

impl Auth {
    /// Opens the user catalog, creating the system space and the first admin on a new data
    /// directory. The first admin's password comes from `admin_password` (the
    /// `SHINYDB_ADMIN_PASSWORD` variable), else from `auth.admin_password_file`, else it is
    /// generated, written to `<data_dir>/initial-admin-password` (mode 0600) and logged once.
    pub fn open(
        db: Arc<Db>,
        cfg: &AuthConfig,
        data_dir: &Path,
        admin_password: Option<String>,
    ) -> Result<Auth, ServerError> {
        store::ensure(&db)?;
        let (users, keys) = store::load(&db)?;
        let auth = Auth {
            db,
            users: RwLock::new(HashMap::new()),
            keys: RwLock::new(HashMap::new()),
            sessions: RwLock::new(HashMap::new()),
            changes: Mutex::new(()),
            limiter: FailedLogins::new(
                cfg.max_failed_logins,
                Duration::from_secs(cfg.failed_login_window_seconds),
            ),
            session_lifetime: Duration::from_secs(cfg.session_lifetime_seconds),
            max_key_lifetime: Duration::from_secs(cfg.max_api_key_lifetime_seconds),
            min_password: cfg.min_password_length as usize,
            peer_key: RwLock::new(None),
        };
        auth.cache(users, keys);
        if auth.users.read().is_empty() {
            auth.bootstrap_admin(cfg, data_dir, admin_password)?;
        } else if admin_password.is_some() || cfg.admin_password_file.is_some() {
            info!("users exist already: the initial admin password setting is ignored");
        }
        Ok(auth)
    }

    fn bootstrap_admin(
        &self,
        cfg: &AuthConfig,
        data_dir: &Path,
        admin_password: Option<String>,
    ) -> Result<(), ServerError> {
        let (password, source) = if let Some(p) = admin_password {
            (p, "SHINYDB_ADMIN_PASSWORD".to_string())
        } else if let Some(path) = &cfg.admin_password_file {
            let text = std::fs::read_to_string(path).map_err(|source| ServerError::File {
                path: path.clone(),
                source,
            })?;
            let p = text.trim_end_matches(['\n', '\r']).to_string();
            (p, path.display().to_string())
        } else {
            let mut raw = [0u8; 18];
            getrandom::fill(&mut raw).map_err(|e| ServerError::Auth(e.to_string()))?;
            let p = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw);
            let path = data_dir.join(INITIAL_PASSWORD_FILE);
            write_private(&path, &format!("{p}\n"))?;
            warn!(
                user = ADMIN_USER,
                password = %p,
                file = %path.display(),
                "generated the first admin password; it is shown only this once (also in the \
                 file, mode 0600): change it and delete the file"
            );
            (p, path.display().to_string())
        };
        if password.chars().count() < self.min_password {
            return Err(ServerError::Auth(format!(
                "the admin password from {source} is shorter than auth.min_password_length ({})",
                self.min_password
            )));
        }
        let record = UserRecord {
            name: ADMIN_USER.into(),
            password_hash: password::hash(&password).map_err(ServerError::Auth)?,
            grants: vec![Grant {
                role: Role::Admin,
                space: None,
            }],
            created_at_ms: now_ms(),
        };
        self.db.write(vec![store::insert_user(&record)?])?;
        info!(user = ADMIN_USER, from = %source, "created the first admin user");
        self.cache_user(record);
        Ok(())
    }

    /// Reads users and API keys again from the system space, for a follower whose copy
    /// changed under it by the leader's log: new users can log in, dropped users' sessions
    /// end, revoked keys stop working. Blocks.
    pub fn reload(&self) -> Result<(), shinydb_engine::Error> {
        let _changes = self.changes.lock();
        let (users, keys) = store::load(&self.db)?;
        self.cache(users, keys);
        let users = self.users.read();
        self.sessions
            .write()
            .retain(|_, s| users.contains_key(&s.user));
        Ok(())
    }

    /// Replaces the cached users and keys by these.
    fn cache(&self, users: Vec<UserRecord>, keys: Vec<ApiKeyRecord>) {
        let keys: HashMap<TokenId, KeyEntry> = keys
            .into_iter()
            .filter_map(|k| {
                let Some((id, hash)) = decode_key_id(&k.id).zip(decode_hash(&k.secret_hash)) else {
                    warn!(id = %k.id, "ignoring a malformed stored API key");
                    return None;
                };
                Some((id, KeyEntry { record: k, hash }))
            })
            .collect();
        *self.keys.write() = keys;
        self.users.write().clear();
        for u in users {
            self.cache_user(u);
        }
    }

    fn cache_user(&self, record: UserRecord) {
        let grants = Arc::new(record.grants.clone());
        self.users
            .write()
            .insert(record.name.clone(), UserEntry { record, grants });
    }

    fn grants_of(&self, user: &str) -> Option<Arc<Vec<Grant>>> {
        self.users.read().get(user).map(|u| Arc::clone(&u.grants))
    }

    /// Accepts `key` (trimmed) from peers as the `replication` role from now on.
    pub fn set_peer_key(&self, key: &str) -> Result<(), PeerKeyError> {
        let key = key.trim();
        let length = key.chars().count();
        if length < MIN_PEER_KEY_LENGTH {
            return Err(PeerKeyError::TooShort(length));
        }
        *self.peer_key.write() = Some(token::hash_secret(key.as_bytes()));
        Ok(())
    }

    /// The peer principal, when `presented` is the peer key.
    fn peer(&self, presented: &str) -> Option<Principal> {
        let stored = (*self.peer_key.read())?;
        let hash = token::hash_secret(presented.as_bytes());
        bool::from(subtle::ConstantTimeEq::ct_eq(&hash[..], &stored[..])).then(|| Principal {
            user: PEER_USER.into(),
            grants: Arc::new(vec![Grant {
                role: Role::Replication,
                space: None,
            }]),
            method: Method::PeerKey,
            expires_at_ms: 0,
        })
    }

    /// Authenticates a request from its `authorization` metadata value.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, Status> {
        let Some(value) = authorization else {
            return Err(Status::unauthenticated(
                "missing credentials: send `authorization: Bearer <token>` with a session token \
                 from Users.Login or an API key",
            ));
        };
        let text = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                Status::unauthenticated("malformed authorization: expected `Bearer <token>`")
            })?;
        let text = text.trim();
        // Not a token: the peer key, or nothing (a peer key is never token-shaped).
        let Some(token) = Token::parse(text) else {
            return self
                .peer(text)
                .ok_or_else(|| Status::unauthenticated("malformed token: not a ShinyDB token"));
        };
        let now = now_ms();
        let (user, expires_at_ms, method) = match token.kind {
            TokenKind::Session => {
                let sessions = self.sessions.read();
                let s = sessions
                    .get(&token.id)
                    .filter(|s| token.matches(&s.hash))
                    .ok_or_else(|| {
                        Status::unauthenticated(
                            "invalid session token (logged out, or the server restarted): log \
                             in again",
                        )
                    })?;
                if s.expires_at_ms <= now {
                    return Err(Status::unauthenticated(format!(
                        "session expired {} s ago: log in again",
                        (now - s.expires_at_ms) / 1000
                    )));
                }
                (s.user.clone(), s.expires_at_ms, Method::Session(token.id))
            }
            TokenKind::ApiKey => {
                let keys = self.keys.read();
                let k = keys
                    .get(&token.id)
                    .filter(|k| token.matches(&k.hash))
                    .ok_or_else(|| Status::unauthenticated("invalid or revoked API key"))?;
                if k.record.expires_at_ms != 0 && k.record.expires_at_ms <= now {
                    return Err(Status::unauthenticated(format!(
                        "API key {} expired {} s ago",
                        k.record.id,
                        (now - k.record.expires_at_ms) / 1000
                    )));
                }
                (
                    k.record.user.clone(),
                    k.record.expires_at_ms,
                    Method::ApiKey(token.id),
                )
            }
        };
        let grants = self
            .grants_of(&user)
            .ok_or_else(|| Status::unauthenticated(format!("user {user} no longer exists")))?;
        Ok(Principal {
            user,
            grants,
            method,
            expires_at_ms,
        })
    }

    /// Checks that a principal's credential is still valid and refreshes its grants (for
    /// long-lived streams, per request).
    pub fn revalidate(&self, p: &Principal) -> Result<Principal, Status> {
        let now = now_ms();
        let live = match p.method {
            Method::Session(id) => self
                .sessions
                .read()
                .get(&id)
                .is_some_and(|s| s.expires_at_ms > now),
            Method::ApiKey(id) => self
                .keys
                .read()
                .get(&id)
                .is_some_and(|k| k.record.expires_at_ms == 0 || k.record.expires_at_ms > now),
            // Accepted for as long as the server runs.
            Method::PeerKey => return Ok(p.clone()),
        };
        if !live {
            return Err(Status::unauthenticated(
                "the credential of this stream expired or was revoked",
            ));
        }
        let grants = self
            .grants_of(&p.user)
            .ok_or_else(|| Status::unauthenticated(format!("user {} no longer exists", p.user)))?;
        Ok(Principal {
            grants,
            ..p.clone()
        })
    }

    /// Exchanges a password for a session token. Blocks (argon2).
    pub fn login(
        &self,
        user: &str,
        password: &str,
        peer: Option<IpAddr>,
    ) -> Result<LoginOutcome, Status> {
        // The attempt is reserved (counted as a failure) before the password is checked, so
        // concurrent guesses cannot all slip past the limit; a success gives it back.
        if let Err(wait) = self.limiter.begin(user, peer) {
            return Err(Status::resource_exhausted(format!(
                "too many failed logins for this user or address: try again in {} s",
                wait.as_secs().max(1)
            )));
        }
        let hash = self
            .users
            .read()
            .get(user)
            .map(|u| u.record.password_hash.clone());
        let ok = if let Some(h) = &hash {
            password::verify(password, h)
        } else {
            password::verify_dummy(password);
            false
        };
        if !ok {
            return Err(Status::unauthenticated("invalid user name or password"));
        }
        self.limiter.succeeded(user, peer);
        let token = Token::generate(TokenKind::Session).map_err(internal)?;
        let lifetime = i64::try_from(self.session_lifetime.as_millis()).unwrap_or(i64::MAX);
        let expires_at_ms = now_ms().saturating_add(lifetime);
        let mut sessions = self.sessions.write();
        let now = now_ms();
        sessions.retain(|_, s| s.expires_at_ms > now);
        sessions.insert(
            token.id,
            Session {
                user: user.to_string(),
                hash: token.secret_hash(),
                expires_at_ms,
            },
        );
        Ok(LoginOutcome {
            token: token.to_text(),
            expires_at_ms,
        })
    }

    /// Ends the caller's session.
    pub fn logout(&self, p: &Principal) -> Result<(), Status> {
        match p.method {
            Method::Session(id) => {
                self.sessions.write().remove(&id);
                Ok(())
            }
            Method::ApiKey(_) => Err(Status::failed_precondition(
                "this call used an API key, not a session: revoke keys with Users.RevokeApiKey",
            )),
            Method::PeerKey => Err(Status::failed_precondition(
                "this call used the peer key, not a session",
            )),
        }
    }

    /// Active sessions.
    pub fn session_count(&self) -> usize {
        let now = now_ms();
        self.sessions
            .read()
            .values()
            .filter(|s| s.expires_at_ms > now)
            .count()
    }

    fn check_password(&self, password: &str) -> Result<(), Status> {
        if password.chars().count() < self.min_password {
            return Err(Status::invalid_argument(format!(
                "passwords have at least {} characters",
                self.min_password
            )));
        }
        Ok(())
    }

    fn write(&self, writes: Vec<shinydb_engine::Write>) -> Result<(), Status> {
        self.db
            .write(writes)
            .map(drop)
            .map_err(crate::error::engine_status)
    }

    fn record_of(&self, name: &str) -> Result<UserRecord, Status> {
        self.users
            .read()
            .get(name)
            .map(|u| u.record.clone())
            .ok_or_else(|| Status::not_found(format!("user {name} not found")))
    }

    /// Creates a user. Blocks.
    pub fn create_user(&self, name: &str, pw: &str, grants: Vec<Grant>) -> Result<(), Status> {
        validate_user_name(name)?;
        self.check_password(pw)?;
        let _g = self.changes.lock();
        if self.users.read().contains_key(name) {
            return Err(Status::already_exists(format!(
                "user {name} already exists"
            )));
        }
        let record = UserRecord {
            name: name.into(),
            password_hash: password::hash(pw).map_err(internal)?,
            grants: dedup(grants),
            created_at_ms: now_ms(),
        };
        self.write(vec![store::insert_user(&record).map_err(internal)?])?;
        self.cache_user(record);
        info!(user = name, "user created");
        Ok(())
    }

    /// Drops a user with its API keys and sessions. Blocks.
    pub fn drop_user(&self, name: &str, caller: &str) -> Result<(), Status> {
        if name == caller {
            return Err(Status::failed_precondition(
                "a user cannot drop itself; another admin can",
            ));
        }
        let _g = self.changes.lock();
        self.record_of(name)?;
        let key_ids: Vec<TokenId> = self
            .keys
            .read()
            .iter()
            .filter(|(_, k)| k.record.user == name)
            .map(|(id, _)| *id)
            .collect();
        let mut writes = vec![store::delete_user(name)];
        writes.extend(key_ids.iter().map(|id| store::delete_key(&hex::encode(id))));
        self.write(writes)?;
        self.users.write().remove(name);
        let mut keys = self.keys.write();
        for id in &key_ids {
            keys.remove(id);
        }
        drop(keys);
        self.sessions.write().retain(|_, s| s.user != name);
        info!(user = name, "user dropped");
        Ok(())
    }

    /// Every user, by name.
    pub fn list_users(&self) -> Vec<UserRecord> {
        let mut v: Vec<UserRecord> = self
            .users
            .read()
            .values()
            .map(|u| u.record.clone())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Changes a password. `old` must match unless `None` (an admin changing another user's).
    /// Ends the user's other sessions. Blocks.
    pub fn change_password(
        &self,
        name: &str,
        old: Option<&str>,
        new: &str,
        keep_session: Option<TokenId>,
    ) -> Result<u32, Status> {
        self.check_password(new)?;
        let _g = self.changes.lock();
        let mut record = self.record_of(name)?;
        if let Some(old) = old
            && !password::verify(old, &record.password_hash)
        {
            return Err(Status::permission_denied("the current password is wrong"));
        }
        record.password_hash = password::hash(new).map_err(internal)?;
        // Keys minted with the old password go with it, in the same atomic batch.
        let keys: Vec<(TokenId, String)> = self
            .keys
            .read()
            .iter()
            .filter(|(_, k)| k.record.user == name)
            .map(|(id, k)| (*id, k.record.id.clone()))
            .collect();
        let mut writes = vec![store::replace_user(&record).map_err(internal)?];
        writes.extend(keys.iter().map(|(_, id)| store::delete_key(id)));
        self.write(writes)?;
        self.cache_user(record);
        {
            let mut map = self.keys.write();
            for (id, _) in &keys {
                map.remove(id);
            }
        }
        self.sessions
            .write()
            .retain(|id, s| s.user != name || Some(*id) == keep_session);
        info!(
            user = name,
            revoked_api_keys = keys.len(),
            "password changed"
        );
        Ok(u32::try_from(keys.len()).unwrap_or(u32::MAX))
    }

    /// Adds (`grant`) or removes a role. Blocks.
    pub fn set_grant(&self, name: &str, g: Grant, grant: bool) -> Result<(), Status> {
        let _g = self.changes.lock();
        let mut record = self.record_of(name)?;
        if grant {
            if record.grants.contains(&g) {
                return Ok(());
            }
            record.grants.push(g);
        } else {
            let before = record.grants.len();
            record.grants.retain(|x| x != &g);
            if record.grants.len() == before {
                return Err(Status::not_found(format!("user {name} does not hold {g}")));
            }
        }
        self.write(vec![store::replace_user(&record).map_err(internal)?])?;
        self.cache_user(record);
        Ok(())
    }

    /// Creates an API key acting as `user`. Blocks.
    pub fn create_api_key(
        &self,
        user: &str,
        description: &str,
        expires_in: Option<Duration>,
    ) -> Result<NewApiKey, Status> {
        let max = self.max_key_lifetime;
        let lifetime = match expires_in {
            None => max,
            Some(d) if d > max => {
                return Err(Status::invalid_argument(format!(
                    "an API key lasts at most {} s (auth.max_api_key_lifetime_seconds); asked \
                     for {} s",
                    max.as_secs(),
                    d.as_secs()
                )));
            }
            Some(d) => d,
        };
        let _g = self.changes.lock();
        self.record_of(user)?;
        let token = Token::generate(TokenKind::ApiKey).map_err(internal)?;
        let expires_at_ms =
            now_ms().saturating_add(i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX));
        let record = ApiKeyRecord {
            id: hex::encode(token.id),
            user: user.into(),
            secret_hash: hex::encode(token.secret_hash()),
            description: description.into(),
            created_at_ms: now_ms(),
            expires_at_ms,
        };
        self.write(vec![store::insert_key(&record).map_err(internal)?])?;
        let out = NewApiKey {
            id: record.id.clone(),
            key: token.to_text(),
            expires_at_ms,
        };
        self.keys.write().insert(
            token.id,
            KeyEntry {
                record,
                hash: token.secret_hash(),
            },
        );
        info!(user, key = %out.id, "API key created");
        Ok(out)
    }

    /// The user an API key acts as.
    pub fn api_key_owner(&self, id: &str) -> Option<String> {
        let tid = decode_key_id(id)?;
        self.keys.read().get(&tid).map(|k| k.record.user.clone())
    }

    /// Revokes an API key. Blocks.
    pub fn revoke_api_key(&self, id: &str) -> Result<(), Status> {
        let tid = decode_key_id(id)
            .ok_or_else(|| Status::invalid_argument(format!("{id:?} is not an API key id")))?;
        let _g = self.changes.lock();
        if !self.keys.read().contains_key(&tid) {
            return Err(Status::not_found(format!("API key {id} not found")));
        }
        self.write(vec![store::delete_key(id)])?;
        self.keys.write().remove(&tid);
        info!(key = id, "API key revoked");
        Ok(())
    }

    /// API keys, of one user or of everyone.
    pub fn list_api_keys(&self, user: Option<&str>) -> Vec<ApiKeyRecord> {
        let mut v: Vec<ApiKeyRecord> = self
            .keys
            .read()
            .values()
            .filter(|k| user.is_none_or(|u| k.record.user == u))
            .map(|k| k.record.clone())
            .collect();
        v.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        v
    }
}

fn dedup(grants: Vec<Grant>) -> Vec<Grant> {
    let mut out: Vec<Grant> = Vec::with_capacity(grants.len());
    for g in grants {
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

fn decode_key_id(id: &str) -> Option<TokenId> {
    hex::decode(id).ok()?.try_into().ok()
}

fn decode_hash(h: &str) -> Option<SecretHash> {
    hex::decode(h).ok()?.try_into().ok()
}

fn write_private(path: &Path, text: &str) -> Result<(), ServerError> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let err = |source| ServerError::File {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)
}
