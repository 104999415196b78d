//! The Users service: login and logout, users, roles and API keys.

use std::{sync::Arc, time::Duration};

use shinydb_proto::v1::{
    self, ChangePasswordRequest, ChangePasswordResponse, CreateApiKeyRequest, CreateApiKeyResponse,
    CreateUserRequest, CreateUserResponse, DropUserRequest, DropUserResponse, GrantRoleRequest,
    GrantRoleResponse, ListApiKeysRequest, ListApiKeysResponse, ListUsersRequest,
    ListUsersResponse, LoginRequest, LoginResponse, LogoutRequest, LogoutResponse,
    RevokeApiKeyRequest, RevokeApiKeyResponse, RevokeRoleRequest, RevokeRoleResponse,
    WhoAmIRequest, WhoAmIResponse, users_server,
};
use tonic::{Request, Response, Status};
use tracing::warn;

use crate::{
    auth::{Access, Grant, Method, Principal},
    state::{State, blocking},
};

/// The gRPC Users service.
pub struct UsersService {
    state: State,
}

impl UsersService {
    /// The service over shared state.
    pub fn new(state: State) -> Self {
        UsersService { state }
    }
}

fn grants_from(gs: &[v1::Grant]) -> Result<Vec<Grant>, Status> {
    gs.iter().map(Grant::from_proto).collect()
}

fn grant_from(g: Option<&v1::Grant>) -> Result<Grant, Status> {
    Grant::from_proto(g.ok_or_else(|| Status::invalid_argument("grant is missing"))?)
}

/// The user a call is about: `name`, or the caller when empty.
fn subject<'a>(p: &'a Principal, name: &'a str) -> &'a str {
    if name.is_empty() { &p.user } else { name }
}

#[tonic::async_trait]
impl users_server::Users for UsersService {
    async fn login(&self, req: Request<LoginRequest>) -> Result<Response<LoginResponse>, Status> {
        let s = &self.state;
        s.unary_anonymous("Users/Login", req, |peer, r| async move {
            if r.user.is_empty() {
                return Err(Status::invalid_argument("user is missing"));
            }
            // No such user can exist: refused before the limiter keeps, or the log shows, it.
            crate::auth::validate_user_name(&r.user)?;
            let ip = peer.map(|a| a.ip());
            let user = r.user.clone();
            let auth = Arc::clone(&s.auth);
            let out = blocking(move || auth.login(&r.user, &r.password, ip)).await;
            if let Err(e) = &out
                && e.code() == tonic::Code::Unauthenticated
            {
                s.metrics.failed_logins.inc();
                warn!(user = %user, peer = ?peer, "failed login");
            }
            let out = out?;
            Ok(LoginResponse {
                token: out.token,
                expires_at_ms: out.expires_at_ms,
            })
        })
        .await
    }

    async fn logout(
        &self,
        req: Request<LogoutRequest>,
    ) -> Result<Response<LogoutResponse>, Status> {
        let s = &self.state;
        s.unary("Users/Logout", req, |p, _r| async move {
            s.auth.logout(&p)?;
            Ok(LogoutResponse {})
        })
        .await
    }

    async fn who_am_i(
        &self,
        req: Request<WhoAmIRequest>,
    ) -> Result<Response<WhoAmIResponse>, Status> {
        let s = &self.state;
        s.unary("Users/WhoAmI", req, |p, _r| async move {
            Ok(WhoAmIResponse {
                user: p.user.clone(),
                grants: p.grants.iter().map(Grant::to_proto).collect(),
                method: match p.method {
                    Method::Session(_) => "session",
                    Method::ApiKey(_) => "api_key",
                    Method::PeerKey => "peer_key",
                }
                .into(),
                expires_at_ms: p.expires_at_ms,
            })
        })
        .await
    }

    async fn create_user(
        &self,
        req: Request<CreateUserRequest>,
    ) -> Result<Response<CreateUserResponse>, Status> {
        let s = &self.state;
        s.unary("Users/CreateUser", req, |p, r| async move {
            p.require(Access::Admin, None)?;
            let grants = grants_from(&r.grants)?;
            s.write_auth(move |a| a.create_user(&r.name, &r.password, grants))
                .await?;
            Ok(CreateUserResponse {})
        })
        .await
    }

    async fn drop_user(
        &self,
        req: Request<DropUserRequest>,
    ) -> Result<Response<DropUserResponse>, Status> {
        let s = &self.state;
        s.unary("Users/DropUser", req, |p, r| async move {
            p.require(Access::Admin, None)?;
            let caller = p.user.clone();
            s.write_auth(move |a| a.drop_user(&r.name, &caller)).await?;
            Ok(DropUserResponse {})
        })
        .await
    }

