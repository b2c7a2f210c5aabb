//! Compile-time checks of every FreeBSD layout and constant the
//! platform-free code copies (`crate::wire::layout`) against the `libc`
//! crate's FreeBSD definitions: structure sizes, field offsets, values.
//! A drift fails `cargo clippy --target x86_64-unknown-freebsd` in CI.
//!
//! Items `libc` does not have (`IFM_*`, `IFT_*`, `SA_SIZE`'s alignment,
//! the ioctl numbers other than `SIOCGIFADDR`) are checked against their own derivations where one
//! exists (the ioctl encodings from `libc`'s structure sizes) and are
//! otherwise listed in `crate::verification` for a FreeBSD host to
//! confirm.

use std::mem::{offset_of, size_of};

use crate::wire::layout as w;

/// `assert!` that `$copy` (ours) equals `$libc` (theirs), both widened to
/// `i128` so constants of any integer type compare.
macro_rules! same {
    ($copy:expr, $libc:expr) => {
        assert!(
            ($copy) as i128 == ($libc) as i128,
            concat!(
                stringify!($copy),
                " differs from libc's ",
                stringify!($libc)
            )
        );
    };
}

// Address families and names.
const _: () = {
    same!(w::AF_INET, libc::AF_INET);
    same!(w::AF_LINK, libc::AF_LINK);
    same!(w::AF_INET6, libc::AF_INET6);
    same!(w::IFNAMSIZ, libc::IFNAMSIZ);
    same!(w::CTL_NET, libc::CTL_NET);
    same!(w::PF_LINK, libc::PF_LINK);
    // SA_SIZE rounds to sizeof(long).
    same!(w::SA_ALIGN, size_of::<libc::c_long>());
};

// Sockaddrs.
const _: () = {
    same!(w::SA_LEN, offset_of!(libc::sockaddr, sa_len));
    same!(w::SA_FAMILY, offset_of!(libc::sockaddr, sa_family));
    same!(w::SOCKADDR_IN_LEN, size_of::<libc::sockaddr_in>());
    same!(w::SIN_ADDR, offset_of!(libc::sockaddr_in, sin_addr));
    same!(w::SOCKADDR_IN6_LEN, size_of::<libc::sockaddr_in6>());
    same!(w::SIN6_ADDR, offset_of!(libc::sockaddr_in6, sin6_addr));
    same!(
        w::SIN6_SCOPE_ID,
        offset_of!(libc::sockaddr_in6, sin6_scope_id)
    );
    same!(w::SOCKADDR_DL_LEN, size_of::<libc::sockaddr_dl>());
    same!(w::SDL_INDEX, offset_of!(libc::sockaddr_dl, sdl_index));
    same!(w::SDL_TYPE, offset_of!(libc::sockaddr_dl, sdl_type));
    same!(w::SDL_NLEN, offset_of!(libc::sockaddr_dl, sdl_nlen));
    same!(w::SDL_ALEN, offset_of!(libc::sockaddr_dl, sdl_alen));
    same!(w::SDL_SLEN, offset_of!(libc::sockaddr_dl, sdl_slen));
    same!(w::SDL_DATA, offset_of!(libc::sockaddr_dl, sdl_data));
    // The sys layer writes a sockaddr_in into `struct sockaddr` slots.
    same!(size_of::<libc::sockaddr>(), size_of::<libc::sockaddr_in>());
};

