//! Bridge-compatibility front end: brctl-style requests (add/delete bridge
//! and interface, list bridges and ports, read the forwarding database) in
//! the brcompat generic-netlink wire format, applied to the switch's
//! configuration.
//!
//! Not implemented yet: this crate is a placeholder so the workspace has its
//! final shape.

#![warn(missing_docs)]

pub mod brctl;
pub mod client;
pub mod model;
pub mod proto;
pub mod store;
mod sys;
pub mod transport;
