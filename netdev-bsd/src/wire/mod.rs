//! FreeBSD wire formats, sans-IO (layer 1 of the design): pure functions
//! from the bytes the kernel hands out to typed values, and from those to
//! the core's types. No sockets, no syscalls, no `unsafe`; compiled and
//! unit-tested on every OS, fuzzed (`fuzz/`, target `route_parse`).
//!
//! - [`route`]: `PF_ROUTE` messages (`RTM_IFINFO`, `RTM_IFANNOUNCE`,
//!   `RTM_NEWADDR`/`RTM_DELADDR`) and the [`netdev_core::Change`] each means.
//! - [`if_data`]: `struct if_data`, embedded in `RTM_IFINFO` and in
//!   `struct ifmibdata`: link state, MTU, counters.
//! - [`ifmib`]: `struct ifmibdata` (the `net.link.generic.ifdata.<index>.
//!   general` sysctl) → [`netdev_core::Stats`], and that sysctl's MIB name.
//! - [`media`]: `SIOCGIFMEDIA` words → carrier and [`netdev_core::FeatureSet`],
//!   and the sizing of the media list between the ioctl's two calls.
//! - [`flags`]: `IFF_*` ↔ [`netdev_core::Flags`], `ifr_flags`/`ifr_flagshigh`.
//! - [`layout`]: every size, offset and constant copied from the headers.
//!
//! # Layouts copied
//!
//! From `sys/net/route.h` (FreeBSD 11+), x86_64, native byte order:
//!
//! ```text
//! common head   0 u16 msglen | 2 u8 version (5) | 3 u8 type
//! if_msghdr     4 int addrs | 8 int flags | 12 u16 index | 14 u16 spare
//!               | 16 struct if_data (152)                       = 168
//! ifa_msghdr    4 int addrs | 8 int flags | 12 u16 index | 14 u16 spare
//!               | 16 int metric                                 = 20,
//!               then one sockaddr per RTA_* bit, lowest bit first, each
//!               SA_SIZE(sa) = sa_len rounded up to sizeof(long) (8; 8
//!               when sa_len is 0)
//! if_announcemsghdr 4 u16 index | 6 char name[16] | 22 u16 what  = 24
//! ```
//!
//! From `sys/net/if.h`, `struct if_data` (152 bytes): `0 u8 type`, `4 u8
//! link_state`, `6 u16 datalen`, `8 u32 mtu`, `12 u32 metric`, `16 u64
//! baudrate`, then u64 counters `24 ipackets`, `32 ierrors`, `40
//! opackets`, `48 oerrors`, `56 collisions`, `64 ibytes`, `72 obytes`, `80
//! imcasts`, `88 omcasts`, `96 iqdrops`, `104 oqdrops`, `112 noproto`,
//! `120 hwassist`, `128 epoch`, `136 lastchange` (16).
//!
//! From `sys/net/if_mib.h`, `struct ifmibdata` (208 bytes): `0 name[16]`,
//! `16 pcount`, `20 flags`, `24 snd_len`, `28 snd_maxlen`, `32 snd_drops`,
//! `36 filler[4]`, `56 struct if_data`.
//!
//! Sockaddrs: `sockaddr_in` (16: `4 addr`), `sockaddr_in6` (28: `8 addr`,
//! `24 scope_id`), `sockaddr_dl` (54: `2 u16 index`, `4 type`, `5 nlen`,
//! `6 alen`, `7 slen`, `8 data`).
//!
//! Constants: `RTM_*`, `RTA_*`, `RTAX_MAX`, `IFAN_*`, `LINK_STATE_*`,
//! `IFF_*`, `IFM_*`, `IFMIB_*`, `IFDATA_GENERAL`, `NETLINK_GENERIC`,
//! `CTL_NET`, `AF_*`, `TAPGIFNAME`; all in [`layout`], which the `sys`
//! layer checks against `libc` at compile time.

use std::fmt;
use std::io;

pub mod flags;
pub mod if_data;
pub mod ifmib;
pub mod layout;
pub mod media;
pub mod route;

