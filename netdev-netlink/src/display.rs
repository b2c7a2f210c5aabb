//! Human-readable rendering of Netlink messages for debug logs, in the
//! spirit of the C original's `nlmsg_to_string`.
//!
//! `MsgDisplay` renders every message in a buffer: header fields with named
//! types and flags, the errno and echoed request header of an
//! `NLMSG_ERROR`, the status of an `NLMSG_DONE`, and the generic Netlink
//! command when the caller says the buffer came from a generic socket.
//! Malformed input renders as `(malformed: ...)` rather than failing, since a
//! log line about a bad message is exactly when the formatter must work.

use std::fmt::{self, Display, Formatter};

use super::consts::{
    Protocol, CTRL_CMD_DELFAMILY, CTRL_CMD_DELMCAST_GRP, CTRL_CMD_DELOPS, CTRL_CMD_GETFAMILY,
    CTRL_CMD_GETMCAST_GRP, CTRL_CMD_GETOPS, CTRL_CMD_GETPOLICY, CTRL_CMD_NEWFAMILY,
    CTRL_CMD_NEWMCAST_GRP, CTRL_CMD_NEWOPS, CTRL_CMD_UNSPEC, GENL_ID_CTRL, NLMSG_DONE, NLMSG_ERROR,
    NLMSG_MIN_TYPE, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_APPEND,
    NLM_F_ATOMIC, NLM_F_BULK, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_FILTERED,
    NLM_F_DUMP_INTR, NLM_F_ECHO, NLM_F_EXCL, NLM_F_MATCH, NLM_F_MULTI, NLM_F_NONREC, NLM_F_REPLACE,
    NLM_F_REQUEST, NLM_F_ROOT, RTM_BASE,
};
use super::errno::errno_name;
use super::genl::GenlHeader;
use super::msg::{Header, Msg, MsgIter, MsgKind};

/// Renders the messages in a buffer for humans; see the module docs.
///
/// `protocol` is the Netlink protocol the buffer travelled on, if known: it
/// decides how message types and the high flag bits are named, and whether
/// a `genlmsghdr` is shown.
#[derive(Clone, Copy, Debug)]
pub struct MsgDisplay<'a> {
    bytes: &'a [u8],
    protocol: Option<Protocol>,
}

impl<'a> MsgDisplay<'a> {
    /// Renders `bytes`, one or more messages, as sent on `protocol`.
    #[must_use]
    pub fn new(bytes: &'a [u8], protocol: Option<Protocol>) -> Self {
        Self { bytes, protocol }
    }
}

impl<'a> Msg<'a> {
    /// This message, rendered as [`MsgDisplay`] would.
    #[must_use]
    pub fn display(&self, protocol: Option<Protocol>) -> MsgDisplay<'a> {
        MsgDisplay::new(self.bytes(), protocol)
    }
}

impl Display for MsgDisplay<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.bytes.is_empty() {
            return f.write_str("nl(empty)");
        }
        for (i, msg) in MsgIter::new(self.bytes).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            match msg {
                Ok(msg) => write_msg(f, &msg, self.protocol)?,
                Err(err) => write!(f, "(malformed: {err})")?,
            }
        }
        Ok(())
    }
}

/// What the high byte of `nlmsg_flags` means for a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlagContext {
    Get,
    New,
    Delete,
    Ack,
}

fn write_msg(f: &mut Formatter<'_>, msg: &Msg<'_>, protocol: Option<Protocol>) -> fmt::Result {
    let genl = (protocol == Some(Protocol::Generic) && msg.msg_type() >= NLMSG_MIN_TYPE)
        .then(|| msg.genl_header());
    let cmd = genl.as_ref().and_then(|g| g.as_ref().ok()).map(|g| g.cmd);
    write_header(f, msg.header(), protocol, cmd)?;
    match msg.kind() {
        Err(err) => write!(f, " (malformed: {err})"),
        Ok(MsgKind::Error(e)) => {
            if e.is_ack() {
                f.write_str(" ack(")?;
            } else {
                f.write_str(" error(")?;
                write_errno(f, e.errno())?;
                f.write_str(", ")?;
            }
            f.write_str("in-reply-to(")?;
            write_header(
                f,
                e.request(),
                protocol,
                echoed_cmd(e.request_bytes(), protocol),
            )?;
            f.write_str(")")?;
            if let Some(text) = e.message() {
                write!(f, ", msg={text:?}")?;
            }
            if let Some(offs) = e.bad_attr_offset() {
                write!(f, ", offs={offs}")?;
            }
            f.write_str(")")
        }
        Ok(MsgKind::Done(d)) => match d.status() {
            None => f.write_str(" done(no status)"),
            Some(status) if status < 0 => {
                f.write_str(" done(")?;
                write_errno(f, status.checked_neg().unwrap_or(i32::MAX))?;
                f.write_str(")")
            }
            Some(status) => write!(f, " done({status})"),
        },
        Ok(MsgKind::Noop | MsgKind::Overrun) => Ok(()),
        Ok(MsgKind::Data) => match genl {
            Some(Ok(g)) => write_genl(f, msg.msg_type(), &g),
            Some(Err(err)) => write!(f, " (malformed: {err})"),
            None => Ok(()),
        },
    }
}

