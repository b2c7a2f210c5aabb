//! Runs one bridge of the embedded switch on the devices named on the
//! command line, in the calling namespace, and prints each port's counters
//! every second until interrupted:
//!
//! ```text
//! cargo run --release -p netdev-switch --example switch -- br0 veth1 veth2
//! ```
//!
//! The bridge's local port is a tap named after it (`--no-local` leaves it
//! out). A port written `NAME:VID` is an access port of VLAN VID.

use std::time::Duration;

use netdev_switch::{BridgeConfig, PortConfig, Switch, SwitchConfig, SwitchOptions, VlanMode};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let no_local = args.iter().any(|a| a == "--no-local");
    args.retain(|a| a != "--no-local");
    let Some((bridge, ports)) = args.split_first() else {
        eprintln!("usage: switch [--no-local] BRIDGE PORT[:VID]...");
        std::process::exit(2);
    };
    let registry = netdev::Registry::new();
    if let Err(e) = netdev::register_platform(&registry) {
        eprintln!("switch: {e}");
        std::process::exit(1);
    }
    let mut br = if no_local {
        BridgeConfig::default()
    } else {
        BridgeConfig::with_local_port(bridge)
    };
    for p in ports {
        let (name, vlan) = match p.split_once(':') {
            Some((n, v)) => match v.parse() {
                Ok(v) => (n, VlanMode::Access(v)),
                Err(_) => {
                    eprintln!("switch: bad VLAN in {p:?}");
                    std::process::exit(2);
                }
            },
            None => (p.as_str(), VlanMode::Trunk),
        };
        br = br.port(name, PortConfig::member(name).with_vlan(vlan));
    }
    let mut options = SwitchOptions::default();
    // NETDEV_SWITCH_OFFLOAD=0: complete frames only (for comparisons).
    if std::env::var("NETDEV_SWITCH_OFFLOAD").is_ok_and(|v| v == "0") {
        options.offload = false;
    }
    let switch = match Switch::new(registry, options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("switch: {e}");
            std::process::exit(1);
        }
    };
    for problem in switch.apply(&SwitchConfig::new().bridge(bridge, br)) {
        eprintln!("switch: {problem}");
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let Some(ports) = switch.ports(bridge) else {
            return;
        };
        for p in ports {
            let c = p.counters;
            println!(
                "{:>3} {:<12} rx {:>10} fwd {:>10} flood {:>8} drop {:>6} tx {:>10} txdrop {:>6} overrun {:>6}{}",
                p.port_no,
                netdev::Escaped(&p.name).to_string(),
                c.rx_packets,
                c.forwarded,
                c.flooded,
                c.dropped,
                c.tx_packets,
                c.tx_dropped,
                c.rx_overruns,
                p.error.map(|e| format!("  ({e})")).unwrap_or_default()
            );
        }
    }
}
