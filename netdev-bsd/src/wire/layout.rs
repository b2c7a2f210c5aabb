//! Every number this crate copies from the FreeBSD headers: structure
//! sizes, field offsets and constant values, by name.
//!
//! The wire modules read bytes with these offsets instead of casting to
//! `libc` structures, so they compile and are tested on every OS without
//! `unsafe`. The price is that a copy can be wrong or go stale; the FreeBSD
//! `sys` layer therefore asserts each of them at compile time against
//! `libc` (`offset_of!`, `size_of`, and the `libc` constants) where `libc`
//! has the item, and against the header text in the comments below where
//! it has not (`IFM_*`, `IFT_*`, `SA_SIZE`, `TAPGIFNAME` are not in
//! `libc`).
//!
//! Layouts are those of `x86_64-unknown-freebsd` (LP64: `long` and
//! pointers are 8 bytes), FreeBSD 11 and later (the `struct if_data` with
//! 64-bit counters). Multi-byte fields are in the host's byte order: the
//! routing socket, sysctl and ioctls all hand out the kernel's native
//! structures, so the parsers use native-endian reads.

// ---------------------------------------------------------------------------
// <sys/socket.h>, <netinet/in.h>, <net/if_dl.h>: address families, sockaddrs.

/// `AF_INET`.
pub const AF_INET: u8 = 2;
/// `AF_LINK` (also `PF_LINK`, the sysctl `net.link` node).
pub const AF_LINK: u8 = 18;
/// `AF_INET6`.
pub const AF_INET6: u8 = 28;
/// `IFNAMSIZ`: interface name buffers, NUL included.
pub const IFNAMSIZ: usize = 16;

/// Offset of `sa_len` (u8) in every `struct sockaddr`.
pub const SA_LEN: usize = 0;
/// Offset of `sa_family` (u8) in every `struct sockaddr`.
pub const SA_FAMILY: usize = 1;
/// `sizeof(long)`: the alignment `SA_SIZE()` in `<net/route.h>` rounds
/// routing-message sockaddrs up to (`sa_len == 0` takes this many bytes).
pub const SA_ALIGN: usize = 8;

/// `sizeof(struct sockaddr_in)`.
pub const SOCKADDR_IN_LEN: usize = 16;
/// Offset of `sin_addr` (4 bytes, network order) in `struct sockaddr_in`.
pub const SIN_ADDR: usize = 4;

/// `sizeof(struct sockaddr_in6)`.
pub const SOCKADDR_IN6_LEN: usize = 28;
/// Offset of `sin6_addr` (16 bytes) in `struct sockaddr_in6`.
pub const SIN6_ADDR: usize = 8;
/// Offset of `sin6_scope_id` (u32) in `struct sockaddr_in6`.
pub const SIN6_SCOPE_ID: usize = 24;

/// `sizeof(struct sockaddr_dl)` (its `sdl_data` is 46 bytes; a longer one
/// says so in `sdl_len`).
pub const SOCKADDR_DL_LEN: usize = 54;
/// Offset of `sdl_index` (u16) in `struct sockaddr_dl`.
pub const SDL_INDEX: usize = 2;
/// Offset of `sdl_type` (u8, an `IFT_*`) in `struct sockaddr_dl`.
pub const SDL_TYPE: usize = 4;
/// Offset of `sdl_nlen` (u8, name length) in `struct sockaddr_dl`.
pub const SDL_NLEN: usize = 5;
/// Offset of `sdl_alen` (u8, link-level address length).
pub const SDL_ALEN: usize = 6;
/// Offset of `sdl_slen` (u8, link-layer selector length).
pub const SDL_SLEN: usize = 7;
/// Offset of `sdl_data` (name, then address, then selector).
pub const SDL_DATA: usize = 8;

// ---------------------------------------------------------------------------
// <net/route.h>: routing socket messages.

/// `RTM_VERSION`: the only message version this parser accepts.
pub const RTM_VERSION: u8 = 5;
/// `RTM_NEWADDR`: address added (`struct ifa_msghdr`).
pub const RTM_NEWADDR: u8 = 0xc;
/// `RTM_DELADDR`: address removed (`struct ifa_msghdr`).
pub const RTM_DELADDR: u8 = 0xd;
/// `RTM_IFINFO`: interface flags or link state changed (`struct
/// if_msghdr`).
pub const RTM_IFINFO: u8 = 0xe;
/// `RTM_NEWMADDR`: multicast group joined (skipped).
pub const RTM_NEWMADDR: u8 = 0xf;
/// `RTM_DELMADDR`: multicast group left (skipped).
pub const RTM_DELMADDR: u8 = 0x10;
/// `RTM_IFANNOUNCE`: interface arrival or departure (`struct
/// if_announcemsghdr`).
pub const RTM_IFANNOUNCE: u8 = 0x11;

