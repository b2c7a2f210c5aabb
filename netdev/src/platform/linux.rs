//! Linux: the `system` class of `netdev-linux`, and links listed with one
//! rtnetlink dump.

use netdev_core::{Registry, Result};

pub(crate) fn register(registry: &Registry) -> Result<()> {
    netdev_linux::register(registry)
}

pub(crate) fn list_devices() -> Result<Vec<String>> {
    Ok(netdev_linux::list::list_links()?
        .into_iter()
        .map(|l| l.name)
        .collect())
}
