//! [`Server`]: the daemon's event loop, one thread, one `poll(2)`.
//!
//! Polled: a stop pipe (written by the SIGTERM/SIGINT handler or a
//! [`StopHandle`]), the listener, the registry's change subscription and
//! every connection. Connections are non-blocking both ways: a client that
//! sends nothing, or half a conversation, costs a descriptor and a poll
//! slot and nothing else; a reply that does not fit in a client's queue
//! waits in the server, and that client is not read again until it has
//! taken it (so a client that never reads holds one reply, not an
//! unbounded queue). Each wake-up serves at most a few requests per
//! client, so a busy client cannot starve the others.

use std::io::{self, IoSlice};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netdev::{Change, Subscription};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::Daemon;
use crate::proto::MAX_MESSAGE_LEN;
use crate::transport::{Access, Connection, Error as TransportError, Listener};

/// Requests served per client per wake-up.
const BURST: usize = 8;

/// Connections held at most; more are closed at once (each costs a
/// descriptor).
pub const MAX_CLIENTS: usize = 1000;

/// How a [`Server`] runs.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// Who may talk to the daemon.
    pub access: Access,
    /// How often every configured interface is checked for a device that
    /// is gone (`--prune-timeout`); `None` disables the periodic check
    /// (events are still acted on).
    pub prune_interval: Option<Duration>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            access: Access::RootOnly,
            prune_interval: Some(Duration::from_secs(5)),
        }
    }
}

/// Makes a running [`Server`] stop (as SIGTERM does); cheap to clone.
#[derive(Clone, Debug)]
pub struct StopHandle {
    tx: Arc<OwnedFd>,
}

impl StopHandle {
    /// Asks the server to stop; it finishes the requests it is serving.
    pub fn stop(&self) {
        let _ = nix::unistd::write(self.tx.as_fd(), b"s");
    }
}

/// One client connection.
#[derive(Debug)]
struct Client {
    conn: Connection,
    /// A reply that did not fit in the client's queue yet.
    pending: Option<Vec<u8>>,
}

/// What to do with a client after serving it.
#[derive(PartialEq, Eq)]
enum Fate {
    Keep,
    Close,
}

/// The event loop of `brcompatd`.
#[derive(Debug)]
pub struct Server {
    daemon: Daemon,
    listener: Listener,
    events: Option<Subscription>,
    options: ServerOptions,
    clients: Vec<Client>,
    stop_rx: OwnedFd,
    stop_tx: Arc<OwnedFd>,
    buf: Vec<u8>,
}

