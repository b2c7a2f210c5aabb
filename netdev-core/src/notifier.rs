//! Notifier plumbing: the [`ChangeSource`] a platform implements (rtnetlink
//! on Linux, the PF_ROUTE socket on FreeBSD), the thread that reads it, the
//! typed [`Change`] events, and subscriptions to them.
//!
//! The registry starts one thread per source key when the first device that
//! needs it opens. When the last such device closes, the thread lingers for
//! the registry's linger time (see `Registry::set_notifier_linger`) so that
//! a program opening, querying and closing devices one at a time does not
//! pay for a thread and a socket per open; then it stops (joined, source
//! dropped so its descriptors close). The thread updates device caches
//! first, then delivers the event to subscribers, so a subscriber that sees
//! an event and reads the device sees the new state.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::Mutex;

use crate::eth_addr::EthAddr;
use crate::flags::Flags;
use crate::line::CacheLine;
use crate::name::IfName;
use crate::ratelimit::RateLimit;
use crate::registry::IndexHint;

/// Link values a notification carried, so the cache can take them without
/// asking the kernel again. `None` fields were not in the message.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkInfo {
    /// MTU.
    pub mtu: Option<u32>,
    /// Ethernet address.
    pub mac: Option<EthAddr>,
    /// Flags.
    pub flags: Option<Flags>,
    /// Carrier.
    pub carrier: Option<bool>,
}

/// A change the OS reported.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A link was created or changed.
    LinkChanged {
        /// Interface index.
        ifindex: u32,
        /// Current name, when the message carried one: if a tracked device
        /// with this ifindex had another name, it was renamed. `None` (a
        /// FreeBSD `RTM_IFINFO` carries only the index) never means a
        /// rename: the device keeps the name it has.
        name: Option<IfName>,
        /// Values the message carried.
        info: LinkInfo,
    },
    /// A link was removed.
    LinkRemoved {
        /// Interface index.
        ifindex: u32,
        /// Last name.
        name: IfName,
    },
    /// An address of a link was added or removed.
    AddrChanged {
        /// Interface index.
        ifindex: u32,
    },
    /// Events were lost (for example the socket overflowed with ENOBUFS):
    /// anything may have changed. Caches are dropped and devices checked
    /// again before this is delivered.
    Overflow,
}

/// Makes a blocked [`ChangeSource::read_changes`] return promptly; called
/// from another thread to stop the notifier.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// A platform's stream of change notifications.
pub trait ChangeSource: Send + 'static {
    /// Blocks until at least one change is available, the waker was
    /// called, or `timeout` passed (`None`: no limit), and appends the
    /// changes to `out` (nothing when woken or timed out).
    ///
    /// Lost events are reported, never hidden: push [`Change::Overflow`],
    /// or return an error with `ENOBUFS`, which the thread turns into one.
    fn read_changes(&mut self, out: &mut Vec<Change>, timeout: Option<Duration>) -> io::Result<()>;

    /// A handle that interrupts a blocked `read_changes`.
    fn waker(&self) -> Waker;

    /// A descriptor that polls readable when [`ChangeSource::try_read_changes`]
    /// would find something. A source that has one is read by whichever
    /// thread gets there first: the notifier thread, or a caller of
    /// `Registry::wait_for_change` that finds changes already queued (a
    /// kernel queues the notification of a change before the call that
    /// made it returns), which then needs no hand-off between threads.
    /// `None` (the default): only the notifier thread reads, through
    /// `read_changes`.
    fn ready_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    /// Called once on the notifier thread before it first reads, for
    /// per-thread settings the platform wants (the Linux source keeps the
    /// thread from preempting the thread that made a change).
    fn on_reader_thread(&mut self) {}

    /// Appends the changes queued now to `out`, without blocking. Called
    /// only on sources that have a [`ChangeSource::ready_fd`].
    fn try_read_changes(&mut self, out: &mut Vec<Change>) -> io::Result<()> {
        let _ = out;
        Ok(())
    }
}

