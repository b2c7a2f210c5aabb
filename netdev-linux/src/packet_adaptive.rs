//! An adaptive receive queue: [`PacketAdaptiveRxq`] reads a `TPACKET_V2`
//! ring while frames are few and a `TPACKET_V3` ring while they flood,
//! so that a lone frame is seen as fast as with `recvmmsg` and a flood is
//! taken at the V3 ring's rate.
//!
//! Why two rings. Measured on a veth pair with 64-byte frames
//! (`examples/bench_packet.rs`): when the kernel's receive work runs on
//! the sender's core, a V2 ring reaches only 0.57-0.75x of a V3 ring,
//! because the kernel (`tpacket_rcv`, on that core) takes the socket's
//! queue lock a second time and wakes the reader for every frame, where
//! V3 does so once per block. But a V3 block reaches user space only when
//! it is full or when its retire timer (at least 1 ms) expires, so a lone
//! frame waits about 0.5 ms, against 0.05-0.07 ms for V2 or `recvmmsg`.
//!
//! How. Both rings are bound to the interface as the two members of a
//! `PACKET_FANOUT_CBPF` group whose one-instruction program (`ret #k`)
//! sends every frame to one member. Each frame is therefore copied once,
//! into one ring. The queue starts on the V2 ring; when it has read more
//! than [`AdaptiveConfig::high_rate`] frames a second for
//! [`SUSTAIN`] consecutive milliseconds it steers the group to the V3
//! ring; when it reads less than a quarter of that rate from the V3 ring
//! over two consecutive 4 ms windows, with no frame left waiting, it
//! steers back. The factor of four keeps the two thresholds from chasing
//! each other; the "none left waiting" keeps a reader that was preempted
//! (not a sender that slowed down) on the V3 ring. A lone frame after a
//! flood may wait for the V3 ring's block timeout (1 ms) and, while the
//! queue switches back, for the steering's grace period (about 16 ms);
//! the frames after it are seen as fast as on a V2 ring.
//!
//! Order. Replacing the group's program waits for an RCU grace period
//! (`synchronize_net`, about 16 ms measured), after which no frame is
//! still being steered to the old ring. That wait runs on a short-lived
//! thread, so the reader never blocks on it; until it ends, and then
//! until the old ring is empty, frames are read from the old ring only
//! and the new ring's frames wait in it. A frame is therefore never
//! delivered before one that arrived earlier, none is lost to a switch
//! (unless the new ring fills during the wait: counted in
//! [`RxQueueBackend::dropped`]), and none is delivered twice. Leaving V3
//! also waits for its last open block, which the kernel hands over at its
//! timeout.
//!
//! Pollable. [`RxQueueBackend::as_fd`] is an epoll descriptor over both
//! sockets and an eventfd the steering thread signals, so one caller's
//! `poll`/`epoll` loop works whichever ring is read. A ring whose frames
//! must wait (the new one during a switch) is taken out of it meanwhile,
//! so the descriptor is not readable for frames that cannot be read yet.
//!
//! When the device goes down and up the kernel unlinks and re-links the
//! group's members one at a time; while only one is linked, every frame
//! goes to it whatever the program says. Frames found in the ring not
//! being read are therefore read too, after the other ring's: nothing is
//! lost, though frames around a down/up may come out of order.
//!
//! Layer 3 (classes) helper: safe code over [`PacketRingV2Rxq`],
//! [`PacketRingRxq`] and `crate::sys::packet`'s fanout calls.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::debug;
use netdev_core::{PacketBatch, Result, RxQueueBackend};
use nix::poll::PollTimeout;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use nix::sys::eventfd::{EfdFlags, EventFd};

use crate::packet_ring::{PacketRingRxq, RingConfig};
use crate::packet_ring_v2::{PacketRingV2Rxq, RingV2Config};
use crate::sys::packet as sys;

