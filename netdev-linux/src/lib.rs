//! Linux backend (placeholder until the netlink module lands).
