//! FreeBSD: the `system` and `tap` classes of `netdev-bsd` (ioctls,
//! sysctls, the PF_ROUTE notifier, pcap and `/dev/tap`). `list_devices`
//! and `Registry::enumerate("system")` list with one `NET_RT_IFLIST`
//! sysctl.

use netdev_core::{Registry, Result};

pub(crate) fn register(registry: &Registry) -> Result<()> {
    netdev_bsd::register(registry)
}
