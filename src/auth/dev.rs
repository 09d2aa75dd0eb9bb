//! Dev mode's signing secret and tokens. `elevator serve` in dev mode writes a random secret to
//! the user's state directory; `elevator dev-token` reads it and mints HS256 tokens with issuer
//! [`super::DEV_ISSUER`], which any server outside dev mode refuses.

use std::io::Write;
use std::path::{Path, PathBuf};

use jsonwebtoken::{EncodingKey, Header};
use rand::RngCore;

use super::{Claims, read_secret_file};

/// The directory dev mode keeps its secret in: `$ELEVATOR_STATE_DIR`, else
/// `$XDG_STATE_HOME/elevator`, else `$HOME/.local/state/elevator`.
pub fn state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ELEVATOR_STATE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(dir).join("elevator");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/state/elevator")
}

/// The secret file inside `dir`.
pub(crate) fn secret_path(dir: &Path) -> PathBuf {
    dir.join("dev-secret")
}

/// Reads the dev secret in `dir`, creating it (readable by the owner only) if missing.
pub(crate) fn load_or_create_secret(dir: &Path) -> std::io::Result<Vec<u8>> {
    load_or_create_secret_file(dir, "dev-secret")
}

/// Reads the 32-byte random secret (hex) in file `name` of `dir`, creating it (readable by
/// the owner only) if missing.
pub(crate) fn load_or_create_secret_file(dir: &Path, name: &str) -> std::io::Result<Vec<u8>> {
    let path = dir.join(name);
    match read_secret_file(&path) {
        Ok(secret) => return Ok(secret),
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
        Err(_) => {}
    }
    std::fs::create_dir_all(dir)?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())?;
            Ok(secret.into_bytes())
        }
        // Another process created it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => read_secret_file(&path),
        Err(error) => Err(error),
    }
}

/// Reads the dev secret in `dir`, which `elevator serve` in dev mode created.
pub fn load_secret(dir: &Path) -> Result<Vec<u8>, String> {
    let path = secret_path(dir);
    read_secret_file(&path).map_err(|error| {
        format!(
            "cannot read the dev secret at {} ({error}); start `elevator serve` in dev mode first",
            path.display()
        )
    })
}

/// Signs `claims` with HS256.
pub fn sign_hs256(secret: &[u8], claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing of serializable claims cannot fail")
}
