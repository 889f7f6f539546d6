//! [`SqlText`]: a statement's text as a range of the migration file's text, shared rather than
//! copied. Pure.
//!
//! A migration's statements are most of its file: as owned strings they doubled the memory of
//! applying a 50 MB file of INSERTs (one more copy of the file, plus an allocation per statement).
//! Sharing the file's text (`Arc<String>`, so reading it moves it in without a copy) keeps one
//! copy. Hand-written because it is a few lines over `Arc`; a rope or bytes crate would add a
//! dependency for less (they share byte buffers, not `str` with `Deref`).

use std::ops::Range;
use std::sync::Arc;

/// `src[range]`, dereferencing to `str`. A text made from a `String` (a statement pgkeel
/// rewrote) is the whole of its own buffer. The range is kept as two `u32` (16 bytes in all, a
/// third of a `String` and its allocation): a migration file is refused above 4 GiB
/// ([`MAX_TEXT`]).
#[derive(Clone)]
pub struct SqlText {
    src: Arc<String>,
    start: u32,
    end: u32,
}

/// The largest text a [`SqlText`] can range over.
pub const MAX_TEXT: usize = u32::MAX as usize;

impl SqlText {
    /// `src[range]`; `range` must lie on char boundaries of `src`, and `src` must be at most
    /// [`MAX_TEXT`] bytes. The ranges come from the parser of that very text, so a bad one is a
    /// bug: debug builds (the tests) stop on it, a release build gets the empty text rather
    /// than a panic in the middle of a run.
    pub fn shared(src: &Arc<String>, range: Range<usize>) -> SqlText {
        let ok = range.start <= range.end
            && range.end <= MAX_TEXT
            && src.is_char_boundary(range.start)
            && src.is_char_boundary(range.end);
        debug_assert!(
            ok,
            "statement range {range:?} is not a text range of the file"
        );
        let range = if ok { range } else { 0..0 };
        SqlText {
            src: Arc::clone(src),
            start: range.start as u32,
            end: range.end as u32,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.src[self.start as usize..self.end as usize]
    }
}

impl std::ops::Deref for SqlText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for SqlText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for SqlText {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<String> for SqlText {
    /// The whole of `s` (a text over [`MAX_TEXT`] bytes is cut at the last char boundary
    /// below it; pgkeel's own rewrites are a few hundred bytes).
    fn from(mut s: String) -> SqlText {
        if s.len() > MAX_TEXT {
            let mut at = MAX_TEXT;
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            s.truncate(at);
        }
        let end = s.len() as u32;
        SqlText {
            src: Arc::new(s),
            start: 0,
            end,
        }
    }
}

impl From<&str> for SqlText {
    fn from(s: &str) -> SqlText {
        SqlText::from(s.to_string())
    }
}

impl Default for SqlText {
    fn default() -> SqlText {
        SqlText::from(String::new())
    }
}

impl std::fmt::Display for SqlText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for SqlText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for SqlText {
    fn eq(&self, other: &SqlText) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SqlText {}

impl PartialEq<str> for SqlText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SqlText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SqlText {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl std::hash::Hash for SqlText {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl serde::Serialize for SqlText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_text_is_its_range_and_shares_the_buffer() {
        let src = Arc::new("select 1; select 2;".to_string());
        let a = SqlText::shared(&src, 0..9);
        let b = SqlText::shared(&src, 10..19);
        assert_eq!(a, "select 1;");
        assert_eq!(&*b, "select 2;");
        assert_eq!(Arc::strong_count(&src), 3);
        assert_eq!(format!("{a} {b:?}"), "select 1; \"select 2;\"");
        assert_eq!(serde_json::to_string(&a).unwrap(), "\"select 1;\"");
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "is not a text range of the file")]
    fn a_range_off_char_boundaries_stops_a_debug_build() {
        let src = Arc::new("é".to_string());
        let _ = SqlText::shared(&src, 0..1);
    }

    #[test]
    fn owned_and_borrowed_texts_compare_by_content() {
        assert_eq!(SqlText::from("x".to_string()), SqlText::from("x"));
        assert_eq!(SqlText::default(), "");
    }
}
