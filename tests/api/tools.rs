//! The outside programs some tests run (Envoy, Python, Helm, kubernetes-validate), found where
//! the README's test command (`bash .ci/test`) installs them, so a plain `cargo test` after one
//! run of it finds them too: a variable naming the binary, else `target/test-tools/venv/bin`
//! and `target/test-tools/bin`, else the PATH.

use std::path::{Path, PathBuf};

/// Where `.ci/test` installs the tools.
fn installed_dirs() -> [PathBuf; 2] {
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tools");
    [tools.join("venv/bin"), tools.join("bin")]
}

/// The program `name`: `$variable` when set, else the copy `.ci/test` installed, else `name`
/// on the PATH. Panics saying how to install it.
pub(crate) fn tool(name: &str, variable: &str, what: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return path.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    installed_dirs()
        .into_iter()
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "no {name} ({what}): run `bash .ci/test`, which installs it under target/test-tools, \
                 or set {variable} to one"
            )
        })
}
