//! brctl-style requests: what a client sends the daemon.

use std::fmt;

use netdev_netlink::{policy_table, Msg, MsgBuilder, Parsed, Policy, NLM_F_REQUEST};

use super::error::ProtoError;
use super::{
    finish, open_genl, single_msg, validate_request_name, BRC_GENL_A_DP_NAME, BRC_GENL_A_FDB_COUNT,
    BRC_GENL_A_FDB_SKIP, BRC_GENL_A_MAX, BRC_GENL_A_PORT_NAME, BRC_GENL_C_DP_ADD,
    BRC_GENL_C_DP_DEL, BRC_GENL_C_DP_RESULT, BRC_GENL_C_FDB_QUERY, BRC_GENL_C_GET_BRIDGES,
    BRC_GENL_C_GET_PORTS, BRC_GENL_C_GET_PORT_STATS, BRC_GENL_C_PORT_ADD, BRC_GENL_C_PORT_DEL,
    BRC_GENL_C_QUERY_MC, VERSION,
};

/// The commands of the protocol (all but `UNSPEC`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    /// `DP_ADD`: add a bridge.
    DpAdd,
    /// `DP_DEL`: delete a bridge.
    DpDel,
    /// `DP_RESULT`: the daemon's reply.
    DpResult,
    /// `PORT_ADD`: add an interface to a bridge.
    PortAdd,
    /// `PORT_DEL`: remove an interface from a bridge.
    PortDel,
    /// `QUERY_MC`: ask for the multicast group id.
    QueryMc,
    /// `FDB_QUERY`: read a page of a forwarding database.
    FdbQuery,
    /// `GET_BRIDGES`: list the bridges.
    GetBridges,
    /// `GET_PORTS`: list a bridge's ports.
    GetPorts,
    /// `GET_PORT_STATS` (extension): a bridge's per-port counters.
    GetPortStats,
}

impl Command {
    /// Every command, in wire order.
    pub const ALL: [Command; 10] = [
        Self::DpAdd,
        Self::DpDel,
        Self::DpResult,
        Self::PortAdd,
        Self::PortDel,
        Self::QueryMc,
        Self::FdbQuery,
        Self::GetBridges,
        Self::GetPorts,
        Self::GetPortStats,
    ];

    /// The command with wire number `cmd`, if there is one (0, `UNSPEC`,
    /// is none).
    #[must_use]
    pub fn from_wire(cmd: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.to_wire() == cmd)
    }

    /// The wire number (`BRC_GENL_C_*`).
    #[must_use]
    pub fn to_wire(self) -> u8 {
        match self {
            Self::DpAdd => BRC_GENL_C_DP_ADD,
            Self::DpDel => BRC_GENL_C_DP_DEL,
            Self::DpResult => BRC_GENL_C_DP_RESULT,
            Self::PortAdd => BRC_GENL_C_PORT_ADD,
            Self::PortDel => BRC_GENL_C_PORT_DEL,
            Self::QueryMc => BRC_GENL_C_QUERY_MC,
            Self::FdbQuery => BRC_GENL_C_FDB_QUERY,
            Self::GetBridges => BRC_GENL_C_GET_BRIDGES,
            Self::GetPorts => BRC_GENL_C_GET_PORTS,
            Self::GetPortStats => BRC_GENL_C_GET_PORT_STATS,
        }
    }

    /// The name in the C header, without its `BRC_GENL_C_` prefix.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::DpAdd => "DP_ADD",
            Self::DpDel => "DP_DEL",
            Self::DpResult => "DP_RESULT",
            Self::PortAdd => "PORT_ADD",
            Self::PortDel => "PORT_DEL",
            Self::QueryMc => "QUERY_MC",
            Self::FdbQuery => "FDB_QUERY",
            Self::GetBridges => "GET_BRIDGES",
            Self::GetPorts => "GET_PORTS",
            Self::GetPortStats => "GET_PORT_STATS",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A request to the daemon.