/// How a class asks for a notifier: a key naming the source (classes with
/// the same key share one thread and one event stream) and a function that
/// opens it.
#[derive(Clone)]
pub struct ChangeSourceSpec {
    /// Identifies the source, for example `"rtnetlink"`.
    pub key: &'static str,
    /// Opens the source; called when the notifier starts, on the thread
    /// that opens the device that needs it (a class whose sockets belong to
    /// a namespace opens its source there, whatever the calling thread).
    pub open: Arc<dyn Fn() -> io::Result<Box<dyn ChangeSource>> + Send + Sync>,
}

impl fmt::Debug for ChangeSourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeSourceSpec")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The wait after a read error other than an overflow: doubles from
/// [`Backoff::FIRST`] to [`Backoff::MAX`], reset by a successful read. An
/// error that persists (a socket the kernel shut, say) then costs a resync
/// every few seconds instead of one every 10 ms forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    pub(crate) const FIRST: Duration = Duration::from_millis(10);
    pub(crate) const MAX: Duration = Duration::from_secs(5);

    pub(crate) fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    /// The wait before the next attempt; each call doubles the following.
    pub(crate) fn step(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        now
    }

    pub(crate) fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// State shared by a notifier's owners and its thread.
#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    /// Devices using the notifier. Incremented only under the registry
    /// lock (see [`Notifier::acquire`]), so a retirement decided under that
    /// lock cannot race with a new user.
    users: AtomicUsize,
    /// When the last user left; `None` while in use.
    idle_since: Mutex<Option<Instant>>,
    linger: Duration,
}

/// What applies a batch, given the changes and the notifier's
/// [`IndexHint`] (caches first, then subscribers): the registry's
/// [`Dispatch`] on the notifier thread, a closure (made generic, so
/// inlined) in a waiting caller.
pub(crate) trait Apply: FnMut(&mut Vec<Change>, &mut IndexHint) {}

impl<F: FnMut(&mut Vec<Change>, &mut IndexHint) + ?Sized> Apply for F {}

/// The notifier thread's [`Apply`].
pub(crate) type Dispatch = Box<dyn Apply + Send>;

/// What the notifier thread calls back into: the registry.
pub(crate) struct Hooks {
    /// See [`Dispatch`].
    pub(crate) dispatch: Dispatch,
    /// Called with the notifier's [`Notifier::id`] once the linger time
    /// passed with no user: removes that notifier from the registry if it
    /// is still unused and returns it, so the thread drops it and exits.
    pub(crate) retire: Box<dyn FnMut(usize) -> Option<Arc<Notifier>> + Send>,
}

/// The reading side of a notifier: the source, read under one lock so
/// that changes are applied in the order they were read, whichever thread
/// reads them (each applies what it read before releasing the lock).
///
/// Its lock and the fields a read uses share one cache line (it is kept
/// in a [`CacheLine`]): the notifier thread and waiting callers take turns
/// here.
#[repr(C)]
struct Pump {
    key: &'static str,
    source: Box<dyn ChangeSource>,
    batch: Vec<Change>,
    hint: IndexHint,
    errors: RateLimit,
}

impl Pump {
    /// Applies what a read gave. A read error means events may have been
    /// lost: it is applied as [`Change::Overflow`] (so caches resync), and
    /// reported to the caller (true) unless it was a plain overflow, so
    /// the thread can back off.
    fn finish(&mut self, read: io::Result<()>, apply: &mut impl Apply) -> bool {
        let mut batch = std::mem::take(&mut self.batch);
        let failed = self.finish_into(read, &mut batch, apply);
        self.batch = batch;
        failed
    }

    /// [`Pump::finish`] for changes read into `batch`.
    #[inline]
    fn finish_into(
        &mut self,
        read: io::Result<()>,
        batch: &mut Vec<Change>,
        apply: &mut impl Apply,
    ) -> bool {
        let failed = match read {
            Ok(()) => false,
            Err(e) => self.read_failed(e, batch),
        };
        if !batch.is_empty() {
            apply(batch, &mut self.hint);
            batch.clear();
        }
        failed
    }

