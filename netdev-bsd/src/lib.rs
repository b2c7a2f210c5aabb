//! The FreeBSD backend of the netdev layer: `system` and `tap` classes,
//! the PF_ROUTE change notifier, pcap and `/dev/tap` packet paths, and
//! ioctl/sysctl device state.
//!
//! Layers, as in the rest of the workspace:
//!
//! - platform-free, compiled and unit-tested on every OS: [`wire`] (the
//!   sans-IO decoders of routing messages, `ifmibdata`, media words and
//!   flags), [`notifier`] (the change source over any reader of routing
//!   messages), [`tap_create`] (the tap creation sequence with the undo
//!   of each step), [`track`] (devices followed by interface index through
//!   renames), [`rx`] (what lands in a receive slot, and when a frame is
//!   reported truncated) and [`status`] (what `status()` reports);
//! - `sys` (FreeBSD only, the one module with `unsafe`): ioctls, sysctls,
//!   `/dev/tap`, the `PF_ROUTE` socket, and compile-time checks of every
//!   copied layout against `libc`;
//! - classes (FreeBSD only): `system` and `tap`.
//!
//! What was verified only by type-checking, and what a FreeBSD host still
//! has to confirm: [`verification`].

#![warn(missing_docs)]

pub mod iflist;
pub mod notifier;
pub mod rx;
pub mod status;
pub mod tap_create;
pub mod track;
pub mod wire;

#[cfg(target_os = "freebsd")]
mod packet;
#[cfg(target_os = "freebsd")]
mod sys;
#[cfg(target_os = "freebsd")]
pub mod system;

#[cfg(target_os = "freebsd")]
pub use system::{register, SystemClass};

#[doc = include_str!("verification.md")]
pub mod verification {}
