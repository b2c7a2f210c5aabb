//! The main job for now: builds a small simulated network from dummy
//! devices, moves traffic over it, and prints what the netdev API reports.
//!
//! Run with `cargo run -p netdev-dummy --example demo`.

use std::time::Duration;

use netdev_core::{Flags, Ipv4Net, Netdev, PacketBatch, Registry, Result};

fn main() -> Result<()> {
    let registry = Registry::new();
    let class = netdev_dummy::register(&registry)?;

    // Two "cables": veth-like pairs a0<->b0 and a1<->b1.
    let names = ["a0", "b0", "a1", "b1"];
    let devs: Vec<Netdev> = names
        .iter()
        .map(|n| registry.open(n, "dummy"))
        .collect::<Result<_>>()?;
    for (i, dev) in devs.iter().enumerate() {
        dev.update_flags(Flags::empty(), Flags::UP)?;
        let addr = format!("10.0.{}.{}", i / 2, 1 + i % 2)
            .parse()
            .expect("literal");
        dev.set_in4(Some(Ipv4Net::with_prefix(addr, 24)?))?;
    }
    let ctl = |n: &str| class.device(n).expect("device is open");
    ctl("a0").connect(&ctl("b0"));
    ctl("a1").connect(&ctl("b1"));
    devs[3].set_mtu(9000)?;

    // Traffic: 1000 frames a0 -> b0 in batches of 32, 10 frames back.
    let mut rx_b0 = devs[1].open_rx()?;
    let mut rx_a0 = devs[0].open_rx()?;
    let frame = {
        let mut f = vec![0u8; 64];
        f[..6].copy_from_slice(&devs[1].mac()?.octets());
        f[6..12].copy_from_slice(&devs[0].mac()?.octets());
        f[12..14].copy_from_slice(&[0x88, 0xb5]);
        f
    };
    let batch_frames = [&frame[..]; 32];
    let mut sent = 0;
    while sent < 1000 {
        let n = (1000 - sent).min(32);
        sent += devs[0].send_batch(&batch_frames[..n])?;
    }
    devs[1].send_batch(&batch_frames[..10])?;
    let mut batch = PacketBatch::new(64, PacketBatch::DEFAULT_SLOT_SIZE);
    let mut received = 0;
    while rx_b0.wait(Some(Duration::ZERO))? {
        received += rx_b0.recv_batch(&mut batch)?;
    }
    let back = rx_a0.recv_batch(&mut batch)?;

    // A cable pulled: b1 loses carrier.
    ctl("b1").set_carrier(false);

    // Another class under another type name: opening an open name with
    // another type is refused.
    registry.register(netdev_dummy::DummyClass::with_type("internal"))?;

    println!(
        "{:<5} {:<6} {:>9} {:<17} {:>5} {:<36} {:<7} {:<12} {:>7} {:>7} {:>4}",
        "NAME", "TYPE", "IFINDEX", "MAC", "MTU", "FLAGS", "CARRIER", "IPV4", "RX", "TX", "SEQ"
    );
    for dev in registry.devices() {
        let stats = dev.stats()?;
        let in4 = dev.in4()?.map(|n| n.to_string()).unwrap_or_default();
        println!(
            "{:<5} {:<6} {:>9} {:<17} {:>5} {:<36} {:<7} {:<12} {:>7} {:>7} {:>4}",
            dev.name(),
            dev.type_name(),
            dev.ifindex()?,
            dev.mac()?.to_string(),
            dev.mtu()?,
            dev.flags()?.names(),
            if dev.carrier()? { "up" } else { "down" },
            in4,
            stats.rx_packets,
            stats.tx_packets,
            dev.change_seq(),
        );
    }
    println!();
    println!("b0 received {received} of {sent} frames from a0; a0 received {back} back");
    println!("b1 carrier resets: {}", devs[3].carrier_resets()?);
    let err = registry
        .open("a0", "internal")
        .expect_err("a0 is open as dummy");
    println!(
        "opening a0 as \"internal\": errno {}: {err}",
        err.raw_os_error().unwrap_or(0)
    );
    let err = registry
        .open("bad/name", "dummy")
        .expect_err("names with / are invalid");
    println!("opening \"bad/name\": {err}");
    Ok(())
}