    /// See [`Pump::finish`]: the overflow to apply for a failed read, and
    /// whether it was more than a plain overflow.
    #[cold]
    #[inline(never)]
    fn read_failed(&mut self, e: io::Error, batch: &mut Vec<Change>) -> bool {
        // An error we cannot interpret may have lost events too;
        // resynchronise rather than guess.
        batch.push(Change::Overflow);
        if e.raw_os_error() == Some(libc::ENOBUFS) {
            return false;
        }
        if let Some(suppressed) = self.errors.allow() {
            log::warn!(
                "{} notifier: read failed: {e}{}",
                self.key,
                RateLimit::suffix(suppressed)
            );
        }
        true
    }

    /// Reads and applies what is queued now, without blocking.
    fn pump_ready(&mut self, apply: &mut impl Apply) -> bool {
        let r = self.source.try_read_changes(&mut self.batch);
        self.finish(r, apply)
    }

    /// [`Pump::pump_ready`] through the calling thread's own batch (see
    /// [`CALLER_BATCH`]).
    #[inline]
    fn pump_ready_here(&mut self, apply: &mut impl Apply) {
        CALLER_BATCH.with(|b| match b.try_borrow_mut() {
            Ok(mut batch) => {
                let r = self.source.try_read_changes(&mut batch);
                self.finish_into(r, &mut batch, apply);
            }
            // Only if applying waited for a change itself: the pump's own.
            Err(_) => {
                self.pump_ready(apply);
            }
        });
    }
}

