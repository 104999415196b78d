//! A throwaway PostgreSQL cluster: `initdb` in a temporary directory, started with `pg_ctl` on
//! a free loopback port (never 5432), stopped and deleted on drop. initdb refuses to run as
//! root, so when we are root every command runs as the `postgres` user (Debian's package makes
//! it) through `runuser`, in a directory that user owns.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

use tracing::{info, warn};

use crate::error::BenchError;

/// Settings of the cluster besides the defaults.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// `shared_buffers`, like ShinyDB's page cache.
    pub shared_buffers: String,
    /// `max_connections`.
    pub max_connections: u32,
}

impl Default for PgSettings {
    fn default() -> Self {
        PgSettings {
            shared_buffers: "256MB".into(),
            max_connections: 100,
        }
    }
}

/// A running PostgreSQL cluster.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    running: bool,
}

/// The newest `/usr/lib/postgresql/<version>/bin` with `initdb` (or `$PG_BIN`).
pub fn find_bin() -> Result<PathBuf, BenchError> {
    if let Some(b) = std::env::var_os("PG_BIN") {
        return Ok(PathBuf::from(b));
    }
    let root = Path::new("/usr/lib/postgresql");
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir(root) {
        for e in entries.flatten() {
            let bin = e.path().join("bin");
            let version = e.file_name().to_string_lossy().parse::<u32>().ok();
            if let Some(v) = version
                && bin.join("initdb").exists()
                && best.as_ref().is_none_or(|(b, _)| v > *b)
            {
                best = Some((v, bin));
            }
        }
    }
    best.map(|(_, b)| b).ok_or_else(|| {
        BenchError::service(
            "postgresql",
            "no /usr/lib/postgresql/<version>/bin/initdb: install Debian's `postgresql` package \
             (bench/run.sh does) or set PG_BIN",
        )
    })
}

fn free_port() -> Result<u16, BenchError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| BenchError::service("finding a free port", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| BenchError::service("finding a free port", e))
}

fn run(what: &str, cmd: &mut Command) -> Result<String, BenchError> {
    let out = cmd
        .output()
        .map_err(|e| BenchError::service(what, format!("{cmd:?}: {e}")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(BenchError::service(
            what,
            format!(
                "{cmd:?} exited with {}: {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ))
    }
}

impl PgCluster {
    /// Runs initdb and starts the cluster.
    pub fn start(settings: &PgSettings) -> Result<PgCluster, BenchError> {
        let bin = find_bin()?;
        let as_postgres = rustix::process::geteuid().is_root();
        let dir = tempfile::Builder::new()
            .prefix("shinydb-bench-pg")
            .tempdir()
            .map_err(|e| BenchError::io(std::env::temp_dir(), e))?;
        if as_postgres {
            run(
                "chown to postgres",
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(dir.path()),
            )?;
        }
        let port = free_port()?;
        let mut cluster = PgCluster {
            dir,
            bin,
            port,
            as_postgres,
            running: false,
        };
        cluster.pg(
            "initdb",
            "initdb",
            &[
                "-D",
                &cluster.data().display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        let mut conf = String::new();
        let _ = write!(
            conf,
            "\n# shinydb-bench\nlisten_addresses = '127.0.0.1'\nport = {port}\n\
             unix_socket_directories = '{}'\nshared_buffers = {}\nmax_connections = {}\n\
             fsync = on\n",
            cluster.dir.path().display(),
            settings.shared_buffers,
            settings.max_connections
        );
        let conf_path = cluster.data().join("postgresql.conf");
        let mut text =
            std::fs::read_to_string(&conf_path).map_err(|e| BenchError::io(&conf_path, e))?;
        text.push_str(&conf);
        std::fs::write(&conf_path, text).map_err(|e| BenchError::io(&conf_path, e))?;
        let log = cluster.dir.path().join("postgres.log");
        let started = cluster.pg(
            "pg_ctl start",
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                &cluster.data().display().to_string(),
                "-l",
                &log.display().to_string(),
            ],
        );
        if let Err(e) = started {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(BenchError::service(
                "starting postgresql",
                format!("{e}\n{tail}"),
            ));
        }
        cluster.running = true;
        info!(port, dir = %cluster.dir.path().display(), "postgresql started");
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pg(&self, what: &str, program: &str, args: &[&str]) -> Result<String, BenchError> {
        let exe = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).current_dir(self.dir.path());
        run(what, &mut cmd)
    }

    /// A libpq connection string for the `postgres` database.
    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// The server's version, as `postgres --version` prints it.
    pub fn version(&self) -> String {
        run(
            "postgres --version",
            Command::new(self.bin.join("postgres")).arg("--version"),
        )
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| e.to_string())
    }

    /// Stops the cluster (fast shutdown) and deletes it.
    pub fn stop(mut self) -> Result<(), BenchError> {
        self.stop_inner("fast")
    }

    fn stop_inner(&mut self, mode: &str) -> Result<(), BenchError> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        self.pg(
            "pg_ctl stop",
            "pg_ctl",
            &[
                "stop",
                "-w",
                "-m",
                mode,
                "-D",
                &self.data().display().to_string(),
            ],
        )
        .map(|_| ())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop_inner("immediate") {
            warn!(error = %e, "stopping postgresql");
        }
    }
}
