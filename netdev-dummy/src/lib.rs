//! An in-memory netdev class: the test double every other test relies on.
//!
//! Devices of the `dummy` class behave like simple Ethernet devices: flags,
//! MTU, MAC, addresses, carrier, statistics, rx queues that poll readable
//! when frames wait, and transmission that a test can read back, loop into a
//! peer device, or capture to a pcap file. A test drives the "outside" of a
//! device through its [`DummyDevice`] control handle; every such change
//! bumps the change sequence and refreshes the core's cache the way a kernel
//! notification would.
//!
//! ```
//! use netdev_core::{Flags, PacketBatch, Registry};
//!
//! let registry = Registry::new();
//! let class = netdev_dummy::register(&registry)?;
//! let a = registry.open("a0", "dummy")?;
//! let b = registry.open("b0", "dummy")?;
//! for dev in [&a, &b] {
//!     dev.update_flags(Flags::empty(), Flags::UP)?;
//! }
//! class.device("a0").unwrap().connect(&class.device("b0").unwrap());
//!
//! let mut rx = b.open_rx()?;
//! let frame = [0xffu8; 60];
//! assert_eq!(a.send_batch(&[&frame])?, 1);
//! let mut batch = PacketBatch::new(32, 2048);
//! assert_eq!(rx.recv_batch(&mut batch)?, 1);
//! assert_eq!(batch.get(0).unwrap().data, &frame[..]);
//! assert_eq!(b.stats()?.rx_packets, 1);
//! # Ok::<(), netdev_core::Error>(())
//! ```

#![warn(missing_docs)]

mod capture;
mod class;
mod device;
mod rxq;

use std::sync::Arc;

use netdev_core::{Registry, Result};

pub use class::DummyClass;
pub use device::{DummyDevice, DEFAULT_SENT_LIMIT};
pub use rxq::DEFAULT_RX_LIMIT;

/// Registers a [`DummyClass`] as type `dummy` in `registry` and returns it.
pub fn register(registry: &Registry) -> Result<Arc<DummyClass>> {
    let class = DummyClass::new();
    registry.register(class.clone())?;
    Ok(class)
}

/// Registers a [`DummyClass`] under the type name `system`, replacing a
/// registered `system` class (refused with `EBUSY` while one of its devices
/// is open), so a program that opens `system` devices runs against dummies.
pub fn override_system(registry: &Registry) -> Result<Arc<DummyClass>> {
    if registry.class("system").is_some() {
        registry.unregister("system")?;
    }
    let class = DummyClass::with_type("system");
    registry.register(class.clone())?;
    Ok(class)
}