/// The generic Netlink command of an echoed request, when it has one.
fn echoed_cmd(request: &[u8], protocol: Option<Protocol>) -> Option<u8> {
    if protocol != Some(Protocol::Generic) {
        return None;
    }
    request
        .get(Header::LEN..)
        .and_then(|p| GenlHeader::parse(p).ok())
        .map(|g| g.cmd)
}

/// Writes `-errno(NAME: description)`, or just `-errno` for unknown values.
fn write_errno(f: &mut Formatter<'_>, errno: i32) -> fmt::Result {
    write!(f, "{}", -i64::from(errno))?;
    if let Some((name, text)) = errno_name(errno) {
        write!(f, "({name}: {text})")?;
    }
    Ok(())
}

fn write_header(
    f: &mut Formatter<'_>,
    h: &Header,
    protocol: Option<Protocol>,
    genl_cmd: Option<u8>,
) -> fmt::Result {
    write!(f, "nl(len:{}, type={}", h.len, h.msg_type)?;
    write!(f, "({})", type_name(h.msg_type, protocol))?;
    write!(f, ", flags={:#x}", h.flags)?;
    write_flags(f, h.flags, flag_context(h.msg_type, protocol, genl_cmd))?;
    write!(f, ", seq={:#x}, pid={})", h.seq, h.pid)
}

fn write_genl(f: &mut Formatter<'_>, msg_type: u16, g: &GenlHeader) -> fmt::Result {
    write!(f, ",genl(cmd={}", g.cmd)?;
    if msg_type == GENL_ID_CTRL {
        if let Some(name) = ctrl_cmd_name(g.cmd) {
            write!(f, "({name})")?;
        }
    }
    write!(f, ",version={})", g.version)
}

fn type_name(msg_type: u16, protocol: Option<Protocol>) -> &'static str {
    match msg_type {
        NLMSG_NOOP => "NLMSG_NOOP",
        NLMSG_ERROR => "NLMSG_ERROR",
        NLMSG_DONE => "NLMSG_DONE",
        NLMSG_OVERRUN => "NLMSG_OVERRUN",
        t if t < NLMSG_MIN_TYPE => "reserved",
        t => match protocol {
            Some(Protocol::Route) => rtm_name(t).unwrap_or("rtnetlink"),
            Some(Protocol::Generic) if t == GENL_ID_CTRL => "nlctrl",
            Some(Protocol::Generic) => "genl family",
            _ => "family-defined",
        },
    }
}

fn flag_context(msg_type: u16, protocol: Option<Protocol>, genl_cmd: Option<u8>) -> FlagContext {
    if msg_type == NLMSG_ERROR {
        return FlagContext::Ack;
    }
    match protocol {
        Some(Protocol::Route) if msg_type >= RTM_BASE => match (msg_type - RTM_BASE) % 4 {
            0 => FlagContext::New,
            1 => FlagContext::Delete,
            _ => FlagContext::Get,
        },
        Some(Protocol::Generic) if msg_type == GENL_ID_CTRL => match genl_cmd {
            Some(CTRL_CMD_NEWFAMILY | CTRL_CMD_NEWOPS | CTRL_CMD_NEWMCAST_GRP) => FlagContext::New,
            Some(CTRL_CMD_DELFAMILY | CTRL_CMD_DELOPS | CTRL_CMD_DELMCAST_GRP) => {
                FlagContext::Delete
            }
            _ => FlagContext::Get,
        },
        // Unknown families: the GET meanings, as the C original always used.
        _ => FlagContext::Get,
    }
}