// Routing messages.
const _: () = {
    same!(w::RTM_VERSION, libc::RTM_VERSION);
    same!(w::RTM_NEWADDR, libc::RTM_NEWADDR);
    same!(w::RTM_DELADDR, libc::RTM_DELADDR);
    same!(w::RTM_IFINFO, libc::RTM_IFINFO);
    same!(w::RTM_NEWMADDR, libc::RTM_NEWMADDR);
    same!(w::RTM_DELMADDR, libc::RTM_DELMADDR);
    same!(w::RTM_IFANNOUNCE, libc::RTM_IFANNOUNCE);
    same!(w::RTA_DST, libc::RTA_DST);
    same!(w::RTA_GATEWAY, libc::RTA_GATEWAY);
    same!(w::RTA_NETMASK, libc::RTA_NETMASK);
    same!(w::RTA_GENMASK, libc::RTA_GENMASK);
    same!(w::RTA_IFP, libc::RTA_IFP);
    same!(w::RTA_IFA, libc::RTA_IFA);
    same!(w::RTA_AUTHOR, libc::RTA_AUTHOR);
    same!(w::RTA_BRD, libc::RTA_BRD);
    same!(w::RTAX_MAX, libc::RTAX_MAX);
    same!(w::IFAN_ARRIVAL, libc::IFAN_ARRIVAL);
    same!(w::IFAN_DEPARTURE, libc::IFAN_DEPARTURE);

    // The common head, through if_msghdr's fields.
    same!(w::MSG_MSGLEN, offset_of!(libc::if_msghdr, ifm_msglen));
    same!(w::MSG_VERSION, offset_of!(libc::if_msghdr, ifm_version));
    same!(w::MSG_TYPE, offset_of!(libc::if_msghdr, ifm_type));
    same!(w::MSG_HDR_LEN, offset_of!(libc::if_msghdr, ifm_addrs));
    same!(w::MSG_MSGLEN, offset_of!(libc::ifa_msghdr, ifam_msglen));
    same!(w::MSG_VERSION, offset_of!(libc::ifa_msghdr, ifam_version));
    same!(w::MSG_TYPE, offset_of!(libc::ifa_msghdr, ifam_type));
    same!(
        w::MSG_MSGLEN,
        offset_of!(libc::if_announcemsghdr, ifan_msglen)
    );
    same!(
        w::MSG_VERSION,
        offset_of!(libc::if_announcemsghdr, ifan_version)
    );
    same!(w::MSG_TYPE, offset_of!(libc::if_announcemsghdr, ifan_type));

    same!(w::IF_MSGHDR_LEN, size_of::<libc::if_msghdr>());
    same!(w::IF_MSGHDR_ADDRS, offset_of!(libc::if_msghdr, ifm_addrs));
    same!(w::IF_MSGHDR_FLAGS, offset_of!(libc::if_msghdr, ifm_flags));
    same!(w::IF_MSGHDR_INDEX, offset_of!(libc::if_msghdr, ifm_index));
    same!(w::IF_MSGHDR_DATA, offset_of!(libc::if_msghdr, ifm_data));

    same!(w::IFA_MSGHDR_LEN, size_of::<libc::ifa_msghdr>());
    same!(
        w::IFA_MSGHDR_ADDRS,
        offset_of!(libc::ifa_msghdr, ifam_addrs)
    );
    same!(
        w::IFA_MSGHDR_FLAGS,
        offset_of!(libc::ifa_msghdr, ifam_flags)
    );
    same!(
        w::IFA_MSGHDR_INDEX,
        offset_of!(libc::ifa_msghdr, ifam_index)
    );
    same!(
        w::IFA_MSGHDR_METRIC,
        offset_of!(libc::ifa_msghdr, ifam_metric)
    );

    same!(
        w::IF_ANNOUNCEMSGHDR_LEN,
        size_of::<libc::if_announcemsghdr>()
    );
    same!(
        w::IF_ANNOUNCEMSGHDR_INDEX,
        offset_of!(libc::if_announcemsghdr, ifan_index)
    );
    same!(
        w::IF_ANNOUNCEMSGHDR_NAME,
        offset_of!(libc::if_announcemsghdr, ifan_name)
    );
    same!(
        w::IF_ANNOUNCEMSGHDR_WHAT,
        offset_of!(libc::if_announcemsghdr, ifan_what)
    );
};

