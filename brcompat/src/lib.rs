//! Bridge-compatibility front end: brctl-style requests (add/delete bridge
//! and interface, list bridges and ports, read the forwarding database) in
//! the brcompat generic-netlink wire format, applied to the switch's
//! configuration.
//!
//! Here: the daemon [`daemon`] (binary `brcompatd`), the wire protocol
//! ([`proto`]), the daemon's Unix-socket transport ([`transport`]), the
//! configuration model and file store ([`model`], [`store`]), the backend
//! on a real Open vSwitch ([`ovs`]), the client library ([`client`]) and
//! what bridge-utils' `brctl` prints ([`brctl`]), which the `brctl` binary
//! puts together.

#![warn(missing_docs)]

pub mod brctl;
pub mod client;
pub mod daemon;
pub mod embedded;
pub mod model;
pub mod ovs;
mod paging;
pub mod proto;
pub mod store;
mod sys;
pub mod transport;
