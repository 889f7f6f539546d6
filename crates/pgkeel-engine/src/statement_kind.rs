//! [`Kind`]: a statement's leading-keywords summary (`CREATE INDEX CONCURRENTLY`, `INSERT
//! INTO`), interned. Pure (a process-wide table, no I/O).
//!
//! Every statement carries one, and a 50 MB migration holds 441,000 statements while it runs:
//! as an inline string (24 bytes) the summaries alone were 10 MB, for a few dozen distinct
//! values. Interned, a kind is a 4-byte number and each distinct summary is stored once for
//! the life of the process. Hand-written because it is a few lines over std's `RwLock`; the
//! interner crates add a dependency for the same table.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// An interned statement summary; dereferences to its text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind(u32);

/// How many distinct summaries are kept. Summaries are at most three leading keywords, so real
/// SQL has a few hundred at most; past the cap (only a generated pathological file could get
/// there) a new summary is kept as its first keyword alone, which is then already known.
const CAP: usize = 1 << 16;

#[derive(Default)]
struct Table {
    names: Vec<&'static str>,
    ids: HashMap<&'static str, u32>,
}

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(Default::default)
}

impl Kind {
    /// The kind for `text` (interned on first use).
    pub fn new(text: &str) -> Kind {
        let t = table();
        if let Some(id) = t.read().unwrap_or_else(|e| e.into_inner()).ids.get(text) {
            return Kind(*id);
        }
        let mut w = t.write().unwrap_or_else(|e| e.into_inner());
        if let Some(id) = w.ids.get(text) {
            return Kind(*id);
        }
        if w.names.len() >= CAP {
            let first = text.split(' ').next().unwrap_or(text);
            if first != text {
                drop(w);
                return Kind::new(first);
            }
        }
        let name: &'static str = Box::leak(text.to_owned().into_boxed_str());
        let id = w.names.len() as u32;
        w.names.push(name);
        w.ids.insert(name, id);
        Kind(id)
    }

    pub fn as_str(&self) -> &'static str {
        table()
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .names
            .get(self.0 as usize)
            .copied()
            .unwrap_or("SQL")
    }
}

impl std::ops::Deref for Kind {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Kind {
    fn from(s: &str) -> Kind {
        Kind::new(s)
    }
}

impl From<String> for Kind {
    fn from(s: String) -> Kind {
        Kind::new(&s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq<str> for Kind {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Kind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Kind;

    #[test]
    fn the_same_text_is_the_same_kind_and_reads_back() {
        let a = Kind::new("CREATE INDEX CONCURRENTLY");
        let b = Kind::from("CREATE INDEX CONCURRENTLY".to_string());
        assert_eq!(a, b);
        assert_eq!(a, "CREATE INDEX CONCURRENTLY");
        assert_ne!(a, Kind::new("CREATE INDEX"));
        assert!(a.starts_with("CREATE INDEX"));
        assert_eq!(
            format!("{a} / {a:?}"),
            "CREATE INDEX CONCURRENTLY / \"CREATE INDEX CONCURRENTLY\""
        );
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            "\"CREATE INDEX CONCURRENTLY\""
        );
        assert_eq!(std::mem::size_of::<Kind>(), 4);
    }
}
