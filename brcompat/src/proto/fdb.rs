//! Forwarding-database records: Linux's 16-byte `struct __fdb_entry`
//! (`if_bridge.h`), the payload of `FDB_DATA`, and the paging of
//! `FDB_QUERY`.

use std::ops::Range;
use std::time::Duration;

use super::error::ProtoError;
use super::{BRC_GENL_A_FDB_DATA, MAX_MESSAGE_LEN};

/// Size of one `struct __fdb_entry` on the wire.
pub const FDB_ENTRY_LEN: usize = 16;

/// Ticks per second of `ageing_timer_value` (the kernel's `USER_HZ`).
pub const USER_HZ: u32 = 100;

/// One forwarding-database record.
///
/// On the wire (host-endian, as the kernel struct is):
///
/// | bytes | field |
/// | --- | --- |
/// | 0..6 | `mac_addr` |
/// | 6 | `port_no`: low 8 bits of [`port`](Self::port) |
/// | 7 | `is_local`: 0 or 1 |
/// | 8..12 | `ageing_timer_value`: u32, [`USER_HZ`] ticks |
/// | 12 | `port_hi`: high 8 bits of [`port`](Self::port) |
/// | 13 | `pad0`: 0 |
/// | 14..16 | `unused`: 0 |
///
/// Decoding ignores the padding bytes and reads any non-zero `is_local` as
/// true, as the kernel's readers do; encoding writes zeros and 0/1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FdbEntry {
    /// The learned (or local) MAC address.
    pub mac: [u8; 6],
    /// The bridge port number.
    pub port: u16,
    /// Whether the address belongs to one of the bridge's own interfaces.
    pub is_local: bool,
    /// Time since the address was last seen, in [`USER_HZ`] ticks.
    pub ageing_ticks: u32,
}

impl FdbEntry {
    /// Ticks for an age given in whole seconds, as `fdb/show` prints it;
    /// saturates instead of overflowing.
    #[must_use]
    #[inline]
    pub fn ticks_from_secs(secs: u32) -> u32 {
        secs.saturating_mul(USER_HZ)
    }

    /// The age as a duration.
    #[must_use]
    #[inline]
    pub fn ageing(&self) -> Duration {
        Duration::from_millis(u64::from(self.ageing_ticks) * 1000 / u64::from(USER_HZ))
    }

    /// The record as it goes on the wire.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; FDB_ENTRY_LEN] {
        let [port_no, port_hi] = self.port.to_le_bytes();
        let mut out = [0; FDB_ENTRY_LEN];
        out[..6].copy_from_slice(&self.mac);
        out[6] = port_no;
        out[7] = u8::from(self.is_local);
        out[8..12].copy_from_slice(&self.ageing_ticks.to_ne_bytes());
        out[12] = port_hi;
        out
    }

    /// Decodes one record.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; FDB_ENTRY_LEN]) -> Self {
        let [m0, m1, m2, m3, m4, m5, port_no, is_local, a0, a1, a2, a3, port_hi, _pad0, _u0, _u1] =
            *bytes;
        Self {
            mac: [m0, m1, m2, m3, m4, m5],
            port: u16::from_le_bytes([port_no, port_hi]),
            is_local: is_local != 0,
            ageing_ticks: u32::from_ne_bytes([a0, a1, a2, a3]),
        }
    }

    /// Appends the records of `entries` to `out`.
    pub fn encode_all(entries: &[FdbEntry], out: &mut Vec<u8>) {
        out.reserve(entries.len().saturating_mul(FDB_ENTRY_LEN));
        for entry in entries {
            out.extend_from_slice(&entry.to_bytes());
        }
    }

    /// Decodes an array of records (an `FDB_DATA` payload). A length that
    /// is not a multiple of [`FDB_ENTRY_LEN`] is an error, not a silently
    /// dropped tail; `offset` (the attribute's, for the message) is what
    /// the error reports.
    pub fn decode_all(payload: &[u8], offset: usize) -> Result<Vec<FdbEntry>, ProtoError> {
        let chunks = payload.chunks_exact(FDB_ENTRY_LEN);
        if !chunks.remainder().is_empty() {
            return Err(ProtoError::PartialRecord {
                attr: BRC_GENL_A_FDB_DATA,
                offset,
                len: payload.len(),
                record: FDB_ENTRY_LEN,
            });
        }
        Ok(chunks
            .filter_map(|c| <&[u8; FDB_ENTRY_LEN]>::try_from(c).ok())
            .map(FdbEntry::from_bytes)
            .collect())
    }
}

/// The most FDB records one reply holds: what fits in
/// [`MAX_MESSAGE_LEN`] after the headers, `ERR_CODE` and the `FDB_DATA`
/// attribute header (4094).
pub const MAX_FDB_ENTRIES: usize = (MAX_MESSAGE_LEN - REPLY_OVERHEAD) / FDB_ENTRY_LEN;

/// The most ifindexes one reply holds (16376).
pub const MAX_IFINDEXES: usize = (MAX_MESSAGE_LEN - REPLY_OVERHEAD) / 4;

