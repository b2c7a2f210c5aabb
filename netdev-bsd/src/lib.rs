//! The FreeBSD backend of the netdev layer: `system` and `tap` classes,
//! the PF_ROUTE change notifier, pcap and `/dev/tap` packet paths, and
//! ioctl/sysctl device state.
//!
//! Not implemented yet: this crate is a placeholder so the workspace has its
//! final shape; it compiles (empty) on every OS. Its pure logic will be
//! unit-tested on Linux and its `sys` module type-checked for
//! `x86_64-unknown-freebsd` in CI.

#![warn(missing_docs)]
