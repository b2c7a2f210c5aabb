//! `AF_PACKET` socket system calls: open and bind a raw packet socket to one
//! interface, set its options, and move frames in batches with
//! `recvmmsg(2)`/`sendmmsg(2)`.
//!
//! Layer 2 of the Linux backend. The batch calls keep their `mmsghdr`,
//! `iovec` and control-message arrays in a reusable struct ([`MmsgRecv`],
//! [`MmsgSend`]) so that the hot path allocates nothing; the safe packet
//! module above (`crate::packet`) decides what the frames mean.

use std::io;
use std::mem::{offset_of, size_of, zeroed};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;
use std::time::{Duration, Instant};

/// `ETH_P_ALL` in network byte order, as `sockaddr_ll.sll_protocol` wants it.
pub(crate) const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();

/// The most messages one `recvmmsg`/`sendmmsg` handles: the kernel caps
/// `vlen` at `UIO_MAXIOV` (1024) silently, so asking for more only wastes
/// array space.
pub(crate) const MAX_VLEN: usize = 1024;

/// Opens an `AF_PACKET` raw socket, close-on-exec and nonblocking.
///
/// `protocol` is in network byte order. With 0 the socket receives nothing
/// until [`bind`] names a protocol: a receive socket is therefore opened
/// with 0 and bound with [`ETH_P_ALL_BE`], so no frame of another interface
/// can be queued between `socket(2)` and `bind(2)`; a send-only socket stays
/// at 0 and never receives (no copy of every frame of the interface).
pub(crate) fn socket(protocol: u16) -> io::Result<OwnedFd> {
    let fd = syscall!(socket(
        libc::AF_PACKET,
        libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
        libc::c_int::from(protocol)
    ))?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one
    // else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Binds the socket to interface `ifindex` and `protocol` (network byte
/// order; 0 keeps the socket's protocol).
pub(crate) fn bind(fd: BorrowedFd<'_>, ifindex: u32, protocol: u16) -> io::Result<()> {
    let ifindex =
        libc::c_int::try_from(ifindex).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = protocol;
    sll.sll_ifindex = ifindex;
    // `sll` lives across the call and its size is passed.
    syscall!(bind(
        fd.as_raw_fd(),
        &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
        size_of::<libc::sockaddr_ll>() as libc::socklen_t
    ))?;
    Ok(())
}

fn set_int_opt(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // `value` lives across the call and its size is passed.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        level,
        name,
        &value as *const libc::c_int as *const libc::c_void,
        size_of::<libc::c_int>() as libc::socklen_t
    ))?;
    Ok(())
}

fn get_int_opt(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<i32> {
    let mut value: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // `value` and `len` are live and `len` holds the size of `value`.
    syscall!(getsockopt(
        fd.as_raw_fd(),
        level,
        name,
        &mut value as *mut libc::c_int as *mut libc::c_void,
        &mut len
    ))?;
    Ok(value)
}

/// Asks for a `PACKET_AUXDATA` control message with every frame: it carries
/// the VLAN tag the kernel stripped from the frame.
pub(crate) fn enable_auxdata(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_PACKET, libc::PACKET_AUXDATA, 1)
}

/// Makes every frame this socket receives (ring slot or `recvmsg`) start
/// with a `struct virtio_net_hdr`, and every frame it sends start with
/// one (`PACKET_VNET_HDR`): checksum and segmentation offload metadata
/// travel with the frame. Must precede `PACKET_RX_RING`.
pub(crate) fn enable_vnet_hdr(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_PACKET, libc::PACKET_VNET_HDR, 1)
}

/// Makes a receive ring also queue, on the socket, every frame too long for
/// its slot (`PACKET_COPY_THRESH`): the slot then holds the frame's head
/// with `TP_STATUS_COPY`, and the whole frame is read with
/// [`recv_prefixed`], in the same order.
pub(crate) fn enable_copy_thresh(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_PACKET, libc::PACKET_COPY_THRESH, 1)
}

/// What [`recv_prefixed`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrefixedMeta {
    /// The message's length, prefix included (`MSG_TRUNC`: the real
    /// length even when `buf` was smaller).
    pub(crate) len: usize,
    /// The `PACKET_AUXDATA`, when the socket asked for it.
    pub(crate) aux: Option<Auxdata>,
}

