//! What the host has, before anything is opened: its links with the
//! details only a listing gives (kind, master). One backend per OS, chosen
//! here; the commands stay free of `cfg`.

use netdev::{EthAddr, Flags};

use super::CliError;

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

/// The name of the link with index `ifindex` among `links`, or the index
/// itself when the master is not in the list.
pub(crate) fn name_of(links: &[HostLink], ifindex: u32) -> String {
    links
        .iter()
        .find(|l| l.ifindex == ifindex)
        .map_or_else(|| format!("ifindex {ifindex}"), |l| l.name.clone())
}

cfg_if::cfg_if! {
    if #[cfg(target_os = "linux")] {
        /// Every link of the process's network namespace.
        pub(crate) fn links(_command: &'static str) -> Result<Vec<HostLink>, CliError> {
            let links = netdev_linux::list::list_links()?;
            Ok(links
                .into_iter()
                .map(|l| HostLink {
                    ifindex: l.ifindex,
                    name: l.name,
                    kind: l.kind,
                    master: l.master,
                    flags: l.flags,
                    mtu: l.mtu,
                    mac: l.mac,
                })
                .collect())
        }
    } else {
        /// Listing links needs a platform backend, which this OS lacks.
        pub(crate) fn links(command: &'static str) -> Result<Vec<HostLink>, CliError> {
            Err(CliError::Unsupported(command))
        }
    }
}
