//! A real S3-compatible server for tests: moto's (`pip install 'moto[server]'`), started on a
//! free loopback port.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    process::{Child, Command, Stdio},
    time::Duration,
};

/// A running `moto_server`; killed when dropped.
pub struct S3Server {
    child: Child,
    /// Its address.
    pub addr: SocketAddr,
}

/// An access key moto knows (made through its IAM API).
#[derive(Clone, Debug)]
pub struct AccessKey {
    /// The key id.
    pub id: String,
    /// The secret.
    pub secret: String,
}

/// Requests moto serves without checking signatures before it starts checking them: the IAM
/// calls that make the user, its key and its policy, and creating the buckets.
const SETUP_REQUESTS: usize = 4;

impl S3Server {
    /// Starts `moto_server` on a free port of 127.0.0.1; it accepts any credentials.
    pub fn start() -> S3Server {
        S3Server::spawn(None)
    }

    /// Starts `moto_server` checking signatures (its authentication mode), with `buckets`
    /// created; returns it and the one access key it accepts (a user allowed everything).
    pub fn start_with_auth(buckets: &[&str]) -> (S3Server, AccessKey) {
        let server = S3Server::spawn(Some(SETUP_REQUESTS + buckets.len()));
        server.iam("CreateUser&UserName=backup");
        let created = server.iam("CreateAccessKey&UserName=backup");
        let tag = |name: &str| {
            created
                .split(&format!("<{name}>"))
                .nth(1)
                .and_then(|rest| rest.split(&format!("</{name}>")).next())
                .unwrap_or_else(|| panic!("no {name} in {created}"))
                .to_string()
        };
        let key = AccessKey {
            id: tag("AccessKeyId"),
            secret: tag("SecretAccessKey"),
        };
        let policy = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        server.iam(&format!(
            "CreatePolicy&PolicyName=all&PolicyDocument={policy}"
        ));
        server.iam(
            "AttachUserPolicy&UserName=backup&PolicyArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fall",
        );
        for b in buckets {
            server.create_bucket(b);
        }
        (server, key)
    }

    fn spawn(auth_after: Option<usize>) -> S3Server {
        let mut cmd = Command::new("moto_server");
        if let Some(n) = auth_after {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", n.to_string());
        }
        let mut child = cmd
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting moto_server ({e}): install it with pip install 'moto[server]'")
            });
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("Running on http://").nth(1) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("moto_server did not say where it listens within 60 s");
        };
        S3Server {
            child,
            addr: addr.parse().expect("moto_server's address"),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// One IAM Query API call (`Action=<action>`), unsigned: moto routes it by the credential
    /// scope of a placeholder `Authorization` header, and serves it while it does not yet check
    /// signatures. The response body.
    fn iam(&self, action: &str) -> String {
        let body = format!("Action={action}&Version=2010-05-08");
        let mut s = TcpStream::connect(self.addr).expect("connect moto");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/iam/aws4_request, \
             SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        assert!(
            out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"),
            "IAM {action}: {out}"
        );
        out
    }

    /// Creates a bucket (moto accepts any credentials).
    pub fn create_bucket(&self, name: &str) {
        let mut s = TcpStream::connect(self.addr).expect("connect moto");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            s,
            "PUT /{name} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        assert!(
            out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"),
            "creating bucket {name}: {out}"
        );
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
