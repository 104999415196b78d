//! The credential sent with every call, and how to renew it: an API key as it is, or a session
//! token from a password login, logged in again when the server says it expired.

use std::str::FromStr;

use parking_lot::RwLock;
use shinydb_proto::{
    AUTHORIZATION,
    v1::{LoginRequest, users_client::UsersClient},
};
use tonic::{
    metadata::{MetadataMap, MetadataValue},
    transport::Channel,
};

use crate::{
    error::{Applied, Error, Result},
    options::Credentials,
};

/// The credential sent with every call, and how to renew it.
pub(crate) struct BearerToken {
    credentials: Credentials,
    /// The bearer token in force (a session token or the API key); empty: none yet.
    token: RwLock<String>,
    /// Serialises logins so that concurrent callers share one.
    login: tokio::sync::Mutex<()>,
}

impl BearerToken {
    pub(crate) fn new(credentials: Credentials) -> BearerToken {
        let token = match &credentials {
            Credentials::ApiKey(k) => k.clone(),
            Credentials::Password { .. } | Credentials::None => String::new(),
        };
        BearerToken {
            credentials,
            token: RwLock::new(token),
            login: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether an `Unauthenticated` answer can be cured by logging in again.
    pub(crate) fn can_refresh(&self) -> bool {
        matches!(self.credentials, Credentials::Password { .. })
    }

    /// The session token of a password login (empty: none yet, or an API key).
    pub(crate) fn session(&self) -> String {
        if self.can_refresh() {
            self.token.read().clone()
        } else {
            String::new()
        }
    }

    /// Drops a session token that was logged out, unless another login replaced it.
    pub(crate) fn forget(&self, token: &str) {
        let mut t = self.token.write();
        if *t == token {
            t.clear();
        }
    }

    /// Whether `token` is still the one in force.
    pub(crate) fn is_current(&self, token: &str) -> bool {
        *self.token.read() == token
    }

    /// The token in force, logging in first if there is none yet.
    pub(crate) async fn bearer(&self, channel: &Channel) -> Result<String> {
        let t = self.token.read().clone();
        if !t.is_empty() || !self.can_refresh() {
            return Ok(t);
        }
        self.refresh(channel, "").await
    }

    /// Logs in again unless another caller already replaced `stale`; returns the new token.
    pub(crate) async fn refresh(&self, channel: &Channel, stale: &str) -> Result<String> {
        let _guard = self.login.lock().await;
        {
            let t = self.token.read();
            if *t != stale && !t.is_empty() {
                return Ok(t.clone());
            }
        }
        let Credentials::Password { user, password } = &self.credentials else {
            return Ok(self.token.read().clone());
        };
        let resp = UsersClient::new(channel.clone())
            .login(LoginRequest {
                user: user.clone(),
                password: password.clone(),
            })
            .await
            .map_err(|s| Error::from_status(&s, Applied::No))?
            .into_inner();
        tracing::debug!(user, "logged in");
        *self.token.write() = resp.token.clone();
        Ok(resp.token)
    }

    /// Adds `authorization: Bearer <token>` to a call's metadata (nothing for no token).
    pub(crate) fn apply(&self, token: &str, md: &mut MetadataMap) -> Result<()> {
        if token.is_empty() {
            return Ok(());
        }
        let v = MetadataValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| Error::Config("the credential holds characters a header cannot".into()))?;
        md.insert(AUTHORIZATION, v);
        Ok(())
    }
}