/// `RTA_DST` bit of `*_addrs`.
pub const RTA_DST: u32 = 0x1;
/// `RTA_GATEWAY` bit.
pub const RTA_GATEWAY: u32 = 0x2;
/// `RTA_NETMASK` bit.
pub const RTA_NETMASK: u32 = 0x4;
/// `RTA_GENMASK` bit.
pub const RTA_GENMASK: u32 = 0x8;
/// `RTA_IFP` bit.
pub const RTA_IFP: u32 = 0x10;
/// `RTA_IFA` bit.
pub const RTA_IFA: u32 = 0x20;
/// `RTA_AUTHOR` bit.
pub const RTA_AUTHOR: u32 = 0x40;
/// `RTA_BRD` bit.
pub const RTA_BRD: u32 = 0x80;
/// `RTAX_MAX`: number of sockaddr slots (`RTA_*` bits) a message can have.
pub const RTAX_MAX: usize = 8;

/// Offset of `*_msglen` (u16), common to every routing message.
pub const MSG_MSGLEN: usize = 0;
/// Offset of `*_version` (u8), common to every routing message.
pub const MSG_VERSION: usize = 2;
/// Offset of `*_type` (u8), common to every routing message.
pub const MSG_TYPE: usize = 3;
/// Bytes of the common header (`msglen`, `version`, `type`).
pub const MSG_HDR_LEN: usize = 4;

/// `sizeof(struct if_msghdr)`.
pub const IF_MSGHDR_LEN: usize = 168;
/// Offset of `ifm_addrs` (int).
pub const IF_MSGHDR_ADDRS: usize = 4;
/// Offset of `ifm_flags` (int: `if_flags | if_drv_flags`).
pub const IF_MSGHDR_FLAGS: usize = 8;
/// Offset of `ifm_index` (u16).
pub const IF_MSGHDR_INDEX: usize = 12;
/// Offset of `ifm_data` (`struct if_data`).
pub const IF_MSGHDR_DATA: usize = 16;

/// `sizeof(struct ifa_msghdr)`; its sockaddrs follow.
pub const IFA_MSGHDR_LEN: usize = 20;
/// Offset of `ifam_addrs` (int, `RTA_*` bits).
pub const IFA_MSGHDR_ADDRS: usize = 4;
/// Offset of `ifam_flags` (int).
pub const IFA_MSGHDR_FLAGS: usize = 8;
/// Offset of `ifam_index` (u16).
pub const IFA_MSGHDR_INDEX: usize = 12;
/// Offset of `ifam_metric` (int).
pub const IFA_MSGHDR_METRIC: usize = 16;

/// `sizeof(struct if_announcemsghdr)`.
pub const IF_ANNOUNCEMSGHDR_LEN: usize = 24;
/// Offset of `ifan_index` (u16).
pub const IF_ANNOUNCEMSGHDR_INDEX: usize = 4;
/// Offset of `ifan_name` (`char[IFNAMSIZ]`).
pub const IF_ANNOUNCEMSGHDR_NAME: usize = 6;
/// Offset of `ifan_what` (u16).
pub const IF_ANNOUNCEMSGHDR_WHAT: usize = 22;
/// `IFAN_ARRIVAL` (`<net/if.h>`).
pub const IFAN_ARRIVAL: u16 = 0;
/// `IFAN_DEPARTURE` (`<net/if.h>`).
pub const IFAN_DEPARTURE: u16 = 1;

// ---------------------------------------------------------------------------
// <net/if.h>: struct if_data, link states, IFF_* flags, struct ifreq.

