//! The daemon `brcompatd`: answers brcompat requests from the configuration
//! backend and the network devices the netdev layer sees, and prunes ports
//! whose device is gone.
//!
//! Layer 5 (front end). [`Daemon`] is the request handler, sans-IO apart
//! from what it asks the backend, the registry and the FDB source: one
//! datagram in, one encoded reply out ([`Daemon::handle`]), always, errors
//! included. [`Server`] is the event loop that moves the bytes: one thread
//! polling the listener, every connection, the registry's change
//! subscription and a stop pipe (SIGTERM/SIGINT, or [`StopHandle::stop`]).
//!
//! # Semantics (after the 2011 daemon, seed 000)
//!
//! | request | answer |
//! | --- | --- |
//! | `DP_ADD` | `EEXIST` if a bridge of that name is configured, or a port or interface has the name, or a network device of that name exists (unless it is a configured fake bridge: then success, nothing changes) |
//! | `DP_DEL` | `ENXIO` if no bridge (real or fake) of that name is configured |
//! | `PORT_ADD` | `EINVAL` if the bridge (real or fake) is not configured or no network device of that name exists; `EBUSY` if it is already a port somewhere, `ELOOP` for a bridge |
//! | `PORT_DEL` | `EINVAL` if the bridge is not configured, if neither a network device nor a configured bond has that name, or if it is not a port of that bridge (of that fake bridge's VLAN) |
//! | `FDB_QUERY` | `ENODEV` for an unknown bridge; otherwise the entries of the bridge's VLAN (0 for a real bridge, the tag for a fake one): `FDB_SKIP` skipped, then at most `FDB_COUNT` (and at most [`MAX_FDB_ENTRIES`]) |
//! | `GET_BRIDGES` | the ifindexes of the network devices named after the configured bridges, real and fake, sorted and unique |
//! | `GET_PORTS` | `ENODEV` for an unknown bridge; otherwise the ifindexes of the devices of its ports, in port-name order, the bridge itself left out; a bond is reported by its interfaces |
//! | `QUERY_MC` | `EOPNOTSUPP`: there are no multicast groups on the Unix socket |
//! | `GET_PORT_STATS` (extension) | `ENODEV` for an unknown bridge, `EOPNOTSUPP` without a datapath; otherwise the counters of every port of a real bridge, or of a fake bridge's VLAN (itself included), by port number |
//! | anything that does not decode, an unknown command, a name that breaks the naming rule ([`crate::proto::validate_request_name`]) | `EINVAL` |
//!
//! A bridge or port whose network device does not exist has no ifindex, so
//! `GET_BRIDGES` and `GET_PORTS` leave it out, as seed 000 did: the
//! protocol carries bare ifindexes and brctl turns them into names with
//! `if_indextoname`, so any placeholder would be shown as a wrong device.
//! With the embedded switch (`brcompatd --datapath embedded`, the
//! default) every bridge has one, its local port, a `tap` named after it;
//! with Open vSwitch (`brcompatd --backend ovs`, [`crate::ovs`]),
//! `ovs-vswitchd` makes an internal device for each bridge and fake
//! bridge (the daemon must run in its network namespace to see them);
//! without a datapath, `GET_BRIDGES` lists only bridges for which a device
//! of that name happens to exist.
//!
//! `is_local` of an FDB entry is set when the address is the MAC of one of
//! the bridge's interfaces (of its VLAN, the bridge's own device included),
//! read through netdev, or when the source says so. Ages are in 1/100 s
//! (`USER_HZ`), port numbers split into `port_no`/`port_hi` by the codec.
//!
//! # Device tracking and pruning
//!
//! Every interface of the configuration whose device exists is tracked by
//! ifindex, learned when it was added or at start, and the daemon keeps a
//! handle on it open (which keeps the library's change notifier running
//! and the MACs cached). A check enumerates the devices once and, for each
//! prunable interface (not a bridge's own port, not a fake bridge):
//!
//! - a device of its name exists: kept, and its ifindex learned again (a
//!   device deleted and re-created under the same name keeps its port:
//!   the race seed 000 documents and leaves open);
//! - no device of its name, but its tracked ifindex still exists: the
//!   device was renamed; kept under the configured name;
//! - neither: the device is gone; the interface is removed from the
//!   configuration (one durable change for all of them).
//!
//! A check runs on a `LinkRemoved` event about a tracked ifindex or a
//! configured name, on every lost-events `Overflow`, and every
//! `prune_interval` ([`ServerOptions::prune_interval`]). A notification
//! that a port left a kernel bridge (`AF_BRIDGE`) is a change, never a
//! removal, and the check itself trusts only the enumeration, so such
//! notifications never remove a port whose device exists.

mod handler;
mod server;
mod track;

pub use handler::{Daemon, DaemonOptions};
pub use server::{Server, ServerOptions, StopHandle};

pub use crate::proto::MAX_FDB_ENTRIES;
