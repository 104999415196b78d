//! Where backups go: an object store and a prefix in it, opened from `backup:`.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutPayload, aws::AmazonS3Builder,
    local::LocalFileSystem, path::Path as Key,
};

use super::{BackupError, crypt::Sealer};
use crate::config::BackupConfig;

/// An opened backup store, with the encryption key when one is configured.
pub struct Location {
    store: Arc<dyn ObjectStore>,
    /// The directory of a `file://` store.
    root: Option<PathBuf>,
    prefix: Key,
    url: String,
    sealer: Option<Arc<Sealer>>,
}

impl Location {
    /// Opens the store `backup.store` names, with credentials and the encryption key read now
    /// (a changed Secret is used by the next operation).
    pub fn open(cfg: &BackupConfig) -> Result<Location, BackupError> {
        let url = cfg.store.clone().ok_or(BackupError::NotConfigured)?;
        let sealer = match &cfg.encryption_key_file {
            Some(path) => Some(Arc::new(Sealer::from_file(path)?)),
            None => None,
        };
        let bad = |reason: String| BackupError::BadStore {
            store: url.clone(),
            reason,
        };
        if let Some(path) = url.strip_prefix("file://") {
            let root = Path::new(path);
            if !root.is_absolute() {
                return Err(bad("a file:// store needs an absolute path".into()));
            }
            std::fs::create_dir_all(root).map_err(|source| BackupError::File {
                what: "creating the backup directory",
                path: root.to_path_buf(),
                source,
            })?;
            // Synced like the data it copies; empty directories left by deletions would list
            // as backups without a manifest.
            let store = LocalFileSystem::new_with_prefix(root)
                .map_err(|e| bad(e.to_string()))?
                .with_fsync(true)
                .with_automatic_cleanup(true);
            return Ok(Location {
                store: Arc::new(store),
                root: Some(root.to_path_buf()),
                prefix: Key::default(),
                url,
                sealer,
            });
        }
        let Some(rest) = url.strip_prefix("s3://") else {
            return Err(bad("use s3://bucket/prefix or file:///path".into()));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("the URL names no bucket".into()));
        }
        let mut options = ClientOptions::new().with_allow_http(cfg.allow_http);
        if let Some(ca) = &cfg.ca_file {
            let pem = read_file("reading backup.ca_file", ca)?;
            let certs = object_store::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| bad(format!("backup.ca_file {}: {e}", ca.display())))?;
            for c in certs {
                options = options.with_root_certificate(c);
            }
        }
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_region(&cfg.region)
            .with_allow_http(cfg.allow_http)
            .with_virtual_hosted_style_request(!cfg.path_style)
            .with_client_options(options);
        if let Some(endpoint) = &cfg.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let (Some(id), Some(secret)) = (&cfg.access_key_id_file, &cfg.secret_access_key_file) {
            builder = builder
                .with_access_key_id(read_file("reading backup.access_key_id_file", id)?.trim())
                .with_secret_access_key(
                    read_file("reading backup.secret_access_key_file", secret)?.trim(),
                );
        }
        let store = builder.build().map_err(|e| bad(e.to_string()))?;
        Ok(Location {
            store: Arc::new(store),
            root: None,
            prefix: Key::from(prefix.trim_matches('/')),
            url,
            sealer,
        })
    }

    /// The encryption key, when `backup.encryption_key_file` is set.
    pub(crate) fn sealer(&self) -> Option<&Arc<Sealer>> {
        self.sealer.as_ref()
    }

    /// The store's URL, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key of `parts` under the prefix.
    pub(crate) fn key(&self, parts: &[&str]) -> Key {
        let mut k = self.prefix.clone();
        for p in parts {
            k = k.clone().join(*p);
        }
        k
    }

    fn err(&self, e: object_store::Error) -> BackupError {
        BackupError::from_store(&self.url, e)
    }

    /// Writes an object, replacing what is there.
    pub(crate) async fn put(&self, key: &Key, bytes: Bytes) -> Result<(), BackupError> {
        self.store
            .put(key, PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Writes an object that must not exist yet.
    pub(crate) async fn put_new(&self, key: &Key, bytes: Bytes) -> Result<(), BackupError> {
        self.store
            .put_opts(key, PutPayload::from(bytes), PutMode::Create.into())
            .await
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Reads a whole object.
    pub(crate) async fn get(&self, key: &Key) -> Result<Bytes, BackupError> {
        let r = self.store.get(key).await.map_err(|e| self.err(e))?;
        r.bytes().await.map_err(|e| self.err(e))
    }

    /// Deletes an object; one that is already gone is not an error.
    pub(crate) async fn delete(&self, key: &Key) -> Result<(), BackupError> {
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Removes what a `file://` store's listing hides of backup `id` (a checked id) once its
    /// objects are deleted: the staging files (`<name>#<n>`) of uploads a crash cut short,
    /// which would keep its directory, and so a backup without a manifest, listed forever.
    /// Nothing for other stores, whose uploads are atomic.
    pub(crate) fn remove_hidden(&self, id: &str) -> Result<(), BackupError> {
        let Some(root) = &self.root else {
            return Ok(());
        };
        if id.is_empty() || id.contains(['/', '.']) {
            return Ok(());
        }
        let dir = root.join("base").join(id);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(BackupError::File {
                what: "removing what is left of a deleted backup",
                path: dir,
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Every object under `parts`: its key and when it was last modified (ms since the epoch).
    pub(crate) async fn objects(&self, parts: &[&str]) -> Result<Vec<(Key, i64)>, BackupError> {
        let under = self.key(parts);
        let metas: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&under))
            .try_collect()
            .await
            .map_err(|e| self.err(e))?;
        Ok(metas
            .into_iter()
            .map(|m| (m.location, m.last_modified.timestamp_millis()))
            .collect())
    }

    /// The "directories" directly under `parts` (their last segment).
    pub(crate) async fn children(&self, parts: &[&str]) -> Result<Vec<String>, BackupError> {
        let under = self.key(parts);
        let listing = self
            .store
            .list_with_delimiter(Some(&under))
            .await
            .map_err(|e| self.err(e))?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }
}

fn read_file(what: &'static str, path: &Path) -> Result<String, BackupError> {
    std::fs::read_to_string(path).map_err(|source| BackupError::File {
        what,
        path: path.to_path_buf(),
        source,
    })
}
