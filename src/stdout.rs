//! [`outln!`]: the CLI's one way to write a line to stdout (the lowest layer of the CLI: the
//! command files, the renderers and `output` all print through it).

/// `println!` that does not panic when stdout is a closed pipe (`pgkeel status | head -2`).
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}
pub(crate) use outln;
