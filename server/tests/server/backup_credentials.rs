//! Credentials of the backup store, against moto checking signatures: a wrong secret is a
//! clear error naming the credentials and the server keeps serving; the credential files are
//! read for each operation, so a fixed (or rotated) Secret works without a restart; a refused
//! listing (object_store reports it as a bare 403) is named as refused credentials too.

use shinydb_proto::v1;
use tonic::Code;

use crate::common::{Grpc, S3Server, Server, ServerOptions, sample, write_file};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_named_and_fixed_ones_work_without_a_restart() {
    let (s3, key) = S3Server::start_with_auth(&["shiny"]);
    let files = tempfile::tempdir().expect("tempdir");
    let id_file = files.path().join("access-key-id");
    let secret_file = files.path().join("secret-access-key");
    write_file(&id_file, &key.id);
    write_file(&secret_file, "not-the-secret");
    let yaml = format!(
        "backup:\n  store: s3://shiny/db\n  endpoint: {}\n  allow_http: true\n  \
         path_style: true\n  access_key_id_file: {}\n  secret_access_key_file: {}\n",
        s3.endpoint(),
        id_file.display(),
        secret_file.display()
    );
    let server = Server::start(ServerOptions::default().config(&yaml));
    let mut c = server.admin().await;
    c.create_store("app", "items").await;
    c.insert("app", "items", (0..10).map(sample).collect())
        .await;

    let e = c
        .backups
        .create(v1::CreateBackupRequest::default())
        .await
        .expect_err("a wrong secret");
    assert_eq!(e.code(), Code::FailedPrecondition, "{e}");
    assert!(
        e.message().contains("s3://shiny/db") && e.message().contains("refused the credentials"),
        "{e}"
    );
    let ids = c.insert("app", "items", vec![sample(10)]).await;
    assert_eq!(ids.len(), 1, "the server still serves writes");
    // The archive's listing is refused too (object_store reports it as a bare 403), and the
    // status names it as refused credentials, not as some other store error.
    let st = c
        .backups
        .status(v1::BackupStatusRequest {})
        .await
        .expect("status")
        .into_inner();
    assert!(
        st.last_error.contains("refused the credentials"),
        "{:?}",
        st.last_error
    );

    // The Secret is fixed; the next backup reads it.
    write_file(&secret_file, &key.secret);
    let backup = c
        .backups
        .create(v1::CreateBackupRequest::default())
        .await
        .expect("a backup with the right secret")
        .into_inner();
    assert_eq!(backup.state, "complete");
}