/// `nlmsghdr` + `genlmsghdr` + `ERR_CODE` (8) + a data attribute header.
pub(super) const REPLY_OVERHEAD: usize = 16 + 4 + 8 + 4;

// The limits are the largest that fit.
const _: () = assert!(REPLY_OVERHEAD + MAX_FDB_ENTRIES * FDB_ENTRY_LEN <= MAX_MESSAGE_LEN);
const _: () = assert!(REPLY_OVERHEAD + (MAX_FDB_ENTRIES + 1) * FDB_ENTRY_LEN > MAX_MESSAGE_LEN);
const _: () = assert!(REPLY_OVERHEAD + (MAX_IFINDEXES + 1) * 4 > MAX_MESSAGE_LEN);

/// The records a `FDB_QUERY` with `count` and `skip` answers, as a range of
/// indexes into the `available` records of the bridge (those of its VLAN):
/// skip `skip`, then at most `count`, and never more than
/// [`MAX_FDB_ENTRIES`] so the reply fits. Any `u64` values work, including
/// `u64::MAX`; a `skip` past the end gives an empty range at the end.
#[must_use]
pub fn fdb_page(count: u64, skip: u64, available: usize) -> Range<usize> {
    let start = usize::try_from(skip).map_or(available, |s| s.min(available));
    let count = usize::try_from(count).map_or(MAX_FDB_ENTRIES, |c| c.min(MAX_FDB_ENTRIES));
    let end = start.saturating_add(count).min(available);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FdbEntry {
        FdbEntry {
            mac: [0x02, 0x11, 0x22, 0x33, 0x44, 0x55],
            port: 0x0302,
            is_local: true,
            ageing_ticks: 1234,
        }
    }

    #[test]
    fn layout_is_the_kernel_struct() {
        let b = sample().to_bytes();
        assert_eq!(&b[..6], &[0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(b[6], 0x02, "port_no");
        assert_eq!(b[7], 1, "is_local");
        assert_eq!(&b[8..12], &1234u32.to_ne_bytes());
        assert_eq!(b[12], 0x03, "port_hi");
        assert_eq!(&b[13..], &[0, 0, 0], "pad0, unused");
        assert_eq!(FdbEntry::from_bytes(&b), sample());
    }

    #[test]
    fn padding_ignored_and_is_local_any_non_zero() {
        let mut b = sample().to_bytes();
        b[7] = 7;
        b[13] = 0xff;
        b[14] = 0xff;
        b[15] = 0xff;
        assert_eq!(FdbEntry::from_bytes(&b), sample());
    }

    #[test]
    fn arrays_round_trip_and_partial_records_fail() {
        let entries = vec![sample(), FdbEntry::default(), sample()];
        let mut bytes = Vec::new();
        FdbEntry::encode_all(&entries, &mut bytes);
        assert_eq!(bytes.len(), 48);
        assert_eq!(FdbEntry::decode_all(&bytes, 0), Ok(entries));
        assert_eq!(FdbEntry::decode_all(&[], 0), Ok(vec![]));
        for cut in [1, 15, 17, 47] {
            assert_eq!(
                FdbEntry::decode_all(&bytes[..cut], 40),
                Err(ProtoError::PartialRecord {
                    attr: BRC_GENL_A_FDB_DATA,
                    offset: 40,
                    len: cut,
                    record: 16,
                })
            );
        }
    }

    #[test]
    fn ageing_conversions() {
        assert_eq!(FdbEntry::ticks_from_secs(3), 300);
        assert_eq!(FdbEntry::ticks_from_secs(u32::MAX), u32::MAX);
        let e = FdbEntry {
            ageing_ticks: 250,
            ..FdbEntry::default()
        };
        assert_eq!(e.ageing(), Duration::from_millis(2500));
        let e = FdbEntry {
            ageing_ticks: u32::MAX,
            ..FdbEntry::default()
        };
        assert_eq!(e.ageing().as_secs(), u64::from(u32::MAX) / 100);
    }

    #[test]
    fn limits_fit_a_reply() {
        assert_eq!(MAX_FDB_ENTRIES, 4094);
        assert_eq!(MAX_IFINDEXES, 16376);
    }

    #[test]
    fn paging_never_overflows() {
        assert_eq!(fdb_page(10, 0, 100), 0..10);
        assert_eq!(fdb_page(10, 95, 100), 95..100);
        assert_eq!(fdb_page(10, 100, 100), 100..100);
        assert_eq!(fdb_page(10, 1000, 100), 100..100);
        assert_eq!(fdb_page(0, 5, 100), 5..5);
        assert_eq!(fdb_page(u64::MAX, 0, 100), 0..100);
        assert_eq!(fdb_page(u64::MAX, u64::MAX, 100), 100..100);
        assert_eq!(fdb_page(u64::MAX, 1, 10_000), 1..1 + MAX_FDB_ENTRIES);
        let r = fdb_page(5, u64::MAX - 1, usize::MAX);
        assert!(r.start <= r.end && r.len() <= 5 && r.end == usize::MAX);
        assert_eq!(fdb_page(3, 0, 0), 0..0);
    }
}
