//! Linux: the `system` and `tap` classes of `netdev-linux`.

use netdev_core::{Registry, Result};

pub(crate) fn register(registry: &Registry) -> Result<()> {
    netdev_linux::register(registry)
}