fn write_flags(f: &mut Formatter<'_>, flags: u16, context: FlagContext) -> fmt::Result {
    const COMMON: &[(u16, &str)] = &[
        (NLM_F_REQUEST, "REQUEST"),
        (NLM_F_MULTI, "MULTI"),
        (NLM_F_ACK, "ACK"),
        (NLM_F_ECHO, "ECHO"),
        (NLM_F_DUMP_INTR, "DUMP_INTR"),
        (NLM_F_DUMP_FILTERED, "DUMP_FILTERED"),
    ];
    const GET: &[(u16, &str)] = &[
        // DUMP first so that ROOT|MATCH prints as the one word people use.
        (NLM_F_DUMP, "DUMP"),
        (NLM_F_ROOT, "ROOT"),
        (NLM_F_MATCH, "MATCH"),
        (NLM_F_ATOMIC, "ATOMIC"),
    ];
    const NEW: &[(u16, &str)] = &[
        (NLM_F_REPLACE, "REPLACE"),
        (NLM_F_EXCL, "EXCL"),
        (NLM_F_CREATE, "CREATE"),
        (NLM_F_APPEND, "APPEND"),
    ];
    const DELETE: &[(u16, &str)] = &[(NLM_F_NONREC, "NONREC"), (NLM_F_BULK, "BULK")];
    const ACK: &[(u16, &str)] = &[(NLM_F_CAPPED, "CAPPED"), (NLM_F_ACK_TLVS, "ACK_TLVS")];

    let specific = match context {
        FlagContext::Get => GET,
        FlagContext::New => NEW,
        FlagContext::Delete => DELETE,
        FlagContext::Ack => ACK,
    };
    let mut left = flags;
    let mut first = true;
    for &(bits, name) in COMMON.iter().chain(specific) {
        if left & bits == bits {
            f.write_str(if first { "[" } else { "," })?;
            f.write_str(name)?;
            first = false;
            left &= !bits;
        }
    }
    if left != 0 {
        f.write_str(if first { "[" } else { "," })?;
        write!(f, "OTHER:{left:#x}")?;
        first = false;
    }
    if !first {
        f.write_str("]")?;
    }
    Ok(())
}

fn ctrl_cmd_name(cmd: u8) -> Option<&'static str> {
    Some(match cmd {
        CTRL_CMD_UNSPEC => "CTRL_CMD_UNSPEC",
        CTRL_CMD_NEWFAMILY => "CTRL_CMD_NEWFAMILY",
        CTRL_CMD_DELFAMILY => "CTRL_CMD_DELFAMILY",
        CTRL_CMD_GETFAMILY => "CTRL_CMD_GETFAMILY",
        CTRL_CMD_NEWOPS => "CTRL_CMD_NEWOPS",
        CTRL_CMD_DELOPS => "CTRL_CMD_DELOPS",
        CTRL_CMD_GETOPS => "CTRL_CMD_GETOPS",
        CTRL_CMD_NEWMCAST_GRP => "CTRL_CMD_NEWMCAST_GRP",
        CTRL_CMD_DELMCAST_GRP => "CTRL_CMD_DELMCAST_GRP",
        CTRL_CMD_GETMCAST_GRP => "CTRL_CMD_GETMCAST_GRP",
        CTRL_CMD_GETPOLICY => "CTRL_CMD_GETPOLICY",
        _ => return None,
    })
}