/// The length of one rate measurement window.
const WINDOW: Duration = Duration::from_millis(1);
/// Consecutive windows above the high rate that switch to the V3 ring.
pub const SUSTAIN: u32 = 4;
/// The window over which the V3 ring's rate is measured.
const LOW_WINDOW: Duration = Duration::from_millis(4);
/// Below `high_rate / LOW_FRACTION` frames a second over
/// [`SLOW_WINDOWS`] consecutive [`LOW_WINDOW`]s with no frame left
/// waiting, the queue goes back to the V2 ring.
const LOW_FRACTION: u128 = 4;
const SLOW_WINDOWS: u32 = 2;

/// Epoll tokens.
const V2_TOKEN: u64 = 0;
const V3_TOKEN: u64 = 1;
const WAKE_TOKEN: u64 = 2;

/// The rings' indices in the fanout group: the order they joined it in.
/// The kernel keeps it when the device goes down and up (it unlinks and
/// re-links the members in the order of its socket list, where sockets
/// are added at the tail).
const V2_MEMBER: u32 = 0;
const V3_MEMBER: u32 = 1;

/// The longest sleep while leaving the V3 ring with its last block still
/// open: the kernel hands that block over at its timeout and wakes the
/// reader then, but a look every few milliseconds costs nothing and does
/// not depend on it.
const LEAVING_V3_POLL: Duration = Duration::from_millis(4);

/// The steering thread's answer while it has none yet.
const STEER_PENDING: i32 = -1;

/// Which ring a [`PacketAdaptiveRxq`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveRing {
    /// The `TPACKET_V2` ring (light load).
    V2,
    /// The `TPACKET_V3` ring (flood).
    V3,
}

