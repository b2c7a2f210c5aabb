//! The raw libc rtnetlink floor the benchmarks measure the library against:
//! one socket, one reusable 32 KiB buffer, `send`/`recv`, no `NLM_F_ACK`,
//! hand-decoded headers. Shared by `bench_netlink` and `bench_system`
//! (included with `#[path]`) so both compare against the same baseline.
//!
//! Benchmark code: `unsafe` for the raw system calls, each block with its
//! `// SAFETY:` comment.

#![allow(unsafe_code, dead_code)]

use std::io;
use std::mem::{size_of, zeroed};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const NLMSG_HDRLEN: usize = 16;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWSTATS: u16 = 92;
pub const RTM_GETSTATS: u16 = 94;
pub const NLM_F_REQUEST: u16 = 1;
pub const NLM_F_DUMP: u16 = 0x300;
pub const IFINFOMSG_LEN: usize = 16;
pub const IF_STATS_MSG_LEN: usize = 12;
pub const IFLA_STATS_LINK_64: u16 = 1;
/// `IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64)`.
pub const STATS_LINK_64_MASK: u32 = 1 << (IFLA_STATS_LINK_64 - 1);

pub fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes([b[off], b[off + 1]])
}

pub fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

pub fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(x)
}

/// Offset and length of the payload of attribute `ty`, searching the
/// attributes from `b[off..]` to the end of `b`.
pub fn find_attr(b: &[u8], mut off: usize, ty: u16) -> Option<(usize, usize)> {
    while off + 4 <= b.len() {
        let len = u16_at(b, off) as usize;
        if len < 4 || off + len > b.len() {
            return None;
        }
        if u16_at(b, off + 2) & 0x3fff == ty {
            return Some((off + 4, len - 4));
        }
        off += (len + 3) & !3;
    }
    None
}

/// An `ifinfomsg` for `ifindex`.
pub fn ifinfomsg(ifindex: u32) -> [u8; IFINFOMSG_LEN] {
    let mut ifi = [0u8; IFINFOMSG_LEN];
    ifi[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    ifi
}

/// An `if_stats_msg` asking for the 64-bit link counters of `ifindex`.
pub fn if_stats_msg(ifindex: u32) -> [u8; IF_STATS_MSG_LEN] {
    let mut m = [0u8; IF_STATS_MSG_LEN];
    m[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    m[8..12].copy_from_slice(&STATS_LINK_64_MASK.to_ne_bytes());
    m
}

/// A `NETLINK_ROUTE` socket bound to the multicast groups in `groups`
/// (a bit mask; 0 for none).
pub fn netlink_socket(groups: u32) -> OwnedFd {
    // SAFETY: socket(2) takes no pointers.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    assert!(fd >= 0, "socket: {}", io::Error::last_os_error());
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain old data; all-zero is valid.
    let mut sa: libc::sockaddr_nl = unsafe { zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa.nl_groups = groups;
    // SAFETY: `sa` is a live sockaddr_nl and its size is passed.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sa as *const libc::sockaddr_nl as *const libc::sockaddr,
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "bind: {}", io::Error::last_os_error());
    fd
}

/// Receives one datagram into `buf`: its length, or `None` on a timeout
/// (`EAGAIN`) or an interrupted call.
pub fn recv(fd: &OwnedFd, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: `buf` is live and writable for its length.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr() as *mut libc::c_void,
            buf.len(),
            0,
        )
    };
    if n > 0 {
        return Some(n as usize);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN) | Some(libc::EINTR) => None,
        _ => panic!("recv: {e}"),
    }
}

/// Requests on one socket, with one reusable buffer.
pub struct Raw {
    fd: OwnedFd,
    seq: u32,
    buf: Vec<u8>,
}

impl Raw {
    pub fn new() -> Raw {
        Raw {
            fd: netlink_socket(0),
            seq: 0,
            buf: vec![0; 32 * 1024],
        }
    }

    /// The last datagram received.
    pub fn buf(&self) -> &[u8] {
        &self.buf
    }

    fn send(&mut self, msg_type: u16, flags: u16, fixed: &[u8]) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        let mut req = [0u8; NLMSG_HDRLEN + 16];
        let len = NLMSG_HDRLEN + fixed.len();
        req[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
        req[4..6].copy_from_slice(&msg_type.to_ne_bytes());
        req[6..8].copy_from_slice(&flags.to_ne_bytes());
        req[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        req[NLMSG_HDRLEN..len].copy_from_slice(fixed);
        // SAFETY: `req[..len]` is live and readable for `len` bytes.
        let n = unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                req.as_ptr() as *const libc::c_void,
                len,
                0,
            )
        };
        assert_eq!(n, len as isize, "send: {}", io::Error::last_os_error());
        self.seq
    }

    fn recv(&mut self) -> usize {
        recv(&self.fd, &mut self.buf).expect("recv")
    }

    /// One request, one reply of type `want`: returns the reply's length
    /// (the reply is at the start of [`Raw::buf`]).
    pub fn single(&mut self, msg_type: u16, fixed: &[u8], want: u16) -> usize {
        let seq = self.send(msg_type, NLM_F_REQUEST, fixed);
        let n = self.recv();
        let b = &self.buf[..n];
        assert_eq!(u32_at(b, 8), seq, "reply seq");
        if u16_at(b, 4) == NLMSG_ERROR {
            panic!(
                "request {msg_type} failed: errno {}",
                -(u32_at(b, NLMSG_HDRLEN) as i32)
            );
        }
        assert_eq!(u16_at(b, 4), want, "reply type");
        u32_at(b, 0) as usize
    }

    /// Runs a dump; calls `each(buf, message offset, message length)` for
    /// every data message; returns how many there were.
    pub fn dump(
        &mut self,
        msg_type: u16,
        fixed: &[u8],
        mut each: impl FnMut(&[u8], usize, usize),
    ) -> usize {
        let seq = self.send(msg_type, NLM_F_REQUEST | NLM_F_DUMP, fixed);
        let mut count = 0;
        loop {
            let n = self.recv();
            let b = &self.buf[..n];
            let mut off = 0;
            while off + NLMSG_HDRLEN <= n {
                let len = u32_at(b, off) as usize;
                assert!(len >= NLMSG_HDRLEN && off + len <= n, "bad message");
                if u32_at(b, off + 8) == seq {
                    match u16_at(b, off + 4) {
                        NLMSG_DONE => return count,
                        NLMSG_ERROR => panic!("dump failed"),
                        _ => {
                            each(b, off, len);
                            count += 1;
                        }
                    }
                }
                off += (len + 3) & !3;
            }
        }
    }
}
