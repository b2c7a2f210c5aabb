//! Notifier plumbing: the [`ChangeSource`] a platform implements (rtnetlink
//! on Linux, the PF_ROUTE socket on FreeBSD), the thread that reads it, the
//! typed [`Change`] events, and subscriptions to them.
//!
//! The registry starts one thread per source key when the first device that
//! needs it opens, and stops it (joined, source dropped so its descriptors
//! close) when the last such device closes. The thread updates device caches
//! first, then delivers the event to subscribers, so a subscriber that sees
//! an event and reads the device sees the new state.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::Mutex;

use crate::eth_addr::EthAddr;
use crate::flags::Flags;
use crate::ratelimit::RateLimit;

/// Link values a notification carried, so the cache can take them without
/// asking the kernel again. `None` fields were not in the message.
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
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A link was created or changed. The name is its name now: if a
    /// tracked device with this ifindex had another name, it was renamed.
    LinkChanged {
        /// Interface index.
        ifindex: u32,
        /// Current name.
        name: String,
        /// Values the message carried.
        info: LinkInfo,
    },
    /// A link was removed.
    LinkRemoved {
        /// Interface index.
        ifindex: u32,
        /// Last name.
        name: String,
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
    /// Blocks until at least one change is available, or the waker was
    /// called, and appends the changes to `out` (nothing when woken).
    ///
    /// Lost events are reported, never hidden: push [`Change::Overflow`],
    /// or return an error with `ENOBUFS`, which the thread turns into one.
    fn read_changes(&mut self, out: &mut Vec<Change>) -> io::Result<()>;

    /// A handle that interrupts a blocked `read_changes`.
    fn waker(&self) -> Waker;
}

/// How a class asks for a notifier: a key naming the source (classes with
/// the same key share one thread and one event stream) and a function that
/// opens it.
#[derive(Clone)]
pub struct ChangeSourceSpec {
    /// Identifies the source, for example `"rtnetlink"`.
    pub key: &'static str,
    /// Opens the source; called when the notifier starts.
    pub open: Arc<dyn Fn() -> io::Result<Box<dyn ChangeSource>> + Send + Sync>,
}

impl fmt::Debug for ChangeSourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangeSourceSpec")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A running notifier thread. Devices that need it hold an `Arc`; dropping
/// the last one stops the thread and joins it.
pub(crate) struct Notifier {
    key: &'static str,
    stop: Arc<AtomicBool>,
    waker: Waker,
    thread: Option<JoinHandle<()>>,
    thread_id: ThreadId,
}

impl Notifier {
    /// Opens the source and starts the thread, which hands each batch of
    /// changes to `dispatch`.
    pub(crate) fn start(
        spec: &ChangeSourceSpec,
        mut dispatch: impl FnMut(&mut Vec<Change>) + Send + 'static,
    ) -> io::Result<Notifier> {
        let mut source = (spec.open)()?;
        let waker = source.waker();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let key = spec.key;
        let thread = std::thread::Builder::new()
            .name(format!("netdev-notify-{key}"))
            .spawn(move || {
                let mut errors = RateLimit::new(5, Duration::from_secs(60));
                let mut batch = Vec::new();
                while !stop2.load(Ordering::Acquire) {
                    batch.clear();
                    if let Err(e) = source.read_changes(&mut batch) {
                        if e.raw_os_error() == Some(libc::ENOBUFS) {
                            batch.push(Change::Overflow);
                        } else {
                            if let Some(suppressed) = errors.allow() {
                                log::warn!(
                                    "{key} notifier: read failed: {e}{}",
                                    RateLimit::suffix(suppressed)
                                );
                            }
                            // An error we cannot interpret may have lost
                            // events too; resynchronise rather than guess.
                            batch.push(Change::Overflow);
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    }
                    if stop2.load(Ordering::Acquire) {
                        break;
                    }
                    if !batch.is_empty() {
                        dispatch(&mut batch);
                    }
                }
                log::debug!("{key} notifier stopped");
            })?;
        let thread_id = thread.thread().id();
        log::debug!("{key} notifier started");
        Ok(Notifier {
            key,
            stop,
            waker,
            thread: Some(thread),
            thread_id,
        })
    }

    pub(crate) fn key(&self) -> &'static str {
        self.key
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        (self.waker)();
        if let Some(t) = self.thread.take() {
            // The thread itself can drop the last device (it holds devices
            // briefly while updating them); it exits on its own after this.
            if std::thread::current().id() != self.thread_id && t.join().is_err() {
                log::error!("{} notifier thread panicked", self.key);
            }
        }
    }
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier").field("key", &self.key).finish()
    }
}

