//! Which OS user runs the dev cluster. initdb, pg_ctl and postgres refuse to run as root, so when
//! pgkeel runs as root they run as an unprivileged account (`postgres` if it exists, else
//! `nobody`) that owns the cluster's folder; otherwise they run as the caller.

use std::ffi::{CStr, CString};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{DevProblem, Error, Result};

/// The accounts tried, in order, when pgkeel runs as root.
pub const SERVER_ACCOUNTS: [&str; 2] = ["postgres", "nobody"];

/// An OS account to run the server as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// `None` when pgkeel is not root (the server runs as the caller).
pub fn server_user() -> Result<Option<RunAs>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    for name in SERVER_ACCOUNTS {
        if let Some(user) = lookup(name) {
            return Ok(Some(user));
        }
    }
    Err(Error::dev(
        DevProblem::Failed,
        "pgkeel runs as root, and PostgreSQL refuses to; no `postgres` or `nobody` account \
         exists to run it as: create one (useradd --system postgres) or run pgkeel as an \
         ordinary user",
    ))
}

/// The caller's name, for messages.
pub fn current_user_name() -> String {
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    name_of(uid).unwrap_or_else(|| format!("uid {uid}"))
}

/// The account name of `uid`.
fn name_of(uid: u32) -> Option<String> {
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; buf outlives the use of pwd's strings below.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: pw_name points into buf and is NUL-terminated (getpwuid_r succeeded).
    Some(
        unsafe { CStr::from_ptr(pwd.pw_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

fn lookup(name: &str) -> Option<RunAs> {
    let cname = CString::new(name).ok()?;
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; buf outlives the use of pwd's strings below.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: pw_name points into buf and is NUL-terminated (getpwnam_r succeeded).
    let name = unsafe { CStr::from_ptr(pwd.pw_name) }
        .to_string_lossy()
        .into_owned();
    Some(RunAs {
        name,
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    })
}

/// Hand `path` (and, with `recursive`, everything under it) to `user`.
pub fn chown(path: &Path, user: &RunAs, recursive: bool) -> Result<()> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.uid() != user.uid || meta.gid() != user.gid {
        std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
            .map_err(|e| Error::io(path, e))?;
    }
    if recursive && meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| Error::io(path, e))? {
            let entry = entry.map_err(|e| Error::io(path, e))?;
            chown(&entry.path(), user, true)?;
        }
    }
    Ok(())
}

/// Can `user` reach `dir`? Every folder above it needs search (x) permission for that user.
/// Returns the first folder that stops it.
pub fn blocked_ancestor(dir: &Path, user: &RunAs) -> Option<(std::path::PathBuf, u32)> {
    for ancestor in dir.ancestors().collect::<Vec<_>>().into_iter().rev() {
        let Ok(meta) = std::fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.mode();
        let ok = if meta.uid() == user.uid {
            mode & 0o100 != 0
        } else if meta.gid() == user.gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            return Some((ancestor.to_path_buf(), mode & 0o7777));
        }
    }
    None
}

/// Is `pid` a running PostgreSQL server process? (A pid in a stale postmaster.pid may since
/// have been given to another program.)
pub fn is_postgres_process(pid: u32) -> bool {
    let Ok(pid_t) = libc::pid_t::try_from(pid) else {
        return false;
    };
    let proc_dir = Path::new("/proc").join(pid.to_string());
    if Path::new("/proc/self").exists() {
        // A zombie has no command line left and counts as gone.
        let stat = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        if stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        {
            return false;
        }
        return std::fs::read_to_string(proc_dir.join("comm"))
            .is_ok_and(|c| matches!(c.trim(), "postgres" | "postmaster"));
    }
    // SAFETY: kill with signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid_t, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_accounts_and_processes() {
        // Every Unix machine has root (uid 0).
        assert_eq!(lookup("root").map(|u| u.uid), Some(0));
        assert_eq!(lookup("no-such-user-pgkeel"), None);
        assert_eq!(name_of(0).as_deref(), Some("root"));
        assert!(!is_postgres_process(std::process::id()));
        assert!(!is_postgres_process(u32::MAX));
    }
}
