//! The FreeBSD backend of the netdev layer: `system` and `tap` classes,
//! the PF_ROUTE change notifier, pcap and `/dev/tap` packet paths, and
//! ioctl/sysctl device state.
//!
//! Platform-free parts, compiled and tested on every OS: [`wire`] (the
//! sans-IO decoders of routing messages, `ifmibdata`, media words and
//! flags) and [`notifier`] (the change source over any reader of routing
//! messages). The `sys` module and the classes are FreeBSD-only and
//! type-checked for `x86_64-unknown-freebsd` in CI.

#![warn(missing_docs)]

pub mod notifier;
pub mod wire;
