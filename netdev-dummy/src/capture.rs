//! Optional pcap capture of a dummy device's traffic, readable by tcpdump
//! and Wireshark.
//!
//! The classic pcap file format is 24 bytes of file header and 16 bytes per
//! record (tcpdump's `pcap-savefile(5)`), so it is written here directly:
//! linking libpcap only to write it cost every program that registers the
//! dummy class (the `netdev` tool among them) the loading of libpcap and
//! its libraries at start-up. The tests read the files back with libpcap.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use netdev_core::{Error, ErrorKind, Result};

/// Largest frame stored whole; longer frames are cut, with their real length
/// kept in the record header as pcap intends.
const SNAPLEN: usize = 65535;
/// Microsecond-resolution pcap, in the writer's byte order (readers detect
/// it from the magic number).
const MAGIC: u32 = 0xa1b2_c3d4;
const LINKTYPE_ETHERNET: u32 = 1;

/// A number no other capture of this process used, for temporary names.
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

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
    /// Creates the capture at `path`, replacing what is there.
    ///
    /// The file holds captured frames, so it is made readable by its owner
    /// only (0600), and it is never opened through whatever `path` names:
    /// a new file with a unique name is created next to it (`O_EXCL`,
    /// `O_NOFOLLOW`) and renamed over `path`, so a symlink planted there is
    /// replaced, not followed (its target is never truncated).
    pub(crate) fn create(path: &Path) -> Result<PcapWriter> {
        let fail = |e: std::io::Error| {
            Error::from(e)
                .with_op("start_capture")
                .with_detail(format!("cannot create {}", path.display()))
        };
        let Some(file_name) = path.file_name() else {
            return Err(Error::new(ErrorKind::InvalidInput(format!(
                "{} names no file",
                path.display()
            )))
            .with_op("start_capture"));
        };
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(file_name);
        tmp_name.push(format!(".{}.{}.tmp", std::process::id(), unique()));
        let tmp = match dir {
            Some(d) => d.join(&tmp_name),
            None => PathBuf::from(&tmp_name),
        };
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(fail)?;
        let mut file = BufWriter::new(file);
        let done = file
            .write_all(&file_header())
            .and_then(|()| file.flush())
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = done {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(e));
        }
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
