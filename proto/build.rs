//! Compiles `proto/shinydb/v1/*.proto` with the vendored `protoc`, so no system protoc is needed.

use std::{error::Error, path::PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from("proto");
    let files: Vec<PathBuf> = [
        "common",
        "documents",
        "query",
        "catalog",
        "users",
        "server",
        "pipeline",
        "backup",
        "replication",
    ]
    .iter()
    .map(|f| dir.join("shinydb/v1").join(format!("{f}.proto")))
    .collect();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    // Documents are BSON byte strings: keep them as `Bytes` to avoid copies.
    config.bytes(["."]);
    tonic_prost_build::configure().compile_with_config(config, &files, &[dir])?;
    Ok(())
}