/// `sizeof(struct if_data)`.
pub const IF_DATA_LEN: usize = 152;
/// Offset of `ifi_type` (u8, `IFT_*`).
pub const IFI_TYPE: usize = 0;
/// Offset of `ifi_link_state` (u8, `LINK_STATE_*`).
pub const IFI_LINK_STATE: usize = 4;
/// Offset of `ifi_datalen` (u16, `sizeof(struct if_data)`).
pub const IFI_DATALEN: usize = 6;
/// Offset of `ifi_mtu` (u32).
pub const IFI_MTU: usize = 8;
/// Offset of `ifi_metric` (u32).
pub const IFI_METRIC: usize = 12;
/// Offset of `ifi_baudrate` (u64, bit/s).
pub const IFI_BAUDRATE: usize = 16;
/// Offset of `ifi_ipackets` (u64).
pub const IFI_IPACKETS: usize = 24;
/// Offset of `ifi_ierrors` (u64).
pub const IFI_IERRORS: usize = 32;
/// Offset of `ifi_opackets` (u64).
pub const IFI_OPACKETS: usize = 40;
/// Offset of `ifi_oerrors` (u64).
pub const IFI_OERRORS: usize = 48;
/// Offset of `ifi_collisions` (u64).
pub const IFI_COLLISIONS: usize = 56;
/// Offset of `ifi_ibytes` (u64).
pub const IFI_IBYTES: usize = 64;
/// Offset of `ifi_obytes` (u64).
pub const IFI_OBYTES: usize = 72;
/// Offset of `ifi_imcasts` (u64).
pub const IFI_IMCASTS: usize = 80;
/// Offset of `ifi_omcasts` (u64).
pub const IFI_OMCASTS: usize = 88;
/// Offset of `ifi_iqdrops` (u64).
pub const IFI_IQDROPS: usize = 96;
/// Offset of `ifi_oqdrops` (u64).
pub const IFI_OQDROPS: usize = 104;
/// Offset of `ifi_noproto` (u64).
pub const IFI_NOPROTO: usize = 112;
/// Offset of `ifi_epoch` (`time_t`, i64 on x86_64).
pub const IFI_EPOCH: usize = 128;

/// `LINK_STATE_UNKNOWN`.
pub const LINK_STATE_UNKNOWN: u8 = 0;
/// `LINK_STATE_DOWN`.
pub const LINK_STATE_DOWN: u8 = 1;
/// `LINK_STATE_UP`.
pub const LINK_STATE_UP: u8 = 2;

/// `IFF_UP`.
pub const IFF_UP: u32 = 0x1;
/// `IFF_BROADCAST`.
pub const IFF_BROADCAST: u32 = 0x2;
/// `IFF_LOOPBACK`.
pub const IFF_LOOPBACK: u32 = 0x8;
/// `IFF_POINTOPOINT`.
pub const IFF_POINTOPOINT: u32 = 0x10;
/// `IFF_DRV_RUNNING` (`IFF_RUNNING` in userland headers; a driver flag
/// that `SIOCGIFFLAGS` and `RTM_IFINFO` report with the others).
pub const IFF_RUNNING: u32 = 0x40;
/// `IFF_NOARP`.
pub const IFF_NOARP: u32 = 0x80;
/// `IFF_PROMISC`: promiscuous now (set by the kernel while anyone, BPF
/// included, asked for it).
pub const IFF_PROMISC: u32 = 0x100;
/// `IFF_ALLMULTI`.
pub const IFF_ALLMULTI: u32 = 0x200;
/// `IFF_MULTICAST`.
pub const IFF_MULTICAST: u32 = 0x8000;
/// `IFF_PPROMISC`: promiscuous mode requested by the user (persistent,
/// what `SIOCSIFFLAGS` sets; `IFF_PROMISC` alone is ignored there).
pub const IFF_PPROMISC: u32 = 0x20000;

/// `sizeof(struct ifreq)`.
pub const IFREQ_LEN: usize = 32;
/// Offset of `ifr_flags` (short, low 16 flag bits) in `struct ifreq`.
pub const IFREQ_FLAGS: usize = 16;
/// Offset of `ifr_flagshigh` (short, high 16 flag bits).
pub const IFREQ_FLAGSHIGH: usize = 18;

// ---------------------------------------------------------------------------
// <net/if_mib.h>, <sys/sysctl.h>: struct ifmibdata and its MIB names.

/// `sizeof(struct ifmibdata)`.
pub const IFMIBDATA_LEN: usize = 208;
/// Offset of `ifmd_name` (`char[IFNAMSIZ]`).
pub const IFMD_NAME: usize = 0;
/// Offset of `ifmd_pcount` (int, promiscuous listeners).
pub const IFMD_PCOUNT: usize = 16;
/// Offset of `ifmd_flags` (int, `IFF_*`).
pub const IFMD_FLAGS: usize = 20;
/// Offset of `ifmd_snd_len` (int).
pub const IFMD_SND_LEN: usize = 24;
/// Offset of `ifmd_snd_maxlen` (int).
pub const IFMD_SND_MAXLEN: usize = 28;
/// Offset of `ifmd_snd_drops` (int).
pub const IFMD_SND_DROPS: usize = 32;
/// Offset of `ifmd_data` (`struct if_data`, 8-aligned after the 4 filler
/// ints).
pub const IFMD_DATA: usize = 56;

