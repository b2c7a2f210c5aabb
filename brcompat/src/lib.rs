//! Bridge-compatibility front end: brctl-style requests (add/delete bridge
//! and interface, list bridges and ports, read the forwarding database) in
//! the brcompat generic-netlink wire format, applied to the switch's
//! configuration.
//!
//! The daemon is [`daemon`] (binary `brcompatd`), the wire format
//! [`proto`], the configuration [`model`] and its storage [`store`], the
//! Unix-socket [`transport`], and what `brctl` prints [`brctl`].

#![warn(missing_docs)]

pub mod brctl;
pub mod daemon;
pub mod model;
pub mod proto;
pub mod store;
mod sys;
pub mod transport;