/// Receives one message (nonblocking), its first `prefix.len()` bytes into
/// `prefix` (the `virtio_net_hdr` of a `PACKET_VNET_HDR` socket) and the
/// rest into `buf`, so neither is moved afterwards. `EAGAIN` when none
/// waits; retries on `EINTR`.
pub(crate) fn recv_prefixed(
    fd: BorrowedFd<'_>,
    prefix: &mut [u8],
    buf: &mut [u8],
) -> io::Result<PrefixedMeta> {
    let mut iov = [
        libc::iovec {
            iov_base: prefix.as_mut_ptr() as *mut libc::c_void,
            iov_len: prefix.len(),
        },
        libc::iovec {
            iov_base: buf.as_mut_ptr() as *mut libc::c_void,
            iov_len: buf.len(),
        },
    ];
    let mut ctrl = CmsgBuf([0; CMSG_BUF_LEN]);
    // SAFETY: msghdr is plain old data; all-zero is a valid value.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len() as _;
    msg.msg_control = ctrl.0.as_mut_ptr() as *mut libc::c_void;
    loop {
        msg.msg_controllen = CMSG_BUF_LEN as _;
        // `msg` points at `iov` (two iovecs over `prefix` and `buf`, both
        // exclusively borrowed for this call) and at `ctrl`, all live
        // locals; the kernel writes at most their lengths.
        match syscall!(recvmsg(
            fd.as_raw_fd(),
            &mut msg,
            libc::MSG_TRUNC | libc::MSG_DONTWAIT
        )) {
            Ok(n) => {
                #[allow(clippy::unnecessary_cast)]
                let ctrl_len = (msg.msg_controllen as usize).min(CMSG_BUF_LEN);
                return Ok(PrefixedMeta {
                    len: n as usize,
                    aux: parse_auxdata(&ctrl.0[..ctrl_len]),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Stops the kernel from looping frames transmitted on the interface back
/// to this socket (`PACKET_IGNORE_OUTGOING`, Linux 4.20+; older kernels
/// answer `ENOPROTOOPT`).
pub(crate) fn ignore_outgoing(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1)
}

fn clamp_bytes(bytes: usize) -> libc::c_int {
    // The kernel doubles the value and caps it; anything above this would
    // overflow its int arithmetic.
    bytes.min(i32::MAX as usize / 2) as libc::c_int
}

/// Sets the receive buffer: `SO_RCVBUFFORCE` (needs `CAP_NET_ADMIN`, may
/// exceed `net.core.rmem_max`), falling back to `SO_RCVBUF`.
pub(crate) fn set_rcvbuf(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    let v = clamp_bytes(bytes);
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v)
        .or_else(|_| set_int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, v))
}

/// Sets the send buffer: `SO_SNDBUFFORCE`, falling back to `SO_SNDBUF`.
pub(crate) fn set_sndbuf(fd: BorrowedFd<'_>, bytes: usize) -> io::Result<()> {
    let v = clamp_bytes(bytes);
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, v)
        .or_else(|_| set_int_opt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, v))
}

/// The receive buffer size the kernel uses (twice what was set).
pub(crate) fn rcvbuf(fd: BorrowedFd<'_>) -> io::Result<usize> {
    get_int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).map(|v| v.max(0) as usize)
}

/// `PACKET_FANOUT_FLAG_UNIQUEID` (Linux 4.16+): the kernel picks an
/// unused group id.
const FANOUT_FLAG_UNIQUEID: u32 = 0x2000;
/// `PACKET_FANOUT_FLAG_IGNORE_OUTGOING`.
const FANOUT_FLAG_IGNORE_OUTGOING: u32 = 0x4000;

