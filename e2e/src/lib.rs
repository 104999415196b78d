//! End-to-end test harness for ShinyDB against the real single-node Kubernetes cluster that
//! `e2e/cluster/up` starts (see `e2e/cluster/README.md`).
//!
//! Tests find the cluster through the kubeconfig named by [`KUBECONFIG_ENV`]. When it is not
//! set (a laptop without a cluster), [`Cluster::from_env`] prints why and returns `None`, and the
//! test returns early. When it is set, every failure to reach the cluster is an error: `.ci/run`
//! sets it after `up`, so a cluster that did not come up fails CI.

pub mod s3;

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::{DeleteParams, LogParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

/// Environment variable holding the path of the cluster's admin kubeconfig.
pub const KUBECONFIG_ENV: &str = "SHINYDB_E2E_KUBECONFIG";
/// Environment variable holding the directory of the cluster's tools (`helm`, `kubectl`).
pub const BIN_ENV: &str = "SHINYDB_E2E_BIN";
/// Where `e2e/cluster/build` puts the tools when [`BIN_ENV`] is not set.
pub const DEFAULT_BIN_DIR: &str = "/var/cache/shinydb-e2e/bin";
/// Environment variable overriding the test image reference.
pub const TESTBOX_IMAGE_ENV: &str = "SHINYDB_E2E_TESTBOX_IMAGE";
/// The test image `up` imports: Debian's busybox-static in ShinyDB's runtime image layout.
pub const DEFAULT_TESTBOX_IMAGE: &str = "shinydb/e2e-testbox:v1";

/// Errors of the harness and the tests.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The kubeconfig file could not be read or used.
    #[error("kubeconfig {path}: {message}")]
    Kubeconfig {
        /// Path from [`KUBECONFIG_ENV`].
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A request to the API server failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A condition did not hold in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// How long we waited.
        after: Duration,
        /// What we waited for, including the last observed state.
        what: String,
    },
    /// An external tool (helm, kubectl) could not be run or failed.
    #[error("{command}: {message}")]
    Tool {
        /// The command line.
        command: String,
        /// Exit status and output, or the spawn error.
        message: String,
    },
    /// A check of the test failed.
    #[error("check failed: {0}")]
    Check(String),
    /// Local I/O failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// An object could not be built from JSON.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// Result type of the harness.
pub type Result<T> = std::result::Result<T, Error>;

/// A connection to the e2e cluster.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    kubeconfig: PathBuf,
}

impl Cluster {
    /// Connects to the cluster named by [`KUBECONFIG_ENV`]. Returns `Ok(None)` after printing
    /// the reason when the variable is unset or empty, so tests can skip on machines without a
    /// cluster.
    pub async fn from_env() -> Result<Option<Cluster>> {
        let Some(path) = std::env::var_os(KUBECONFIG_ENV).filter(|p| !p.is_empty()) else {
            // Straight to the stderr handle: libtest captures eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "shinydb-e2e: skipping: {KUBECONFIG_ENV} is not set; start a cluster with \
                 `e2e/cluster/up` (or run `e2e/cluster/ci.sh`) to run the e2e tests"
            );
            return Ok(None);
        };
        let path = PathBuf::from(path);
        let err = |message: String| Error::Kubeconfig {
            path: path.clone(),
            message,
        };
        let kubeconfig = Kubeconfig::read_from(&path).map_err(|e| err(e.to_string()))?;
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(|e| err(e.to_string()))?;
        let client = Client::try_from(config)?;
        Ok(Some(Cluster {
            client,
            kubeconfig: path,
        }))
    }

    /// The API client (admin credentials).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Path of the kubeconfig, for tools such as helm.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Creates a namespace named `<prefix>-<unique suffix>` for one test, and waits until its
    /// `default` ServiceAccount exists (pods are rejected before that).
    pub async fn namespace(&self, prefix: &str) -> Result<TestNamespace> {
        let name = format!("{prefix}-{}", unique_suffix());
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"shinydb.io/e2e": "true"}},
        }))?;
        Api::<Namespace>::all(self.client())
            .create(&PostParams::default(), &ns)
            .await?;
        let accounts: Api<ServiceAccount> = Api::namespaced(self.client(), &name);
        wait_until(
            &format!("ServiceAccount {name}/default"),
            Duration::from_secs(60),
            || {
                let accounts = accounts.clone();
                async move { Ok(accounts.get_opt("default").await?.map(|_| ())) }
            },
        )
        .await?;
        Ok(TestNamespace {
            name,
            client: self.client(),
        })
    }
}

