//! The datapath thread: one poll loop over every port's receive queue,
//! the forwarding decision, and the control commands of [`crate::Switch`].

use std::io::{ErrorKind as IoKind, Read};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use netdev::ratelimit::RateLimit;
use netdev::{
    Change, ErrorKind, Flags, Netdev, Offload, PacketBatch, Registry, RxQueue, RxQueueOptions,
    SavedFlags,
};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::config::{PortConfig, PortKind, VlanMode};
use crate::fdb::{MacTable, PortNo};
use crate::frame::{self, Egress};
use crate::{FdbRecord, PortCounters, PortStatus, SwitchOptions};

/// An opened port: its device and receive queue.
pub(crate) struct OpenPort {
    iface: String,
    // Field order is drop order: the queue, then the flags (restored while
    // the handle still holds the device open), then the handle.
    rxq: RxQueue,
    _promisc: Option<SavedFlags>,
    dev: Netdev,
}

/// Opens the first interface of `config` that opens: the device, up for
/// an internal port, promiscuous for a member (so a physical NIC passes
/// frames for other hosts; restored when closed), and a receive queue.
pub(crate) fn open_port(
    registry: &Registry,
    options: &SwitchOptions,
    config: &PortConfig,
) -> netdev::Result<OpenPort> {
    let mut last = None;
    for iface in &config.interfaces {
        match open_one(registry, options, config.kind, iface) {
            Ok(p) => return Ok(p),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        netdev::Error::new(ErrorKind::InvalidInput("the port has no interface".into()))
    }))
}

fn open_one(
    registry: &Registry,
    options: &SwitchOptions,
    kind: PortKind,
    iface: &str,
) -> netdev::Result<OpenPort> {
    let (type_name, on) = match kind {
        PortKind::Member => (&options.member_type, Flags::PROMISC),
        PortKind::Internal => (&options.internal_type, Flags::UP),
    };
    let dev = registry.open(iface, type_name)?;
    let promisc = match kind {
        PortKind::Member => match dev.turn_flags_on(on) {
            Ok(saved) => Some(saved),
            Err(e) => {
                log::warn!("{}: not promiscuous: {e}", netdev::Escaped(iface));
                None
            }
        },
        PortKind::Internal => {
            dev.update_flags(Flags::empty(), on)?;
            None
        }
    };
    let buffer = match kind {
        PortKind::Member => options.port_buffer_bytes,
        PortKind::Internal => None,
    };
    let rxq = dev.open_rx_with(
        &RxQueueOptions::new()
            .with_offload(options.offload)
            .with_buffer_bytes(buffer),
    )?;
    Ok(OpenPort {
        iface: iface.to_owned(),
        rxq,
        _promisc: promisc,
        dev,
    })
}

/// Receive slot size with offload: a 64 KiB TCP segment, its headers and
/// a VLAN tag.
const OFFLOAD_SLOT: usize = 64 * 1024 + 2048;

/// A request from the [`crate::Switch`] handle.
pub(crate) enum Command {
    AddBridge {
        name: String,
        reply: Sender<()>,
    },
    DelBridge {
        name: String,
        reply: Sender<Vec<OpenPort>>,
    },
    AddPort {
        bridge: String,
        port: String,
        config: PortConfig,
        open: Result<Box<OpenPort>, String>,
        reply: Sender<()>,
    },
    DelPort {
        bridge: String,
        port: String,
        reply: Sender<Option<OpenPort>>,
    },
    Ports {
        bridge: String,
        reply: Sender<Option<Vec<PortStatus>>>,
    },
    Fdb {
        bridge: String,
        reply: Sender<Option<Vec<FdbRecord>>>,
    },
    FlushFdb {
        bridge: String,
        reply: Sender<bool>,
    },
    Shutdown {
        reply: Sender<Vec<OpenPort>>,
    },
}

/// Where a frame to send lives: in the receive batch, or in the port's
/// scratch buffer (after a tag was pushed or stripped).
#[derive(Clone, Copy)]
enum TxItem {
    Rx(usize),
    Scratch(usize, usize),
}