// struct if_data, link states, flags, struct ifreq.
const _: () = {
    same!(w::IF_DATA_LEN, size_of::<libc::if_data>());
    same!(w::IFI_TYPE, offset_of!(libc::if_data, ifi_type));
    same!(w::IFI_LINK_STATE, offset_of!(libc::if_data, ifi_link_state));
    same!(w::IFI_DATALEN, offset_of!(libc::if_data, ifi_datalen));
    same!(w::IFI_MTU, offset_of!(libc::if_data, ifi_mtu));
    same!(w::IFI_METRIC, offset_of!(libc::if_data, ifi_metric));
    same!(w::IFI_BAUDRATE, offset_of!(libc::if_data, ifi_baudrate));
    same!(w::IFI_IPACKETS, offset_of!(libc::if_data, ifi_ipackets));
    same!(w::IFI_IERRORS, offset_of!(libc::if_data, ifi_ierrors));
    same!(w::IFI_OPACKETS, offset_of!(libc::if_data, ifi_opackets));
    same!(w::IFI_OERRORS, offset_of!(libc::if_data, ifi_oerrors));
    same!(w::IFI_COLLISIONS, offset_of!(libc::if_data, ifi_collisions));
    same!(w::IFI_IBYTES, offset_of!(libc::if_data, ifi_ibytes));
    same!(w::IFI_OBYTES, offset_of!(libc::if_data, ifi_obytes));
    same!(w::IFI_IMCASTS, offset_of!(libc::if_data, ifi_imcasts));
    same!(w::IFI_OMCASTS, offset_of!(libc::if_data, ifi_omcasts));
    same!(w::IFI_IQDROPS, offset_of!(libc::if_data, ifi_iqdrops));
    same!(w::IFI_OQDROPS, offset_of!(libc::if_data, ifi_oqdrops));
    same!(w::IFI_NOPROTO, offset_of!(libc::if_data, ifi_noproto));
    same!(w::IFI_EPOCH, offset_of!(libc::if_data, __ifi_epoch));
    same!(8, size_of::<libc::time_t>());

    same!(w::LINK_STATE_UNKNOWN, libc::LINK_STATE_UNKNOWN);
    same!(w::LINK_STATE_DOWN, libc::LINK_STATE_DOWN);
    same!(w::LINK_STATE_UP, libc::LINK_STATE_UP);

    same!(w::IFF_UP, libc::IFF_UP);
    same!(w::IFF_BROADCAST, libc::IFF_BROADCAST);
    same!(w::IFF_LOOPBACK, libc::IFF_LOOPBACK);
    same!(w::IFF_POINTOPOINT, libc::IFF_POINTOPOINT);
    same!(w::IFF_RUNNING, libc::IFF_RUNNING);
    same!(w::IFF_NOARP, libc::IFF_NOARP);
    same!(w::IFF_PROMISC, libc::IFF_PROMISC);
    same!(w::IFF_ALLMULTI, libc::IFF_ALLMULTI);
    same!(w::IFF_MULTICAST, libc::IFF_MULTICAST);
    same!(w::IFF_PPROMISC, libc::IFF_PPROMISC);

    same!(w::IFREQ_LEN, size_of::<libc::ifreq>());
    same!(w::IFREQ_FLAGS, offset_of!(libc::ifreq, ifr_ifru));
    // ifr_flagshigh is the second short of `ifru_flags`, at the same
    // offset as the union.
    same!(
        w::IFREQ_FLAGSHIGH,
        offset_of!(libc::ifreq, ifr_ifru) + size_of::<libc::c_short>()
    );
    same!(size_of::<[libc::c_short; 2]>(), 4);
};

