//! The example modules under `modules/`, built to wasm32 by
//! `scripts/build-modules.sh` (which `scripts/test.sh` runs first).

use std::path::PathBuf;

/// Where the built `modules/<name>` crate is; panics, saying how to build
/// it, when it is not there.
pub fn path(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../modules/target/wasm32-unknown-unknown/release")
        .join(format!("{name}.wasm"));
    assert!(
        path.exists(),
        "{}: build the modules with scripts/build-modules.sh (scripts/test.sh does it first)",
        path.display()
    );
    path
}

/// The built `modules/<name>` crate's bytes.
pub fn wasm(name: &str) -> Vec<u8> {
    let path = path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
