//! Systems without a backend: only the platform-free classes are available.

use netdev_core::{Error, Registry, Result};

pub(crate) fn register(_registry: &Registry) -> Result<()> {
    Ok(())
}

pub(crate) fn list_devices() -> Result<Vec<String>> {
    Err(Error::not_supported().with_detail("no backend for this OS"))
}
