//! Choosing a receive queue for an interface: [`RxMethod`] names the ways
//! the kernel can hand frames to user space, [`RxOptions`] tunes them, and
//! [`open_rx_queue`] opens the queue they describe. The `system` class
//! opens its receive queues through here (see
//! [`SystemOptions`](crate::SystemOptions) for the measured trade-offs).
//!
//! Layer 3 (classes) helper: picks between [`PacketRingV2Rxq`],
//! [`PacketRingRxq`] and [`PacketRxq`]; no system call of its own.

use std::io;

use netdev_core::RxQueueBackend;

use log::debug;

use crate::packet::PacketRxq;
use crate::packet_adaptive::{AdaptiveConfig, PacketAdaptiveRxq};
use crate::packet_ring::{PacketRingRxq, RingConfig};
use crate::packet_ring_v2::{PacketRingV2Rxq, RingV2Config};

/// How a receive queue gets frames from the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RxMethod {
    /// A `TPACKET_V2` ring under a light load and a `TPACKET_V3` ring
    /// under a flood, as the two members of a fanout group
    /// ([`PacketAdaptiveRxq`]). The default: as quick for a lone frame as
    /// `recvmmsg`, and a flood at the V3 ring's rate, whichever core runs
    /// the kernel's receive work. Falls back to [`RxMethod::RingV2`]
    /// where the kernel has no unique fanout ids (before 4.16), and with
    /// [`RxOptions::offload`] (the V3 ring has no offload metadata).
    #[default]
    Adaptive,
    /// A `TPACKET_V2` ring ([`PacketRingV2Rxq`]): one slot per frame,
    /// each handed over as soon as it is written: as quick for a lone
    /// frame as `recvmmsg`, but with the kernel's receive work on the
    /// sender's core about 0.75x of a V3 ring's rate under a flood.
    RingV2,
    /// A `TPACKET_V3` ring ([`PacketRingRxq`]): frames packed in blocks,
    /// a block handed over when full or after its 1 ms retire timeout, so
    /// a lone frame waits up to 1 ms. Denser in memory for small frames.
    RingV3,
    /// `recvmmsg(2)` on a plain packet socket ([`PacketRxq`]): no ring
    /// memory reserved (the socket buffer grows with use), but a system
    /// call per batch and the kernel's clone-and-queue per frame.
    Recvmmsg,
}

/// What [`open_rx_queue`] opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxOptions {
    /// The kernel interface.
    pub method: RxMethod,
    /// Put back the VLAN tags the kernel strips from received frames.
    pub restore_vlan: bool,
    /// Bytes of ring memory ([`RxMethod::RingV2`], [`RxMethod::RingV3`],
    /// and the V2 ring of [`RxMethod::Adaptive`], whose V3 ring keeps its
    /// 16 MiB); `None` for the ring's default (32 MiB for `RingV2`, 2 MiB
    /// for `RingV3`, 16 MiB for `Adaptive`'s V2 ring).
    pub ring_bytes: Option<usize>,
    /// Bytes per `RingV2` (and `Adaptive` V2 ring) slot, a power of two of at least 128; frames
    /// longer than this minus 66 are truncated. `None` for 2048.
    pub ring_frame_size: Option<usize>,
    /// Socket receive buffer in bytes ([`RxMethod::Recvmmsg`]); `None`
    /// keeps the kernel's default (`net.core.rmem_default`).
    pub rcvbuf: Option<usize>,
    /// Receive frames with their offload metadata
    /// ([`netdev_core::RxQueueOptions::offload`]). With
    /// [`RxMethod::RingV2`] only (the others deliver complete frames);
    /// frames longer than a slot come whole through the socket
    /// ([`PacketRingV2Rxq::open_offload`]).
    pub offload: bool,
}

impl Default for RxOptions {
    fn default() -> RxOptions {
        RxOptions {
            method: RxMethod::default(),
            restore_vlan: true,
            ring_bytes: None,
            ring_frame_size: None,
            rcvbuf: None,
            offload: false,
        }
    }
}

/// Opens a receive queue on interface `ifindex` of the calling thread's
/// network namespace as `options` say.
pub fn open_rx_queue(ifindex: u32, options: &RxOptions) -> io::Result<Box<dyn RxQueueBackend>> {
    Ok(match options.method {
        RxMethod::Adaptive if !options.offload => {
            let d = AdaptiveConfig::default();
            let frame_size = options.ring_frame_size.unwrap_or(d.v2.frame_size);
            let v2 = match options.ring_bytes {
                Some(bytes) => RingV2Config::with_bytes(frame_size, bytes),
                None => RingV2Config {
                    frame_size,
                    frame_count: d.v2.frame_count * d.v2.frame_size / frame_size.max(1),
                    ..d.v2
                },
            };
            let config = AdaptiveConfig { v2, ..d };
            match PacketAdaptiveRxq::open_with(ifindex, config, options.restore_vlan) {
                Ok(q) => Box::new(q),
                // No unique fanout ids (before 4.16) or no fanout at all.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    debug!("ifindex {ifindex}: no adaptive receive queue ({e}); using a V2 ring");
                    let fallback = RxOptions {
                        method: RxMethod::RingV2,
                        ring_bytes: Some(v2.bytes()),
                        ..*options
                    };
                    return open_rx_queue(ifindex, &fallback);
                }
                Err(e) => return Err(e),
            }
        }
        RxMethod::Adaptive | RxMethod::RingV2 => {
            let d = RingV2Config::default();
            let frame_size = options.ring_frame_size.unwrap_or(d.frame_size);
            let config = match options.ring_bytes {
                Some(bytes) => RingV2Config::with_bytes(frame_size, bytes),
                None => RingV2Config { frame_size, ..d },
            };
            if options.offload {
                return Ok(Box::new(PacketRingV2Rxq::open_offload(
                    ifindex,
                    config,
                    options.restore_vlan,
                )?));
            }
            Box::new(PacketRingV2Rxq::open_with(
                ifindex,
                config,
                options.restore_vlan,
            )?)
        }
        RxMethod::RingV3 => {
            let d = RingConfig::default();
            let block_count = options
                .ring_bytes
                .map_or(d.block_count, |b| (b / d.block_size).max(1));
            Box::new(PacketRingRxq::open_with(
                ifindex,
                RingConfig { block_count, ..d },
            )?)
        }
        RxMethod::Recvmmsg => {
            let q = if options.restore_vlan {
                PacketRxq::open(ifindex)?
            } else {
                PacketRxq::open_without_vlan(ifindex)?
            };
            if let Some(bytes) = options.rcvbuf {
                q.set_recv_buffer(bytes)?;
            }
            Box::new(q)
        }
    })
}