impl Server {
    /// A server answering with `daemon` on `listener`. `events` is the
    /// daemon's registry's change subscription, taken before the daemon
    /// was made so that no removal is missed (`None`: periodic checks
    /// only).
    pub fn new(
        daemon: Daemon,
        listener: Listener,
        events: Option<Subscription>,
        options: ServerOptions,
    ) -> io::Result<Server> {
        let (stop_rx, stop_tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
        Ok(Server {
            daemon,
            listener,
            events,
            options,
            clients: Vec::new(),
            stop_rx,
            stop_tx: Arc::new(stop_tx),
            buf: vec![0; MAX_MESSAGE_LEN],
        })
    }

    /// A handle that stops [`Server::run`].
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            tx: self.stop_tx.clone(),
        }
    }

    /// Makes SIGTERM and SIGINT stop this server (for the whole process:
    /// call it for one server only).
    pub fn stop_on_signals(&self) -> io::Result<()> {
        crate::sys::install_stop_signals(self.stop_tx.as_fd())
    }

    /// The request handler.
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }

    /// Serves until stopped, then closes every connection and returns the
    /// daemon; dropping the server's listener (with the returned value's
    /// caller dropping nothing else) removes the socket file. Every change
    /// was made durable before it was acknowledged, so there is nothing
    /// left to flush.
    pub fn run(mut self) -> io::Result<Daemon> {
        let mut next_prune = self.options.prune_interval.map(|p| Instant::now() + p);
        loop {
            let timeout = match next_prune {
                None => PollTimeout::NONE,
                Some(at) => {
                    let left = at.saturating_duration_since(Instant::now());
                    // Rounded up, so an early wake-up is no busy loop.
                    PollTimeout::try_from(left + Duration::from_millis(1))
                        .unwrap_or(PollTimeout::MAX)
                }
            };
            let ready = self.wait(timeout)?;
            if ready.stop {
                let mut scrap = [0u8; 16];
                let _ = nix::unistd::read(self.stop_rx_raw(), &mut scrap);
                log::info!("stopping");
                break;
            }
            if ready.events {
                self.take_events();
            }
            if let Some(at) = next_prune {
                if Instant::now() >= at {
                    self.daemon.check_devices();
                    next_prune = self.options.prune_interval.map(|p| Instant::now() + p);
                }
            }
            // Clients before new connections: indexes in `ready.clients`
            // are those of the poll.
            self.serve(&ready.clients);
            if ready.listener {
                self.accept();
            }
        }
        self.clients.clear();
        drop(self.listener);
        Ok(self.daemon)
    }

    fn stop_rx_raw(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.stop_rx.as_raw_fd()
    }

    /// Polls everything once.
    fn wait(&self, timeout: PollTimeout) -> io::Result<Ready> {
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(self.clients.len() + 3);
        fds.push(PollFd::new(self.stop_rx.as_fd(), PollFlags::POLLIN));
        fds.push(PollFd::new(self.listener.as_fd(), PollFlags::POLLIN));
        let events_fd: Option<BorrowedFd<'_>> = self.events.as_ref().map(AsFd::as_fd);
        if let Some(fd) = events_fd {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        let first_client = fds.len();
        for c in &self.clients {
            let wanted = if c.pending.is_some() {
                PollFlags::POLLOUT
            } else {
                PollFlags::POLLIN
            };
            fds.push(PollFd::new(c.conn.as_fd(), wanted));
        }
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok(Ready::default()),
            Err(e) => return Err(e.into()),
        }
        let any = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
        Ok(Ready {
            stop: any(&fds[0]),
            listener: any(&fds[1]),
            events: events_fd.is_some() && any(&fds[2]),
            clients: fds[first_client..]
                .iter()
                .enumerate()
                .filter(|(_, f)| any(f))
                .map(|(i, _)| i)
                .collect(),
        })
    }

    /// Takes every queued change event; checks the devices once if one of
    /// them may have removed a configured interface's device.
    fn take_events(&mut self) {
        let Some(events) = &self.events else {
            return;
        };
        let mut check = false;
        while let Some(change) = events.try_recv() {
            match change {
                Change::LinkRemoved { ifindex, name } if self.daemon.concerns(ifindex, &name) => {
                    log::debug!(
                        "device {} (ifindex {ifindex}) removed",
                        netdev::Escaped(&name)
                    );
                    check = true;
                }
                Change::Overflow => {
                    log::warn!("change events were lost: checking every device");
                    check = true;
                }
                _ => {}
            }
        }
        if check {
            self.daemon.check_devices();
        }
    }

    /// Accepts every waiting connection.
    fn accept(&mut self) {
        loop {
            let conn = match self.listener.accept() {
                Ok(Some(c)) => c,
                Ok(None) => return,
                Err(e) => {
                    log::warn!("{e}");
                    return;
                }
            };
            if let Some(peer) = conn.peer() {
                if let Err(refused) = self.options.access.check(conn.as_fd(), &peer) {
                    conn.refuse(&refused, None);
                    continue;
                }
            } else {
                log::warn!("a peer without credentials: closing the connection");
                continue;
            }
            if self.clients.len() >= MAX_CLIENTS {
                log::warn!("{MAX_CLIENTS} connections already: closing a new one");
                continue;
            }
            log::debug!(
                "connection from {}",
                conn.peer().map(|p| p.to_string()).unwrap_or_default()
            );
            self.clients.push(Client {
                conn,
                pending: None,
            });
        }
    }

    /// Serves the clients at `ready` (indexes into `self.clients`).
    fn serve(&mut self, ready: &[usize]) {
        let mut closed = Vec::new();
        for &i in ready {
            if self.serve_one(i) == Fate::Close {
                closed.push(i);
            }
        }
        for i in closed.into_iter().rev() {
            self.clients.swap_remove(i);
        }
    }

    fn serve_one(&mut self, i: usize) -> Fate {
        let Self {
            clients,
            daemon,
            buf,
            ..
        } = self;
        let client = &mut clients[i];
        if let Some(reply) = client.pending.take() {
            match send(client, reply) {
                Fate::Keep if client.pending.is_none() => {}
                fate => return fate,
            }
        }
        for _ in 0..BURST {
            let reply = match client.conn.recv(buf, Some(Duration::ZERO)) {
                Ok(0) => return Fate::Close,
                Ok(n) => daemon.handle(&buf[..n], client.conn.peer().as_ref()),
                Err(TransportError::Oversized { len, max }) => {
                    log::info!(
                        "datagram of {} bytes from {}: more than {max}",
                        len.map_or_else(|| "more".to_owned(), |l| l.to_string()),
                        client
                            .conn
                            .peer()
                            .map(|p| p.to_string())
                            .unwrap_or_default()
                    );
                    daemon.oversized(&buf[..max.min(buf.len())])
                }
                Err(e) if e.is_timeout() => return Fate::Keep,
                Err(e) => {
                    log::debug!("closing a connection: {e}");
                    return Fate::Close;
                }
            };
            match send(client, reply) {
                Fate::Keep if client.pending.is_none() => {}
                fate => return fate,
            }
        }
        Fate::Keep
    }
}

/// Sends `reply` to `client`, or keeps it pending if the client's queue is
/// full.
fn send(client: &mut Client, reply: Vec<u8>) -> Fate {
    match client.conn.send(&[IoSlice::new(&reply)]) {
        Ok(()) => Fate::Keep,
        Err(e) if e.is_timeout() => {
            client.pending = Some(reply);
            Fate::Keep
        }
        Err(e) => {
            log::debug!("closing a connection: {e}");
            Fate::Close
        }
    }
}

#[derive(Default)]
struct Ready {
    stop: bool,
    listener: bool,
    events: bool,
    clients: Vec<usize>,
}
