//! The FreeBSD backend of the netdev layer: `system` and `tap` classes,
//! the PF_ROUTE change notifier, pcap and `/dev/tap` packet paths, and
//! ioctl/sysctl device state.
//!
//! Layers, as in the rest of the workspace:
//!
//! - platform-free, compiled and unit-tested on every OS: the tap
//!   creation sequence with its undo steps ([`tap_create`]);
//! - `sys` (FreeBSD only, the one module with `unsafe`): ioctls, sysctls,
//!   `/dev/tap`, the `PF_ROUTE` socket, and compile-time checks of every
//!   copied layout against `libc`;
//! - classes (FreeBSD only): `system` and `tap`.
//!
//! What was verified only by type-checking, and what a FreeBSD host still
//! has to confirm: [`verification`].

#![warn(missing_docs)]

pub mod tap_create;

#[cfg(target_os = "freebsd")]
mod sys;
