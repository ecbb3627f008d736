//! The control plane's operation table from `openapi/sandbox.yaml` into
//! `OUT_DIR/control_operations.rs`, as `orders.yaml`'s is in `sophic-client`: the front door
//! reads each operation's media type and body limit from it.

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let spec_path = manifest_dir.join("../../openapi/sandbox.yaml");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let spec = fs::read_to_string(&spec_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", spec_path.display()));
    let source = sophic_codegen::operations::operation_table(&spec, "CONTROL_OPERATIONS")
        .unwrap_or_else(|e| panic!("{}: {e}", spec_path.display()));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("control_operations.rs");
    fs::write(&out, source).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