impl ActiveRing {
    fn other(self) -> ActiveRing {
        match self {
            ActiveRing::V2 => ActiveRing::V3,
            ActiveRing::V3 => ActiveRing::V2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Frames go to this ring and are read from it.
    Steady(ActiveRing),
    /// The group is being steered to `to`; the other ring is read until
    /// the steering is `done` and that ring is empty.
    Switching { to: ActiveRing, done: bool },
}

/// When to switch, from the frames read and the time: kept apart from the
/// rings so that the rule is tested on its own.
#[derive(Debug, Clone)]
struct RateMeter {
    high_rate: u32,
    /// Frames that make a [`WINDOW`] busy.
    busy_frames: u64,
    window_start: Instant,
    window_frames: u64,
    busy_windows: u32,
    slow_windows: u32,
}

impl RateMeter {
    fn new(high_rate: u32, now: Instant) -> RateMeter {
        RateMeter {
            high_rate,
            busy_frames: (u64::from(high_rate) * WINDOW.as_micros() as u64)
                .div_ceil(1_000_000)
                .max(1),
            window_start: now,
            window_frames: 0,
            busy_windows: 0,
            slow_windows: 0,
        }
    }

    /// Starts counting afresh (on entering a ring).
    fn reset(&mut self, now: Instant) {
        *self = RateMeter::new(self.high_rate, now);
    }

    /// `n` (> 0) frames were read from the V2 ring; true when it is time
    /// to go to the V3 ring: [`SUSTAIN`] consecutive windows in each of
    /// which a window's worth of frames came within [`WINDOW`]. Reads the
    /// clock once per window's worth of frames, not per receive.
    fn on_v2(&mut self, n: usize, now: impl FnOnce() -> Instant) -> bool {
        self.window_frames += n as u64;
        if self.window_frames < self.busy_frames {
            return false;
        }
        let now = now();
        if now.saturating_duration_since(self.window_start) <= WINDOW {
            self.busy_windows = self.busy_windows.saturating_add(1);
        } else {
            self.busy_windows = 0;
        }
        self.window_start = now;
        self.window_frames = 0;
        self.busy_windows >= SUSTAIN
    }

    /// `n` frames were read from the V3 ring (`waiting`: more are ready);
    /// true when it is time to go back to the V2 ring: [`SLOW_WINDOWS`]
    /// consecutive [`LOW_WINDOW`]s below a quarter of the high rate with
    /// nothing left waiting. Frames still waiting mean the reader, not the
    /// sender, was slow (preempted: with the kernel's receive work on its
    /// core it can be for milliseconds).
    fn on_v3(&mut self, n: usize, waiting: bool, now: Instant) -> bool {
        self.window_frames += n as u64;
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed < LOW_WINDOW {
            return false;
        }
        let low = u128::from(self.high_rate) * elapsed.as_nanos() / (LOW_FRACTION * 1_000_000_000);
        let slow = u128::from(self.window_frames) < low && !waiting;
        self.window_start = now;
        self.window_frames = 0;
        self.slow_windows = if slow {
            self.slow_windows.saturating_add(1)
        } else {
            0
        };
        self.slow_windows >= SLOW_WINDOWS
    }
}

/// The rings of a [`PacketAdaptiveRxq`] and when it switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveConfig {
    /// The light-load ring. Only the frames that wait while the queue is
    /// being read from it need room here.
    pub v2: RingV2Config,
    /// The flood ring. It must hold the frames of a flood for the
    /// steering's grace period (about 16 ms) on top of the reader's own
    /// delays.
    pub v3: RingConfig,
    /// Frames a second above which, sustained for [`SUSTAIN`] ms, the
    /// queue switches to the V3 ring. `u32::MAX` never switches.
    pub high_rate: u32,
}

impl Default for AdaptiveConfig {
    /// A V2 ring of 8192 slots of 2048 bytes (16 MiB) and a V3 ring of 256
    /// blocks of 64 KiB (16 MiB: about 110 000 64-byte frames, 60 ms of a
    /// veth flood, for a grace period that a busy machine stretches) with
    /// a 1 ms timeout; switching at 256 000 frames a second. 32 MiB in
    /// all, as much as the V2-only ring (`RxMethod::RingV2`).
    fn default() -> AdaptiveConfig {
        AdaptiveConfig {
            v2: RingV2Config {
                frame_count: 8192,
                ..RingV2Config::default()
            },
            v3: RingConfig {
                block_size: 64 << 10,
                block_count: 256,
                retire_timeout: Duration::from_millis(1),
            },
            high_rate: 256_000,
        }
    }
}

/// A receive queue on one interface that reads a `TPACKET_V2` ring under
/// a light load and a `TPACKET_V3` ring under a flood (see the module
/// documentation), implementing [`RxQueueBackend`] with the same contract
/// as [`crate::packet::PacketRxq`]: every frame the interface receives,
/// in order, none it transmits, VLAN tags the kernel stripped put back
/// (unless opened without), truncation reported with the real length,
/// drops counted, `ENETDOWN` reported once.
pub struct PacketAdaptiveRxq {
    v2: PacketRingV2Rxq,
    v3: PacketRingRxq,
    epoll: Epoll,
    /// Signalled by the steering thread when it is done.
    wake: Arc<EventFd>,
    /// The steering thread's result: [`STEER_PENDING`], 0 or an errno.
    steer_result: Arc<AtomicI32>,
    state: State,
    /// Which sockets the epoll set watches now.
    watching: [bool; 2],
    config: AdaptiveConfig,
    meter: RateMeter,
    /// False after a steering failed: the queue stays where it is.
    adaptive: bool,
    switches: u64,
    /// An error taken from a socket, reported by the next receive.
    pending_error: Option<i32>,
    /// `ENETDOWN` was reported and no frame came since: both sockets
    /// report the same event, possibly at different times.
    down_reported: bool,
}

impl PacketAdaptiveRxq {
    /// Opens an adaptive queue on interface `ifindex` of the calling
    /// thread's network namespace with [`AdaptiveConfig::default`],
    /// restoring VLAN tags.
    pub fn open(ifindex: u32) -> io::Result<PacketAdaptiveRxq> {
        PacketAdaptiveRxq::open_with(ifindex, AdaptiveConfig::default(), true)
    }

