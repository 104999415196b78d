//! moto's S3 server (`pip install 'moto[server]'`) on the cluster's bridge address, where pods
//! reach it: checking signatures (one IAM user with one access key may do everything), or not.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::{Error, Result};

/// The host's address on the pods' bridge (`POD_GW` in `e2e/cluster/lib.sh`).
pub const BRIDGE_ADDRESS: &str = "10.88.0.1";

/// Requests moto serves without checking signatures: the four IAM calls that make the user,
/// its key and its policy, then one per bucket.
const SETUP_REQUESTS: usize = 4;

/// A running `moto_server`, killed when dropped.
pub struct S3Server {
    _child: Child,
    addr: String,
    /// The access key it accepts.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
}

fn tag(xml: &str, name: &str) -> Result<String> {
    xml.split(&format!("<{name}>"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("</{name}>")).next())
        .map(str::to_string)
        .ok_or_else(|| Error::Check(format!("moto: no <{name}> in {xml}")))
}

impl S3Server {
    /// Starts moto on a free port of [`BRIDGE_ADDRESS`] with `buckets` created, checking
    /// signatures: only the returned key is accepted.
    pub async fn start(buckets: &[&str]) -> Result<S3Server> {
        let mut server = S3Server::spawn(Some(SETUP_REQUESTS + buckets.len())).await?;
        server.iam("CreateUser&UserName=backup").await?;
        let created = server.iam("CreateAccessKey&UserName=backup").await?;
        server.access_key_id = tag(&created, "AccessKeyId")?;
        server.secret_access_key = tag(&created, "SecretAccessKey")?;
        let policy = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        server
            .iam(&format!(
                "CreatePolicy&PolicyName=all&PolicyDocument={policy}"
            ))
            .await?;
        server
            .iam("AttachUserPolicy&UserName=backup&PolicyArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fall")
            .await?;
        server.create_buckets(buckets).await?;
        Ok(server)
    }

    /// Starts moto without checking signatures (any key is accepted), with `buckets`. In its
    /// checking mode moto refuses signed object listings (getmoto/moto#5948), which a restore
    /// needs: restores are tested against this one.
    pub async fn start_unchecked(buckets: &[&str]) -> Result<S3Server> {
        let mut server = S3Server::spawn(None).await?;
        server.access_key_id = "e2e-restore".into();
        server.secret_access_key = "e2e-restore-secret".into();
        server.create_buckets(buckets).await?;
        Ok(server)
    }

    async fn create_buckets(&self, buckets: &[&str]) -> Result<()> {
        for bucket in buckets {
            self.request(&format!(
                "PUT /{bucket} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.addr
            ))
            .await?;
        }
        Ok(())
    }

    /// Starts `moto_server`; with `unsigned_setup`, it checks signatures after that many
    /// requests.
    async fn spawn(unsigned_setup: Option<usize>) -> Result<S3Server> {
        let mut command = Command::new("moto_server");
        if let Some(count) = unsigned_setup {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", count.to_string());
        }
        let mut child = command
            .args(["-H", BRIDGE_ADDRESS, "-p", "0"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::Tool {
                command: "moto_server".into(),
                message: format!("{e}: install it with pip install 'moto[server]'"),
            })?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| Error::Check("moto: no stderr".into()))?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = line.split("Running on http://").nth(1) {
                    return Ok::<_, Error>(Some(addr.trim().to_string()));
                }
            }
            Ok(None)
        })
        .await
        .map_err(|_| Error::Check("moto_server did not say where it listens within 60 s".into()))??
        .ok_or_else(|| Error::Check("moto_server exited before listening".into()))?;
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(S3Server {
            _child: child,
            addr,
            access_key_id: String::new(),
            secret_access_key: String::new(),
        })
    }

    /// `http://<bridge address>:<port>`, the endpoint pods use.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every object key the server has held, from moto's own (unsigned) state API: its
    /// record of keys, which keeps deleted and overwritten ones too (see [`S3Server::exists`]).
    pub async fn keys(&self) -> Result<Vec<String>> {
        let out = self
            .request(&format!(
                "GET /moto-api/data.json HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.addr
            ))
            .await?;
        let body = out.split("\r\n\r\n").nth(1).unwrap_or_default();
        let data: serde_json::Value = serde_json::from_str(body)?;
        let mut keys = Vec::new();
        for key in data["s3"]["FakeKey"].as_array().into_iter().flatten() {
            if let Some(name) = key["name"].as_str() {
                keys.push(name.to_string());
            }
        }
        Ok(keys)
    }

    /// Replaces object `key` of `bucket` with `body`, with a made-up signature: only a server
    /// started with [`S3Server::start_unchecked`] takes it (anonymous writes it refuses).
    /// Tests corrupt a backup with it.
    pub async fn overwrite(&self, bucket: &str, key: &str, body: &str) -> Result<()> {
        self.request(&format!(
            "PUT /{bucket}/{key} HTTP/1.1\r\nHost: {}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/s3/aws4_request, \
             SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            self.access_key_id,
            body.len()
        ))
        .await
        .map(|_| ())
    }

    /// Whether `bucket` holds object `key` now (a GET with a made-up signature, which a server
    /// started with [`S3Server::start_unchecked`] answers).
    pub async fn exists(&self, bucket: &str, key: &str) -> Result<bool> {
        let out = self
            .exchange(&format!(
                "GET /{bucket}/{key} HTTP/1.1\r\nHost: {}\r\n\
                 Authorization: AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/s3/aws4_request, \
                 SignedHeaders=host, Signature=0\r\nConnection: close\r\n\r\n",
                self.addr, self.access_key_id
            ))
            .await?;
        match out.split(' ').nth(1) {
            Some("200") => Ok(true),
            Some("404") => Ok(false),
            _ => Err(Error::Check(format!(
                "moto: GET /{bucket}/{key}: {}",
                out.lines().next().unwrap_or_default()
            ))),
        }
    }

    async fn iam(&self, action: &str) -> Result<String> {
        let body = format!("Action={action}&Version=2010-05-08");
        self.request(&format!(
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, \
             SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        ))
        .await
    }

    /// Sends one HTTP/1.1 request; the whole response, whatever its status (a binary body
    /// read lossily: callers look at the status line or a JSON body).
    async fn exchange(&self, request: &str) -> Result<String> {
        let mut s = TcpStream::connect(&self.addr).await?;
        s.write_all(request.as_bytes()).await?;
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out))
            .await
            .map_err(|_| Error::Check(format!("moto did not answer {request:?} within 30 s")))??;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Sends one HTTP/1.1 request; the whole response, which must be a 200.
    async fn request(&self, request: &str) -> Result<String> {
        let out = self.exchange(request).await?;
        if !(out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200")) {
            let first = request.lines().next().unwrap_or_default();
            return Err(Error::Check(format!("moto: {first}: {out}")));
        }
        Ok(out)
    }
}