/// The frames a port sends after one receive batch. `offloads` parallels
/// `items`, so it is passed to the device as it is.
#[derive(Default)]
struct TxQueue {
    items: Vec<TxItem>,
    offloads: Vec<Offload>,
    scratch: Vec<u8>,
}

impl TxQueue {
    fn clear(&mut self) {
        self.items.clear();
        self.offloads.clear();
        self.scratch.clear();
    }
}

struct Port {
    name: String,
    config: PortConfig,
    open: Option<Box<OpenPort>>,
    error: Option<String>,
    counters: PortCounters,
    overruns_base: u64,
    tx: TxQueue,
}

impl Port {
    fn carries(&self, vlan: u16) -> bool {
        self.open.is_some() && self.config.vlan.carries(vlan)
    }

    fn close(&mut self, why: String) -> Option<Box<OpenPort>> {
        self.error = Some(why);
        self.tx.clear();
        self.open.take()
    }
}

struct Bridge {
    name: String,
    /// Indexed by port number; the local port is 0.
    ports: Vec<Option<Port>>,
    macs: MacTable,
}

impl Bridge {
    fn find(&self, name: &str) -> Option<PortNo> {
        self.ports
            .iter()
            .position(|p| p.as_ref().is_some_and(|p| p.name == name))
            .and_then(|i| PortNo::try_from(i).ok())
    }
}

/// How a frame of `vlan`, received with tag `tci`, leaves through a port of
/// mode `out`.
fn egress(tci: Option<u16>, vlan: u16, out: VlanMode) -> Egress {
    match out {
        VlanMode::Access(_) => match tci {
            Some(_) => Egress::Strip,
            None => Egress::AsIs,
        },
        VlanMode::Trunk if vlan == 0 => Egress::AsIs,
        VlanMode::Trunk => match tci {
            Some(t) if t & frame::VID_MASK == vlan => Egress::AsIs,
            Some(_) => Egress::SetVid(vlan),
            None => Egress::Push(vlan),
        },
    }
}

/// Queues frame `index` of the batch for `port`, transformed by `how`;
/// false if its offload offsets cannot follow the transformation (the
/// frame is not sent).
fn enqueue(port: &mut Port, index: usize, data: &[u8], offload: Offload, how: Egress) -> bool {
    let delta = match how {
        Egress::AsIs | Egress::SetVid(_) => 0,
        Egress::Push(_) => frame::VLAN_HLEN as i32,
        Egress::Strip => -(frame::VLAN_HLEN as i32),
    };
    let Some(offload) = offload.shifted(delta) else {
        return false;
    };
    let item = match how {
        Egress::AsIs => TxItem::Rx(index),
        how => {
            let start = port.tx.scratch.len();
            let n = frame::write_egress(data, how, &mut port.tx.scratch);
            TxItem::Scratch(start, n)
        }
    };
    port.tx.items.push(item);
    port.tx.offloads.push(offload);
    true
}

