//! Listing the host's links: one `RTM_GETLINK` dump, summarised.
//!
//! This is how a front end learns which devices exist before it opens any
//! (the registry only knows devices that were opened by name). It sits
//! beside the `system` class, on the socket layer, and keeps no state: each
//! call opens a fresh Netlink socket, so the answer is about the network
//! namespace of the calling thread at the time of the call.

use netdev_core::{Error, ErrorKind, EthAddr, Flags, Result};

use crate::netlink::{Msg, MsgBuilder, Socket, NETLINK_ROUTE};
use crate::rtnl::{dumplink_request, flags_from_iff, parse_link};

/// How often a dump the kernel flagged inconsistent (the table changed
/// while it was read) is tried before giving up.
pub(crate) const DUMP_ATTEMPTS: usize = 5;

/// One link as a dump reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkSummary {
    /// Interface index.
    pub ifindex: u32,
    /// Name.
    pub name: String,
    /// Link kind (`veth`, `bridge`, `tun`...); `None` for devices whose
    /// driver reports none, such as `lo` and most physical NICs.
    pub kind: Option<String>,
    /// Interface index of the master device (the bridge or bond this link
    /// is a port of), if any.
    pub master: Option<u32>,
    /// Flags.
    pub flags: Flags,
    /// MTU, if reported.
    pub mtu: Option<u32>,
    /// Ethernet address; `None` for links whose hardware address is not 6
    /// bytes long (tunnels, for example) or absent.
    pub mac: Option<EthAddr>,
}

/// Every link of the calling thread's network namespace, in the kernel's
/// order (by ifindex).
///
/// Errors are [`netdev_core::Error`]s with operation `list_links`: a socket
/// that cannot be opened, a kernel error, a malformed reply, or a link table
/// that kept changing during several dumps in a row.
pub fn list_links() -> Result<Vec<LinkSummary>> {
    let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| Error::from(e).with_op("list_links"))?;
    list_links_on(&mut sock, &mut MsgBuilder::default())
}

/// Like [`list_links`], on `sock` (whose namespace it lists).
pub(crate) fn list_links_on(sock: &mut Socket, req: &mut MsgBuilder) -> Result<Vec<LinkSummary>> {
    retry_interrupted("link", || dump_once(sock, req)).map_err(|e| e.with_op("list_links"))
}

/// Runs `dump` until the kernel does not flag it inconsistent (`EINTR`:
/// the `what` table changed while it was read), at most
/// [`DUMP_ATTEMPTS`] times.
pub(crate) fn retry_interrupted<T>(what: &str, mut dump: impl FnMut() -> Result<T>) -> Result<T> {
    let mut attempt = 1;
    loop {
        match dump() {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) && attempt < DUMP_ATTEMPTS => {
                attempt += 1;
            }
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {
                return Err(e.with_detail(format!(
                    "the {what} table changed during {DUMP_ATTEMPTS} dumps in a row"
                )))
            }
            r => return r,
        }
    }
}

fn dump_once(sock: &mut Socket, req: &mut MsgBuilder) -> Result<Vec<LinkSummary>> {
    dumplink_request(req);
    let mut dump = sock.dump(req)?;
    let mut links = Vec::new();
    while let Some(msg) = dump.next_msg() {
        let msg = msg?;
        links.push(LinkSummary::parse(&msg)?);
    }
    Ok(links)
}

impl LinkSummary {
    /// The summary of one `RTM_NEWLINK` message.
    pub(crate) fn parse(msg: &Msg<'_>) -> Result<LinkSummary> {
        let l = parse_link(msg).map_err(|e| Error::new(ErrorKind::Malformed(e.to_string())))?;
        Ok(LinkSummary {
            ifindex: l.ifindex,
            name: l.name.into_owned(),
            kind: l.kind.map(str::to_owned),
            master: l.master.filter(|&m| m != 0),
            flags: flags_from_iff(l.iff),
            mtu: l.mtu,
            mac: l.mac,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Needs no privilege: any process may dump the links of its own
    // namespace. The devices compared with `ip` are in the CLI tests,
    // inside namespaces built for them.
    #[test]
    fn lists_the_loopback_and_unique_indexes() {
        let links = list_links().unwrap();
        let lo = links
            .iter()
            .find(|l| l.flags.contains(Flags::LOOPBACK))
            .expect("every namespace has a loopback device");
        assert_eq!(lo.name, "lo");
        assert_eq!(lo.kind, None);
        assert_eq!(lo.mac, Some(EthAddr::ZERO));
        assert!(lo.mtu.is_some());
        let mut indexes: Vec<u32> = links.iter().map(|l| l.ifindex).collect();
        indexes.sort_unstable();
        indexes.dedup();
        assert_eq!(indexes.len(), links.len());
    }
}