    /// Like [`PacketAdaptiveRxq::open`] with `config`, restoring VLAN
    /// tags only if `restore_vlan`. Needs Linux 4.16 or later (fanout
    /// groups with ids the kernel picks); where the kernel refuses the
    /// group ([`RxMethod::Adaptive`](crate::packet_rx::RxMethod) then
    /// falls back to a V2 ring), the error is `EINVAL`.
    pub fn open_with(
        ifindex: u32,
        config: AdaptiveConfig,
        restore_vlan: bool,
    ) -> io::Result<PacketAdaptiveRxq> {
        let mut v2 = PacketRingV2Rxq::open_with(ifindex, config.v2, restore_vlan)?;
        // Bound with a filter that takes nothing, so that no frame reaches
        // both rings before both are in the group.
        let mut v3 = PacketRingRxq::open_blocked(ifindex, config.v3, restore_vlan)?;
        // A member's own `PACKET_IGNORE_OUTGOING` does not apply to the
        // frames its group hands it; the group's flag does, on kernels
        // since 6.2, and older ones accept the flag without honouring
        // it. So the members also skip the host's own frames by
        // `sll_pkttype` (a byte compare per frame; none are copied on new
        // kernels).
        v2.filter_outgoing_in_userspace();
        v3.filter_outgoing_in_userspace();
        let (id, ignore_outgoing) = match sys::fanout_join(AsFd::as_fd(&v2), None, true) {
            Ok(id) => (id, true),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                (sys::fanout_join(AsFd::as_fd(&v2), None, false)?, false)
            }
            Err(e) => return Err(e),
        };
        // The same flags, or the kernel refuses the second member.
        sys::fanout_join(AsFd::as_fd(&v3), Some(id), ignore_outgoing)?;
        // No program yet, so this one is set without a grace period.
        sys::fanout_steer(AsFd::as_fd(&v2), 0)?;
        v3.accept_frames()?;
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let wake =
            EventFd::from_value_and_flags(0, EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        epoll.add(&wake, EpollEvent::new(EpollFlags::EPOLLIN, WAKE_TOKEN))?;
        let mut q = PacketAdaptiveRxq {
            v2,
            v3,
            epoll,
            wake: Arc::new(wake),
            steer_result: Arc::new(AtomicI32::new(0)),
            state: State::Steady(ActiveRing::V2),
            watching: [false; 2],
            config,
            meter: RateMeter::new(config.high_rate, Instant::now()),
            adaptive: config.high_rate != u32::MAX,
            switches: 0,
            pending_error: None,
            down_reported: false,
        };
        q.watch()?;
        Ok(q)
    }

    /// The ring frames are read from now.
    pub fn active_ring(&self) -> ActiveRing {
        match self.state {
            State::Steady(r) => r,
            State::Switching { to, .. } => to.other(),
        }
    }

    /// How many switches between the rings this queue began.
    pub fn switches(&self) -> u64 {
        self.switches
    }

    /// The configuration the queue was opened with.
    pub fn config(&self) -> &AdaptiveConfig {
        &self.config
    }

    fn has_frames(&self, ring: ActiveRing) -> bool {
        match ring {
            ActiveRing::V2 => self.v2.has_frames(),
            ActiveRing::V3 => self.v3.has_frames(),
        }
    }

    /// True once no frame can still come out of `ring` (after the group
    /// was steered away from it).
    fn is_drained(&self, ring: ActiveRing) -> bool {
        match ring {
            ActiveRing::V2 => !self.v2.has_frames(),
            ActiveRing::V3 => self.v3.is_empty_and_idle(),
        }
    }

    fn read(&mut self, ring: ActiveRing, batch: &mut PacketBatch) -> Result<usize> {
        match ring {
            ActiveRing::V2 => self.v2.recv_batch(batch),
            ActiveRing::V3 => self.v3.recv_batch(batch),
        }
    }

    /// Makes the epoll set watch the sockets whose frames can be read in
    /// the current state: both when steady (frames in the other ring mean
    /// the members were re-linked, and must wake the reader), only the old
    /// ring while switching.
    fn watch(&mut self) -> io::Result<()> {
        let want = match self.state {
            State::Steady(_) => [true, true],
            State::Switching { to, .. } => [to == ActiveRing::V3, to == ActiveRing::V2],
        };
        for (i, token) in [V2_TOKEN, V3_TOKEN].into_iter().enumerate() {
            if want[i] == self.watching[i] {
                continue;
            }
            let fd = if i == 0 {
                AsFd::as_fd(&self.v2)
            } else {
                AsFd::as_fd(&self.v3)
            };
            if want[i] {
                self.epoll
                    .add(fd, EpollEvent::new(EpollFlags::EPOLLIN, token))?;
            } else {
                self.epoll.delete(fd)?;
            }
            self.watching[i] = want[i];
        }
        Ok(())
    }

