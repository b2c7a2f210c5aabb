//! `netdev watch`: the library's change events, printed as they come.
//!
//! Opening a device is what starts the library's notifier, so every device
//! is opened first (and every device that appears later, as it appears);
//! the handles are kept for as long as the device exists.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use netdev::{Change, ErrorKind, Netdev, Subscription};

use super::format;
use super::record::{EventKind, EventRecord};
use super::{host, CliError, Ctx};

/// A device being watched, under the name last printed for it.
struct Watched {
    name: String,
    dev: Option<Netdev>,
}

pub(crate) fn run(
    ctx: &mut Ctx,
    count: Option<u64>,
    timeout: Option<Duration>,
) -> Result<(), CliError> {
    // A deadline too far to represent is no deadline.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    // Subscribed before the first open starts the notifier, so no event
    // it reports is missed.
    let events = ctx.registry.subscribe()?;
    let mut watched = HashMap::new();
    resync(ctx, &mut watched)?;
    if watched.values().all(|w| w.dev.is_none()) {
        return Err(CliError::Other(
            "watch: no device could be opened, so no change can be seen".into(),
        ));
    }
    // A device created between the listing and the notifier's start sent
    // its event to nobody; the notifier runs now, so list once more.
    resync(ctx, &mut watched)?;
    eprintln!(
        "netdev: watching {}; stop with Ctrl-C",
        format::count(watched.len() as u64, "device")
    );
    let mut printed = 0;
    while count.map_or(true, |c| printed < c) {
        let Some(change) = next(&events, deadline)? else {
            break;
        };
        if let Some(event) = describe(ctx, &mut watched, change)? {
            if ctx.json {
                ctx.print_json_line(&event)?;
            } else {
                ctx.print_line(&event.text())?;
            }
            printed += 1;
        }
    }
    Ok(())
}

/// The next event, or `None` once the deadline passed.
fn next(events: &Subscription, deadline: Option<Instant>) -> Result<Option<Change>, CliError> {
    match deadline {
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            Ok(events.recv_timeout(left))
        }
        None => events
            .receiver()
            .recv()
            .map(Some)
            .map_err(|_| CliError::Other("watch: the change notifier stopped".into())),
    }
}

/// Brings the set of watched devices in line with the host: opens new
/// ones, forgets removed ones, follows renames. Used at the start and
/// after lost events, silently: only real events are printed.
fn resync(ctx: &mut Ctx, watched: &mut HashMap<u32, Watched>) -> Result<(), CliError> {
    let links = host::links(ctx, "watch")?;
    let present: std::collections::HashSet<u32> = links.iter().map(|l| l.ifindex).collect();
    watched.retain(|i, _| present.contains(i));
    for link in links {
        match watched.get_mut(&link.ifindex) {
            Some(w) => w.name = link.name,
            None => {
                let dev = open(ctx, &link.name)?;
                watched.insert(
                    link.ifindex,
                    Watched {
                        name: link.name,
                        dev,
                    },
                );
            }
        }
    }
    Ok(())
}

/// Opens a device that exists or existed a moment ago. One that is already
/// gone again (or renamed) is not an error: its removal is an event of its
/// own.
fn open(ctx: &mut Ctx, name: &str) -> Result<Option<Netdev>, CliError> {
    match ctx.open("watch", name) {
        Ok(dev) => Ok(Some(dev)),
        Err(CliError::Netdev(e)) if e.kind() == &ErrorKind::NoDevice => Ok(None),
        Err(e @ CliError::Unsupported(_)) => Err(e),
        Err(e) => {
            ctx.warn(e);
            Ok(None)
        }
    }
}

fn now() -> (String, String) {
    let t = jiff::Zoned::now();
    (
        t.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
        t.strftime("%H:%M:%S%.3f").to_string(),
    )
}

/// The line to print for `change`, updating the watched set on the way.
fn describe(
    ctx: &mut Ctx,
    watched: &mut HashMap<u32, Watched>,
    change: Change,
) -> Result<Option<EventRecord>, CliError> {
    let (time, clock) = now();
    let event = |event, ifindex, name| EventRecord {
        time: time.clone(),
        clock: clock.clone(),
        event,
        ifindex: Some(ifindex),
        name: Some(name),
        ..EventRecord::default()
    };
    let record = match change {
        Change::LinkChanged {
            ifindex,
            name: Some(name),
            info,
        } => match watched.get_mut(&ifindex) {
            Some(w) if w.name != name.as_str() => {
                let name = String::from(name);
                let old = std::mem::replace(&mut w.name, name.clone());
                let mut r = event(EventKind::Renamed, ifindex, name).with_info(&info);
                r.old_name = Some(old);
                r
            }
            Some(_) => event(EventKind::Link, ifindex, name.into()).with_info(&info),
            None => {
                let name = String::from(name);
                let dev = open(ctx, &name)?;
                watched.insert(
                    ifindex,
                    Watched {
                        name: name.clone(),
                        dev,
                    },
                );
                event(EventKind::Added, ifindex, name).with_info(&info)
            }
        },
        // No name in the message: no rename, whatever name we know.
        Change::LinkChanged {
            ifindex,
            name: None,
            info,
        } => match watched.get(&ifindex) {
            Some(w) => event(EventKind::Link, ifindex, w.name.clone()).with_info(&info),
            None => {
                log::debug!("watch: change of unknown ifindex {ifindex} without a name");
                return Ok(None);
            }
        },
        Change::LinkRemoved { ifindex, name } => {
            watched.remove(&ifindex);
            event(EventKind::Removed, ifindex, name.into())
        }
        Change::AddrChanged { ifindex } => {
            let (name, dev) = match watched.get(&ifindex) {
                Some(w) => (Some(w.name.clone()), w.dev.clone()),
                None => (None, None),
            };
            let mut r = EventRecord {
                name,
                ..event(EventKind::Address, ifindex, String::new())
            };
            // The library drops a device's cached addresses before it
            // delivers the event, so these are the addresses after it.
            if let Some(dev) = dev {
                r.ipv4 = still_there(ctx, dev.in4())
                    .map(|a| a.iter().map(ToString::to_string).collect());
                r.ipv6 = still_there(ctx, dev.in6())
                    .map(|a| a.iter().map(ToString::to_string).collect());
            }
            r
        }
        Change::Overflow => {
            resync(ctx, watched)?;
            EventRecord {
                time,
                clock,
                event: EventKind::Overflow,
                ..EventRecord::default()
            }
        }
        other => {
            log::debug!("watch: ignoring {other:?}");
            return Ok(None);
        }
    };
    Ok(Some(record))
}

/// Like [`Ctx::value`], except that a device removed since the event is
/// not a failure: its removal is the next event.
fn still_there<T>(ctx: &mut Ctx, r: netdev::Result<T>) -> Option<T> {
    match r {
        Err(e) if matches!(e.kind(), ErrorKind::NoDevice | ErrorKind::Gone) => None,
        r => ctx.value(r),
    }
}