/// Capacity of each subscription's queue. A subscriber that falls this far
/// behind gets [`Change::Overflow`] instead of the events it missed.
pub const SUBSCRIPTION_CAPACITY: usize = 4096;

/// A stream of [`Change`] events from a registry's notifiers.
///
/// Events are never dropped silently: if this subscriber falls more than
/// [`SUBSCRIPTION_CAPACITY`] events behind, the ones that do not fit are
/// replaced by one [`Change::Overflow`], delivered as soon as there is room.
#[derive(Debug)]
pub struct Subscription {
    rx: Receiver<Change>,
}

impl Subscription {
    /// The next event, waiting at most `timeout`; `None` on timeout.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Change> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// The next event if one is waiting.
    pub fn try_recv(&self) -> Option<Change> {
        self.rx.try_recv().ok()
    }

    /// The underlying channel, for `crossbeam_channel::select!`.
    pub fn receiver(&self) -> &Receiver<Change> {
        &self.rx
    }
}

#[derive(Debug)]
struct Subscriber {
    tx: Sender<Change>,
    lagged: bool,
}

/// The registry's list of subscribers.
#[derive(Debug, Default)]
pub(crate) struct Subscribers {
    list: Mutex<Vec<Subscriber>>,
}

impl Subscribers {
    pub(crate) fn subscribe(&self, capacity: usize) -> Subscription {
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        self.list.lock().push(Subscriber { tx, lagged: false });
        Subscription { rx }
    }

    /// Delivers `change` to every subscriber; forgets closed ones.
    pub(crate) fn publish(&self, change: &Change) {
        let mut list = self.list.lock();
        list.retain_mut(|s| {
            if s.lagged {
                match s.tx.try_send(Change::Overflow) {
                    Ok(()) => s.lagged = false,
                    Err(TrySendError::Full(_)) => return true,
                    Err(TrySendError::Disconnected(_)) => return false,
                }
                // The overflow covers this change too.
                if change == &Change::Overflow {
                    return true;
                }
            }
            match s.tx.try_send(change.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    s.lagged = true;
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            }
        });
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.list.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(ifindex: u32) -> Change {
        Change::LinkChanged {
            ifindex,
            name: format!("d{ifindex}"),
            info: LinkInfo::default(),
        }
    }

    #[test]
    fn slow_subscriber_gets_overflow_not_silence() {
        let subs = Subscribers::default();
        let s = subs.subscribe(2);
        for i in 0..5 {
            subs.publish(&link(i));
        }
        // Two fit; the other three are lost and must be announced.
        assert_eq!(s.try_recv(), Some(link(0)));
        assert_eq!(s.try_recv(), Some(link(1)));
        assert_eq!(s.try_recv(), None);
        subs.publish(&link(5));
        assert_eq!(s.try_recv(), Some(Change::Overflow));
        assert_eq!(s.try_recv(), Some(link(5)));
        assert_eq!(s.try_recv(), None);
    }

    #[test]
    fn closed_subscribers_are_forgotten() {
        let subs = Subscribers::default();
        let a = subs.subscribe(8);
        let b = subs.subscribe(8);
        drop(b);
        subs.publish(&Change::Overflow);
        assert_eq!(subs.len(), 1);
        assert_eq!(
            a.recv_timeout(Duration::from_secs(5)),
            Some(Change::Overflow)
        );
    }
}
