//! The netdev layer in one dependency: everything of [`netdev_core`]
//! re-exported, plus one call that registers the classes of the platform
//! the program runs on.
//!
//! ```no_run
//! let registry = netdev::Registry::new();
//! netdev::register_platform(&registry)?;
//! // What exists, from one listing; nothing is opened.
//! for info in registry.enumerate("system")? {
//!     println!("{} (ifindex {}): mtu {:?}", info.name, info.ifindex, info.mtu);
//! }
//! // Opening, querying and closing one device at a time is cheap too: the
//! // change notifier stays up between opens (see
//! // `Registry::set_notifier_linger`).
//! for name in netdev::list_devices()? {
//!     let dev = registry.open(&name, "system")?;
//!     println!("{name}: mtu {}", dev.mtu()?);
//! }
//! # Ok::<(), netdev::Error>(())
//! ```
//!
//! What each platform brings:
//!
//! | OS | classes | [`list_devices`] / `Registry::enumerate` |
//! | --- | --- | --- |
//! | Linux | `system`, `tap` (rtnetlink, ethtool, ioctls), `dummy` | one `RTM_GETLINK` dump |
//! | FreeBSD | `system`, `tap` (ioctls, sysctls, PF_ROUTE, pcap, `/dev/tap`; type-checked, not yet run on a FreeBSD host: see `netdev_bsd::verification`), `dummy` | one `NET_RT_IFLIST` sysctl |
//! | others | `dummy` | not supported |
//!
//! With the default `cli` feature this crate also builds the `netdev`
//! command-line tool (`netdev --help`).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub use netdev_core::*;

pub mod logger;

// One backend file per OS, chosen here and nowhere else.
cfg_if::cfg_if! {
    if #[cfg(target_os = "linux")] {
        #[path = "platform/linux.rs"]
        mod platform;
    } else if #[cfg(target_os = "freebsd")] {
        #[path = "platform/freebsd.rs"]
        mod platform;
    } else {
        #[path = "platform/other.rs"]
        mod platform;
    }
}

/// Registers the classes of the platform the program runs on, and the
/// in-memory `dummy` class, in `registry`.
///
/// - Linux: `system` and `tap` (from `netdev-linux`) and `dummy`.
/// - FreeBSD: `system` and `tap` (from `netdev-bsd`) and `dummy`.
/// - Other systems: only `dummy`.
///
/// Fails with [`ErrorKind::AlreadyRegistered`] if one of these type names is
/// already registered in `registry` (calling this twice, say).
pub fn register_platform(registry: &Registry) -> Result<()> {
    platform::register(registry)?;
    netdev_dummy::register(registry)?;
    Ok(())
}

/// The names of the host's network devices (those of the calling thread's
/// network namespace, on Linux), in the kernel's order.
///
/// Linux and FreeBSD: elsewhere this fails with
/// [`ErrorKind::NotSupported`] (`EOPNOTSUPP`).
pub fn list_devices() -> Result<Vec<String>> {
    // Through the platform's `system` class, as every front end lists.
    let registry = Registry::new();
    platform::register(&registry).map_err(|e| e.with_op("list_devices"))?;
    if registry.class("system").is_none() {
        return Err(Error::not_supported()
            .with_op("list_devices")
            .with_detail("no system class on this OS yet"));
    }
    Ok(registry
        .enumerate("system")
        .map_err(|e| e.with_op("list_devices"))?
        .into_iter()
        .map(|d| d.name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_dummy_everywhere_and_refuses_twice() {
        let registry = Registry::new();
        register_platform(&registry).unwrap();
        assert!(registry.class("dummy").is_some());
        assert_eq!(
            registry.class("system").is_some(),
            cfg!(any(target_os = "linux", target_os = "freebsd"))
        );
        let e = register_platform(&registry).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::AlreadyRegistered(_)), "{e}");
    }

    #[test]
    fn a_registered_dummy_device_works_through_the_facade() {
        let registry = Registry::new();
        register_platform(&registry).unwrap();
        let dev = registry.open("d0", "dummy").unwrap();
        dev.set_mtu(1400).unwrap();
        assert_eq!(dev.mtu().unwrap(), 1400);
    }
}
