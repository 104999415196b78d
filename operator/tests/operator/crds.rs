//! `crds/` and the chart's `files/crds/` must hold exactly what the code generates; regenerate with
//! `SHINYDB_UPDATE_CRDS=1 cargo test -p shinydb-operator --test operator crds::`.

use std::path::PathBuf;

/// Where the generated CRDs live: `crds/` and the Helm chart's copy.
fn crd_dirs() -> [PathBuf; 2] {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    [
        root.join("crds"),
        root.join("charts/shinydb-operator/files/crds"),
    ]
}

#[test]
fn crds_directories_match_the_code() {
    let update = std::env::var_os("SHINYDB_UPDATE_CRDS").is_some();
    for dir in crd_dirs() {
        let mut expected_files = Vec::new();
        for crd in shinydb_operator::crd::all() {
            let name = shinydb_operator::crd::file_name(&crd);
            let yaml = serde_yaml_ng::to_string(&crd).expect("CRD serializes");
            let path = dir.join(&name);
            if update {
                std::fs::write(&path, &yaml).expect("write the CRD file");
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == yaml,
                "{} differs from the code; run SHINYDB_UPDATE_CRDS=1 cargo test -p \
                 shinydb-operator --test operator crds:: and review the diff",
                path.display()
            );
            expected_files.push(name);
        }
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .expect("the CRD directory exists")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        found.sort();
        expected_files.sort();
        assert_eq!(
            found,
            expected_files,
            "{} holds files the code does not generate",
            dir.display()
        );
    }
}

#[test]
fn crd_subcommand_prints_every_crd() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shinydb-operator"))
        .arg("crd")
        .output()
        .expect("run shinydb-operator crd");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let docs: Vec<serde_json::Value> = text
        .split("---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| serde_yaml_ng::from_str(d).expect("each document is YAML"))
        .collect();
    let names: Vec<&str> = docs
        .iter()
        .filter_map(|d| d["metadata"]["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "shinydbs.shinydb.io",
            "shinybackups.shinydb.io",
            "shinyrestores.shinydb.io"
        ]
    );
}

fn shinydb_schema() -> serde_json::Value {
    let crd = shinydb_operator::crd::all().remove(0);
    let v = serde_json::to_value(&crd).expect("json");
    v["spec"]["versions"][0].clone()
}

#[test]
fn conditions_are_a_list_keyed_by_type() {
    let version = shinydb_schema();
    let conditions =
        &version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(
        conditions["x-kubernetes-list-map-keys"],
        serde_json::json!(["type"])
    );
    assert!(version["subresources"]["status"].is_object());
}

#[test]
fn printer_columns_show_phase_ready_version_age() {
    let version = shinydb_schema();
    let names: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["Phase", "Ready", "Version", "Age"]);
}

#[test]
fn cel_rules_name_the_field_they_check() {
    let version = shinydb_schema();
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let tls_rules = spec["properties"]["tls"]["x-kubernetes-validations"]
        .as_array()
        .expect("tls rules");
    let messages: Vec<&str> = tls_rules
        .iter()
        .filter_map(|r| r["message"].as_str())
        .collect();
    assert!(
        messages.contains(&"spec.tls.allowInsecure must be true when spec.tls.mode is Disabled")
    );
    assert!(
        messages.iter().all(|m| m.starts_with("spec.tls.")),
        "{messages:?}"
    );
    let size = &spec["properties"]["storage"]["properties"]["size"]["x-kubernetes-validations"][0];
    assert_eq!(size["rule"], "self == oldSelf");
    let config = &spec["properties"]["config"];
    assert_eq!(config["x-kubernetes-preserve-unknown-fields"], true);
    assert_eq!(spec["properties"]["replicas"]["maximum"], 9.0);
}