/// Makes the bound socket `fd` a member of a `PACKET_FANOUT_CBPF` fanout
/// group: `None` creates a group with an id no other group of the
/// namespace has; `Some(id)` joins that group. Returns the group's id.
/// Members take the indices 0, 1, ... in the order they join; each frame
/// goes to the member the group's program names (member 0 until one is
/// set, see [`fanout_steer`]).
///
/// With `ignore_outgoing` the group skips the frames the host transmits
/// (`PACKET_FANOUT_FLAG_IGNORE_OUTGOING`; older kernels answer
/// `EINVAL`): a member's own
/// `PACKET_IGNORE_OUTGOING` does not apply to frames the group hands it.
/// Every member must ask for the same.
pub(crate) fn fanout_join(
    fd: BorrowedFd<'_>,
    id: Option<u16>,
    ignore_outgoing: bool,
) -> io::Result<u16> {
    let (id, mut flags) = match id {
        Some(id) => (id, 0),
        None => (0, FANOUT_FLAG_UNIQUEID),
    };
    if ignore_outgoing {
        flags |= FANOUT_FLAG_IGNORE_OUTGOING;
    }
    let arg = u32::from(id) | ((libc::PACKET_FANOUT_CBPF | flags) << 16);
    set_int_opt(
        fd,
        libc::SOL_PACKET,
        libc::PACKET_FANOUT,
        arg as libc::c_int,
    )?;
    // The low 16 bits of the answer are the group's id.
    Ok(get_int_opt(fd, libc::SOL_PACKET, libc::PACKET_FANOUT)? as u16)
}

/// Sends every frame of `fd`'s fanout group to member `index`, by
/// replacing the group's program with `ret #index`
/// (`PACKET_FANOUT_DATA`). When a program was already set this waits for
/// an RCU grace period (`synchronize_net`, about 16 ms measured): once it
/// returns, no frame is still being steered by the old program, so every
/// frame the old member got is already in its queue or ring.
pub(crate) fn fanout_steer(fd: BorrowedFd<'_>, index: u32) -> io::Result<()> {
    set_return_program(fd, libc::SOL_PACKET, libc::PACKET_FANOUT_DATA, index)
}

/// Attaches a socket filter that accepts nothing (`ret #0`), so that a
/// socket can be bound (which a fanout member must be) without frames
/// reaching it directly; [`detach_filter`] removes it.
pub(crate) fn attach_drop_all(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_return_program(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, 0)
}

/// Sets the classic BPF program `ret #k` as socket option `level`/`name`.
fn set_return_program(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    k: u32,
) -> io::Result<()> {
    let mut prog = [libc::sock_filter {
        code: (libc::BPF_RET | libc::BPF_K) as u16,
        jt: 0,
        jf: 0,
        k,
    }];
    let fprog = libc::sock_fprog {
        len: 1,
        filter: prog.as_mut_ptr(),
    };
    // `fprog` and the one instruction it points at live across the call;
    // the kernel copies the program.
    syscall!(setsockopt(
        fd.as_raw_fd(),
        level,
        name,
        &fprog as *const libc::sock_fprog as *const libc::c_void,
        size_of::<libc::sock_fprog>() as libc::socklen_t
    ))?;
    Ok(())
}

/// Removes the socket filter [`attach_drop_all`] set.
pub(crate) fn detach_filter(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_DETACH_FILTER, 0)
}

/// Reads and clears the socket's pending error (`SO_ERROR`); 0 if none.
pub(crate) fn take_error(fd: BorrowedFd<'_>) -> io::Result<i32> {
    get_int_opt(fd, libc::SOL_SOCKET, libc::SO_ERROR)
}

/// Reads and resets the socket's counters (`PACKET_STATISTICS`): frames
/// passed to it and frames it dropped (its buffer or ring was full) since
/// the last read. Same layout for every `TPACKET` version (`TPACKET_V3`
/// appends a field, which a shorter buffer leaves out).
pub(crate) fn take_stats(fd: BorrowedFd<'_>) -> io::Result<(u32, u32)> {
    let mut st = libc::tpacket_stats {
        tp_packets: 0,
        tp_drops: 0,
    };
    let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
    // `st` and `len` are live and `len` holds the size of `st`; the kernel
    // writes at most `len` bytes.
    syscall!(getsockopt(
        fd.as_raw_fd(),
        libc::SOL_PACKET,
        libc::PACKET_STATISTICS,
        &mut st as *mut libc::tpacket_stats as *mut libc::c_void,
        &mut len
    ))?;
    Ok((st.tp_packets, st.tp_drops))
}

