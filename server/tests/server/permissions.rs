//! The permission matrix, cell by cell: every role (global and per space, and no role at all)
//! against every operation, in a space the role covers and one it does not. An allowed call must
//! succeed; a refused one must answer PERMISSION_DENIED naming the user. One test per role, each
//! on its own server; which cells a role may use comes from the model below ([`User::allowed`]).

use crate::common::{ADMIN_PASSWORD, Clients, Grpc, Server, ServerOptions, bson_bytes, sid};
use bson::doc;
use shinydb_proto::v1::{
    self, pipeline_request::Op as POp, pipeline_response::Result as PR, query_request::Query as Q,
    write_op::Op,
};
use tonic::{Code, Status};

/// A role's level, ordered: each allows what the ones below it do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    None,
    Read,
    Write,
    Admin,
}

/// What an operation needs of its caller.
#[derive(Debug, Clone, Copy)]
enum Need {
    /// Any authenticated caller.
    Any,
    /// This level in the target space.
    Space(Level),
    /// Global admin.
    GlobalAdmin,
}

/// A user of the matrix: its name (also its login) and its grants, each a level in one space or,
/// with no space, in every space.
struct User {
    name: &'static str,
    grants: &'static [(Level, Option<&'static str>)],
}

impl User {
    /// The highest level the grants give in `space` (`None`: the global level only).
    fn level(&self, space: Option<&str>) -> Level {
        self.grants
            .iter()
            .filter(|(_, s)| s.is_none() || (space.is_some() && *s == space))
            .map(|(l, _)| *l)
            .max()
            .unwrap_or(Level::None)
    }

    /// Whether the model allows an operation needing `need` in `space`.
    fn allowed(&self, need: Need, space: &str) -> bool {
        match need {
            Need::Any => true,
            Need::Space(l) => self.level(Some(space)) >= l,
            Need::GlobalAdmin => self.level(None) >= Level::Admin,
        }
    }
}

/// The protocol's role for a level (0, no role, for [`Level::None`]).
fn role(l: Level) -> i32 {
    match l {
        Level::Read => v1::Role::ReadOnly as i32,
        Level::Write => v1::Role::ReadWrite as i32,
        Level::Admin => v1::Role::Admin as i32,
        Level::None => 0,
    }
}

/// The operations on a space, each checked in space `a` and in space `b`.
const SPACE_OPS: &[(&str, Need)] = &[
    ("Documents/Get", Need::Space(Level::Read)),
    ("Documents/Scan", Need::Space(Level::Read)),
    ("Documents/Insert", Need::Space(Level::Write)),
    ("Documents/Update", Need::Space(Level::Write)),
    ("Documents/Replace", Need::Space(Level::Write)),
    ("Documents/Delete", Need::Space(Level::Write)),
    ("Documents/Batch", Need::Space(Level::Write)),
    ("Query/Query read", Need::Space(Level::Read)),
    ("Query/Query write", Need::Space(Level::Write)),
    ("Query/Explain", Need::Space(Level::Read)),
    ("Pipeline get", Need::Space(Level::Read)),
    ("Pipeline insert", Need::Space(Level::Write)),
    ("Catalog/ListStores", Need::Space(Level::Read)),
    ("Catalog/ListIndexes", Need::Space(Level::Read)),
    ("Catalog/StoreStats", Need::Space(Level::Read)),
    ("Catalog/CreateStore", Need::Space(Level::Admin)),
    ("Catalog/DropStore", Need::Space(Level::Admin)),
    ("Catalog/CreateIndex", Need::Space(Level::Admin)),
    ("Catalog/DropIndex", Need::Space(Level::Admin)),
];

/// The operations on no space in particular (checked once, with space `a` as the target where one
/// is needed).
const GLOBAL_OPS: &[(&str, Need)] = &[
    ("Catalog/ListSpaces", Need::Any),
    ("Catalog/CreateSpace", Need::GlobalAdmin),
    ("Catalog/DropSpace", Need::GlobalAdmin),
    ("Users/WhoAmI", Need::Any),
    ("Users/ListUsers", Need::GlobalAdmin),
    ("Users/CreateUser", Need::GlobalAdmin),
    ("Users/DropUser", Need::GlobalAdmin),
    ("Users/GrantRole", Need::GlobalAdmin),
    ("Users/RevokeRole", Need::GlobalAdmin),
    ("Users/ChangePassword own", Need::Any),
    ("Users/ChangePassword other", Need::GlobalAdmin),
    ("Users/CreateApiKey own", Need::Any),
    ("Users/CreateApiKey other", Need::GlobalAdmin),
    ("Users/ListApiKeys own", Need::Any),
    ("Users/ListApiKeys all", Need::GlobalAdmin),
    ("Users/RevokeApiKey other", Need::GlobalAdmin),
    ("Server/Info", Need::Any),
    ("Server/Stats", Need::GlobalAdmin),
    ("Server/SetLogLevel", Need::GlobalAdmin),
];

