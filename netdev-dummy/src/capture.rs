//! Optional pcap capture of a dummy device's traffic, readable by tcpdump
//! and Wireshark.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use netdev_core::{Error, ErrorKind, Result};
use pcap::{Capture, Linktype, PacketHeader, Savefile};

/// A pcap file being written.
pub(crate) struct PcapWriter {
    file: Savefile,
    path: String,
}

impl std::fmt::Debug for PcapWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapWriter")
            .field("path", &self.path)
            .finish()
    }
}

/// Largest frame stored whole; longer frames are cut, with their real length
/// kept in the record header as pcap intends.
const SNAPLEN: usize = 65535;

impl PcapWriter {
    pub(crate) fn create(path: &Path) -> Result<PcapWriter> {
        let bad = |why: String| Error::new(ErrorKind::InvalidInput(why)).with_op("start_capture");
        // The pcap crate panics on paths that are not UTF-8: refuse them here.
        let Some(path_str) = path.to_str() else {
            return Err(bad(format!("{} is not a UTF-8 path", path.display())));
        };
        let dead = Capture::dead(Linktype::ETHERNET).map_err(|e| bad(format!("pcap: {e}")))?;
        let file = dead
            .savefile(path)
            .map_err(|e| bad(format!("cannot create {path_str}: {e}")))?;
        Ok(PcapWriter {
            file,
            path: path_str.into(),
        })
    }

    /// Appends one frame and flushes, so the file is complete even if the
    /// process dies (capture is a debugging aid; speed matters less).
    pub(crate) fn write(&mut self, frame: &[u8]) -> Result<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let caplen = frame.len().min(SNAPLEN);
        let header = PacketHeader {
            ts: libc::timeval {
                tv_sec: now.as_secs() as libc::time_t,
                tv_usec: now.subsec_micros() as libc::suseconds_t,
            },
            caplen: caplen as u32,
            len: u32::try_from(frame.len()).unwrap_or(u32::MAX),
        };
        self.file
            .write(&pcap::Packet::new(&header, &frame[..caplen]));
        self.file.flush().map_err(|e| {
            Error::new(ErrorKind::Os(libc::EIO))
                .with_op("capture")
                .with_detail(format!("{}: {e}", self.path))
        })
    }
}