    /// Moves the state on: takes the steering thread's answer, and ends a
    /// switch whose old ring is empty.
    fn advance(&mut self) -> Result<()> {
        if let State::Switching { to, done: false } = self.state {
            match self.steer_result.load(Ordering::Acquire) {
                STEER_PENDING => {}
                0 => {
                    let _ = self.wake.read();
                    self.state = State::Switching { to, done: true };
                }
                errno => {
                    let _ = self.wake.read();
                    debug!(
                        "ifindex {}: steering the receive fanout group to the {to:?} ring failed, \
                         staying on the other one: {}",
                        self.v2.ifindex(),
                        io::Error::from_raw_os_error(errno)
                    );
                    self.adaptive = false;
                    self.state = State::Steady(to.other());
                    self.watch()?;
                }
            }
        }
        if let State::Switching { to, done: true } = self.state {
            if self.is_drained(to.other()) {
                self.enter(to);
                self.watch()?;
            }
        }
        Ok(())
    }

    fn enter(&mut self, ring: ActiveRing) {
        self.state = State::Steady(ring);
        self.meter.reset(Instant::now());
    }

    /// Starts steering the group to `to` on a thread of its own (the
    /// kernel waits for a grace period).
    fn switch_to(&mut self, to: ActiveRing) -> Result<()> {
        let index = match to {
            ActiveRing::V3 => V3_MEMBER,
            ActiveRing::V2 => V2_MEMBER,
        };
        let fd = match AsFd::as_fd(&self.v2).try_clone_to_owned() {
            Ok(fd) => fd,
            Err(e) => {
                debug!("no descriptor to steer the receive fanout group: {e}");
                return Ok(());
            }
        };
        self.steer_result.store(STEER_PENDING, Ordering::Relaxed);
        let result = Arc::clone(&self.steer_result);
        let wake = Arc::clone(&self.wake);
        let spawned = std::thread::Builder::new()
            .name("netdev-rx-steer".into())
            .spawn(move || {
                let r = match sys::fanout_steer(fd.as_fd(), index) {
                    Ok(()) => 0,
                    Err(e) => e.raw_os_error().unwrap_or(libc::EIO),
                };
                // Signalled before the result is stored: whoever takes the
                // result then also takes the signal (in `advance`), so the
                // eventfd is never left readable with nothing to report.
                // The reader may be asleep in `wait` or in its own poll of
                // the queue's descriptor.
                let _ = wake.write(1);
                result.store(r, Ordering::Release);
            });
        if let Err(e) = spawned {
            debug!("no thread to steer the receive fanout group: {e}");
            self.steer_result.store(0, Ordering::Relaxed);
            return Ok(());
        }
        self.switches += 1;
        self.state = State::Switching { to, done: false };
        self.watch()?;
        Ok(())
    }

    /// Decides, after a receive of `n` frames, whether to switch.
    fn adapt(&mut self, n: usize) -> Result<()> {
        if !self.adaptive {
            return Ok(());
        }
        let to = match self.state {
            State::Steady(ActiveRing::V2) if n > 0 => {
                self.meter.on_v2(n, Instant::now).then_some(ActiveRing::V3)
            }
            State::Steady(ActiveRing::V3) => {
                let waiting = self.v3.has_frames();
                self.meter
                    .on_v3(n, waiting, Instant::now())
                    .then_some(ActiveRing::V2)
            }
            _ => None,
        };
        if let Some(to) = to {
            self.switch_to(to)?;
        }
        Ok(())
    }

    /// True if the next receive will return frames (or an error).
    fn readable(&self) -> bool {
        if self.pending_error.is_some() {
            return true;
        }
        match self.state {
            State::Steady(r) => self.has_frames(r) || self.has_frames(r.other()),
            State::Switching { to, .. } => self.has_frames(to.other()),
        }
    }