/// The name of an rtnetlink message type, if it is one this crate knows.
#[must_use]
pub fn rtm_name(msg_type: u16) -> Option<&'static str> {
    use super::consts::*;
    Some(match msg_type {
        RTM_NEWLINK => "RTM_NEWLINK",
        RTM_DELLINK => "RTM_DELLINK",
        RTM_GETLINK => "RTM_GETLINK",
        RTM_SETLINK => "RTM_SETLINK",
        RTM_NEWADDR => "RTM_NEWADDR",
        RTM_DELADDR => "RTM_DELADDR",
        RTM_GETADDR => "RTM_GETADDR",
        RTM_NEWROUTE => "RTM_NEWROUTE",
        RTM_DELROUTE => "RTM_DELROUTE",
        RTM_GETROUTE => "RTM_GETROUTE",
        RTM_NEWNEIGH => "RTM_NEWNEIGH",
        RTM_DELNEIGH => "RTM_DELNEIGH",
        RTM_GETNEIGH => "RTM_GETNEIGH",
        RTM_NEWRULE => "RTM_NEWRULE",
        RTM_DELRULE => "RTM_DELRULE",
        RTM_GETRULE => "RTM_GETRULE",
        RTM_NEWQDISC => "RTM_NEWQDISC",
        RTM_DELQDISC => "RTM_DELQDISC",
        RTM_GETQDISC => "RTM_GETQDISC",
        RTM_NEWTCLASS => "RTM_NEWTCLASS",
        RTM_DELTCLASS => "RTM_DELTCLASS",
        RTM_GETTCLASS => "RTM_GETTCLASS",
        RTM_NEWTFILTER => "RTM_NEWTFILTER",
        RTM_DELTFILTER => "RTM_DELTFILTER",
        RTM_GETTFILTER => "RTM_GETTFILTER",
        RTM_NEWNETCONF => "RTM_NEWNETCONF",
        RTM_DELNETCONF => "RTM_DELNETCONF",
        RTM_GETNETCONF => "RTM_GETNETCONF",
        RTM_NEWNSID => "RTM_NEWNSID",
        RTM_DELNSID => "RTM_DELNSID",
        RTM_GETNSID => "RTM_GETNSID",
        RTM_NEWSTATS => "RTM_NEWSTATS",
        RTM_GETSTATS => "RTM_GETSTATS",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::MsgBuilder;
    use crate::consts::{RTM_GETLINK, RTM_NEWLINK};

    fn show(bytes: &[u8], protocol: Option<Protocol>) -> String {
        MsgDisplay::new(bytes, protocol).to_string()
    }

    #[test]
    fn rtnetlink_dump_request() {
        let mut b = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP);
        b.put_fixed(&[17]).set_seq(0x42).set_pid(7);
        let bytes = b.finish().unwrap();
        assert_eq!(
            show(bytes, Some(Protocol::Route)),
            "nl(len:20, type=18(RTM_GETLINK), flags=0x301[REQUEST,DUMP], seq=0x42, pid=7)"
        );
    }

    #[test]
    fn new_request_flags_are_spelled_in_context() {
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE;
        let mut b = MsgBuilder::new(RTM_NEWLINK, flags);
        let bytes = b.finish().unwrap();
        let text = show(bytes, Some(Protocol::Route));
        assert!(
            text.contains("flags=0x605[REQUEST,ACK,EXCL,CREATE]"),
            "{text}"
        );
        // Without a protocol the same bits read as GET flags.
        let text = show(bytes, None);
        assert!(text.contains("type=16(family-defined)"), "{text}");
        assert!(text.contains("[REQUEST,ACK,MATCH,ATOMIC]"), "{text}");
    }

    #[test]
    fn delete_and_unknown_bits() {
        let mut b = MsgBuilder::new(17, NLM_F_REQUEST | NLM_F_NONREC | 0x8000);
        let text = show(b.finish().unwrap(), Some(Protocol::Route));
        assert!(text.contains("type=17(RTM_DELLINK)"), "{text}");
        assert!(text.contains("[REQUEST,NONREC,OTHER:0x8000]"), "{text}");
        let mut b = MsgBuilder::new(200, 0);
        let text = show(b.finish().unwrap(), Some(Protocol::Route));
        assert!(text.contains("type=200(rtnetlink), flags=0x0, "), "{text}");
    }

    #[test]
    fn reserved_types() {
        for (t, name) in [
            (NLMSG_NOOP, "NLMSG_NOOP"),
            (NLMSG_OVERRUN, "NLMSG_OVERRUN"),
            (9, "reserved"),
        ] {
            let mut b = MsgBuilder::new(t, 0);
            let text = show(b.finish().unwrap(), None);
            assert_eq!(
                text,
                format!("nl(len:16, type={t}({name}), flags=0x0, seq=0x0, pid=0)")
            );
        }
    }

    #[test]
    fn error_and_ack() {
        let mut req = MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
        req.set_seq(5);
        let req = req.finish().unwrap().to_vec();
        let mut b = MsgBuilder::new(NLMSG_ERROR, 0);
        b.put_fixed(&(-19i32).to_ne_bytes())
            .put_fixed(&req)
            .set_seq(5);
        let text = show(b.finish().unwrap(), Some(Protocol::Route));
        assert_eq!(
            text,
            "nl(len:36, type=2(NLMSG_ERROR), flags=0x0, seq=0x5, pid=0) \
             error(-19(ENODEV: No such device), in-reply-to(nl(len:16, type=16(RTM_NEWLINK), \
             flags=0x5[REQUEST,ACK], seq=0x5, pid=0)))"
        );

        let mut b = MsgBuilder::new(NLMSG_ERROR, NLM_F_CAPPED);
        b.put_fixed(&0i32.to_ne_bytes()).put_fixed(&req);
        let text = show(b.finish().unwrap(), Some(Protocol::Route));
        assert!(
            text.contains("flags=0x100[CAPPED], seq=0x0, pid=0) ack(in-reply-to(nl("),
            "{text}"
        );

        // Unknown errno: number only.
        let mut b = MsgBuilder::new(NLMSG_ERROR, 0);
        b.put_fixed(&(-4000i32).to_ne_bytes()).put_fixed(&req);
        assert!(show(b.finish().unwrap(), None).contains(" error(-4000, in-reply-to("));
    }

    #[test]
    fn done_statuses() {
        let mut b = MsgBuilder::new(NLMSG_DONE, NLM_F_MULTI);
        b.put_fixed(&0i32.to_ne_bytes());
        assert!(show(b.finish().unwrap(), None).ends_with("pid=0) done(0)"));
        b.reset(NLMSG_DONE, NLM_F_MULTI)
            .put_fixed(&(-16i32).to_ne_bytes());
        assert!(
            show(b.finish().unwrap(), None).ends_with(" done(-16(EBUSY: Device or resource busy))")
        );
        b.reset(NLMSG_DONE, NLM_F_MULTI)
            .put_fixed(&i32::MIN.to_ne_bytes());
        assert!(show(b.finish().unwrap(), None).contains(" done(-2147483647)"));
        b.reset(NLMSG_DONE, NLM_F_MULTI);
        assert!(show(b.finish().unwrap(), None).ends_with(" done(no status)"));
    }

    #[test]
    fn generic_netlink_command() {
        let mut b = MsgBuilder::new_genl(GENL_ID_CTRL, NLM_F_REQUEST, CTRL_CMD_GETFAMILY, 1);
        let bytes = b.finish().unwrap();
        assert_eq!(
            show(bytes, Some(Protocol::Generic)),
            "nl(len:20, type=16(nlctrl), flags=0x1[REQUEST], seq=0x0, pid=0),\
             genl(cmd=3(CTRL_CMD_GETFAMILY),version=1)"
        );
        // Not said to be generic: no genl part.
        assert!(!show(bytes, Some(Protocol::Route)).contains("genl("));
        let mut b = MsgBuilder::new_genl(30, 0, 7, 2);
        assert!(show(b.finish().unwrap(), Some(Protocol::Generic))
            .contains("type=30(genl family), flags=0x0, seq=0x0, pid=0),genl(cmd=7,version=2)"));
    }

    #[test]
    fn malformed_input_is_described_not_fatal() {
        assert_eq!(show(&[], None), "nl(empty)");
        assert_eq!(
            show(&[1, 2, 3], None),
            "(malformed: message at offset 0: needs 16 bytes, only 3 available)"
        );
        // Truncated error payload.
        let mut b = MsgBuilder::new(NLMSG_ERROR, 0);
        b.put_fixed(&(-1i32).to_ne_bytes());
        let text = show(b.finish().unwrap(), None);
        assert!(
            text.ends_with(
                " (malformed: error payload at offset 16: needs 20 bytes, only 4 available)"
            ),
            "{text}"
        );
        // Generic message too short for its genlmsghdr.
        let mut b = MsgBuilder::new(GENL_ID_CTRL, 0);
        let text = show(b.finish().unwrap(), Some(Protocol::Generic));
        assert!(
            text.contains("(malformed: generic netlink header"),
            "{text}"
        );
        // A good message followed by garbage.
        let mut b = MsgBuilder::new(NLMSG_NOOP, 0);
        let mut bytes = b.finish().unwrap().to_vec();
        bytes.extend_from_slice(&[0xff; 20]);
        let text = show(&bytes, None);
        assert!(
            text.contains("; (malformed: message at offset 16: length"),
            "{text}"
        );
    }

    #[test]
    fn several_messages_are_separated() {
        let mut b = MsgBuilder::new(NLMSG_NOOP, 0);
        let one = b.finish().unwrap().to_vec();
        let two = [one.clone(), one].concat();
        assert_eq!(show(&two, None).matches("NLMSG_NOOP").count(), 2);
        assert_eq!(show(&two, None).matches("; ").count(), 1);
    }

    #[test]
    fn msg_display_helper() {
        let mut b = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST);
        let bytes = b.finish().unwrap();
        let msg = Msg::parse(bytes).unwrap();
        assert_eq!(
            msg.display(Some(Protocol::Route)).to_string(),
            show(bytes, Some(Protocol::Route))
        );
    }
}
