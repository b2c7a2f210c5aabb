//! What the host has, before anything is opened: its links with the
//! details only a listing gives (kind, master), through the registry's
//! enumeration, so the commands work on every OS whose `system` class can
//! list its devices.

use std::collections::HashMap;

use netdev::{EthAddr, Flags};

use super::{CliError, Ctx};

/// One of the host's links.
#[derive(Debug, Clone)]
pub(crate) struct HostLink {
    pub(crate) ifindex: u32,
    pub(crate) name: String,
    pub(crate) kind: Option<String>,
    pub(crate) master: Option<u32>,
    pub(crate) flags: Flags,
    pub(crate) mtu: Option<u32>,
    pub(crate) mac: Option<EthAddr>,
}

/// The links' names by ifindex, to name masters without a search per link
/// (a quadratic cost at tens of thousands of links).
pub(crate) fn names(links: &[HostLink]) -> HashMap<u32, &str> {
    links.iter().map(|l| (l.ifindex, l.name.as_str())).collect()
}

/// The name of the link with index `ifindex` in `names`, or the index
/// itself when the master is not in the list.
pub(crate) fn name_of(names: &HashMap<u32, &str>, ifindex: u32) -> String {
    names
        .get(&ifindex)
        .map_or_else(|| format!("ifindex {ifindex}"), |n| (*n).to_owned())
}

/// Every device the `system` class can open, from the class's own listing
/// (one rtnetlink dump on Linux): nothing is opened, and no OS is named
/// here.
pub(crate) fn links(ctx: &Ctx, command: &'static str) -> Result<Vec<HostLink>, CliError> {
    if ctx.registry.class("system").is_none() {
        return Err(CliError::Unsupported(command));
    }
    let list = match ctx.registry.enumerate("system") {
        Err(e) if e.is_not_supported() => return Err(CliError::Unsupported(command)),
        r => r?,
    };
    Ok(list
        .into_iter()
        .map(|d| HostLink {
            ifindex: d.ifindex,
            name: d.name,
            kind: d.kind,
            master: d.master,
            flags: d.flags.unwrap_or_default(),
            mtu: d.mtu,
            mac: d.mac,
        })
        .collect())
}
