//! Generic Netlink family and multicast-group lookup, cached both ways
//! (name → family, id → name).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::genl::{getfamily_request, Family};
use super::pool::pooled;
use super::socket::protocol_error;
use super::{MsgBuilder, NETLINK_GENERIC};

/// What the kernel says of a generic Netlink family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyInfo {
    /// The family id to put in `nlmsg_type`.
    pub id: u16,
    /// The family name.
    pub name: String,
    /// Its version, if reported.
    pub version: Option<u32>,
    /// Size of its fixed header after `genlmsghdr`, if reported.
    pub hdrsize: Option<u32>,
    /// Its largest attribute type, if reported.
    pub maxattr: Option<u32>,
    /// Its multicast groups: name and group id.
    pub mcast_groups: Vec<(String, u32)>,
}

impl FamilyInfo {
    /// The id of multicast group `name`.
    pub fn mcast_group(&self, name: &str) -> Option<u32> {
        self.mcast_groups
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| *id)
    }
}

#[derive(Default)]
struct Cache {
    by_name: HashMap<String, Arc<FamilyInfo>>,
    by_id: HashMap<u16, Arc<FamilyInfo>>,
}

fn cache() -> &'static Mutex<Cache> {
    static CACHE: OnceLock<Mutex<Cache>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Looks up the generic Netlink family `name` (cached after the first
/// success). A family the kernel does not know is `ENOENT`.
pub fn lookup_family(name: &str) -> io::Result<Arc<FamilyInfo>> {
    if let Some(f) = cache().lock().by_name.get(name) {
        return Ok(f.clone());
    }
    let info = Arc::new(query_family(name)?);
    let mut c = cache().lock();
    c.by_id.insert(info.id, info.clone());
    c.by_name.insert(info.name.clone(), info.clone());
    Ok(info)
}

/// The name of the family with id `id`, if it was looked up before.
pub fn family_name(id: u16) -> Option<String> {
    cache().lock().by_id.get(&id).map(|f| f.name.clone())
}

/// Forgets a cached family (for example after its module was unloaded and
/// reloaded with a new id).
pub fn forget_family(name: &str) {
    let mut c = cache().lock();
    if let Some(f) = c.by_name.remove(name) {
        c.by_id.remove(&f.id);
    }
}

/// The id of multicast group `group` of family `family`; `ENOENT` if the
/// family or the group does not exist.
pub fn lookup_mcast_group(family: &str, group: &str) -> io::Result<u32> {
    let info = lookup_family(family)?;
    info.mcast_group(group).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("generic netlink family {family:?} has no multicast group {group:?}"),
        )
    })
}

fn query_family(name: &str) -> io::Result<FamilyInfo> {
    let mut sock = pooled(NETLINK_GENERIC)?;
    let mut req = MsgBuilder::default();
    getfamily_request(&mut req, name);
    let reply = match sock.transact(&mut req) {
        Ok(Some(r)) => r,
        Ok(None) => return Err(protocol_error("CTRL_CMD_GETFAMILY drew no reply")),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("generic netlink family {name:?} not found"),
            ))
        }
        Err(e) => return Err(e),
    };
    let fam = Family::parse(&reply.msg())?;
    let mut mcast_groups = Vec::new();
    for g in fam.mcast_groups() {
        let g = g?;
        mcast_groups.push((g.name.to_owned(), g.id));
    }
    Ok(FamilyInfo {
        id: fam.id(),
        name: fam.name().to_owned(),
        version: fam.version(),
        hdrsize: fam.hdrsize(),
        maxattr: fam.maxattr(),
        mcast_groups,
    })
}