/// A namespace owned by one test. Call [`TestNamespace::delete`] at the end; `down` wipes the
/// whole cluster anyway, so a test that fails before that leaks nothing beyond the cluster.
pub struct TestNamespace {
    name: String,
    client: Client,
}

impl TestNamespace {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The API client (admin credentials).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Typed API for objects of kind `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace (without waiting for its finalization).
    pub async fn delete(self) -> Result<()> {
        Api::<Namespace>::all(self.client)
            .delete(&self.name, &DeleteParams::default())
            .await?;
        Ok(())
    }
}

/// A suffix unique enough for test object names: lowercase hex of time and PID.
pub fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32).rotate_left(7))
        .unwrap_or(0);
    format!("{:x}{:x}", nanos & 0xffffff, std::process::id() & 0xff)
}

/// Polls `probe` every half second until it returns `Ok(Some(value))`, and returns the value.
/// `Ok(None)` means "not yet"; an error ends the wait at once. `what` names the condition in
/// the timeout error.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if start.elapsed() > timeout {
            return Err(Error::Timeout {
                after: timeout,
                what: what.to_string(),
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The test image reference ([`TESTBOX_IMAGE_ENV`] or [`DEFAULT_TESTBOX_IMAGE`]).
pub fn testbox_image() -> String {
    std::env::var(TESTBOX_IMAGE_ENV).unwrap_or_else(|_| DEFAULT_TESTBOX_IMAGE.to_string())
}

/// Path of a cluster tool such as `helm` ([`BIN_ENV`] or [`DEFAULT_BIN_DIR`]).
pub fn tool(name: &str) -> PathBuf {
    let dir = std::env::var_os(BIN_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_BIN_DIR));
    dir.join(name)
}

/// Runs `tool` with `args` and returns its standard output; a non-zero exit is an error that
/// carries the output.
pub async fn run_tool(tool: &Path, args: &[&str]) -> Result<String> {
    let command = format!("{} {}", tool.display(), args.join(" "));
    let out = tokio::process::Command::new(tool)
        .args(args)
        .output()
        .await
        .map_err(|e| Error::Tool {
            command: command.clone(),
            message: e.to_string(),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(Error::Tool {
            command,
            message: format!(
                "{}\nstdout:\n{stdout}\nstderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    Ok(stdout)
}

/// Runs `script` with `sh -c` in a one-shot pod of the test image in namespace `ns`, waits for
/// it to finish and returns its log. A pod that fails is an error carrying its log.
pub async fn run_script_pod(
    ns: &TestNamespace,
    name: &str,
    script: &str,
    timeout: Duration,
) -> Result<String> {
    let pods: Api<Pod> = ns.api();
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "main",
                "image": testbox_image(),
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", script],
            }],
        },
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    let phase = wait_until(&format!("pod {name} to finish"), timeout, || {
        let pods = pods.clone();
        async move {
            let pod = pods.get(name).await?;
            let phase = pod.status.and_then(|s| s.phase).unwrap_or_default();
            Ok(matches!(phase.as_str(), "Succeeded" | "Failed").then_some(phase))
        }
    })
    .await?;
    let log = pods.logs(name, &LogParams::default()).await?;
    if phase != "Succeeded" {
        return Err(Error::Check(format!("pod {name} {phase}; log:\n{log}")));
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_suffix_is_a_valid_name_part() {
        let s = unique_suffix();
        assert!(!s.is_empty() && s.len() <= 8);
        assert!(
            s.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn tool_defaults_to_the_build_cache() {
        if std::env::var_os(BIN_ENV).is_none() {
            assert_eq!(tool("helm"), Path::new(DEFAULT_BIN_DIR).join("helm"));
        }
    }
}
