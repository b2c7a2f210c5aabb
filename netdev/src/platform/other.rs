//! Systems without a backend: only the platform-free classes are available.

use netdev_core::{Registry, Result};

pub(crate) fn register(_registry: &Registry) -> Result<()> {
    Ok(())
}