    /// Takes the pending errors of both sockets; keeps the first. Both
    /// report the same event (the interface went down): it is reported
    /// once.
    fn take_errors(&mut self) -> io::Result<()> {
        for fd in [AsFd::as_fd(&self.v2), AsFd::as_fd(&self.v3)] {
            let errno = sys::take_error(fd)?;
            if errno == 0 || self.pending_error.is_some() {
                continue;
            }
            if errno == libc::ENETDOWN {
                if self.down_reported {
                    continue;
                }
                self.down_reported = true;
            }
            self.pending_error = Some(errno);
        }
        Ok(())
    }
}

impl RxQueueBackend for PacketAdaptiveRxq {
    fn recv_batch(&mut self, batch: &mut PacketBatch) -> Result<usize> {
        if let Some(errno) = self.pending_error.take() {
            return Err(io::Error::from_raw_os_error(errno).into());
        }
        self.advance()?;
        let mut n = 0;
        // A switch that ends moves to the other ring at most once per call.
        for _ in 0..2 {
            match self.state {
                State::Steady(r) => {
                    n += self.read(r, batch)?;
                    if batch.is_full() || self.has_frames(r) || !self.has_frames(r.other()) {
                        break;
                    }
                    // Frames in the ring nothing steers to: while the
                    // device went down and up the group had one member
                    // for a moment, and every frame went to it. Read
                    // them too (after the steered ring's, which came
                    // first).
                    debug!(
                        "ifindex {}: frames in the {:?} receive ring while reading the other one",
                        self.v2.ifindex(),
                        r.other()
                    );
                    n += self.read(r.other(), batch)?;
                    break;
                }
                State::Switching { to, done } => {
                    n += self.read(to.other(), batch)?;
                    if batch.is_full() || !done {
                        break;
                    }
                    self.advance()?;
                    if matches!(self.state, State::Switching { .. }) {
                        break;
                    }
                }
            }
        }
        self.adapt(n)?;
        if n == 0 {
            // A caller that polls the descriptor itself and never calls
            // `wait` must still hear of an error (the descriptor stays
            // readable while a socket has one). Two `getsockopt` calls per
            // empty receive: unlike a lone V2 ring's, an empty receive
            // here is not free for a caller that spins on it.
            self.take_errors()?;
            if let Some(errno) = self.pending_error.take() {
                return Err(io::Error::from_raw_os_error(errno).into());
            }
        } else {
            self.down_reported = false;
        }
        Ok(n)
    }

    fn wait(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.advance()?;
        if self.readable() {
            return Ok(true);
        }
        if self.state == State::Steady(ActiveRing::V2) && self.v2.spin(timeout) {
            return Ok(true);
        }
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut events = [EpollEvent::empty(); 3];
        loop {
            let mut left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if self.state
                == (State::Switching {
                    to: ActiveRing::V2,
                    done: true,
                })
            {
                left = Some(left.map_or(LEAVING_V3_POLL, |l| l.min(LEAVING_V3_POLL)));
            }
            let ms = match left {
                None => PollTimeout::NONE,
                // Rounded up: a 0.5 ms wait must not become a busy poll.
                Some(l) => {
                    let ms = l.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128);
                    PollTimeout::try_from(ms as i32).unwrap_or(PollTimeout::MAX)
                }
            };
            let k = match self.epoll.wait(&mut events, ms) {
                Ok(k) => k,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(io::Error::from(e).into()),
            };
            let events = &events[..k];
            if events
                .iter()
                .any(|e| e.events().intersects(EpollFlags::EPOLLERR))
            {
                self.take_errors()?;
            }
            if events.iter().any(|e| e.data() == WAKE_TOKEN)
                && self.steer_result.load(Ordering::Acquire) == STEER_PENDING
            {
                // Signalled, result not stored yet: the steering thread
                // is between its two writes.
                std::thread::yield_now();
            }
            self.advance()?;
            if self.readable() {
                return Ok(true);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
        }
    }

    fn drain(&mut self) -> Result<()> {
        self.pending_error = None;
        self.v2.drain()?;
        self.v3.drain()
    }