thread_local! {
    /// A waiting caller's batch of decoded changes: its memory stays in
    /// that caller's CPU cache, where the pump's own batch is last written
    /// by the notifier thread, most likely on another CPU.
    static CALLER_BATCH: std::cell::RefCell<Vec<Change>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A running notifier thread, owned by the registry. Devices that need it
/// hold a [`NotifierUse`]; when the last one goes, the thread lingers, then
/// retires itself.
pub(crate) struct Notifier {
    key: &'static str,
    shared: Arc<Shared>,
    pump: Arc<CacheLine<Mutex<Pump>>>,
    /// The source reads without blocking (it has a ready descriptor), so
    /// waiting callers may pump it too.
    shared_reads: bool,
    waker: Waker,
    thread: Option<JoinHandle<()>>,
    thread_id: ThreadId,
}

/// How the notifier thread waits for its source.
enum WaitOn {
    /// Polls the source's ready descriptor (a duplicate, so no lock is
    /// held while waiting) and its own wake-up socket, then reads without
    /// blocking under the pump's lock.
    Ready { fd: OwnedFd, wake: UnixStream },
    /// Blocks in `read_changes` under the pump's lock.
    Blocking,
}

impl Notifier {
    /// Opens the source and starts the thread.
    pub(crate) fn start(
        spec: &ChangeSourceSpec,
        linger: Duration,
        hooks: Hooks,
    ) -> io::Result<Notifier> {
        let source = (spec.open)()?;
        let ready = source
            .ready_fd()
            .map(|fd| fd.try_clone_to_owned())
            .transpose()?;
        let (wait_on, waker): (WaitOn, Waker) = match ready {
            Some(fd) => {
                let (tx, rx) = UnixStream::pair()?;
                tx.set_nonblocking(true)?;
                rx.set_nonblocking(true)?;
                let waker: Waker = Arc::new(move || {
                    // A full buffer already means "wake up".
                    let _ = io::Write::write(&mut &tx, &[1]);
                });
                (WaitOn::Ready { fd, wake: rx }, waker)
            }
            None => (WaitOn::Blocking, source.waker()),
        };
        let shared_reads = matches!(wait_on, WaitOn::Ready { .. });
        let key = spec.key;
        let pump = Arc::new(CacheLine(Mutex::new(Pump {
            key,
            source,
            batch: Vec::new(),
            hint: IndexHint::default(),
            errors: RateLimit::new(5, Duration::from_secs(60)),
        })));
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            users: AtomicUsize::new(0),
            // Not idle until a user came and went: the registry acquires
            // right after starting.
            idle_since: Mutex::new(None),
            linger,
        });
        let (shared2, pump2) = (shared.clone(), pump.clone());
        let thread = std::thread::Builder::new()
            .name(format!("netdev-notify-{key}"))
            .spawn(move || run(key, &pump2, &shared2, wait_on, hooks))?;
        let thread_id = thread.thread().id();
        log::debug!("{key} notifier started");
        Ok(Notifier {
            key,
            shared,
            pump,
            shared_reads,
            waker,
            thread: Some(thread),
            thread_id,
        })
    }

    /// Reads and applies the changes queued now, if the source allows it
    /// and no other thread is at it: a caller about to wait for a change
    /// that is already queued then sees it without waking the notifier
    /// thread and being woken by it in turn.
    ///
    /// If the notifier thread holds the source (it is applying a change
    /// right now, most likely the one the caller waits for), waits up to
    /// `patience` for it to finish instead: the lock's brief spin usually
    /// catches its release without the caller going to sleep. The lock is
    /// held only around non-blocking reads and their application, never
    /// while the thread waits for the source.
    ///
    /// What is read is applied through `apply`, in the caller: the caller
    /// already holds what applying needs (the registry), where the
    /// notifier thread's own dispatch would have to find it again.
    #[inline]
    pub(crate) fn try_pump(&self, patience: Duration, apply: &mut impl Apply) {
        if !self.shared_reads {
            return;
        }
        // The thread holds the lock only for a few microseconds of reading
        // and applying (never while it waits): spin that long first, as a
        // sleep and a wake-up cost more than the whole critical section.
        const SPIN: Duration = Duration::from_micros(20);
        let guard = match self.pump.try_lock() {
            Some(g) => Some(g),
            None => self.pump_contended(SPIN.min(patience), patience),
        };
        if let Some(mut pump) = guard {
            pump.pump_ready_here(apply);
        }
    }

    /// The pump's lock, held by another thread: spins for `spin`, then
    /// sleeps on the lock for the rest of `patience`.
    fn pump_contended(
        &self,
        spin: Duration,
        patience: Duration,
    ) -> Option<parking_lot::MutexGuard<'_, Pump>> {
        let start = Instant::now();
        loop {
            // Tried only once seen free (see `run`): spinning on a try
            // would pull the line away from its holder again and again.
            if !self.pump.is_locked() {
                if let Some(g) = self.pump.try_lock() {
                    return Some(g);
                }
            }
            let spent = start.elapsed();
            if spent >= spin {
                return self.pump.try_lock_for(patience.saturating_sub(spent));
            }
            std::hint::spin_loop();
        }
    }

    pub(crate) fn key(&self) -> &'static str {
        self.key
    }

    /// Whether callers may read the source too (see
    /// [`Notifier::try_pump`]).
    pub(crate) fn shared_reads(&self) -> bool {
        self.shared_reads
    }

    /// Tells this notifier apart from another started later for the same
    /// key.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.shared) as usize
    }

    /// Counts one more user. Call under the registry lock.
    pub(crate) fn acquire(&self) {
        self.shared.users.fetch_add(1, Ordering::SeqCst);
        *self.shared.idle_since.lock() = None;
    }

    /// Counts one user less; true if it was the last.
    pub(crate) fn release(&self) -> bool {
        if self.shared.users.fetch_sub(1, Ordering::SeqCst) != 1 {
            return false;
        }
        *self.shared.idle_since.lock() = Some(Instant::now());
        // Let the thread start counting its linger time.
        (self.waker)();
        true
    }

    /// True if no device uses the notifier. Meaningful under the registry
    /// lock (users are added only there).
    pub(crate) fn unused(&self) -> bool {
        self.shared.users.load(Ordering::SeqCst) == 0
    }

    /// How long the notifier stays after its last user left.
    pub(crate) fn linger(&self) -> Duration {
        self.shared.linger
    }
}

