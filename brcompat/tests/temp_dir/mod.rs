//! A fresh temporary directory for one test's socket and configuration,
//! removed on drop. Mode 0755, so `nobody` can reach a socket in it.
//! Included by the test helper modules and the transport tests.

// Each includer uses a different subset.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// See the module documentation.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "brcompat-{what}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(p)
    }

    pub fn sock(&self) -> PathBuf {
        self.0.join("brcompat.sock")
    }

    pub fn config(&self) -> PathBuf {
        self.0.join("brcompat.conf")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