/// The password of every user of the matrix.
const PASSWORD: &str = "matrix-password";

/// Prepares what an operation needs to succeed when allowed (as admin), returns a tag.
async fn prepare(admin: &mut Clients, op: &str, space: &str, tag: &str) -> Option<String> {
    match op {
        "Catalog/DropStore" => {
            let name = format!("drop_{tag}");
            admin.create_store(space, &name).await;
            Some(name)
        }
        "Catalog/DropIndex" => {
            let name = format!("idx_{tag}");
            admin
                .catalog
                .create_index(v1::CreateIndexRequest {
                    space: space.into(),
                    store: "t".into(),
                    name: name.clone(),
                    fields: vec!["v".into()],
                    unique: false,
                })
                .await
                .expect("index");
            Some(name)
        }
        "Catalog/DropSpace" => {
            let name = format!("gone_{tag}");
            admin
                .catalog
                .create_space(v1::CreateSpaceRequest { name: name.clone() })
                .await
                .expect("space");
            Some(name)
        }
        "Users/DropUser"
        | "Users/RevokeRole"
        | "Users/ChangePassword other"
        | "Users/CreateApiKey other" => {
            let name = format!("victim_{tag}");
            admin
                .users
                .create_user(v1::CreateUserRequest {
                    name: name.clone(),
                    password: PASSWORD.into(),
                    grants: vec![v1::Grant {
                        role: role(Level::Read),
                        space: None,
                    }],
                })
                .await
                .expect("user");
            Some(name)
        }
        "Users/RevokeApiKey other" => {
            let key = admin
                .users
                .create_api_key(v1::CreateApiKeyRequest {
                    user: "admin".into(),
                    description: tag.into(),
                    expires_in_seconds: 0,
                })
                .await
                .expect("key")
                .into_inner();
            Some(key.id)
        }
        _ => None,
    }
}

/// A pipeline answer as a call's result: its error, if it is one.
fn pipeline_status(r: v1::PipelineResponse) -> Result<(), Status> {
    match r.result {
        Some(PR::Error(e)) => Err(Status::new(Code::from_i32(e.code), e.message)),
        Some(_) => Ok(()),
        None => Err(Status::internal("empty pipeline response")),
    }
}

/// Sends one operation on a pipeline stream and waits for its answer.
async fn pipeline(c: &mut Clients, op: POp) -> Result<(), Status> {
    let req = v1::PipelineRequest {
        id: 1,
        timeout_ms: 0,
        op: Some(op),
    };
    let mut out = c
        .pipeline
        .stream(futures::stream::iter(vec![req]))
        .await?
        .into_inner();
    let r = out
        .message()
        .await?
        .ok_or_else(|| Status::internal("no answer"))?;
    pipeline_status(r)
}

/// Reads a query's stream to its end; `Ok` when every chunk arrived.
async fn drain(
    r: Result<tonic::Response<tonic::Streaming<v1::QueryChunk>>, Status>,
) -> Result<(), Status> {
    let mut s = r?.into_inner();
    while s.message().await?.is_some() {}
    Ok(())
}

