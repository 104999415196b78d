//! The root `Dockerfile`'s runtime stages must mirror `e2e/cluster/image-layout.env`, which the
//! e2e image tool builds from: same user, paths, volume, entrypoints, ports and binaries. Runs
//! without a cluster.

use std::collections::HashMap;
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn layout() -> HashMap<String, String> {
    let text =
        std::fs::read_to_string(repo().join("e2e/cluster/image-layout.env")).expect("layout file");
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// The lines of stage `name` (from its `FROM … AS name` to the next `FROM`).
fn stage(dockerfile: &str, name: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in dockerfile.lines() {
        if line.starts_with("FROM ") {
            inside = line.ends_with(&format!(" AS {name}"));
            continue;
        }
        if inside {
            lines.push(line.trim().to_string());
        }
    }
    assert!(!lines.is_empty(), "no stage {name} in the Dockerfile");
    lines
}

#[test]
fn dockerfile_runtime_stages_mirror_image_layout_env() {
    let env = layout();
    let get = |k: &str| {
        env.get(k)
            .unwrap_or_else(|| panic!("{k} missing from image-layout.env"))
            .clone()
    };
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).expect("Dockerfile");
    let layout_stage = stage(&dockerfile, "layout").join("\n");
    let (uid, gid, data, bin) = (
        get("IMAGE_UID"),
        get("IMAGE_GID"),
        get("IMAGE_DATA_DIR"),
        get("IMAGE_BIN_DIR"),
    );
    assert!(layout_stage.contains(&format!("{}:x:{uid}:{gid}:", get("IMAGE_USER_NAME"))));
    assert!(layout_stage.contains(&format!("\"$2{bin}/$(basename")));
    assert!(layout_stage.contains(&format!("chmod 0750 \"$root{data}\"")));
    assert!(layout_stage.contains("chmod 1777 \"$root/tmp\""));
    for profile in ["server", "operator"] {
        let up = profile.to_uppercase();
        let lines = stage(&dockerfile, profile);
        let has = |want: String| {
            assert!(
                lines.contains(&want),
                "stage {profile} lacks `{want}`: {lines:#?}"
            );
        };
        has(format!("USER {uid}:{gid}"));
        has(format!("WORKDIR {}", get("IMAGE_WORKDIR")));
        has(format!("VOLUME {data}"));
        has(format!("ENV PATH={}", get("IMAGE_PATH")));
        has(format!(
            "COPY --from=layout --chown={uid}:{gid} /rootfs/{profile}{data} {data}"
        ));
        has(format!(
            "ENTRYPOINT [\"{bin}/{}\"]",
            get(&format!("IMAGE_{up}_ENTRYPOINT"))
        ));
        let ports = get(&format!("IMAGE_{up}_PORTS"));
        if ports.is_empty() {
            assert!(
                lines.iter().all(|l| !l.starts_with("EXPOSE")),
                "{profile} exposes ports"
            );
        } else {
            has(format!("EXPOSE {ports}"));
        }
        for binary in get(&format!("IMAGE_{up}_BINARIES")).split_whitespace() {
            assert!(
                layout_stage.contains(&format!(
                    "copy_with_libs target/release/{binary} /rootfs/{profile}"
                )),
                "{binary} is not copied into the {profile} image"
            );
        }
    }
}
