//! The platform-free core of the netdev layer.
//!
//! One API over the network devices of a host, whatever the OS: a
//! [`Registry`] of device classes ([`NetdevClass`]), shared devices opened
//! by name ([`Netdev`]) with a per-device cache and change sequence numbers,
//! a notifier thread fed by a platform [`ChangeSource`], and batched packet
//! I/O ([`PacketBatch`], [`RxQueue`]).
//!
//! This crate knows no OS: platform crates (`netdev-linux`, `netdev-bsd`)
//! and the in-memory `netdev-dummy` implement the provider traits in
//! [`class`].
//!
//! ```
//! use netdev_core::{Registry, Flags};
//! # use std::sync::Arc;
//! # use netdev_core::{NetdevClass, DeviceBackend, DeviceState, Result};
//! # struct Class; struct Dev;
//! # impl NetdevClass for Class {
//! #     fn type_name(&self) -> &str { "example" }
//! #     fn construct(&self, _: &str, _: &Arc<DeviceState>) -> Result<Box<dyn DeviceBackend>> {
//! #         Ok(Box::new(Dev))
//! #     }
//! # }
//! # impl DeviceBackend for Dev {
//! #     fn mtu(&self) -> Result<u32> { Ok(1500) }
//! # }
//! let registry = Registry::new();
//! registry.register(Arc::new(Class))?;
//! let dev = registry.open("eth0", "example")?;
//! assert_eq!(dev.mtu()?, 1500);
//! // Operations a class does not implement say so, with errno EOPNOTSUPP.
//! let err = dev.update_flags(Flags::empty(), Flags::UP).unwrap_err();
//! assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP));
//! assert_eq!(err.to_string(), "eth0: update_flags: operation not supported");
//! # Ok::<(), netdev_core::Error>(())
//! ```

#![warn(missing_docs)]

pub mod addr;
pub mod class;
pub mod error;
pub mod eth_addr;
pub mod features;
pub mod flags;
mod line;
pub mod name;
pub mod netdev;
pub mod notifier;
pub mod offload;
pub mod packet;
pub mod ratelimit;
pub mod registry;
mod seq;
#[cfg(feature = "serde")]
mod serde_impls;
pub mod state;

pub use addr::{Ipv4Net, Ipv6Net};
pub use class::{send_batch_in_software, DeviceBackend, DeviceInfo, NetdevClass};
pub use error::{errno_of, Error, ErrorKind, Result};
pub use eth_addr::EthAddr;
pub use features::{Duplex, FeatureSet, Features, LinkSpeed};
pub use flags::Flags;
pub use name::{
    escape, validate_name, validate_os_name, Escaped, IfName, IFNAME_CAPACITY, MAX_NAME_LEN,
};
pub use netdev::{Netdev, SavedFlags};
pub use notifier::{Change, ChangeSource, ChangeSourceSpec, LinkInfo, Subscription, Waker};
pub use offload::Offload;
pub use packet::{Packet, PacketBatch, RxQueue, RxQueueBackend, RxQueueOptions};
pub use registry::{ChangesHeld, Registry, DEFAULT_NOTIFIER_LINGER};
pub use state::{CacheFields, DeviceState, ReadToken};
pub use stats::Stats;

pub mod stats;

/// Compile-time promises: shared types can cross threads.
#[cfg(test)]
mod thread_safety {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}

    #[test]
    fn shared_types_are_send_and_sync() {
        send_sync::<crate::Registry>();
        send_sync::<crate::Netdev>();
        send_sync::<crate::Error>();
        send_sync::<crate::DeviceState>();
        send_sync::<crate::Subscription>();
        send_sync::<crate::SavedFlags>();
        send::<crate::RxQueue>();
        send::<crate::PacketBatch>();
    }
}