/// Forwards the frames of `batch`, received on port `ingress` of `bridge`:
/// learning, lookup, flooding, then one send per output port.
fn forward(bridge: &mut Bridge, ingress: PortNo, batch: &PacketBatch, now: Duration) {
    let Bridge { ports, macs, name } = bridge;
    let Some(in_mode) = ports
        .get(usize::from(ingress))
        .and_then(Option::as_ref)
        .map(|p| p.config.vlan)
    else {
        return;
    };
    let mut c = PortCounters::default();
    for (i, pkt) in batch.iter().enumerate() {
        c.rx_packets += 1;
        c.rx_bytes += pkt.orig_len as u64;
        if pkt.is_truncated() {
            c.dropped += 1;
            continue;
        }
        let Some(h) = frame::parse(pkt.data) else {
            c.dropped += 1;
            continue;
        };
        let vlan = match in_mode {
            VlanMode::Trunk => h.vid(),
            VlanMode::Access(v) if h.vid() == 0 => v,
            VlanMode::Access(_) => {
                c.dropped += 1;
                continue;
            }
        };
        if h.src.is_multicast() {
            c.dropped += 1;
            continue;
        }
        if !h.src.is_zero() {
            macs.learn(vlan, h.src, ingress, now);
        }
        let known = if h.dst.is_multicast() {
            None
        } else {
            macs.lookup(vlan, h.dst, now)
        };
        match known {
            Some(p) if p == ingress => c.dropped += 1,
            Some(p)
                if ports
                    .get(usize::from(p))
                    .and_then(Option::as_ref)
                    .is_some_and(|o| o.carries(vlan)) =>
            {
                let out = ports[usize::from(p)].as_mut().expect("checked above");
                let how = egress(h.tci, vlan, out.config.vlan);
                if enqueue(out, i, pkt.data, pkt.offload, how) {
                    c.forwarded += 1;
                } else {
                    c.dropped += 1;
                }
            }
            _ => {
                for (no, out) in ports.iter_mut().enumerate() {
                    let Some(out) = out else { continue };
                    if no == usize::from(ingress) || !out.carries(vlan) {
                        continue;
                    }
                    let how = egress(h.tci, vlan, out.config.vlan);
                    if !enqueue(out, i, pkt.data, pkt.offload, how) {
                        out.counters.tx_dropped += 1;
                    }
                }
                c.flooded += 1;
            }
        }
    }
    if let Some(p) = ports.get_mut(usize::from(ingress)).and_then(Option::as_mut) {
        let t = &mut p.counters;
        t.rx_packets += c.rx_packets;
        t.rx_bytes += c.rx_bytes;
        t.forwarded += c.forwarded;
        t.flooded += c.flooded;
        t.dropped += c.dropped;
    }
    for port in ports.iter_mut().flatten() {
        if !port.tx.items.is_empty() {
            flush(name, port, batch);
        }
    }
}

/// Sends what `port` has queued. A device with no room gets one short
/// wait (bounded, so one stuck port cannot stall the switch); what still
/// does not fit is counted as `tx_dropped`. A frame the device refuses is
/// counted and skipped, the others still go.
fn flush(bridge: &str, port: &mut Port, batch: &PacketBatch) {
    let Port {
        tx, open, counters, ..
    } = port;
    let Some(open) = open else {
        tx.clear();
        return;
    };
    let frames: Vec<&[u8]> = tx
        .items
        .iter()
        .map(|item| match *item {
            TxItem::Rx(i) => batch.get(i).map_or(&[][..], |p| p.data),
            TxItem::Scratch(s, n) => &tx.scratch[s..s + n],
        })
        .collect();
    let offloads = &tx.offloads;
    let mut sent = 0;
    let mut refused = 0u64;
    let mut waited = false;
    while sent < frames.len() {
        match open
            .dev
            .send_batch_offload(&frames[sent..], &offloads[sent..])
        {
            Ok(n) if n > 0 => {
                counters.tx_bytes += frames[sent..sent + n]
                    .iter()
                    .map(|f| f.len() as u64)
                    .sum::<u64>();
                sent += n;
            }
            Ok(_) if !waited => {
                waited = true;
                let _ = open.dev.send_wait(Some(Duration::from_millis(1)));
            }
            Ok(_) => break,
            Err(e) if e.kind() == &ErrorKind::Gone => break,
            // A device that is down refuses every frame: one error, not
            // one per frame (counted as dropped below).
            Err(e) if e.kind() == &ErrorKind::NetworkDown => {
                log_tx_error(bridge, &open.iface, &e);
                break;
            }
            Err(e) => {
                // One frame the device cannot take (too long for its MTU,
                // say): skip it and send the rest.
                log_tx_error(bridge, &open.iface, &e);
                refused += 1;
                sent += 1;
            }
        }
    }
    counters.tx_packets += sent as u64 - refused;
    counters.tx_dropped += refused + (frames.len() - sent) as u64;
    drop(frames);
    tx.clear();
}

