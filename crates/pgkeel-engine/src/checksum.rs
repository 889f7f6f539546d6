//! Content checksums: SHA-256 over normalised text.
//!
//! The old system hashed file name + mtime + size, which missed edits that kept the size and
//! flagged fresh checkouts whose mtimes changed. pgkeel hashes the content only, with a UTF-8 BOM
//! stripped and CRLF normalised to LF, so the same migration has the same checksum on every
//! machine and every line-ending setting. Pure: no I/O.

use sha2::{Digest, Sha256};

/// Strip a leading UTF-8 BOM and turn every CRLF into LF.
pub fn normalize(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.replace("\r\n", "\n")
}

/// [`normalize`] of an owned text, without copying it when there is nothing to change (no BOM,
/// no CRLF): a 50 MB migration is then held once, not twice.
pub fn normalize_owned(text: String) -> String {
    if text.starts_with('\u{feff}') || text.contains("\r\n") {
        normalize(&text)
    } else {
        text
    }
}

/// Lower-case hex SHA-256 of the normalised text.
pub fn checksum(text: &str) -> String {
    sha256_hex(normalize(text).as_bytes())
}

/// Lower-case hex SHA-256 of raw bytes (the caller has normalised them).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_and_crlf_do_not_change_the_checksum() {
        let plain = checksum("create table a (id int);\nselect 1;\n");
        assert_eq!(
            plain,
            checksum("\u{feff}create table a (id int);\r\nselect 1;\r\n")
        );
        assert_eq!(plain.len(), 64);
    }

    #[test]
    fn any_edit_changes_the_checksum() {
        assert_ne!(checksum("select 1;"), checksum("select 2;"));
        // Same length, same "size": the old name+mtime+size hash missed this.
        assert_ne!(checksum("select 1;"), checksum("select 7;"));
    }

    #[test]
    fn known_vector() {
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