///
/// Names are kept exactly as sent; the codec only insists that they are
/// NUL-terminated UTF-8 strings. Check them with
/// [`validate_names`](Self::validate_names) before acting on them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Request {
    /// `DP_ADD` (`brctl addbr NAME`).
    AddBridge {
        /// `DP_NAME`.
        name: String,
    },
    /// `DP_DEL` (`brctl delbr NAME`).
    DelBridge {
        /// `DP_NAME`.
        name: String,
    },
    /// `PORT_ADD` (`brctl addif BRIDGE PORT`).
    AddPort {
        /// `DP_NAME`.
        bridge: String,
        /// `PORT_NAME`.
        port: String,
    },
    /// `PORT_DEL` (`brctl delif BRIDGE PORT`).
    DelPort {
        /// `DP_NAME`.
        bridge: String,
        /// `PORT_NAME`.
        port: String,
    },
    /// `FDB_QUERY` (`brctl showmacs BRIDGE`, one page): skip `skip`
    /// records, then return at most `count` (see [`super::fdb_page`]).
    FdbQuery {
        /// `DP_NAME`.
        bridge: String,
        /// `FDB_COUNT`.
        count: u64,
        /// `FDB_SKIP`.
        skip: u64,
    },
    /// `GET_BRIDGES` (`brctl show`): the bridges' ifindexes.
    GetBridges,
    /// `GET_PORTS` (`brctl show BRIDGE`): the bridge's ports' ifindexes.
    GetPorts {
        /// `DP_NAME`.
        bridge: String,
    },
    /// `QUERY_MC`: the multicast group id.
    QueryMc,
    /// `GET_PORT_STATS` (extension, `brctl showstats BRIDGE`): the
    /// bridge's per-port frame counters.
    GetPortStats {
        /// `DP_NAME`.
        bridge: String,
    },
}

/// One policy for every request, as in the seed: all attributes optional
/// here, then each command requires its own.
static REQUEST_POLICY: [Policy; BRC_GENL_A_MAX as usize + 1] = policy_table(&[
    (
        BRC_GENL_A_DP_NAME,
        Policy::string("BRC_GENL_A_DP_NAME").optional(),
    ),
    (
        BRC_GENL_A_PORT_NAME,
        Policy::string("BRC_GENL_A_PORT_NAME").optional(),
    ),
    (
        BRC_GENL_A_FDB_COUNT,
        Policy::u64("BRC_GENL_A_FDB_COUNT").optional(),
    ),
    (
        BRC_GENL_A_FDB_SKIP,
        Policy::u64("BRC_GENL_A_FDB_SKIP").optional(),
    ),
]);

type RequestAttrs<'a> = Parsed<'a, { BRC_GENL_A_MAX as usize + 1 }>;

fn string(attrs: &RequestAttrs<'_>, attr: u16) -> Result<String, ProtoError> {
    Ok(attrs.str(attr)?.to_owned())
}

impl Request {
    /// The request's command.
    #[must_use]
    pub fn command(&self) -> Command {
        match self {
            Self::AddBridge { .. } => Command::DpAdd,
            Self::DelBridge { .. } => Command::DpDel,
            Self::AddPort { .. } => Command::PortAdd,
            Self::DelPort { .. } => Command::PortDel,
            Self::FdbQuery { .. } => Command::FdbQuery,
            Self::GetBridges => Command::GetBridges,
            Self::GetPorts { .. } => Command::GetPorts,
            Self::QueryMc => Command::QueryMc,
            Self::GetPortStats { .. } => Command::GetPortStats,
        }
    }

    /// The bridge and interface names the request carries, in wire order.
    #[must_use]
    pub fn names(&self) -> Vec<&str> {
        match self {
            Self::AddBridge { name } | Self::DelBridge { name } => vec![name],
            Self::AddPort { bridge, port } | Self::DelPort { bridge, port } => {
                vec![bridge, port]
            }
            Self::FdbQuery { bridge, .. }
            | Self::GetPorts { bridge }
            | Self::GetPortStats { bridge } => vec![bridge],
            Self::GetBridges | Self::QueryMc => vec![],
        }
    }