/// Runs one operation as `c`; `Ok` when the server accepted it.
async fn run(
    c: &mut Clients,
    me: &str,
    op: &str,
    space: &str,
    tag: &str,
    prepared: Option<String>,
) -> Result<(), Status> {
    let s = || space.to_string();
    let id = tag.to_string();
    let p = prepared.unwrap_or_default();
    match op {
        "Documents/Get" => c
            .docs
            .get(v1::GetRequest {
                space: s(),
                store: "t".into(),
                id: Some(sid("seed")),
            })
            .await
            .map(drop),
        "Documents/Scan" => c
            .docs
            .scan(v1::ScanRequest {
                space: s(),
                store: "t".into(),
                start: None,
                limit: 5,
                reverse: false,
            })
            .await
            .map(drop),
        "Documents/Insert" => c
            .docs
            .insert(v1::InsertRequest {
                space: s(),
                store: "t".into(),
                documents: vec![bson_bytes(&doc! {"_id": &id, "v": 1})],
            })
            .await
            .map(drop),
        "Documents/Update" => c
            .docs
            .update(v1::UpdateRequest {
                space: s(),
                store: "t".into(),
                id: Some(sid("seed")),
                set: bson_bytes(&doc! {"touched": &id}),
                unset: vec![],
            })
            .await
            .map(drop),
        "Documents/Replace" => c
            .docs
            .replace(v1::ReplaceRequest {
                space: s(),
                store: "t".into(),
                id: Some(sid("seed")),
                document: bson_bytes(&doc! {"v": 1, "by": &id}),
            })
            .await
            .map(drop),
        "Documents/Delete" => c
            .docs
            .delete(v1::DeleteRequest {
                space: s(),
                store: "t".into(),
                id: Some(sid(&id)),
            })
            .await
            .map(drop),
        "Documents/Batch" => c
            .docs
            .batch(v1::BatchRequest {
                ops: vec![v1::WriteOp {
                    op: Some(Op::Insert(v1::InsertRequest {
                        space: s(),
                        store: "t".into(),
                        documents: vec![bson_bytes(&doc! {"_id": format!("b{id}")})],
                    })),
                }],
            })
            .await
            .map(drop),
        "Query/Query read" => {
            let r = c
                .query
                .query(v1::QueryRequest {
                    query: Some(Q::Yql(format!("{space}.t.filter(v = 1).count()"))),
                    chunk_size: 0,
                })
                .await;
            drain(r).await
        }
        "Query/Query write" => {
            let r = c
                .query
                .query(v1::QueryRequest {
                    query: Some(Q::Yql(format!(r#"{space}.t.insert({{"_id": "q{id}"}})"#))),
                    chunk_size: 0,
                })
                .await;
            drain(r).await
        }
        "Query/Explain" => c
            .query
            .explain(v1::QueryRequest {
                query: Some(Q::Yql(format!("{space}.t.filter(v = 1)"))),
                chunk_size: 0,
            })
            .await
            .map(drop),
        "Pipeline get" => {
            pipeline(
                c,
                POp::Get(v1::GetRequest {
                    space: s(),
                    store: "t".into(),
                    id: Some(sid("seed")),
                }),
            )
            .await
        }
        "Pipeline insert" => {
            pipeline(
                c,
                POp::Insert(v1::InsertRequest {
                    space: s(),
                    store: "t".into(),
                    documents: vec![bson_bytes(&doc! {"_id": format!("p{id}")})],
                }),
            )
            .await
        }
        "Catalog/ListStores" => c
            .catalog
            .list_stores(v1::ListStoresRequest { space: s() })
            .await
            .map(drop),
        "Catalog/ListIndexes" => c
            .catalog
            .list_indexes(v1::ListIndexesRequest {
                space: s(),
                store: "t".into(),
            })
            .await
            .map(drop),
        "Catalog/StoreStats" => c
            .catalog
            .store_stats(v1::StoreStatsRequest {
                space: s(),
                store: "t".into(),
            })
            .await
            .map(drop),
        "Catalog/CreateStore" => c
            .catalog
            .create_store(v1::CreateStoreRequest {
                space: s(),
                name: format!("new_{id}"),
            })
            .await
            .map(drop),
        "Catalog/DropStore" => c
            .catalog
            .drop_store(v1::DropStoreRequest {
                space: s(),
                name: p,
            })
            .await
            .map(drop),
        "Catalog/CreateIndex" => c
            .catalog
            .create_index(v1::CreateIndexRequest {
                space: s(),
                store: "t".into(),
                name: format!("new_{id}"),
                fields: vec!["v".into()],
                unique: false,
            })
            .await
            .map(drop),
        "Catalog/DropIndex" => c
            .catalog
            .drop_index(v1::DropIndexRequest {
                space: s(),
                store: "t".into(),
                name: p,
            })
            .await
            .map(drop),
        "Catalog/ListSpaces" => c
            .catalog
            .list_spaces(v1::ListSpacesRequest {})
            .await
            .map(drop),
        "Catalog/CreateSpace" => c
            .catalog
            .create_space(v1::CreateSpaceRequest {
                name: format!("new_{id}"),
            })
            .await
            .map(drop),
        "Catalog/DropSpace" => c
            .catalog
            .drop_space(v1::DropSpaceRequest {
                name: p,
                cascade: true,
            })
            .await
            .map(drop),
        "Users/WhoAmI" => c.users.who_am_i(v1::WhoAmIRequest {}).await.map(drop),
        "Users/ListUsers" => c.users.list_users(v1::ListUsersRequest {}).await.map(drop),
        "Users/CreateUser" => c
            .users
            .create_user(v1::CreateUserRequest {
                name: format!("new_{id}"),
                password: PASSWORD.into(),
                grants: vec![],
            })
            .await
            .map(drop),
        "Users/DropUser" => c
            .users
            .drop_user(v1::DropUserRequest { name: p })
            .await
            .map(drop),
        "Users/GrantRole" => c
            .users
            .grant_role(v1::GrantRoleRequest {
                name: "none".into(),
                grant: Some(v1::Grant {
                    role: role(Level::Read),
                    space: Some("zzz".into()),
                }),
            })
            .await
            .map(drop),
        "Users/RevokeRole" => c
            .users
            .revoke_role(v1::RevokeRoleRequest {
                name: p,
                grant: Some(v1::Grant {
                    role: role(Level::Read),
                    space: None,
                }),
            })
            .await
            .map(drop),
        "Users/ChangePassword own" => c
            .users
            .change_password(v1::ChangePasswordRequest {
                name: String::new(),
                old_password: if me == "admin" {
                    ADMIN_PASSWORD
                } else {
                    PASSWORD
                }
                .into(),
                new_password: if me == "admin" {
                    ADMIN_PASSWORD
                } else {
                    PASSWORD
                }
                .into(),
            })
            .await
            .map(drop),
        "Users/ChangePassword other" => c
            .users
            .change_password(v1::ChangePasswordRequest {
                name: p,
                old_password: String::new(),
                new_password: "another-password".into(),
            })
            .await
            .map(drop),
        "Users/CreateApiKey own" => c
            .users
            .create_api_key(v1::CreateApiKeyRequest {
                user: String::new(),
                description: id.clone(),
                expires_in_seconds: 0,
            })
            .await
            .map(drop),
        "Users/CreateApiKey other" => c
            .users
            .create_api_key(v1::CreateApiKeyRequest {
                user: p,
                description: id.clone(),
                expires_in_seconds: 0,
            })
            .await
            .map(drop),
        "Users/ListApiKeys own" => c
            .users
            .list_api_keys(v1::ListApiKeysRequest {
                user: String::new(),
            })
            .await
            .map(drop),
        "Users/ListApiKeys all" => c
            .users
            .list_api_keys(v1::ListApiKeysRequest { user: "*".into() })
            .await
            .map(drop),
        "Users/RevokeApiKey other" => c
            .users
            .revoke_api_key(v1::RevokeApiKeyRequest { id: p })
            .await
            .map(drop),
        "Server/Info" => c.server.info(v1::InfoRequest {}).await.map(drop),
        "Server/Stats" => c.server.stats(v1::StatsRequest {}).await.map(drop),
        "Server/SetLogLevel" => c
            .server
            .set_log_level(v1::SetLogLevelRequest {
                filter: "info".into(),
            })
            .await
            .map(drop),
        other => panic!("unknown operation {other}"),
    }
}

/// No role at all.
const NO_ROLE: User = User {
    name: "none",
    grants: &[],
};
/// Read-only in every space.
const READ_ONLY: User = User {
    name: "ro",
    grants: &[(Level::Read, None)],
};
/// Read-write in every space.
const READ_WRITE: User = User {
    name: "rw",
    grants: &[(Level::Write, None)],
};
/// Admin: every space and the server.
const ADMIN: User = User {
    name: "adm",
    grants: &[(Level::Admin, None)],
};
/// Read-only in space `a`.
const READ_ONLY_IN_A: User = User {
    name: "ro_a",
    grants: &[(Level::Read, Some("a"))],
};
/// Read-write in space `a`.
const READ_WRITE_IN_A: User = User {
    name: "rw_a",
    grants: &[(Level::Write, Some("a"))],
};
/// Admin of space `a`.
const ADMIN_OF_A: User = User {
    name: "adm_a",
    grants: &[(Level::Admin, Some("a"))],
};
/// Read-only everywhere and read-write in space `a`.
const MIXED: User = User {
    name: "mixed",
    grants: &[(Level::Read, None), (Level::Write, Some("a"))],
};

/// Every user of the matrix, each checked by one test below. Every test's server holds all of
/// them (as the one server of the whole matrix did): `Users/GrantRole` grants to `none`.
const USERS: &[User] = &[
    NO_ROLE,
    READ_ONLY,
    READ_WRITE,
    ADMIN,
    READ_ONLY_IN_A,
    READ_WRITE_IN_A,
    ADMIN_OF_A,
    MIXED,
];

/// The cells of one user's row: every space operation in `a` and in `b`, then every global one
/// (with `a` as its space).
fn cells() -> Vec<(&'static str, Need, &'static str)> {
    let mut cells = Vec::new();
    for (op, need) in SPACE_OPS {
        for space in ["a", "b"] {
            cells.push((*op, *need, space));
        }
    }
    for (op, need) in GLOBAL_OPS {
        cells.push((*op, *need, "a"));
    }
    cells
}

/// The cells of a row that went wrong; its `Debug` is the plain text, one cell per line, so a
/// failing test lists them readably (a `String` error would print them escaped on one line).
struct WrongCells(String);

impl std::fmt::Debug for WrongCells {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A server with spaces `a` and `b` (each with store `t` holding document `seed`) and every user
/// of [`USERS`]; its admin's clients.
async fn matrix_server() -> (Server, Clients) {
    let server =
        Server::start(ServerOptions::default().config("auth:\n  max_failed_logins: 1000\n"));
    let mut admin = server.admin().await;
    for space in ["a", "b"] {
        admin.create_store(space, "t").await;
        admin
            .insert(space, "t", vec![doc! {"_id": "seed", "v": 1}])
            .await;
    }
    for u in USERS {
        admin
            .users
            .create_user(v1::CreateUserRequest {
                name: u.name.into(),
                password: PASSWORD.into(),
                grants: u
                    .grants
                    .iter()
                    .map(|(l, s)| v1::Grant {
                        role: role(*l),
                        space: s.map(String::from),
                    })
                    .collect(),
            })
            .await
            .expect("create user");
    }
    (server, admin)
}

/// Runs every cell of `u`'s row on a fresh [`matrix_server`] as `u`: an allowed call must
/// succeed, a refused one must answer PERMISSION_DENIED naming `u`. `Err` lists every wrong cell.
async fn check_row(u: &User) -> Result<(), WrongCells> {
    let (server, mut admin) = matrix_server().await;
    let token = server.login(u.name, PASSWORD).await.expect("login");
    let mut c = server.clients(&token).await;
    let cells = cells();
    let mut failures = Vec::new();
    for (i, (op, need, space)) in cells.iter().copied().enumerate() {
        let tag = format!("{}_{i}", u.name);
        let prepared = prepare(&mut admin, op, space, &tag).await;
        let allowed = u.allowed(need, space);
        let got = run(&mut c, u.name, op, space, &tag, prepared).await;
        match (&got, allowed) {
            (Ok(()), true) => {}
            (Err(e), false) if e.code() == Code::PermissionDenied => {
                assert!(
                    e.message().contains(u.name),
                    "the refusal names the user: {}",
                    e.message()
                );
            }
            _ => failures.push(format!(
                "user {} op {op} in {space}: allowed={allowed}, got {got:?}",
                u.name
            )),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(WrongCells(format!(
            "{} of {} cells wrong:\n{}",
            failures.len(),
            cells.len(),
            failures.join("\n")
        )))
    }
}

#[test]
fn the_matrix_has_more_than_400_cells() {
    let cells = USERS.len() * cells().len();
    assert!(cells > 400, "{cells} cells");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_roles_may_only_make_the_calls_open_to_everyone() -> Result<(), WrongCells> {
    check_row(&NO_ROLE).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_user_reads_every_space_but_cannot_write() -> Result<(), WrongCells> {
    check_row(&READ_ONLY).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_write_user_writes_every_space_but_cannot_administer() -> Result<(), WrongCells> {
    check_row(&READ_WRITE).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_may_make_every_call() -> Result<(), WrongCells> {
    check_row(&ADMIN).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_user_of_one_space_reads_only_that_space() -> Result<(), WrongCells> {
    check_row(&READ_ONLY_IN_A).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_write_user_of_one_space_writes_only_that_space() -> Result<(), WrongCells> {
    check_row(&READ_WRITE_IN_A).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_of_one_space_administers_only_that_space_and_nothing_global()
-> Result<(), WrongCells> {
    check_row(&ADMIN_OF_A).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_global_read_grant_and_a_space_write_grant_combine() -> Result<(), WrongCells> {
    check_row(&MIXED).await
}