/// Logs a refused frame, at most a few times per second for the whole
/// switch: a sender can make every frame fail.
fn log_tx_error(bridge: &str, iface: &str, e: &netdev::Error) {
    static LIMIT: parking_lot::Mutex<Option<RateLimit>> = parking_lot::Mutex::new(None);
    let mut limit = LIMIT.lock();
    let limit = limit.get_or_insert_with(|| RateLimit::new(5, Duration::from_secs(1)));
    if let Some(suppressed) = limit.allow() {
        log::warn!(
            "bridge {}: {}: frame not sent: {e}{}",
            netdev::Escaped(bridge),
            netdev::Escaped(iface),
            RateLimit::suffix(suppressed)
        );
    }
}

pub(crate) struct Datapath {
    registry: Registry,
    options: SwitchOptions,
    control: Receiver<Command>,
    wake: UnixStream,
    events: netdev::Subscription,
    bridges: Vec<Bridge>,
    batch: PacketBatch,
    next_retry: Instant,
    next_expire: Instant,
}

impl Datapath {
    pub(crate) fn new(
        registry: Registry,
        options: SwitchOptions,
        control: Receiver<Command>,
        wake: UnixStream,
        events: netdev::Subscription,
    ) -> Datapath {
        let slot = if options.offload {
            options.max_frame.max(OFFLOAD_SLOT)
        } else {
            options.max_frame
        };
        let batch = PacketBatch::new(options.batch_size, slot);
        let now = Instant::now();
        Datapath {
            registry,
            options,
            control,
            wake,
            events,
            bridges: Vec::new(),
            batch,
            next_retry: now,
            next_expire: now,
        }
    }

    fn bridge_mut(&mut self, name: &str) -> Option<&mut Bridge> {
        self.bridges.iter_mut().find(|b| b.name == name)
    }

    pub(crate) fn run(mut self) {
        loop {
            while let Ok(cmd) = self.control.try_recv() {
                if let Some(reply) = self.command(cmd) {
                    let _ = reply.send(self.take_all());
                    return;
                }
            }
            let busy = self.poll_ports();
            self.timers();
            // No spinning before sleeping: looking (with yields) for 50 µs
            // after the last frame, to catch a ping's reply without a
            // wake-up, raised the median round trip from 75 to 134 µs
            // (bench_switch topology, 300 pings at 100/s).
            if !busy {
                self.sleep();
            }
        }
    }

    /// Receives one batch from every open port and forwards it; true if
    /// any frame came in.
    fn poll_ports(&mut self) -> bool {
        let now = self.options.clock.now();
        let mut busy = false;
        let Datapath { bridges, batch, .. } = self;
        for bridge in bridges.iter_mut() {
            for no in 0..bridge.ports.len() {
                let Some(port) = bridge.ports[no].as_mut() else {
                    continue;
                };
                let Some(open) = port.open.as_mut() else {
                    continue;
                };
                match open.rxq.recv_batch(batch) {
                    Ok(0) => continue,
                    Ok(_) => {
                        busy = true;
                        let no = PortNo::try_from(no).expect("port numbers fit");
                        forward(bridge, no, batch, now);
                    }
                    Err(e) => {
                        log::warn!(
                            "bridge {}: port {}: {e}; closed until its device can be opened again",
                            netdev::Escaped(&bridge.name),
                            netdev::Escaped(&port.name)
                        );
                        let closed = port.close(e.to_string());
                        let no = PortNo::try_from(no).expect("port numbers fit");
                        bridge.macs.flush_port(no);
                        drop(closed);
                    }
                }
            }
        }
        busy
    }

    /// Forwards what is waiting now (a bounded number of batches, so a
    /// flood cannot hold a query forever), so that counters and addresses
    /// a query reports include every frame received before it was asked.
    fn catch_up(&mut self) {
        for _ in 0..16 {
            if !self.poll_ports() {
                break;
            }
        }
    }