    /// Checks every name with [`validate_request_name`]; the first that
    /// fails is the error.
    pub fn validate_names(&self) -> Result<(), netdev_core::Error> {
        self.names().into_iter().try_for_each(validate_request_name)
    }

    /// Starts `b` over as this request for `family` with sequence number
    /// `seq` (port id 0; a [`netdev_netlink::Matcher`] may renumber it),
    /// and returns the finished message.
    ///
    /// Fails when a name contains a NUL byte or the message would exceed
    /// [`super::MAX_MESSAGE_LEN`].
    pub fn encode<'b>(
        &self,
        b: &'b mut MsgBuilder,
        family: u16,
        seq: u32,
    ) -> Result<&'b [u8], ProtoError> {
        b.reset_genl(family, NLM_F_REQUEST, self.command().to_wire(), VERSION)
            .set_seq(seq);
        match self {
            Self::AddBridge { name } | Self::DelBridge { name } => {
                b.put_str(BRC_GENL_A_DP_NAME, name);
            }
            Self::AddPort { bridge, port } | Self::DelPort { bridge, port } => {
                b.put_str(BRC_GENL_A_DP_NAME, bridge)
                    .put_str(BRC_GENL_A_PORT_NAME, port);
            }
            Self::FdbQuery {
                bridge,
                count,
                skip,
            } => {
                b.put_str(BRC_GENL_A_DP_NAME, bridge)
                    .put_u64(BRC_GENL_A_FDB_COUNT, *count)
                    .put_u64(BRC_GENL_A_FDB_SKIP, *skip);
            }
            Self::GetPorts { bridge } | Self::GetPortStats { bridge } => {
                b.put_str(BRC_GENL_A_DP_NAME, bridge);
            }
            Self::GetBridges | Self::QueryMc => {}
        }
        finish(b)
    }

    /// Decodes a request of `family`; returns its sequence number with it
    /// (the port id to echo is [`Msg::pid`]).
    ///
    /// Attributes a command does not use are checked for shape and then
    /// ignored; attributes the protocol does not know are skipped.
    pub fn decode(msg: &Msg<'_>, family: u16) -> Result<(u32, Request), ProtoError> {
        let (cmd, attrs) = open_genl(msg, family)?;
        let command = Command::from_wire(cmd).ok_or(ProtoError::UnknownCommand(cmd))?;
        let not_a_request = ProtoError::UnexpectedCommand {
            cmd,
            expected: "request",
        };
        if command == Command::DpResult {
            return Err(not_a_request);
        }
        let a = attrs.parse(&REQUEST_POLICY)?;
        let request = match command {
            Command::DpAdd => Self::AddBridge {
                name: string(&a, BRC_GENL_A_DP_NAME)?,
            },
            Command::DpDel => Self::DelBridge {
                name: string(&a, BRC_GENL_A_DP_NAME)?,
            },
            Command::PortAdd => Self::AddPort {
                bridge: string(&a, BRC_GENL_A_DP_NAME)?,
                port: string(&a, BRC_GENL_A_PORT_NAME)?,
            },
            Command::PortDel => Self::DelPort {
                bridge: string(&a, BRC_GENL_A_DP_NAME)?,
                port: string(&a, BRC_GENL_A_PORT_NAME)?,
            },
            Command::FdbQuery => Self::FdbQuery {
                bridge: string(&a, BRC_GENL_A_DP_NAME)?,
                count: a.u64(BRC_GENL_A_FDB_COUNT)?,
                skip: a.u64(BRC_GENL_A_FDB_SKIP)?,
            },
            Command::GetBridges => Self::GetBridges,
            Command::GetPorts => Self::GetPorts {
                bridge: string(&a, BRC_GENL_A_DP_NAME)?,
            },
            Command::QueryMc => Self::QueryMc,
            Command::GetPortStats => Self::GetPortStats {
                bridge: string(&a, BRC_GENL_A_DP_NAME)?,
            },
            Command::DpResult => return Err(not_a_request),
        };
        Ok((msg.seq(), request))
    }

    /// Decodes a datagram holding one request of `family`, as received
    /// from the transport: [`decode`](Self::decode) after the size limit
    /// and the one-message framing are checked.
    pub fn parse(datagram: &[u8], family: u16) -> Result<(u32, Request), ProtoError> {
        Self::decode(&single_msg(datagram)?, family)
    }
}