/// The notifier thread's loop.
fn run(key: &'static str, pump: &Mutex<Pump>, shared: &Shared, wait_on: WaitOn, hooks: Hooks) {
    let Hooks {
        mut dispatch,
        mut retire,
    } = hooks;
    let mut backoff = Backoff::new();
    pump.lock().source.on_reader_thread();
    while !shared.stop.load(Ordering::Acquire) {
        let idle_since = *shared.idle_since.lock();
        let timeout = match idle_since {
            None => None,
            Some(since) => {
                let left = shared.linger.saturating_sub(since.elapsed());
                if left.is_zero() {
                    if let Some(me) = retire(shared as *const Shared as usize) {
                        // Dropping our own handle from this thread does
                        // not join (see Drop); the loop ends on `stop`.
                        drop(me);
                        break;
                    }
                    // A user came back meanwhile.
                    *shared.idle_since.lock() = None;
                    continue;
                }
                Some(left)
            }
        };
        let failed = match &wait_on {
            WaitOn::Ready { fd, wake } => match wait_ready(fd, wake, timeout) {
                Ok(false) => continue,
                Ok(true) => {
                    // A caller of wait_for_change is reading: do not queue
                    // up on the lock, or its release costs that caller a
                    // wake-up system call; look again shortly. Looked at
                    // before it is tried: trying writes the lock's line,
                    // which that caller, on another CPU, then has to fetch
                    // back to release the lock and read the pump.
                    let free = !pump.is_locked();
                    let Some(mut p) = free.then(|| pump.try_lock()).flatten() else {
                        std::thread::sleep(Duration::from_micros(20));
                        continue;
                    };
                    if shared.stop.load(Ordering::Acquire) {
                        break;
                    }
                    p.pump_ready(&mut dispatch)
                }
                Err(e) => {
                    let mut p = pump.lock();
                    p.finish(Err(e), &mut dispatch)
                }
            },
            WaitOn::Blocking => {
                let mut p = pump.lock();
                let mut batch = std::mem::take(&mut p.batch);
                let r = p.source.read_changes(&mut batch, timeout);
                p.batch = batch;
                if shared.stop.load(Ordering::Acquire) {
                    break;
                }
                p.finish(r, &mut dispatch)
            }
        };
        if failed {
            // A persistent error must not turn into a busy loop of
            // resynchronisations.
            sleep_unless_stopped(shared, backoff.step());
        } else {
            backoff.reset();
        }
    }
    log::debug!("{key} notifier stopped");
}

/// Waits until `fd` is readable (true), or `wake` was written to or
/// `timeout` passed (false).
fn wait_ready(fd: &OwnedFd, wake: &UnixStream, timeout: Option<Duration>) -> io::Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let timeout = match timeout {
        None => PollTimeout::NONE,
        // Beyond poll's range: wait as long as it can; the loop calls again.
        Some(t) => PollTimeout::try_from(t).unwrap_or(PollTimeout::MAX),
    };
    let mut fds = [
        PollFd::new(fd.as_fd(), PollFlags::POLLIN),
        PollFd::new(wake.as_fd(), PollFlags::POLLIN),
    ];
    match poll(&mut fds, timeout) {
        Ok(_) => {}
        Err(nix::errno::Errno::EINTR) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let ready = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
    if ready(&fds[1]) {
        let mut buf = [0u8; 64];
        while matches!(io::Read::read(&mut &*wake, &mut buf), Ok(n) if n > 0) {}
    }
    Ok(ready(&fds[0]))
}