    async fn list_users(
        &self,
        req: Request<ListUsersRequest>,
    ) -> Result<Response<ListUsersResponse>, Status> {
        let s = &self.state;
        s.unary("Users/ListUsers", req, |p, _r| async move {
            p.require(Access::Admin, None)?;
            let users = s
                .auth
                .list_users()
                .into_iter()
                .map(|u| v1::User {
                    name: u.name,
                    grants: u.grants.iter().map(Grant::to_proto).collect(),
                    created_at_ms: u.created_at_ms,
                })
                .collect();
            Ok(ListUsersResponse { users })
        })
        .await
    }

    async fn change_password(
        &self,
        req: Request<ChangePasswordRequest>,
    ) -> Result<Response<ChangePasswordResponse>, Status> {
        let s = &self.state;
        s.unary("Users/ChangePassword", req, |p, r| async move {
            let name = subject(&p, &r.name).to_string();
            let own = name == p.user;
            if !own {
                p.require(Access::Admin, None)?;
            } else if r.old_password.is_empty() {
                return Err(Status::invalid_argument(
                    "old_password is required to change one's own password",
                ));
            }
            let keep = match p.method {
                Method::Session(id) if own => Some(id),
                _ => None,
            };
            let revoked_api_keys = s
                .write_auth(move |a| {
                    let old = own.then_some(r.old_password.as_str());
                    a.change_password(&name, old, &r.new_password, keep)
                })
                .await?;
            Ok(ChangePasswordResponse { revoked_api_keys })
        })
        .await
    }

    async fn grant_role(
        &self,
        req: Request<GrantRoleRequest>,
    ) -> Result<Response<GrantRoleResponse>, Status> {
        let s = &self.state;
        s.unary("Users/GrantRole", req, |p, r| async move {
            p.require(Access::Admin, None)?;
            let g = grant_from(r.grant.as_ref())?;
            s.write_auth(move |a| a.set_grant(&r.name, g, true)).await?;
            Ok(GrantRoleResponse {})
        })
        .await
    }

    async fn revoke_role(
        &self,
        req: Request<RevokeRoleRequest>,
    ) -> Result<Response<RevokeRoleResponse>, Status> {
        let s = &self.state;
        s.unary("Users/RevokeRole", req, |p, r| async move {
            p.require(Access::Admin, None)?;
            let g = grant_from(r.grant.as_ref())?;
            s.write_auth(move |a| a.set_grant(&r.name, g, false))
                .await?;
            Ok(RevokeRoleResponse {})
        })
        .await
    }

    async fn create_api_key(
        &self,
        req: Request<CreateApiKeyRequest>,
    ) -> Result<Response<CreateApiKeyResponse>, Status> {
        let s = &self.state;
        s.unary("Users/CreateApiKey", req, |p, r| async move {
            let user = subject(&p, &r.user).to_string();
            if user != p.user {
                p.require(Access::Admin, None)?;
            }
            let expires =
                (r.expires_in_seconds > 0).then(|| Duration::from_secs(r.expires_in_seconds));
            let k = s
                .write_auth(move |a| a.create_api_key(&user, &r.description, expires))
                .await?;
            Ok(CreateApiKeyResponse {
                id: k.id,
                key: k.key,
                expires_at_ms: k.expires_at_ms,
            })
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        req: Request<RevokeApiKeyRequest>,
    ) -> Result<Response<RevokeApiKeyResponse>, Status> {
        let s = &self.state;
        s.unary("Users/RevokeApiKey", req, |p, r| async move {
            match s.auth.api_key_owner(&r.id) {
                Some(owner) if owner == p.user => {}
                // Someone else's key, or no such key: only a global admin learns which.
                _ => p.require(Access::Admin, None)?,
            }
            s.write_auth(move |a| a.revoke_api_key(&r.id)).await?;
            Ok(RevokeApiKeyResponse {})
        })
        .await
    }

    async fn list_api_keys(
        &self,
        req: Request<ListApiKeysRequest>,
    ) -> Result<Response<ListApiKeysResponse>, Status> {
        let s = &self.state;
        s.unary("Users/ListApiKeys", req, |p, r| async move {
            let user = match r.user.as_str() {
                "*" => None,
                u => Some(subject(&p, u).to_string()),
            };
            if user.as_deref() != Some(p.user.as_str()) {
                p.require(Access::Admin, None)?;
            }
            let keys = s
                .auth
                .list_api_keys(user.as_deref())
                .into_iter()
                .map(|k| v1::ApiKey {
                    id: k.id,
                    user: k.user,
                    description: k.description,
                    created_at_ms: k.created_at_ms,
                    expires_at_ms: k.expires_at_ms,
                })
                .collect();
            Ok(ListApiKeysResponse { keys })
        })
        .await
    }
}
