//! Waiting for descriptors: `poll(2)` with a timeout.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// Waits until `fd` is readable (`write: false`) or writable (`write:
/// true`), or `timeout` passes (`None`: no limit). True if ready. Retries
/// on `EINTR` with the time left.
pub(crate) fn wait(fd: BorrowedFd<'_>, write: bool, timeout: Option<Duration>) -> io::Result<bool> {
    let mut pfd = [libc::pollfd {
        fd: fd.as_raw_fd(),
        events: if write { libc::POLLOUT } else { libc::POLLIN },
        revents: 0,
    }];
    Ok(poll(&mut pfd, timeout)? != 0)
}

/// Polls `fds` until one is ready or `timeout` passes (`None`: no limit),
/// and returns how many are (each one's `revents` says what). Retries on
/// `EINTR` with the time left.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    let count = libc::nfds_t::try_from(fds.len())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    super::retry_eintr(|| {
        let ms: libc::c_int = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Round up so a short timeout still waits.
                let ms = left.as_micros().div_ceil(1000);
                libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
            }
        };
        // `fds` is a live, exclusively borrowed array of `count` pollfds.
        syscall!(poll(fds.as_mut_ptr(), count, ms))
    })
    .map(|n| n as usize)
}
