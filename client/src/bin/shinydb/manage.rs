//! Management subcommands: spaces, stores, indexes, users, API keys, backups, status and ping.

use std::time::{Duration, Instant};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use shinydb_client::{Client, Error, proto};
use tonic::Code;

use crate::{
    cli::{ApiKeyCmd, BackupCmd, IndexCmd, ReplicaCmd, Role, SpaceCmd, StoreCmd, UserCmd},
    connect::{stdin_line, target},
    error::{CliError, CliResult},
};

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    for r in rows {
        t.add_row(r);
    }
    t.to_string()
}

fn role(r: Role) -> proto::Role {
    match r {
        Role::Admin => proto::Role::Admin,
        Role::ReadWrite => proto::Role::ReadWrite,
        Role::ReadOnly => proto::Role::ReadOnly,
        Role::Replication => proto::Role::Replication,
    }
}

fn grants(g: &[proto::Grant]) -> String {
    g.iter()
        .map(|g| {
            let name = match proto::Role::try_from(g.role) {
                Ok(proto::Role::Admin) => "admin",
                Ok(proto::Role::ReadWrite) => "read_write",
                Ok(proto::Role::ReadOnly) => "read_only",
                Ok(proto::Role::Replication) => "replication",
                _ => "unknown",
            };
            match &g.space {
                Some(s) => format!("{name}@{s}"),
                None => name.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A time as RFC 3339 UTC; `-` for 0 (unknown).
fn utc(ms: i64) -> String {
    if ms == 0 {
        return "-".into();
    }
    bson::DateTime::from_millis(ms)
        .try_to_rfc3339_string()
        .unwrap_or_else(|_| ms.to_string())
}

fn millis(ms: i64) -> String {
    if ms == 0 {
        return "never".into();
    }
    let secs = ms / 1000;
    format!("{secs} (unix seconds)")
}

/// `space ...`.
pub async fn space(c: &Client, cmd: SpaceCmd) -> CliResult<String> {
    Ok(match cmd {
        SpaceCmd::Create { name } => {
            c.create_space(&name).await?;
            format!("created space {name}")
        }
        SpaceCmd::Drop { name, cascade } => {
            c.drop_space(&name, cascade).await?;
            format!("dropped space {name}")
        }
        SpaceCmd::List => c
            .list_spaces()
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// `store ...`.
pub async fn store(c: &Client, cmd: StoreCmd) -> CliResult<String> {
    Ok(match cmd {
        StoreCmd::Create { target: t } => {
            let (space, store) = target(&t)?;
            c.create_store(&space, &store).await?;
            format!("created store {t}")
        }
        StoreCmd::Drop { target: t } => {
            let (space, store) = target(&t)?;
            c.drop_store(&space, &store).await?;
            format!("dropped store {t}")
        }
        StoreCmd::List { space } => c
            .list_stores(&space)
            .await?
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join("\n"),
    })
}

/// `index ...`.
pub async fn index(c: &Client, cmd: IndexCmd) -> CliResult<String> {
    Ok(match cmd {
        IndexCmd::Create {
            target: t,
            name,
            fields,
            unique,
        } => {
            let (space, store) = target(&t)?;
            let f: Vec<&str> = fields.iter().map(String::as_str).collect();
            c.create_index(&space, &store, &name, &f, unique).await?;
            format!("created index {name} on {t} ({})", fields.join(", "))
        }
        IndexCmd::Drop { target: t, name } => {
            let (space, store) = target(&t)?;
            c.drop_index(&space, &store, &name).await?;
            format!("dropped index {name} of {t}")
        }
        IndexCmd::List { target: t } => {
            let (space, store) = target(&t)?;
            let rows = c
                .list_indexes(&space, &store)
                .await?
                .into_iter()
                .map(|i| {
                    vec![
                        i.name,
                        i.fields.join(", "),
                        i.unique.to_string(),
                        i.ready.to_string(),
                    ]
                })
                .collect();
            table(&["name", "fields", "unique", "ready"], rows)
        }
    })
}

/// `user ...`.
pub async fn user(c: &Client, cmd: UserCmd) -> CliResult<String> {
    Ok(match cmd {
        UserCmd::Create {
            name,
            role: r,
            space,
            password_stdin: _,
        } => {
            let pw = stdin_line("the new user's password")?;
            let g = proto::Grant {
                role: role(r) as i32,
                space,
            };
            c.create_user(&name, &pw, vec![g]).await?;
            format!("created user {name}")
        }
        UserCmd::Drop { name } => {
            c.drop_user(&name).await?;
            format!("dropped user {name}")
        }
        UserCmd::List => {
            let rows = c
                .list_users()
                .await?
                .into_iter()
                .map(|u| vec![u.name, grants(&u.grants)])
                .collect();
            table(&["user", "roles"], rows)
        }
        UserCmd::Grant {
            name,
            role: r,
            space,
        } => {
            c.grant_role(&name, role(r), space.as_deref()).await?;
            format!("granted {r:?} to {name}")
        }
        UserCmd::Revoke {
            name,
            role: r,
            space,
        } => {
            c.revoke_role(&name, role(r), space.as_deref()).await?;
            format!("revoked {r:?} from {name}")
        }
        UserCmd::Passwd { name } => {
            let pw = stdin_line("the new password")?;
            c.change_password(&name, "", &pw).await?;
            format!("changed the password of {name}")
        }
    })
}

/// `backup ...`.
pub async fn backup(c: &Client, cmd: BackupCmd) -> CliResult<String> {
    let row = |b: proto::BackupSummary| {
        vec![
            b.id,
            b.state,
            b.seq.to_string(),
            utc(b.started_at_ms),
            utc(b.ended_at_ms),
            b.raw_bytes.to_string(),
            b.stored_bytes.to_string(),
            b.tag,
        ]
    };
    let header = [
        "id",
        "state",
        "seq",
        "started",
        "ended",
        "raw bytes",
        "stored bytes",
        "tag",
    ];
    Ok(match cmd {
        BackupCmd::Create { tag, wait: true } => {
            table(&header, vec![row(with_backup_progress(c, &tag).await?)])
        }
        BackupCmd::Create { tag, wait: false } => match started_backup(c, &tag).await? {
            Started::Running(total) => format!(
                "backup started{}: {total} bytes to copy; `shinydb backup status` follows it, \
                 `shinydb backup list` lists it once complete",
                if tag.is_empty() {
                    String::new()
                } else {
                    format!(" (tag {tag})")
                }
            ),
            Started::Done(m) => table(&header, vec![row(m)]),
        },
        BackupCmd::List => table(
            &header,
            c.list_backups().await?.into_iter().map(row).collect(),
        ),
        BackupCmd::Verify { id, deep } => {
            let v = c.verify_backup(&id, deep).await?;
            let opened = if v.opened { ", rebuilt and opened" } else { "" };
            format!(
                "backup {id} is intact: {} chunks, {} bytes checked{opened}",
                v.chunks, v.raw_bytes
            )
        }
        BackupCmd::Delete { id } => {
            let n = c.delete_backup(&id).await?;
            format!("deleted backup {id} ({n} objects)")
        }
        BackupCmd::Status => backup_status(&c.backup_status().await?),
    })
}

/// `replica ...`.
pub async fn replica(c: &Client, cmd: ReplicaCmd) -> CliResult<String> {
    Ok(match cmd {
        ReplicaCmd::Status => replica_status(&c.replica_status().await?),
        ReplicaCmd::Promote => {
            let p = c.promote().await?;
            format!(
                "promoted: this server leads epoch {} from batch {}",
                p.epoch, p.start_seq
            )
        }
        ReplicaCmd::Demote => {
            let last = c.demote().await?;
            format!("demoted: read-only after batch {last}; tell it whom to follow")
        }
        ReplicaCmd::Follow { endpoint } => {
            c.follow(&endpoint).await?;
            format!("following {endpoint}")
        }
    })
}

/// `replica status`: the server's part, then a table of its followers.
fn replica_status(s: &proto::ReplicationStatusResponse) -> String {
    let mut rows = vec![
        vec!["role".into(), s.role.clone()],
        vec!["epoch".into(), s.epoch.to_string()],
        vec!["lineage".into(), s.lineage.clone()],
        vec!["last batch".into(), s.last_seq.to_string()],
    ];
    if s.role == "leader" {
        rows.push(vec!["commit batch".into(), s.commit_seq.to_string()]);
        rows.push(vec![
            "sync replicas".into(),
            format!("{} ({})", s.sync_replicas, s.sync_state),
        ]);
    }
    if s.role == "follower" {
        rows.push(vec!["leader".into(), s.leader.clone()]);
        rows.push(vec!["state".into(), s.state.clone()]);
        rows.push(vec![
            "lag".into(),
            format!("{:.3} s, {} batches", s.lag_seconds, s.lag_batches),
        ]);
        if !s.last_error.is_empty() {
            rows.push(vec!["last error".into(), s.last_error.clone()]);
        }
    }
    rows.push(vec!["seeds".into(), s.seeds.to_string()]);
    rows.push(vec!["rollbacks".into(), s.rollbacks.to_string()]);
    let mut out = table(&["", ""], rows);
    if !s.followers.is_empty() {
        let followers = s
            .followers
            .iter()
            .map(|f| {
                vec![
                    f.name.clone(),
                    f.addr.clone(),
                    f.durable_seq.to_string(),
                    f.applied_seq.to_string(),
                    format!("{:.3}", f.lag_seconds),
                    f.lag_batches.to_string(),
                    f.lag_bytes.to_string(),
                    if f.sync { "yes" } else { "no" }.into(),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&table(
            &[
                "follower",
                "address",
                "durable",
                "applied",
                "lag s",
                "lag batches",
                "lag bytes",
                "sync",
            ],
            followers,
        ));
    }
    out
}

/// Takes a base backup labelled `tag`; on a terminal, a bar of its bytes from `Backups/Status` meanwhile.
/// What `backup create` without `--wait` saw first.
enum Started {
    /// The server runs the backup, this many raw bytes to copy.
    Running(u64),
    /// The backup completed before the server was seen running it.
    Done(proto::BackupSummary),
}

/// Asks for a backup tagged `tag` and returns as soon as the server reports it running (it
/// completes on its own when this request goes), or with its summary if it ends first.
async fn started_backup(c: &Client, tag: &str) -> CliResult<Started> {
    let work = c.create_backup(tag);
    tokio::pin!(work);
    loop {
        tokio::select! {
            r = &mut work => return Ok(Started::Done(r?)),
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                if let Ok(s) = c.backup_status().await
                    && s.backup_running
                    && s.backup_tag == tag
                {
                    return Ok(Started::Running(s.backup_bytes_total));
                }
            }
        }
    }
}

async fn with_backup_progress(c: &Client, tag: &str) -> CliResult<proto::BackupSummary> {
    let bar = crate::transfer::progress(0);
    let work = c.create_backup(tag);
    tokio::pin!(work);
    let made = loop {
        tokio::select! {
            r = &mut work => break r,
            () = tokio::time::sleep(Duration::from_secs(1)), if !bar.is_hidden() => {
                if let Ok(s) = c.backup_status().await
                    && s.backup_running
                {
                    bar.set_length(s.backup_bytes_total);
                    bar.set_position(s.backup_bytes_done);
                }
            }
        }
    };
    bar.finish_and_clear();
    Ok(made?)
}

/// `backup status` as a two-column table.
fn backup_status(s: &proto::BackupStatusResponse) -> String {
    let or_none = |t: &str| {
        if t.is_empty() {
            "none".to_string()
        } else {
            t.to_string()
        }
    };
    let gaps = s
        .gaps
        .iter()
        .map(|g| format!("{}-{}", g.from, g.to))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = vec![
        vec!["store".into(), or_none(&s.store)],
        vec![
            "archiving".into(),
            if s.archiving { "on" } else { "off" }.into(),
        ],
        vec!["lineage".into(), or_none(&s.lineage)],
        vec!["complete backups".into(), s.backups.to_string()],
        vec![
            "running backup".into(),
            if s.backup_running {
                format!("{} of {} bytes", s.backup_bytes_done, s.backup_bytes_total)
            } else {
                "none".into()
            },
        ],
        vec!["visible seq".into(), s.visible_seq.to_string()],
        vec!["archived seq".into(), s.archived_seq.to_string()],
        vec!["archived commit".into(), utc(s.archived_commit_time_ms)],
        vec![
            "archive lag".into(),
            format!("{:.1} s", s.archive_lag_seconds),
        ],
        vec!["last archived at".into(), utc(s.last_archived_at_ms)],
        vec!["first recoverable".into(), utc(s.first_recoverable_ms)],
        vec!["last recoverable".into(), utc(s.last_recoverable_ms)],
        vec!["archive errors".into(), s.archive_errors.to_string()],
        vec!["last error".into(), or_none(&s.last_error)],
        vec!["gaps".into(), or_none(&gaps)],
    ];
    table(&["", ""], rows)
}

/// `apikey ...`.
pub async fn apikey(c: &Client, cmd: ApiKeyCmd) -> CliResult<String> {
    Ok(match cmd {
        ApiKeyCmd::Create {
            user,
            description,
            expires_in,
        } => {
            let k = c
                .create_api_key(&user, &description, expires_in.map(Duration::from_secs))
                .await?;
            format!(
                "id: {}\nkey: {}\nexpires: {}",
                k.id,
                k.key,
                millis(k.expires_at_ms)
            )
        }
        ApiKeyCmd::Revoke { id } => {
            c.revoke_api_key(&id).await?;
            format!("revoked API key {id}")
        }
        ApiKeyCmd::List { user } => {
            let rows = c
                .list_api_keys(&user)
                .await?
                .into_iter()
                .map(|k| vec![k.id, k.user, k.description, millis(k.expires_at_ms)])
                .collect();
            table(&["id", "user", "description", "expires"], rows)
        }
    })
}

/// `status`: info for everyone; statistics when the caller may read them.
pub async fn status(c: &Client) -> CliResult<String> {
    let info = c.server_info().await?;
    let me = c.whoami().await?;
    let mut rows = vec![
        vec!["version".into(), info.version],
        vec!["uptime_seconds".into(), info.uptime_seconds.to_string()],
        vec!["role".into(), info.role],
        vec!["tls".into(), info.tls.to_string()],
        vec![
            "user".into(),
            format!("{} ({})", me.user, grants(&me.grants)),
        ],
    ];
    match c.server_stats().await {
        Ok(s) => rows.extend([
            vec!["documents".into(), s.documents.to_string()],
            vec!["visible_seq".into(), s.visible_seq.to_string()],
            vec!["checkpoint_seq".into(), s.checkpoint_seq.to_string()],
            vec!["write_batches".into(), s.write_batches.to_string()],
            vec!["data_file_bytes".into(), s.data_file_bytes.to_string()],
            vec!["vlog_bytes".into(), s.vlog_bytes.to_string()],
            vec!["connections".into(), s.connections.to_string()],
            vec!["sessions".into(), s.sessions.to_string()],
        ]),
        Err(Error::Server {
            code: Code::PermissionDenied,
            ..
        }) => {}
        Err(e) => return Err(e.into()),
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    for r in rows {
        t.add_row(r);
    }
    Ok(t.to_string())
}

/// `ping`: succeeds once the server's health check answers serving, trying for up to `wait`.
pub async fn ping(c: &Client, wait: Duration) -> CliResult<String> {
    let deadline = Instant::now() + wait;
    loop {
        let started = Instant::now();
        match c.ping().await {
            Ok(()) => {
                return Ok(format!(
                    "{} answered in {:.1} ms",
                    c.endpoint(),
                    started.elapsed().as_secs_f64() * 1000.0
                ));
            }
            Err(e) if Instant::now() + Duration::from_millis(200) < deadline => {
                tracing::debug!(error = %e, "not answering yet");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(CliError::Client(e)),
        }
    }
}
