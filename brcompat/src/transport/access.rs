//! Who is on the other end of a connection, and whether the daemon serves
//! them: [`PeerCred`] from the kernel, [`Access`] as the policy.
//!
//! Linux gives the peer's uid, gid and pid (`SO_PEERCRED`, taken when it
//! connected); its supplementary groups are read from `/proc/PID/status`
//! (`Groups:`) when the policy needs them. FreeBSD gives uid and groups
//! (`LOCAL_PEERCRED`: the effective gid and at most 15 supplementary
//! groups, as the peer had them when it connected) and no pid; a member
//! whose group lies beyond the first 15 is refused there.

use std::fmt;
use std::os::fd::BorrowedFd;

use super::Error;

/// A peer's identity as the kernel reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCred {
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Process id (Linux only).
    pub pid: Option<i32>,
}

impl PeerCred {
    /// The credentials of the peer of the connected Unix socket `fd`.
    pub fn of(fd: BorrowedFd<'_>) -> std::io::Result<PeerCred> {
        imp::peer_cred(fd).map(|(cred, _)| cred)
    }
}

impl fmt::Display for PeerCred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uid {} gid {}", self.uid, self.gid)?;
        if let Some(pid) = self.pid {
            write!(f, " pid {pid}")?;
        }
        Ok(())
    }
}

/// Who may talk to the daemon: root always; with a group, its members
/// too (by primary or supplementary group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Access {
    /// Only uid 0.
    RootOnly,
    /// uid 0 and the members of this group.
    Group {
        /// The group id.
        gid: u32,
        /// Its name, for messages.
        name: String,
    },
}

impl Access {
    /// The policy for a `--group` option: a group name, or a numeric gid.
    ///
    /// Errors: an unknown group name (`ENOENT`).
    pub fn group(spec: &str) -> Result<Access, Error> {
        if let Ok(gid) = spec.parse::<u32>() {
            let name = nix::unistd::Group::from_gid(gid.into())
                .ok()
                .flatten()
                .map_or_else(|| gid.to_string(), |g| g.name);
            return Ok(Access::Group { gid, name });
        }
        match nix::unistd::Group::from_name(spec) {
            Ok(Some(g)) => Ok(Access::Group {
                gid: g.gid.as_raw(),
                name: g.name,
            }),
            Ok(None) => Err(Error::Io {
                op: "look up group",
                path: Some(spec.into()),
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            }),
            Err(e) => Err(Error::Io {
                op: "look up group",
                path: Some(spec.into()),
                source: e.into(),
            }),
        }
    }

    /// The group this policy admits, if any.
    #[must_use]
    pub fn gid(&self) -> Option<u32> {
        match self {
            Access::RootOnly => None,
            Access::Group { gid, .. } => Some(*gid),
        }
    }

    /// Whether to serve the peer of the connection `fd`, whose kernel
    /// credentials are `peer`; reads the supplementary groups only when
    /// the answer depends on them.
    pub fn check(&self, fd: BorrowedFd<'_>, peer: &PeerCred) -> Result<(), Refused> {
        if self.decide(peer, &[]) {
            return Ok(());
        }
        let groups = match self {
            Access::RootOnly => Vec::new(),
            Access::Group { .. } => imp::supplementary_groups(fd, peer).unwrap_or_else(|e| {
                log::warn!("supplementary groups of peer {peer}: {e}");
                Vec::new()
            }),
        };
        if self.decide(peer, &groups) {
            Ok(())
        } else {
            Err(Refused {
                peer: *peer,
                access: self.clone(),
            })
        }
    }

    /// The decision itself, from the peer and its supplementary groups.
    #[must_use]
    pub fn decide(&self, peer: &PeerCred, groups: &[u32]) -> bool {
        peer.uid == 0
            || match self {
                Access::RootOnly => false,
                Access::Group { gid, .. } => peer.gid == *gid || groups.contains(gid),
            }
    }
}