    fn dropped(&mut self) -> Result<u64> {
        Ok(self.v2.dropped()? + self.v3.dropped()?)
    }

    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }
}

impl AsFd for PacketAdaptiveRxq {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }
}

impl AsRawFd for PacketAdaptiveRxq {
    fn as_raw_fd(&self) -> RawFd {
        self.epoll.0.as_raw_fd()
    }
}

impl fmt::Debug for PacketAdaptiveRxq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PacketAdaptiveRxq")
            .field("v2", &self.v2)
            .field("v3", &self.v3)
            .field("state", &self.state)
            .field("switches", &self.switches)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Feeds the V2 side `per_ms` frames every millisecond (in receives of
    /// 32) for `ms` milliseconds; returns the millisecond it asked to
    /// switch at, if it did.
    fn v2_feed(m: &mut RateMeter, t0: Instant, per_ms: usize, ms: u32) -> Option<u32> {
        for k in 1..=ms {
            let mut left = per_ms;
            while left > 0 {
                let n = left.min(32);
                left -= n;
                // Frames of millisecond k arrive spread over it.
                let at = t0 + MS * k - MS * left as u32 / per_ms.max(1) as u32;
                if m.on_v2(n, || at) {
                    return Some(k);
                }
            }
        }
        None
    }

    #[test]
    fn a_sustained_flood_switches_to_v3_after_a_few_windows() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(256_000, t0);
        // 1000 frames a ms: 1 Mpps.
        let at = v2_feed(&mut m, t0, 1000, 50).expect("switched");
        assert!(at <= 2, "a window's worth is 256 frames: at ms {at}");
    }

    #[test]
    fn a_light_or_short_load_stays_on_v2() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(256_000, t0);
        // 200 frames a ms (200 kpps, under the threshold): never.
        assert_eq!(v2_feed(&mut m, t0, 200, 200), None);
        // A 256-frame burst, then a pause, again and again: each burst is
        // one busy window, broken by the pause.
        let mut m = RateMeter::new(256_000, t0);
        for k in 0..100u32 {
            let at = t0 + MS * 10 * k;
            assert!(!m.on_v2(256, || at), "burst {k}");
        }
    }

    #[test]
    fn never_switches_with_the_highest_threshold() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(u32::MAX, t0);
        assert_eq!(v2_feed(&mut m, t0, 100_000, 20), None);
    }

    #[test]
    fn v3_goes_back_after_two_slow_windows_with_nothing_waiting() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(256_000, t0);
        // A flood: 64-frame receives every 50 us, far above a quarter.
        for k in 1..=200u32 {
            assert!(!m.on_v3(64, false, t0 + Duration::from_micros(50) * k));
        }
        // Then a lone frame now and then. The first closes the window
        // that holds the flood's last frames: not slow.
        let t1 = t0 + Duration::from_millis(10);
        assert!(!m.on_v3(1, false, t1 + MS * 5), "the flood's tail");
        assert!(!m.on_v3(1, false, t1 + MS * 10), "one slow window");
        assert!(m.on_v3(1, false, t1 + MS * 15), "the second one switches");
    }

    #[test]
    fn v3_stays_while_frames_wait_or_the_rate_holds() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(256_000, t0);
        // A preempted reader: few frames read per window, but more ready.
        for k in 1..=20u32 {
            assert!(!m.on_v3(10, true, t0 + MS * 5 * k), "window {k}");
        }
        // 100 kpps (above a quarter of 256 kpps): 500 frames per 5 ms.
        let mut m = RateMeter::new(256_000, t0);
        for k in 1..=20u32 {
            assert!(!m.on_v3(500, false, t0 + MS * 5 * k), "window {k}");
        }
    }

    #[test]
    fn a_clock_that_goes_backwards_does_not_panic() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut m = RateMeter::new(256_000, t0);
        let earlier = t0 - Duration::from_millis(500);
        assert!(!m.on_v2(1000, || earlier) || m.busy_windows >= SUSTAIN);
        assert!(!m.on_v3(0, false, earlier));
    }
}