    fn timers(&mut self) {
        let now = Instant::now();
        if now >= self.next_expire {
            let t = self.options.clock.now();
            for b in &mut self.bridges {
                b.macs.expire(t);
            }
            self.next_expire = now + Duration::from_secs(1);
        }
        if now >= self.next_retry {
            self.retry_closed(None);
            self.next_retry = now + self.options.retry_interval;
        }
        while let Some(change) = self.events.try_recv() {
            match change {
                Change::LinkChanged { name: Some(n), .. } => self.retry_closed(Some(&n)),
                Change::Overflow => self.retry_closed(None),
                _ => {}
            }
        }
    }

    /// Tries to open the ports that have no open device (those with an
    /// interface named `only`, if given).
    fn retry_closed(&mut self, only: Option<&str>) {
        let Datapath {
            bridges,
            registry,
            options,
            ..
        } = self;
        for bridge in bridges.iter_mut() {
            for port in bridge.ports.iter_mut().flatten() {
                if port.open.is_some() {
                    continue;
                }
                if only.is_some_and(|n| !port.config.interfaces.iter().any(|i| i == n)) {
                    continue;
                }
                match open_port(registry, options, &port.config) {
                    Ok(open) => {
                        log::info!(
                            "bridge {}: port {} open on {}",
                            netdev::Escaped(&bridge.name),
                            netdev::Escaped(&port.name),
                            netdev::Escaped(&open.iface)
                        );
                        port.overruns_base = port.counters.rx_overruns;
                        port.open = Some(Box::new(open));
                        port.error = None;
                    }
                    Err(e) => port.error = Some(e.to_string()),
                }
            }
        }
    }

    /// Sleeps in `poll` until a port has a frame, a command or an event
    /// arrives, or a timer is due.
    fn sleep(&mut self) {
        let now = Instant::now();
        let due = self.next_retry.min(self.next_expire);
        let ms = due
            .saturating_duration_since(now)
            .as_millis()
            .clamp(1, 1000);
        let timeout = PollTimeout::try_from(ms as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = Vec::with_capacity(8);
        fds.push(PollFd::new(self.wake.as_fd(), PollFlags::POLLIN));
        fds.push(PollFd::new(self.events.as_fd(), PollFlags::POLLIN));
        for bridge in &self.bridges {
            for port in bridge.ports.iter().flatten() {
                if let Some(open) = &port.open {
                    fds.push(PollFd::new(open.rxq.as_fd(), PollFlags::POLLIN));
                }
            }
        }
        let woken = match poll(&mut fds, timeout) {
            Ok(_) => fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLIN)),
            Err(_) => false,
        };
        drop(fds);
        if woken {
            let mut buf = [0u8; 64];
            loop {
                match (&self.wake).read(&mut buf) {
                    Ok(n) if n > 0 => continue,
                    Err(e) if e.kind() == IoKind::Interrupted => continue,
                    _ => break,
                }
            }
        }
    }

    fn take_all(&mut self) -> Vec<OpenPort> {
        let mut out = Vec::new();
        for mut b in self.bridges.drain(..) {
            for p in b.ports.iter_mut().flatten() {
                out.extend(p.open.take().map(|b| *b));
            }
        }
        out
    }

    /// Carries out `cmd`; returns the reply channel of a shutdown.
    fn command(&mut self, cmd: Command) -> Option<Sender<Vec<OpenPort>>> {
        match cmd {
            Command::AddBridge { name, reply } => {
                if self.bridge_mut(&name).is_none() {
                    self.bridges.push(Bridge {
                        name,
                        ports: Vec::new(),
                        macs: MacTable::new(self.options.ageing, self.options.max_mac_entries),
                    });
                }
                let _ = reply.send(());
            }
            Command::DelBridge { name, reply } => {
                let mut closed = Vec::new();
                if let Some(i) = self.bridges.iter().position(|b| b.name == name) {
                    let mut b = self.bridges.remove(i);
                    for p in b.ports.iter_mut().flatten() {
                        closed.extend(p.open.take().map(|b| *b));
                    }
                }
                let _ = reply.send(closed);
            }
            Command::AddPort {
                bridge,
                port,
                config,
                open,
                reply,
            } => {
                if let Some(b) = self.bridge_mut(&bridge) {
                    let no = if port == b.name {
                        0
                    } else {
                        (1..b.ports.len().max(1))
                            .find(|&i| b.ports[i].is_none())
                            .unwrap_or(b.ports.len().max(1))
                    };
                    if b.ports.len() <= no {
                        b.ports.resize_with(no + 1, || None);
                    }
                    let (open, error) = match open {
                        Ok(o) => (Some(o), None),
                        Err(e) => (None, Some(e)),
                    };
                    b.ports[no] = Some(Port {
                        name: port,
                        config,
                        open,
                        error,
                        counters: PortCounters::default(),
                        overruns_base: 0,
                        tx: TxQueue::default(),
                    });
                }
                let _ = reply.send(());
            }
            Command::DelPort {
                bridge,
                port,
                reply,
            } => {
                let mut closed = None;
                if let Some(b) = self.bridge_mut(&bridge) {
                    if let Some(no) = b.find(&port) {
                        closed = b.ports[usize::from(no)]
                            .take()
                            .and_then(|p| p.open)
                            .map(|b| *b);
                        b.macs.flush_port(no);
                        while b.ports.len() > 1 && b.ports.last().is_some_and(Option::is_none) {
                            b.ports.pop();
                        }
                    }
                }
                let _ = reply.send(closed);
            }
            Command::Ports { bridge, reply } => {
                self.catch_up();
                let r = self.bridge_mut(&bridge).map(|b| {
                    let mut v = Vec::new();
                    for (no, p) in b.ports.iter_mut().enumerate() {
                        let Some(p) = p else { continue };
                        if let Some(open) = p.open.as_mut() {
                            if let Ok(d) = open.rxq.dropped() {
                                p.counters.rx_overruns = p.overruns_base + d;
                            }
                        }
                        v.push(PortStatus {
                            name: p.name.clone(),
                            port_no: PortNo::try_from(no).expect("port numbers fit"),
                            config: p.config.clone(),
                            active: p.open.as_ref().map(|o| o.iface.clone()),
                            error: p.error.clone(),
                            counters: p.counters,
                        });
                    }
                    v
                });
                let _ = reply.send(r);
            }
            Command::Fdb { bridge, reply } => {
                self.catch_up();
                let now = self.options.clock.now();
                let r = self.bridge_mut(&bridge).map(|b| fdb_records(b, now));
                let _ = reply.send(r);
            }
            Command::FlushFdb { bridge, reply } => {
                let r = self.bridge_mut(&bridge).map(|b| b.macs.flush()).is_some();
                let _ = reply.send(r);
            }
            Command::Shutdown { reply } => return Some(reply),
        }
        None
    }
}