#[cfg(test)]
mod tests {
    use netdev_netlink::{Error, StringProblem};

    use super::super::UNIX_FAMILY_ID;
    use super::*;

    #[test]
    fn commands_map_to_their_wire_numbers() {
        for cmd in 0..=u8::MAX {
            match Command::from_wire(cmd) {
                Some(c) => assert_eq!(c.to_wire(), cmd),
                None => assert!(cmd == 0 || cmd > 10, "{cmd}"),
            }
        }
        assert_eq!(Command::from_wire(7), Some(Command::FdbQuery));
        assert_eq!(Command::GetPorts.to_string(), "GET_PORTS");
    }

    #[test]
    fn names_and_their_validation() {
        let r = Request::AddPort {
            bridge: "br0".into(),
            port: "eth0".into(),
        };
        assert_eq!(r.names(), ["br0", "eth0"]);
        assert!(r.validate_names().is_ok());
        let r = Request::DelPort {
            bridge: "br0".into(),
            port: "x/../../etc".into(),
        };
        let err = r.validate_names().unwrap_err();
        assert!(err.to_string().contains("'/'"), "{err}");
        assert!(Request::GetBridges.validate_names().is_ok());
        let r = Request::FdbQuery {
            bridge: "-rf".into(),
            count: 1,
            skip: 0,
        };
        assert!(r.validate_names().is_err());
    }

    #[test]
    fn a_name_with_a_nul_cannot_be_sent() {
        let r = Request::AddBridge {
            name: "br\0evil".into(),
        };
        let err = r
            .encode(&mut MsgBuilder::default(), UNIX_FAMILY_ID, 1)
            .unwrap_err();
        assert!(matches!(
            err,
            ProtoError::Build(Error::BadString {
                problem: StringProblem::InteriorNul(2),
                ..
            })
        ));
    }

    #[test]
    fn the_builder_is_reused_cleanly() {
        let mut b = MsgBuilder::default();
        let long = Request::FdbQuery {
            bridge: "a-long-bridge".into(),
            count: 9,
            skip: 9,
        };
        long.encode(&mut b, UNIX_FAMILY_ID, 1).unwrap();
        let short = Request::GetBridges;
        let reused = short.encode(&mut b, UNIX_FAMILY_ID, 2).unwrap().to_vec();
        let fresh = short
            .encode(&mut MsgBuilder::default(), UNIX_FAMILY_ID, 2)
            .unwrap()
            .to_vec();
        assert_eq!(reused, fresh);
        // A failed encode does not poison the next one.
        let bad = Request::DelBridge { name: "\0".into() };
        assert!(bad.encode(&mut b, UNIX_FAMILY_ID, 3).is_err());
        assert_eq!(short.encode(&mut b, UNIX_FAMILY_ID, 2).unwrap(), fresh);
    }

    #[test]
    fn any_genl_version_is_accepted() {
        let mut b = MsgBuilder::default();
        let mut bytes = Request::GetBridges
            .encode(&mut b, UNIX_FAMILY_ID, 4)
            .unwrap()
            .to_vec();
        bytes[17] = 0; // version 0
        assert_eq!(
            Request::parse(&bytes, UNIX_FAMILY_ID),
            Ok((4, Request::GetBridges))
        );
    }
}
