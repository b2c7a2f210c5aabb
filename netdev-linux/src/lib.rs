//! Linux backend of the netdev layer.
//!
//! So far this holds the [`netlink`] library's sans-IO half (layer 1, wire
//! formats): message building and parsing shared by the Netlink socket
//! layer, the rtnetlink notifier and brcompat. Sockets, the notifier and the
//! `system`/`tap` classes build on it.

#![warn(missing_docs)]

pub mod netlink;

#[cfg(target_os = "linux")]
mod sys;