/// `CTL_NET` (`<sys/sysctl.h>`).
pub const CTL_NET: i32 = 4;
/// `PF_LINK`.
pub const PF_LINK: i32 = AF_LINK as i32;
/// `NETLINK_GENERIC`: `net.link.generic`.
pub const NETLINK_GENERIC: i32 = 0;
/// `IFMIB_SYSTEM`: `net.link.generic.system`.
pub const IFMIB_SYSTEM: i32 = 1;
/// `IFMIB_IFDATA`: `net.link.generic.ifdata`.
pub const IFMIB_IFDATA: i32 = 2;
/// `IFMIB_IFCOUNT`: `net.link.generic.system.ifcount`.
pub const IFMIB_IFCOUNT: i32 = 1;
/// `IFDATA_GENERAL`: `struct ifmibdata` of one interface.
pub const IFDATA_GENERAL: i32 = 1;

// ---------------------------------------------------------------------------
// <net/if_media.h>: media words and struct ifmediareq.

/// `IFM_ETHER`: network type Ethernet.
pub const IFM_ETHER: u32 = 0x20;
/// `IFM_NMASK`: network type.
pub const IFM_NMASK: u32 = 0xe0;
/// `IFM_TMASK`: media subtype (low 5 bits).
pub const IFM_TMASK: u32 = 0x1f;
/// `IFM_ETH_XTYPE`: extended Ethernet subtype bits (above subtype 31).
pub const IFM_ETH_XTYPE: u32 = 0x7800;
/// `IFM_ETH_XSHIFT`: shift bringing `IFM_ETH_XTYPE` next to `IFM_TMASK`.
pub const IFM_ETH_XSHIFT: u32 = 6;
/// `IFM_AUTO`: autoselect.
pub const IFM_AUTO: u32 = 0;
/// `IFM_MANUAL`.
pub const IFM_MANUAL: u32 = 1;
/// `IFM_NONE`: no media.
pub const IFM_NONE: u32 = 2;
/// `IFM_FDX`: full duplex.
pub const IFM_FDX: u32 = 0x0010_0000;
/// `IFM_HDX`: half duplex.
pub const IFM_HDX: u32 = 0x0020_0000;
/// `IFM_FLOW`: hardware flow control.
pub const IFM_FLOW: u32 = 0x0040_0000;
/// `IFM_ETH_RXPAUSE`: receive PAUSE frames.
pub const IFM_ETH_RXPAUSE: u32 = 0x200;
/// `IFM_ETH_TXPAUSE`: transmit PAUSE frames.
pub const IFM_ETH_TXPAUSE: u32 = 0x400;
/// `IFM_AVALID` (status word): `IFM_ACTIVE` is meaningful.
pub const IFM_AVALID: u32 = 0x1;
/// `IFM_ACTIVE` (status word): attached to a working network.
pub const IFM_ACTIVE: u32 = 0x2;

/// `sizeof(struct ifmediareq)`.
pub const IFMEDIAREQ_LEN: usize = 48;
/// Offset of `ifm_current` (int).
pub const IFMEDIAREQ_CURRENT: usize = 16;
/// Offset of `ifm_mask` (int).
pub const IFMEDIAREQ_MASK: usize = 20;
/// Offset of `ifm_status` (int).
pub const IFMEDIAREQ_STATUS: usize = 24;
/// Offset of `ifm_active` (int).
pub const IFMEDIAREQ_ACTIVE: usize = 28;
/// Offset of `ifm_count` (int).
pub const IFMEDIAREQ_COUNT: usize = 32;
/// Offset of `ifm_ulist` (`int *`).
pub const IFMEDIAREQ_ULIST: usize = 40;

// ---------------------------------------------------------------------------
// <net/if_tap.h>, <net/if_tun.h>.

/// `TAPGIFNAME` = `TUNGIFNAME` = `_IOR('t', 93, struct ifreq)`:
/// `IOC_OUT (0x4000_0000) | (sizeof(struct ifreq) & 0x1fff) << 16 | 't' << 8
/// | 93`.
pub const TAPGIFNAME: u64 =
    0x4000_0000 | ((IFREQ_LEN as u64 & 0x1fff) << 16) | (b't' as u64) << 8 | 93;

// Relations between the copies, checked at compile time on every OS.
const _: () = {
    assert!(TAPGIFNAME == 0x4020_745d);
    // if_msghdr is its 16-byte head plus a whole if_data; so is ifmibdata
    // after its 56 bytes.
    assert!(IF_MSGHDR_DATA + IF_DATA_LEN == IF_MSGHDR_LEN);
    assert!(IFMD_DATA + IF_DATA_LEN == IFMIBDATA_LEN);
    // The last counter read ends inside if_data.
    assert!(IFI_NOPROTO + 8 <= IF_DATA_LEN);
    assert!(IFI_EPOCH + 8 <= IF_DATA_LEN);
    assert!(IF_ANNOUNCEMSGHDR_NAME + IFNAMSIZ == IF_ANNOUNCEMSGHDR_WHAT);
};