fn sleep_unless_stopped(shared: &Shared, total: Duration) {
    let end = Instant::now().checked_add(total);
    while !shared.stop.load(Ordering::Acquire) {
        let left = end.map_or(Duration::from_millis(20), |e| {
            e.saturating_duration_since(Instant::now())
        });
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

thread_local! {
    /// How many [`crate::Registry::hold_changes`] guards this thread holds.
    static HOLDING_CHANGES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Marks the calling thread as holding changes back until it drops: a
/// notifier stopped meanwhile by this thread is not waited for, since its
/// thread may be waiting for this very guard.
pub(crate) struct HoldMark(());

impl HoldMark {
    pub(crate) fn new() -> HoldMark {
        HOLDING_CHANGES.with(|h| h.set(h.get() + 1));
        HoldMark(())
    }
}

impl Drop for HoldMark {
    fn drop(&mut self) {
        HOLDING_CHANGES.with(|h| h.set(h.get().saturating_sub(1)));
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        (self.waker)();
        if let Some(t) = self.thread.take() {
            // The thread itself drops the notifier when it retires, and can
            // drop the registry's last reference while dispatching; it exits
            // on its own after this. So does a thread waiting to apply a
            // change behind this thread's `hold_changes` guard, once the
            // guard drops: joining it here would wait forever.
            let holding = HOLDING_CHANGES.with(|h| h.get() > 0);
            if std::thread::current().id() != self.thread_id && !holding && t.join().is_err() {
                log::error!("{} notifier thread panicked", self.key);
            }
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("key", &self.key)
            .field("users", &self.shared.users.load(Ordering::Relaxed))
            .finish()
    }
}

/// Capacity of each subscription's queue. A subscriber that falls this far
/// behind gets [`Change::Overflow`] (queued at once, in a slot of its own)
/// instead of the events it missed.
pub const SUBSCRIPTION_CAPACITY: usize = 4096;

/// Makes a subscription's descriptor readable while its queue holds an
/// event: at most one byte sits in a socket pair, written by the first
/// publish into an empty queue and drained by the reader once the queue is
/// empty. Level-triggered, like a socket: readiness may be spurious (a
/// receive then finds nothing), never missing.
#[derive(Debug)]
struct Signal {
    armed: AtomicBool,
    tx: UnixStream,
    rx: UnixStream,
}

impl Signal {
    fn new() -> io::Result<Signal> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok(Signal {
            armed: AtomicBool::new(false),
            tx,
            rx,
        })
    }

    /// After an event was queued.
    fn raise(&self) {
        if !self.armed.swap(true, Ordering::SeqCst) {
            // A full buffer already means "readable"; nothing else can
            // fail usefully here.
            let _ = io::Write::write(&mut &self.tx, &[1]);
        }
    }

    /// After the reader found the queue empty (or took its last event):
    /// drain first, disarm, then look again, so an event published in
    /// between re-raises rather than being left with a drained descriptor.
    fn settle(&self, queue_empty: impl Fn() -> bool) {
        let mut buf = [0u8; 16];
        while matches!(io::Read::read(&mut &self.rx, &mut buf), Ok(n) if n > 0) {}
        self.armed.store(false, Ordering::SeqCst);
        if !queue_empty() {
            self.raise();
        }
    }
}

/// A stream of [`Change`] events from a registry's notifiers.
///
/// Events are never dropped silently: when this subscriber's queue is full,
/// one [`Change::Overflow`] is queued at once in a slot kept for it, and
/// the events that do not fit are dropped until there is room again.
///
/// The subscription is pollable: its descriptor ([`AsFd`]) reads as ready
/// while an event is waiting, so one `poll`/`epoll` loop can serve it beside
/// receive queues. Take events with [`Subscription::try_recv`] or
/// [`Subscription::recv_timeout`], which keep the descriptor's readiness
/// in step with the queue.
#[derive(Debug)]
pub struct Subscription {
    rx: Receiver<Change>,
    signal: Arc<Signal>,
}

impl Subscription {
    fn took(&self, r: Option<Change>) -> Option<Change> {
        if self.rx.is_empty() {
            self.signal.settle(|| self.rx.is_empty());
        }
        r
    }

    /// The next event, waiting at most `timeout`; `None` on timeout.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Change> {
        let r = self.rx.recv_timeout(timeout).ok();
        self.took(r)
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<Change> {
        let r = self.rx.try_recv().ok();
        self.took(r)
    }

    /// The underlying channel, for `crossbeam_channel::select!`. Events
    /// taken this way leave the descriptor readable until the next
    /// [`Subscription::try_recv`] finds the queue empty.
    pub fn receiver(&self) -> &Receiver<Change> {
        &self.rx
    }
}

impl AsFd for Subscription {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.signal.rx.as_fd()
    }
}

impl AsRawFd for Subscription {
    fn as_raw_fd(&self) -> RawFd {
        self.signal.rx.as_raw_fd()
    }
}

#[derive(Debug)]
struct Subscriber {
    tx: Sender<Change>,
    /// Events the queue takes; it has one slot more, kept for the
    /// overflow marker.
    capacity: usize,
    signal: Arc<Signal>,
    /// An overflow marker is queued and events are being dropped until
    /// the subscriber makes room.
    lagged: bool,
}

/// The registry's list of subscribers. The count first (`repr(C)`): the
/// registry keeps it in the line a change's application reads anyway.
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct Subscribers {
    /// The list's length, written under its lock: publishing with nobody
    /// subscribed (most programs) takes no lock.
    count: AtomicUsize,
    list: Mutex<Vec<Subscriber>>,
}

impl Subscribers {
    pub(crate) fn subscribe(&self, capacity: usize) -> io::Result<Subscription> {
        let capacity = capacity.max(1);
        let (tx, rx) = crossbeam_channel::bounded(capacity + 1);
        let signal = Arc::new(Signal::new()?);
        let mut list = self.list.lock();
        list.push(Subscriber {
            tx,
            capacity,
            signal: signal.clone(),
            lagged: false,
        });
        self.count.store(list.len(), Ordering::Release);
        Ok(Subscription { rx, signal })
    }

    /// Delivers `change` to every subscriber; forgets closed ones.
    ///
    /// A subscription made while an event is being published may or may
    /// not get it: it comes after the event or alongside it.
    pub(crate) fn publish(&self, change: &Change) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut list = self.list.lock();
        list.retain_mut(|s| {
            let kept = s.offer(change);
            if kept {
                s.signal.raise();
            }
            kept
        });
        self.count.store(list.len(), Ordering::Release);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.list.lock().len()
    }
}

impl Subscriber {
    /// Queues `change`; false if the subscription was dropped.
    ///
    /// A full queue takes an overflow marker in its reserved last slot at
    /// once, so a subscriber that falls behind learns of the loss as soon
    /// as it reads on, even if no event ever comes again. Only this thread
    /// adds to the queue, so a length read here can only shrink before the
    /// send.
    fn offer(&mut self, change: &Change) -> bool {
        if self.tx.len() >= self.capacity {
            if self.lagged {
                return true; // covered by the marker already queued
            }
            self.lagged = true;
            return match self.tx.try_send(Change::Overflow) {
                Ok(()) | Err(TrySendError::Full(_)) => true,
                Err(TrySendError::Disconnected(_)) => false,
            };
        }
        // Room again: the marker (still queued or already read) covers
        // what was dropped; this change comes after it.
        self.lagged = false;
        match self.tx.try_send(change.clone()) {
            Ok(()) | Err(TrySendError::Full(_)) => true,
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

    /// Whether `s` polls readable, waiting at most `ms`.
    fn readable_within(s: &Subscription, ms: u16) -> bool {
        let mut fds = [PollFd::new(s.as_fd(), PollFlags::POLLIN)];
        poll(&mut fds, PollTimeout::from(ms)).expect("poll") == 1
    }

    fn link(ifindex: u32) -> Change {
        Change::LinkChanged {
            ifindex,
            name: Some(IfName::new(&format!("d{ifindex}")).unwrap()),
            info: LinkInfo::default(),
        }
    }

    #[test]
    fn slow_subscriber_gets_overflow_not_silence() {
        let subs = Subscribers::default();
        let s = subs.subscribe(2).unwrap();
        for i in 0..5 {
            subs.publish(&link(i));
        }
        // Two fit; the loss of the other three is announced at once, not
        // at the next publish (which may never come).
        assert_eq!(s.try_recv(), Some(link(0)));
        assert_eq!(s.try_recv(), Some(link(1)));
        assert_eq!(s.try_recv(), Some(Change::Overflow));
        assert_eq!(s.try_recv(), None);
        subs.publish(&link(5));
        assert_eq!(s.try_recv(), Some(link(5)));
        assert_eq!(s.try_recv(), None);
        // Falling behind again is announced again.
        for i in 6..10 {
            subs.publish(&link(i));
        }
        let got: Vec<Change> = std::iter::from_fn(|| s.try_recv()).collect();
        assert_eq!(got, vec![link(6), link(7), Change::Overflow]);
    }

    /// "Ready now?": a zero timeout, it never waits.
    fn readable(s: &Subscription) -> bool {
        readable_within(s, 0)
    }

    #[test]
    fn descriptor_is_readable_exactly_while_events_wait() {
        let subs = Subscribers::default();
        let s = subs.subscribe(8).unwrap();
        assert!(!readable(&s));
        subs.publish(&link(1));
        subs.publish(&link(2));
        assert!(readable(&s));
        assert_eq!(s.try_recv(), Some(link(1)));
        assert!(readable(&s), "one event still waits");
        assert_eq!(s.recv_timeout(Duration::from_secs(5)), Some(link(2)));
        assert!(!readable(&s), "queue empty: not readable");
        assert_eq!(s.try_recv(), None);
        subs.publish(&Change::Overflow);
        assert!(readable(&s));
        // Taken through the raw channel: readiness lingers until the next
        // receive through the subscription finds the queue empty.
        assert_eq!(s.receiver().try_recv(), Ok(Change::Overflow));
        assert_eq!(s.try_recv(), None);
        assert!(!readable(&s));
    }

    #[test]
    fn readiness_survives_a_publisher_racing_the_reader() {
        let subs = Arc::new(Subscribers::default());
        let s = subs.subscribe(1 << 16).unwrap();
        let publisher = {
            let subs = subs.clone();
            std::thread::spawn(move || {
                for i in 0..20_000 {
                    subs.publish(&link(i));
                }
            })
        };
        let mut got = 0;
        while got < 20_000 {
            // Wait on the descriptor only, as an event loop would: a lost
            // wake-up would hang here (the test harness times it out).
            assert!(
                readable_within(&s, 10_000),
                "descriptor not readable with events pending"
            );
            while let Some(c) = s.try_recv() {
                assert_eq!(c, link(got));
                got += 1;
            }
        }
        publisher.join().unwrap();
        assert!(!readable(&s));
    }

    #[test]
    fn backoff_doubles_to_a_ceiling_and_resets() {
        let mut b = Backoff::new();
        let steps: Vec<Duration> = (0..12).map(|_| b.step()).collect();
        assert_eq!(steps[0], Backoff::FIRST);
        assert_eq!(steps[1], Backoff::FIRST * 2);
        assert!(steps.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*steps.last().unwrap(), Backoff::MAX);
        b.reset();
        assert_eq!(b.step(), Backoff::FIRST);
    }

    #[test]
    fn closed_subscribers_are_forgotten() {
        let subs = Subscribers::default();
        let a = subs.subscribe(8).unwrap();
        let b = subs.subscribe(8).unwrap();
        drop(b);
        subs.publish(&Change::Overflow);
        assert_eq!(subs.len(), 1);
        assert_eq!(
            a.recv_timeout(Duration::from_secs(5)),
            Some(Change::Overflow)
        );
    }
}
