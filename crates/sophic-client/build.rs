//! Generates the client from `openapi/orders.yaml` into `OUT_DIR/sophic_client.rs`.
//! Every setting lives in `sophic-codegen`, shared with `cargo xtask codegen`.

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let spec_path = manifest_dir.join("../../openapi/orders.yaml");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let spec = fs::read_to_string(&spec_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", spec_path.display()));
    let source = sophic_codegen::generate(&spec).unwrap_or_else(|e| panic!("{e}"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("sophic_client.rs");
    fs::write(&out, source).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