/// Why bytes from the kernel could not be decoded. Its `Display` names the
/// structure and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// Fewer bytes than the structure needs.
    Truncated {
        /// The structure or field being read.
        what: &'static str,
        /// Bytes it needs.
        need: usize,
        /// Bytes there were.
        have: usize,
    },
    /// A length field that cannot be right (zero, smaller than its header,
    /// past the end of the buffer).
    BadLength {
        /// The structure whose length field it is.
        what: &'static str,
        /// The value of the field.
        len: usize,
        /// Bytes available.
        available: usize,
    },
    /// A routing message of another `RTM_VERSION`.
    BadVersion {
        /// The message type.
        msg_type: u8,
        /// The version it carried.
        version: u8,
    },
    /// A field with a value the format does not allow.
    Invalid {
        /// The structure or field.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated { what, need, have } => {
                write!(f, "{what} truncated: {have} bytes, need {need}")
            }
            WireError::BadLength {
                what,
                len,
                available,
            } => write!(
                f,
                "{what} has an impossible length {len} ({available} bytes available)"
            ),
            WireError::BadVersion { msg_type, version } => write!(
                f,
                "routing message type {msg_type} has version {version}, expected {}",
                layout::RTM_VERSION
            ),
            WireError::Invalid { what, detail } => write!(f, "invalid {what}: {detail}"),
        }
    }
}

impl std::error::Error for WireError {}

impl From<WireError> for io::Error {
    fn from(e: WireError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// Bounds-checked native-endian reads: every read of kernel bytes goes
/// through these, so a short buffer is an error, never a panic.
pub(crate) struct Bytes<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) what: &'static str,
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Bytes<'a> {
        Bytes { buf, what }
    }

    /// The `len` bytes at `off`.
    pub(crate) fn slice(&self, off: usize, len: usize) -> Result<&'a [u8], WireError> {
        let end = off.checked_add(len).ok_or(WireError::Truncated {
            what: self.what,
            need: usize::MAX,
            have: self.buf.len(),
        })?;
        self.buf.get(off..end).ok_or(WireError::Truncated {
            what: self.what,
            need: end,
            have: self.buf.len(),
        })
    }

    fn array<const N: usize>(&self, off: usize) -> Result<[u8; N], WireError> {
        let s = self.slice(off, N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub(crate) fn u8(&self, off: usize) -> Result<u8, WireError> {
        Ok(self.array::<1>(off)?[0])
    }

    pub(crate) fn u16(&self, off: usize) -> Result<u16, WireError> {
        self.array(off).map(u16::from_ne_bytes)
    }

    pub(crate) fn u32(&self, off: usize) -> Result<u32, WireError> {
        self.array(off).map(u32::from_ne_bytes)
    }

    pub(crate) fn i32(&self, off: usize) -> Result<i32, WireError> {
        self.array(off).map(i32::from_ne_bytes)
    }

    pub(crate) fn u64(&self, off: usize) -> Result<u64, WireError> {
        self.array(off).map(u64::from_ne_bytes)
    }

    /// A NUL-terminated name in a `char[len]` field at `off`. Names become
    /// `String`s in the core, so one that is not UTF-8, empty, or fills
    /// the field without a NUL is an error rather than a lossy guess (a
    /// guessed name could rename the wrong device).
    pub(crate) fn name(&self, off: usize, len: usize) -> Result<String, WireError> {
        let field = self.slice(off, len)?;
        let Some(end) = field.iter().position(|&b| b == 0) else {
            return Err(WireError::Invalid {
                what: self.what,
                detail: "interface name is not NUL-terminated".into(),
            });
        };
        if end == 0 {
            return Err(WireError::Invalid {
                what: self.what,
                detail: "empty interface name".into(),
            });
        }
        String::from_utf8(field[..end].to_vec()).map_err(|_| WireError::Invalid {
            what: self.what,
            detail: format!("interface name is not UTF-8: {:?}", &field[..end]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let b = Bytes::new(&[1, 2, 3], "thing");
        assert_eq!(b.u16(0).unwrap(), u16::from_ne_bytes([1, 2]));
        assert!(matches!(
            b.u32(0),
            Err(WireError::Truncated {
                need: 4,
                have: 3,
                ..
            })
        ));
        assert!(b.u8(3).is_err());
        assert!(b.slice(usize::MAX, 2).is_err());
        assert_eq!(b.slice(3, 0).unwrap(), &[] as &[u8]);
    }

    #[test]
    fn names() {
        let mut f = [0u8; 16];
        f[..3].copy_from_slice(b"em0");
        assert_eq!(Bytes::new(&f, "n").name(0, 16).unwrap(), "em0");
        assert!(Bytes::new(&[0u8; 16], "n").name(0, 16).is_err());
        assert!(Bytes::new(&[b'a'; 16], "n").name(0, 16).is_err());
        let e = Bytes::new(&[0xff, 0], "n").name(0, 2).unwrap_err();
        assert!(e.to_string().contains("UTF-8"), "{e}");
    }

    #[test]
    fn errors_display_and_convert() {
        let e = WireError::BadVersion {
            msg_type: 14,
            version: 4,
        };
        assert_eq!(
            e.to_string(),
            "routing message type 14 has version 4, expected 5"
        );
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidData);
    }
}
