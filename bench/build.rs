//! Compiles `proto/echo.proto` (the transport-floor echo service) with the vendored `protoc`.

use std::{error::Error, path::PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let file = PathBuf::from("proto/echo.proto");
    println!("cargo:rerun-if-changed={}", file.display());
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    config.bytes(["."]);
    tonic_prost_build::configure().compile_with_config(
        config,
        &[file],
        &[PathBuf::from("proto")],
    )?;
    Ok(())
}
