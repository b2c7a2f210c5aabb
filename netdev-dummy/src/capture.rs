//! Optional pcap capture of a dummy device's traffic, readable by tcpdump
//! and Wireshark.
//!
//! The classic pcap file format is 24 bytes of file header and 16 bytes per
//! record (tcpdump's `pcap-savefile(5)`), so it is written here directly:
//! linking libpcap only to write it cost every program that registers the
//! dummy class (the `netdev` tool among them) the loading of libpcap and
//! its libraries at start-up. The tests read the files back with libpcap.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use netdev_core::{Error, ErrorKind, Result};

/// Largest frame stored whole; longer frames are cut, with their real length
/// kept in the record header as pcap intends.
const SNAPLEN: usize = 65535;
/// Microsecond-resolution pcap, in the writer's byte order (readers detect
/// it from the magic number).
const MAGIC: u32 = 0xa1b2_c3d4;
const LINKTYPE_ETHERNET: u32 = 1;

/// A pcap file being written.
#[derive(Debug)]
pub(crate) struct PcapWriter {
    file: BufWriter<File>,
    path: PathBuf,
}

/// The file header: magic, version 2.4, no time zone offset or accuracy,
/// snapshot length, link type.
fn file_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&MAGIC.to_ne_bytes());
    h[4..6].copy_from_slice(&2u16.to_ne_bytes());
    h[6..8].copy_from_slice(&4u16.to_ne_bytes());
    h[16..20].copy_from_slice(&(SNAPLEN as u32).to_ne_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_ne_bytes());
    h
}

/// A record header: seconds, microseconds, bytes stored, length on the wire.
fn record_header(secs: u32, micros: u32, caplen: u32, len: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    for (i, v) in [secs, micros, caplen, len].into_iter().enumerate() {
        h[4 * i..4 * i + 4].copy_from_slice(&v.to_ne_bytes());
    }
    h
}

impl PcapWriter {
    pub(crate) fn create(path: &Path) -> Result<PcapWriter> {
        let fail = |e: std::io::Error| {
            Error::from(e)
                .with_op("start_capture")
                .with_detail(format!("cannot create {}", path.display()))
        };
        let mut file = BufWriter::new(File::create(path).map_err(fail)?);
        file.write_all(&file_header()).map_err(fail)?;
        file.flush().map_err(fail)?;
        Ok(PcapWriter {
            file,
            path: path.to_owned(),
        })
    }

    /// Appends one frame and flushes, so the file is complete even if the
    /// process dies (capture is a debugging aid; speed matters less).
    pub(crate) fn write(&mut self, frame: &[u8]) -> Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let caplen = frame.len().min(SNAPLEN);
        let header = record_header(
            // pcap's 32-bit seconds wrap in 2106; the format has no more.
            now.as_secs() as u32,
            now.subsec_micros(),
            caplen as u32,
            u32::try_from(frame.len()).unwrap_or(u32::MAX),
        );
        let r = self
            .file
            .write_all(&header)
            .and_then(|()| self.file.write_all(&frame[..caplen]))
            .and_then(|()| self.file.flush());
        r.map_err(|e| {
            Error::new(ErrorKind::Os(e.raw_os_error().unwrap_or(libc::EIO)))
                .with_op("capture")
                .with_detail(format!("{}: {e}", self.path.display()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_pcap_savefile_5() {
        let h = file_header();
        assert_eq!(u32::from_ne_bytes(h[0..4].try_into().unwrap()), MAGIC);
        assert_eq!(u16::from_ne_bytes(h[4..6].try_into().unwrap()), 2);
        assert_eq!(u16::from_ne_bytes(h[6..8].try_into().unwrap()), 4);
        assert_eq!(&h[8..16], &[0; 8]);
        assert_eq!(u32::from_ne_bytes(h[16..20].try_into().unwrap()), 65535);
        assert_eq!(u32::from_ne_bytes(h[20..24].try_into().unwrap()), 1);
        let r = record_header(1, 2, 3, 4);
        let words: Vec<u32> = r
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(words, [1, 2, 3, 4]);
    }
}