/// A peer the [`Access`] policy does not admit. `Display`: `refused peer
/// uid U gid G pid P: not root` (`..., not in group NAME (gid N)` with a
/// group policy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Who was refused.
    pub peer: PeerCred,
    /// The policy that refused it.
    pub access: Access,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused peer {}: not root", self.peer)?;
        if let Access::Group { gid, name } = &self.access {
            write!(f, " and not in group {name} (gid {gid})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Refused {}

/// The groups of a `/proc/PID/status` text's `Groups:` line; `None` if it
/// has none or it does not parse.
#[must_use]
pub fn parse_status_groups(status: &str) -> Option<Vec<u32>> {
    let line = status.lines().find_map(|l| l.strip_prefix("Groups:"))?;
    line.split_whitespace().map(|g| g.parse().ok()).collect()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use std::io;
    use std::os::fd::BorrowedFd;

    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

    use super::PeerCred;

    pub(super) fn peer_cred(fd: BorrowedFd<'_>) -> io::Result<(PeerCred, ())> {
        let c = getsockopt(&fd, PeerCredentials)?;
        Ok((
            PeerCred {
                uid: c.uid(),
                gid: c.gid(),
                pid: Some(c.pid()),
            },
            (),
        ))
    }

    /// From `/proc/PID/status`. The pid is the one the peer had when it
    /// connected; it is read right after the connection is accepted, while
    /// the peer waits for its answer, so it is still that process.
    pub(super) fn supplementary_groups(
        _fd: BorrowedFd<'_>,
        peer: &PeerCred,
    ) -> io::Result<Vec<u32>> {
        let pid = peer
            .pid
            .filter(|p| *p > 0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        super::parse_status_groups(&status).ok_or_else(|| io::ErrorKind::InvalidData.into())
    }
}

#[cfg(target_os = "freebsd")]
mod imp {
    use std::io;
    use std::os::fd::BorrowedFd;

    use nix::sys::socket::{getsockopt, sockopt::LocalPeerCred};

    use super::PeerCred;

    pub(super) fn peer_cred(fd: BorrowedFd<'_>) -> io::Result<(PeerCred, Vec<u32>)> {
        let c = getsockopt(&fd, LocalPeerCred)?;
        let groups = c.groups();
        let gid = *groups
            .first()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidData))?;
        Ok((
            PeerCred {
                uid: c.uid(),
                gid,
                pid: None,
            },
            groups[1..].to_vec(),
        ))
    }

    /// From `LOCAL_PEERCRED`: at most 15 supplementary groups.
    pub(super) fn supplementary_groups(
        fd: BorrowedFd<'_>,
        _peer: &PeerCred,
    ) -> io::Result<Vec<u32>> {
        peer_cred(fd).map(|(_, groups)| groups)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
mod imp {
    use std::io;
    use std::os::fd::BorrowedFd;

    use super::PeerCred;

    pub(super) fn peer_cred(_fd: BorrowedFd<'_>) -> io::Result<(PeerCred, ())> {
        Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
    }

    pub(super) fn supplementary_groups(
        _fd: BorrowedFd<'_>,
        _peer: &PeerCred,
    ) -> io::Result<Vec<u32>> {
        Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_groups_parse() {
        let s = "Name:\tx\nUid:\t1\t1\t1\t1\nGroups:\t4 24 27 \nNSpid:\t9\n";
        assert_eq!(parse_status_groups(s), Some(vec![4, 24, 27]));
        assert_eq!(parse_status_groups("Groups:\t\n"), Some(vec![]));
        assert_eq!(parse_status_groups("Groups:\tx\n"), None);
        assert_eq!(parse_status_groups("Name:\tx\n"), None);
    }

    #[test]
    fn decisions() {
        let nobody = PeerCred {
            uid: 65534,
            gid: 65534,
            pid: Some(1),
        };
        let root = PeerCred { uid: 0, ..nobody };
        let group = Access::Group {
            gid: 42,
            name: "brctl".into(),
        };
        assert!(Access::RootOnly.decide(&root, &[]));
        assert!(!Access::RootOnly.decide(&nobody, &[42]));
        assert!(!group.decide(&nobody, &[1, 2]));
        assert!(group.decide(&nobody, &[1, 42]));
        assert!(group.decide(&PeerCred { gid: 42, ..nobody }, &[]));
        let refused = Refused {
            peer: nobody,
            access: group,
        };
        assert_eq!(
            refused.to_string(),
            "refused peer uid 65534 gid 65534 pid 1: not root and not in group brctl (gid 42)"
        );
    }

    #[test]
    fn group_by_number_and_name() {
        assert_eq!(Access::group("0").unwrap().gid(), Some(0));
        assert_eq!(Access::group("root").unwrap().gid(), Some(0));
        let e = Access::group("no-such-group-here").unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT);
    }
}