/// Waits until `fd` reports one of `events` (or an error/hangup) or
/// `timeout` passes (`None`: forever). Returns the reported events, 0 on
/// timeout. Retries on `EINTR` with the time left.
pub(crate) fn poll(
    fd: BorrowedFd<'_>,
    events: libc::c_short,
    timeout: Option<Duration>,
) -> io::Result<libc::c_short> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                // Rounded up: a 0.5 ms wait must not become a busy poll.
                left.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as libc::c_int
            }
        };
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // `pfd` is one live pollfd and we pass a count of 1.
        match syscall!(poll(&mut pfd, 1, ms)) {
            Ok(0) => return Ok(0),
            Ok(_) => return Ok(pfd.revents),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Dequeues and discards one frame without copying it (a 1-byte buffer
/// with `MSG_TRUNC`). Returns the frame's length; `EAGAIN` when none waits.
pub(crate) fn discard_one(fd: BorrowedFd<'_>) -> io::Result<usize> {
    let mut byte = 0u8;
    loop {
        // `byte` is a live 1-byte buffer and we pass a length of 1.
        match syscall!(recv(
            fd.as_raw_fd(),
            &mut byte as *mut u8 as *mut libc::c_void,
            1,
            libc::MSG_TRUNC | libc::MSG_DONTWAIT
        )) {
            Ok(n) => return Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What `PACKET_AUXDATA` said about one frame (the fields of
/// `struct tpacket_auxdata` that matter here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Auxdata {
    /// `tp_status`: `TP_STATUS_VLAN_VALID`, `TP_STATUS_VLAN_TPID_VALID`...
    pub(crate) status: u32,
    /// The stripped tag's TCI (priority, DEI, VLAN id), host byte order.
    pub(crate) vlan_tci: u16,
    /// The stripped tag's TPID, host byte order (valid with
    /// `TP_STATUS_VLAN_TPID_VALID`).
    pub(crate) vlan_tpid: u16,
}

/// One message of the last [`MmsgRecv::recv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvMeta {
    /// The frame's real length (`MSG_TRUNC` makes the kernel report it even
    /// when the slot was smaller).
    pub(crate) len: usize,
    /// `sll_pkttype` of the sender address, when addresses were asked for.
    pub(crate) pkttype: Option<u8>,
    /// The auxiliary data, when the kernel attached it.
    pub(crate) aux: Option<Auxdata>,
}

/// Bytes of control buffer per message: one `PACKET_AUXDATA` message
/// (`CMSG_SPACE(sizeof(struct tpacket_auxdata))`, 40 on 64-bit) with room
/// to spare.
const CMSG_BUF_LEN: usize = 64;

// SAFETY: CMSG_SPACE is pure arithmetic on its argument.
const AUX_SPACE: usize =
    unsafe { libc::CMSG_SPACE(size_of::<libc::tpacket_auxdata>() as libc::c_uint) } as usize;
const _: () = assert!(AUX_SPACE <= CMSG_BUF_LEN);

/// A control buffer for one message, aligned as `struct cmsghdr` requires.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct CmsgBuf([u8; CMSG_BUF_LEN]);

/// An all-zero value of a libc struct made only of integers and pointers.
fn zeroed_mmsghdr() -> libc::mmsghdr {
    // SAFETY: mmsghdr is plain old data (integers and raw pointers); all-zero
    // is a valid value (null pointers, zero lengths).
    unsafe { zeroed() }
}

fn zeroed_sockaddr_ll() -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    unsafe { zeroed() }
}

const NULL_IOVEC: libc::iovec = libc::iovec {
    iov_base: ptr::null_mut(),
    iov_len: 0,
};

/// The reusable arrays of a batched receive: one `mmsghdr`, `iovec`,
/// control buffer (and, on request, `sockaddr_ll`) per slot, allocated on
/// the first call and reused, so receiving allocates nothing.
pub(crate) struct MmsgRecv {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    ctrl: Vec<CmsgBuf>,
    names: Vec<libc::sockaddr_ll>,
    want_names: bool,
}

// SAFETY: the raw pointers inside `hdrs` and `iovs` point either into this
// struct's own heap arrays (which move with it, not with the thread) or at
// the caller's slots during one `recv`; they are rewritten before every
// system call and never dereferenced by Rust code, so nothing ties the
// struct to a thread.
unsafe impl Send for MmsgRecv {}

impl std::fmt::Debug for MmsgRecv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmsgRecv")
            .field("capacity", &self.hdrs.len())
            .field("want_names", &self.want_names)
            .finish()
    }
}

impl MmsgRecv {
    /// Empty arrays. With `want_names`, each message also returns the
    /// sender's `sockaddr_ll` (for its `sll_pkttype`).
    pub(crate) fn new(want_names: bool) -> MmsgRecv {
        MmsgRecv {
            hdrs: Vec::new(),
            iovs: Vec::new(),
            ctrl: Vec::new(),
            names: Vec::new(),
            want_names,
        }
    }

    /// Makes room for `n` messages and points each header at its own iovec,
    /// control buffer and address. Allocates only when `n` exceeds every
    /// earlier call.
    fn reserve(&mut self, n: usize) {
        if self.hdrs.len() >= n {
            return;
        }
        self.iovs.resize(n, NULL_IOVEC);
        self.ctrl.resize(n, CmsgBuf([0; CMSG_BUF_LEN]));
        if self.want_names {
            self.names.resize_with(n, zeroed_sockaddr_ll);
        }
        self.hdrs.resize_with(n, zeroed_mmsghdr);
        // The arrays may have moved: re-point every header.
        for i in 0..n {
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = self.ctrl[i].0.as_mut_ptr() as *mut libc::c_void;
            if self.want_names {
                h.msg_name = &mut self.names[i] as *mut libc::sockaddr_ll as *mut libc::c_void;
            }
        }
    }

    /// Receives up to one frame per slot (at most [`MAX_VLEN`]) with one
    /// nonblocking `recvmmsg(2)`, each frame into its slot, and returns how
    /// many arrived; read each with [`MmsgRecv::meta`]. `EAGAIN` when none
    /// was waiting; retries on `EINTR`.
    pub(crate) fn recv<'a, I>(&mut self, fd: BorrowedFd<'_>, slots: I) -> io::Result<usize>
    where
        I: ExactSizeIterator<Item = &'a mut [u8]>,
    {
        let want = slots.len().min(MAX_VLEN);
        if want == 0 {
            return Ok(0);
        }
        self.reserve(want);
        let namelen = if self.want_names {
            size_of::<libc::sockaddr_ll>() as libc::socklen_t
        } else {
            0
        };
        for (i, slot) in slots.take(want).enumerate() {
            self.iovs[i] = libc::iovec {
                iov_base: slot.as_mut_ptr() as *mut libc::c_void,
                iov_len: slot.len(),
            };
            let m = &mut self.hdrs[i];
            // The kernel overwrites these with what it used: reset them.
            m.msg_hdr.msg_controllen = CMSG_BUF_LEN as _;
            m.msg_hdr.msg_namelen = namelen;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
        }
        loop {
            // `hdrs[..want]` point at `iovs[..want]`, `ctrl[..want]` and
            // `names[..want]` (all owned by `self`, not reallocated since
            // `reserve`), and each iovec at one slot that the caller lends
            // us exclusively for 'a, which covers this call; the kernel
            // writes at most `iov_len` bytes into each and
            // `msg_controllen`/`msg_namelen` bytes into the buffers.
            match syscall!(recvmmsg(
                fd.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                want as libc::c_uint,
                libc::MSG_TRUNC | libc::MSG_DONTWAIT,
                ptr::null_mut()
            )) {
                Ok(n) => return Ok(n as usize),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// What the last [`MmsgRecv::recv`] learned about message `i` (which
    /// must be below the count it returned).
    // `msg_controllen` is a size_t on glibc but a socklen_t on musl.
    #[allow(clippy::unnecessary_cast)]
    pub(crate) fn meta(&self, i: usize) -> RecvMeta {
        let m = &self.hdrs[i];
        let ctrl_len = (m.msg_hdr.msg_controllen as usize).min(CMSG_BUF_LEN);
        let pkttype_end = offset_of!(libc::sockaddr_ll, sll_pkttype) + 1;
        let pkttype = (self.want_names && m.msg_hdr.msg_namelen as usize >= pkttype_end)
            .then(|| self.names[i].sll_pkttype);
        RecvMeta {
            len: m.msg_len as usize,
            pkttype,
            aux: parse_auxdata(&self.ctrl[i].0[..ctrl_len]),
        }
    }
}

/// Rounds `len` up as `CMSG_ALIGN` does (to the size of `size_t`).
const fn cmsg_align(len: usize) -> usize {
    (len + size_of::<usize>() - 1) & !(size_of::<usize>() - 1)
}

/// Finds the `SOL_PACKET`/`PACKET_AUXDATA` message in a control buffer as
/// the kernel filled it. Malformed or short data yields `None`, never a
/// panic.
// `cmsg_len` is a size_t on glibc but a socklen_t on musl.
#[allow(clippy::unnecessary_cast)]
pub(crate) fn parse_auxdata(mut buf: &[u8]) -> Option<Auxdata> {
    let hdr_len = size_of::<libc::cmsghdr>();
    let data_off = cmsg_align(hdr_len);
    while buf.len() >= hdr_len {
        // SAFETY: `buf` has at least size_of::<cmsghdr>() bytes (checked above),
        // read unaligned; any bit pattern is a valid cmsghdr (integers only).
        let hdr: libc::cmsghdr = unsafe { ptr::read_unaligned(buf.as_ptr().cast()) };
        let len = hdr.cmsg_len as usize;
        if len < hdr_len || len > buf.len() {
            return None;
        }
        if hdr.cmsg_level == libc::SOL_PACKET
            && hdr.cmsg_type == libc::PACKET_AUXDATA
            && len >= data_off + size_of::<libc::tpacket_auxdata>()
        {
            let data = &buf[data_off..];
            // SAFETY: `data` has at least size_of::<tpacket_auxdata>() bytes
            // (len <= buf.len()), read unaligned; integers only, any bits valid.
            let aux: libc::tpacket_auxdata = unsafe { ptr::read_unaligned(data.as_ptr().cast()) };
            return Some(Auxdata {
                status: aux.tp_status,
                vlan_tci: aux.tp_vlan_tci,
                vlan_tpid: aux.tp_vlan_tpid,
            });
        }
        let next = cmsg_align(len);
        if next >= buf.len() {
            return None;
        }
        buf = &buf[next..];
    }
    None
}

/// The reusable arrays of a batched send: one `mmsghdr` and `iovec` per
/// frame (two with a per-frame prefix, for `PACKET_VNET_HDR`), allocated on
/// the first call and reused.
pub(crate) struct MmsgSend {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    /// Iovecs per message the arrays are laid out for (1 or 2).
    per_msg: usize,
}

// SAFETY: as for `MmsgRecv`: the raw pointers point into this struct's own
// heap arrays or, during one `send`, at the caller's frames; they are
// rewritten before every system call and never dereferenced by Rust code.
unsafe impl Send for MmsgSend {}

impl std::fmt::Debug for MmsgSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmsgSend")
            .field("capacity", &self.hdrs.len())
            .finish()
    }
}

impl MmsgSend {
    /// Empty arrays.
    pub(crate) fn new() -> MmsgSend {
        MmsgSend {
            hdrs: Vec::new(),
            iovs: Vec::new(),
            per_msg: 1,
        }
    }

    fn reserve(&mut self, n: usize, per_msg: usize) {
        if self.hdrs.len() >= n && self.per_msg == per_msg {
            return;
        }
        self.per_msg = per_msg;
        self.iovs.resize(n * per_msg, NULL_IOVEC);
        self.hdrs.resize_with(n, zeroed_mmsghdr);
        for i in 0..self.hdrs.len() {
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_iov = &mut self.iovs[i * per_msg];
            h.msg_iovlen = per_msg as _;
        }
    }

    /// Like [`MmsgSend::send`], each frame preceded by its `prefixes[i]`
    /// (a `virtio_net_hdr` on a `PACKET_VNET_HDR` socket) in a second
    /// iovec, so neither is copied here.
    pub(crate) fn send_prefixed(
        &mut self,
        fd: BorrowedFd<'_>,
        frames: &[&[u8]],
        prefixes: &[[u8; 10]],
    ) -> io::Result<usize> {
        let n = frames.len().min(prefixes.len()).min(MAX_VLEN);
        if n == 0 {
            return Ok(0);
        }
        self.reserve(n, 2);
        for (i, (frame, prefix)) in frames[..n].iter().zip(&prefixes[..n]).enumerate() {
            // The kernel only reads through these pointers (sendmmsg).
            self.iovs[2 * i] = libc::iovec {
                iov_base: prefix.as_ptr() as *mut libc::c_void,
                iov_len: prefix.len(),
            };
            self.iovs[2 * i + 1] = libc::iovec {
                iov_base: frame.as_ptr() as *mut libc::c_void,
                iov_len: frame.len(),
            };
        }
        self.sendmmsg(fd, n)
    }

    fn sendmmsg(&mut self, fd: BorrowedFd<'_>, n: usize) -> io::Result<usize> {
        loop {
            // `hdrs[..n]` point at their iovecs in `iovs` (owned by `self`,
            // not reallocated since `reserve`), each at bytes the caller
            // borrows to us for this call; the kernel only reads them and
            // writes `msg_len`.
            match syscall!(sendmmsg(
                fd.as_raw_fd(),
                self.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT
            )) {
                Ok(sent) => return Ok(sent as usize),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends the frames (at most [`MAX_VLEN`]) in order with one nonblocking
    /// `sendmmsg(2)` on a bound socket. Returns how many the kernel took,
    /// which may be fewer; the error when the first one fails (`EAGAIN`,
    /// `ENOBUFS`, `EMSGSIZE`...). Retries on `EINTR`.
    pub(crate) fn send(&mut self, fd: BorrowedFd<'_>, frames: &[&[u8]]) -> io::Result<usize> {
        let n = frames.len().min(MAX_VLEN);
        if n == 0 {
            return Ok(0);
        }
        self.reserve(n, 1);
        for (iov, frame) in self.iovs.iter_mut().zip(&frames[..n]) {
            // The kernel only reads through this pointer (sendmmsg).
            iov.iov_base = frame.as_ptr() as *mut libc::c_void;
            iov.iov_len = frame.len();
        }
        self.sendmmsg(fd, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A control buffer holding one message, built the way the kernel lays
    /// it out.
    fn cmsg(level: i32, ty: i32, data: &[u8]) -> Vec<u8> {
        let hdr_len = size_of::<libc::cmsghdr>();
        let mut buf = vec![0u8; cmsg_align(hdr_len) + cmsg_align(data.len())];
        // SAFETY: cmsghdr is plain old data; all-zero is a valid value.
        let mut hdr: libc::cmsghdr = unsafe { zeroed() };
        hdr.cmsg_len = (cmsg_align(hdr_len) + data.len()) as _;
        hdr.cmsg_level = level;
        hdr.cmsg_type = ty;
        // SAFETY: `buf` is at least `hdr_len` bytes long; write_unaligned
        // has no alignment requirement.
        unsafe { ptr::write_unaligned(buf.as_mut_ptr().cast(), hdr) };
        buf[cmsg_align(hdr_len)..][..data.len()].copy_from_slice(data);
        buf
    }

    fn aux_bytes(status: u32, tci: u16, tpid: u16) -> Vec<u8> {
        let aux = libc::tpacket_auxdata {
            tp_status: status,
            tp_len: 60,
            tp_snaplen: 60,
            tp_mac: 0,
            tp_net: 14,
            tp_vlan_tci: tci,
            tp_vlan_tpid: tpid,
        };
        let mut v = vec![0u8; size_of::<libc::tpacket_auxdata>()];
        // SAFETY: `v` has exactly the struct's size; no alignment needed.
        unsafe { ptr::write_unaligned(v.as_mut_ptr().cast(), aux) };
        v
    }

    #[test]
    fn finds_auxdata_after_another_message() {
        let mut buf = cmsg(libc::SOL_SOCKET, libc::SCM_TIMESTAMP, &[7; 16]);
        buf.extend(cmsg(
            libc::SOL_PACKET,
            libc::PACKET_AUXDATA,
            &aux_bytes(libc::TP_STATUS_VLAN_VALID, 0x2064, 0x8100),
        ));
        assert_eq!(
            parse_auxdata(&buf),
            Some(Auxdata {
                status: libc::TP_STATUS_VLAN_VALID,
                vlan_tci: 0x2064,
                vlan_tpid: 0x8100
            })
        );
    }

    #[test]
    fn malformed_control_data_is_none() {
        assert_eq!(parse_auxdata(&[]), None);
        assert_eq!(parse_auxdata(&[0xff; 7]), None);
        let mut buf = cmsg(libc::SOL_PACKET, libc::PACKET_AUXDATA, &aux_bytes(0, 1, 2));
        // Claims more than the buffer holds.
        buf.truncate(buf.len() - 8);
        assert_eq!(parse_auxdata(&buf), None);
        // Zero length must not loop forever.
        assert_eq!(parse_auxdata(&[0u8; 64]), None);
        // Arbitrary bytes never panic.
        for seed in 0..2000u32 {
            let bytes: Vec<u8> = (0..(seed % 97))
                .map(|i| (seed.wrapping_mul(2654435761).wrapping_add(i * 40503) >> 7) as u8)
                .collect();
            let _ = parse_auxdata(&bytes);
        }
    }
}