// struct ifmibdata and its sysctl names.
const _: () = {
    same!(w::IFMIBDATA_LEN, size_of::<libc::ifmibdata>());
    same!(w::IFMD_NAME, offset_of!(libc::ifmibdata, ifmd_name));
    same!(w::IFMD_PCOUNT, offset_of!(libc::ifmibdata, ifmd_pcount));
    same!(w::IFMD_FLAGS, offset_of!(libc::ifmibdata, ifmd_flags));
    same!(w::IFMD_SND_LEN, offset_of!(libc::ifmibdata, ifmd_snd_len));
    same!(
        w::IFMD_SND_MAXLEN,
        offset_of!(libc::ifmibdata, ifmd_snd_maxlen)
    );
    same!(
        w::IFMD_SND_DROPS,
        offset_of!(libc::ifmibdata, ifmd_snd_drops)
    );
    same!(w::IFMD_DATA, offset_of!(libc::ifmibdata, ifmd_data));
    // The sysctl names of <net/if_mib.h>, in libc since 0.2.18x.
    same!(super::sysctl::NETLINK_GENERIC, w::NETLINK_GENERIC);
    same!(super::sysctl::IFMIB_IFDATA, w::IFMIB_IFDATA);
    same!(super::sysctl::IFDATA_GENERAL, w::IFDATA_GENERAL);
    same!(w::NETLINK_GENERIC, libc::NETLINK_GENERIC);
    same!(w::IFMIB_SYSTEM, libc::IFMIB_SYSTEM);
    same!(w::IFMIB_IFDATA, libc::IFMIB_IFDATA);
    same!(w::IFMIB_IFCOUNT, libc::IFMIB_IFCOUNT);
    same!(w::IFDATA_GENERAL, libc::IFDATA_GENERAL);
    same!(super::sysctl::IFDATA_DRIVERNAME, libc::IFDATA_DRIVERNAME);
};

// struct ifmediareq.
const _: () = {
    same!(w::IFMEDIAREQ_LEN, size_of::<libc::ifmediareq>());
    same!(
        w::IFMEDIAREQ_CURRENT,
        offset_of!(libc::ifmediareq, ifm_current)
    );
    same!(w::IFMEDIAREQ_MASK, offset_of!(libc::ifmediareq, ifm_mask));
    same!(
        w::IFMEDIAREQ_STATUS,
        offset_of!(libc::ifmediareq, ifm_status)
    );
    same!(
        w::IFMEDIAREQ_ACTIVE,
        offset_of!(libc::ifmediareq, ifm_active)
    );
    same!(w::IFMEDIAREQ_COUNT, offset_of!(libc::ifmediareq, ifm_count));
    same!(w::IFMEDIAREQ_ULIST, offset_of!(libc::ifmediareq, ifm_ulist));
};

// Ioctl numbers: ours are encoded from libc's structure sizes; the one
// libc defines must match our encoding, which checks the encoder.
const _: () = {
    same!(super::ifreq::SIOCGIFADDR, libc::SIOCGIFADDR);
    same!(w::TAPGIFNAME, super::tap::TAPGIFNAME);
    same!(w::TAPGIFNAME, 0x4020_745d_u64);
    // Values from <sys/sockio.h> for LP64, as the header's macros give.
    same!(super::ifreq::SIOCGIFFLAGS, 0xc020_6911_u64);
    same!(super::ifreq::SIOCSIFFLAGS, 0x8020_6910_u64);
    same!(super::ifreq::SIOCGIFMTU, 0xc020_6933_u64);
    same!(super::ifreq::SIOCSIFMTU, 0x8020_6934_u64);
    same!(super::ifreq::SIOCGIFMEDIA, 0xc030_6938_u64);
    same!(super::ifreq::SIOCSIFLLADDR, 0x8020_693c_u64);
    same!(super::ifreq::SIOCIFDESTROY, 0x8020_6979_u64);
    same!(super::ifreq::SIOCSIFNAME, 0x8020_6928_u64);
    same!(super::ifreq::SIOCAIFADDR, 0x8044_692b_u64);
    same!(super::ifreq::SIOCDIFADDR, 0x8020_6919_u64);
    same!(super::ifreq::SIOCGIFNETMASK, 0xc020_6925_u64);
};