fn fdb_records(b: &Bridge, now: Duration) -> Vec<FdbRecord> {
    let port = |no: PortNo| b.ports.get(usize::from(no)).and_then(Option::as_ref);
    let mut v: Vec<FdbRecord> = Vec::new();
    for (no, p) in b.ports.iter().enumerate() {
        let Some(p) = p else { continue };
        let Some(open) = &p.open else { continue };
        if p.config.kind != PortKind::Member {
            continue;
        }
        let Ok(mac) = open.dev.mac() else { continue };
        let vlan = match p.config.vlan {
            VlanMode::Access(v) => v,
            VlanMode::Trunk => 0,
        };
        v.push(FdbRecord {
            vlan,
            mac,
            port_no: PortNo::try_from(no).expect("port numbers fit"),
            port: p.name.clone(),
            age: Duration::ZERO,
            is_local: true,
        });
    }
    for e in b.macs.entries(now) {
        if e.port == 0 {
            continue;
        }
        let Some(p) = port(e.port) else { continue };
        if v.iter()
            .any(|r| r.is_local && r.mac == e.mac && r.vlan == e.vlan)
        {
            continue;
        }
        v.push(FdbRecord {
            vlan: e.vlan,
            mac: e.mac,
            port_no: e.port,
            port: p.name.clone(),
            age: e.age,
            is_local: false,
        });
    }
    v.sort_by_key(|r| (r.port_no, r.vlan, r.mac.0));
    v
}
