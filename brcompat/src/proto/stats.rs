//! Per-port frame counters of a bridge (an extension of the protocol, not
//! in the seed): the fixed-size records of `PORT_STATS` data, the answer
//! to `GET_PORT_STATS`.

use super::error::ProtoError;
use super::fdb::REPLY_OVERHEAD;
use super::{BRC_GENL_A_PORT_STATS, MAX_MESSAGE_LEN};

/// Size of one record on the wire.
pub const PORT_STATS_LEN: usize = 72;

/// Bytes of the name field: `IFNAMSIZ`, a NUL included.
const NAME_LEN: usize = 16;

/// The most records one reply holds (909).
pub const MAX_PORT_STATS: usize = (MAX_MESSAGE_LEN - REPLY_OVERHEAD) / PORT_STATS_LEN;

const _: () = assert!(REPLY_OVERHEAD + (MAX_PORT_STATS + 1) * PORT_STATS_LEN > MAX_MESSAGE_LEN);

/// The counters of one port of a bridge, as the switch's datapath counts
/// them since the port was added.
///
/// On the wire (integers host-endian, as everywhere in the protocol):
///
/// | bytes | field |
/// | --- | --- |
/// | 0..16 | port name, UTF-8, NUL-padded (at most 15 bytes) |
/// | 16..18 | port number (u16; 0 is the bridge's local port) |
/// | 18..24 | zero |
/// | 24..32 | `rx_packets` (u64) |
/// | 32..40 | `tx_packets` |
/// | 40..48 | `forwarded` |
/// | 48..56 | `flooded` |
/// | 56..64 | `dropped` |
/// | 64..72 | `tx_dropped` |
///
/// Decoding ignores the padding; a name without a NUL in its 16 bytes,
/// or that is not UTF-8, is an error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PortStats {
    /// The port's name.
    pub name: String,
    /// Its number in the bridge.
    pub port: u16,
    /// Frames received.
    pub rx_packets: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Frames received and sent to the one port of their destination.
    pub forwarded: u64,
    /// Frames received and flooded.
    pub flooded: u64,
    /// Frames received and dropped.
    pub dropped: u64,
    /// Frames to send that the device refused.
    pub tx_dropped: u64,
}

impl PortStats {
    /// The record as it goes on the wire; `None` when the name does not
    /// fit (over 15 bytes) or holds a NUL.
    #[must_use]
    pub fn to_bytes(&self) -> Option<[u8; PORT_STATS_LEN]> {
        let name = self.name.as_bytes();
        if name.len() >= NAME_LEN || name.contains(&0) {
            return None;
        }
        let mut out = [0; PORT_STATS_LEN];
        out[..name.len()].copy_from_slice(name);
        out[16..18].copy_from_slice(&self.port.to_ne_bytes());
        let counters = [
            self.rx_packets,
            self.tx_packets,
            self.forwarded,
            self.flooded,
            self.dropped,
            self.tx_dropped,
        ];
        for (i, c) in counters.iter().enumerate() {
            out[24 + 8 * i..32 + 8 * i].copy_from_slice(&c.to_ne_bytes());
        }
        Some(out)
    }

    /// Decodes one record; `offset` is the record's, for the error.
    pub fn from_bytes(bytes: &[u8; PORT_STATS_LEN], offset: usize) -> Result<Self, ProtoError> {
        let bad = |reason| ProtoError::BadRecord {
            attr: BRC_GENL_A_PORT_STATS,
            offset,
            reason,
        };
        let field = &bytes[..NAME_LEN];
        let end = field
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| bad("port name has no NUL"))?;
        let name = std::str::from_utf8(&field[..end])
            .map_err(|_| bad("port name is not UTF-8"))?
            .to_owned();
        let u64_at = |at: usize| {
            let mut b = [0; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_ne_bytes(b)
        };
        Ok(Self {
            name,
            port: u16::from_ne_bytes([bytes[16], bytes[17]]),
            rx_packets: u64_at(24),
            tx_packets: u64_at(32),
            forwarded: u64_at(40),
            flooded: u64_at(48),
            dropped: u64_at(56),
            tx_dropped: u64_at(64),
        })
    }

    /// Appends the records of `stats` to `out`; fails on the first whose
    /// name cannot be encoded.
    pub fn encode_all(stats: &[PortStats], out: &mut Vec<u8>) -> Result<(), ProtoError> {
        out.reserve(stats.len().saturating_mul(PORT_STATS_LEN));
        for (i, s) in stats.iter().enumerate() {
            let bytes = s.to_bytes().ok_or(ProtoError::BadRecord {
                attr: BRC_GENL_A_PORT_STATS,
                offset: i * PORT_STATS_LEN,
                reason: "port name is longer than 15 bytes or holds a NUL",
            })?;
            out.extend_from_slice(&bytes);
        }
        Ok(())
    }

    /// Decodes an array of records (a `PORT_STATS` payload at `offset`).
    pub fn decode_all(payload: &[u8], offset: usize) -> Result<Vec<PortStats>, ProtoError> {
        let chunks = payload.chunks_exact(PORT_STATS_LEN);
        if !chunks.remainder().is_empty() {
            return Err(ProtoError::PartialRecord {
                attr: BRC_GENL_A_PORT_STATS,
                offset,
                len: payload.len(),
                record: PORT_STATS_LEN,
            });
        }
        chunks
            .enumerate()
            .filter_map(|(i, c)| <&[u8; PORT_STATS_LEN]>::try_from(c).ok().map(|c| (i, c)))
            .map(|(i, c)| PortStats::from_bytes(c, offset + i * PORT_STATS_LEN))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PortStats {
        PortStats {
            name: "veth0".into(),
            port: 0x0102,
            rx_packets: 1,
            tx_packets: 2,
            forwarded: 3,
            flooded: 4,
            dropped: 5,
            tx_dropped: 0x0102_0304_0506_0708,
        }
    }

    #[test]
    fn layout() {
        let b = sample().to_bytes().unwrap();
        assert_eq!(&b[..6], b"veth0\0");
        assert!(b[6..16].iter().all(|&x| x == 0));
        assert_eq!(&b[16..18], &0x0102u16.to_ne_bytes());
        assert!(b[18..24].iter().all(|&x| x == 0));
        assert_eq!(&b[24..32], &1u64.to_ne_bytes());
        assert_eq!(&b[64..72], &0x0102_0304_0506_0708u64.to_ne_bytes());
        assert_eq!(PortStats::from_bytes(&b, 0), Ok(sample()));
    }

    #[test]
    fn names_are_checked() {
        let mut s = sample();
        s.name = "a-name-of-16-byt".into();
        assert!(s.to_bytes().is_none());
        s.name = "fifteen-bytes-x".into();
        assert_eq!(
            PortStats::decode_all(&s.to_bytes().unwrap(), 0),
            Ok(vec![s])
        );
        let mut b = sample().to_bytes().unwrap();
        b[..16].fill(b'a');
        assert!(matches!(
            PortStats::from_bytes(&b, 40),
            Err(ProtoError::BadRecord { offset: 40, .. })
        ));
        b[0] = 0xff;
        b[1] = 0;
        assert!(PortStats::from_bytes(&b, 0).is_err());
        assert!(matches!(
            PortStats::decode_all(&[0; 73], 8),
            Err(ProtoError::PartialRecord { len: 73, .. })
        ));
        assert_eq!(PortStats::decode_all(&[], 0), Ok(vec![]));
    }
}
