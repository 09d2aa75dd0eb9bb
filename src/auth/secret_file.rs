//! Secrets kept in files (signing keys, the CSRF key, dev mode's secret): the one way they are
//! read, so every secret file may end with a newline, as editors and `kubectl create secret
//! --from-file` leave it.

use std::path::Path;

/// The secret in the file at `path`: its bytes, with surrounding whitespace trimmed.
pub fn read_secret_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.trim().as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_newline_is_not_part_of_the_secret() {
        let path = std::env::temp_dir().join(format!("elevator-secret-{}", std::process::id()));
        std::fs::write(&path, "  s3cret\n").unwrap();
        assert_eq!(read_secret_file(&path).unwrap(), b"s3cret");
        std::fs::remove_file(&path).unwrap();
    }
}
