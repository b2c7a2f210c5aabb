//! FreeBSD: no classes yet. `netdev-bsd` is a placeholder; when it grows
//! its `system` and `tap` classes and a PF_ROUTE listing, they are wired in
//! here.

use netdev_core::{Registry, Result};

pub(crate) fn register(_registry: &Registry) -> Result<()> {
    Ok(())
}
