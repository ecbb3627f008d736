//! Shared helpers of the workspace-level tests in `tests/tests/`.

use std::path::{Path, PathBuf};

/// The workspace root (the folder holding `openapi/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// `openapi/orders.yaml` as JSON, YAML anchors resolved.
pub fn orders_spec() -> serde_json::Value {
    let path = workspace_root().join("openapi/orders.yaml");
    let text = std::fs::read_to_string(&path).expect("openapi/orders.yaml is readable");
    serde_yaml::from_str(&text).expect("openapi/orders.yaml is valid YAML")
}
