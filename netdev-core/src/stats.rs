//! Interface statistics.

/// Interface counters, one field for each counter of Open vSwitch's
/// `struct netdev_stats` (the same set as Linux `rtnl_link_stats64`).
///
/// A backend that cannot measure a counter leaves it at 0.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Stats {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Bad packets received.
    pub rx_errors: u64,
    /// Packet transmit problems.
    pub tx_errors: u64,
    /// Received packets dropped (no space in buffers, device down...).
    pub rx_dropped: u64,
    /// Packets dropped on transmit.
    pub tx_dropped: u64,
    /// Multicast packets received.
    pub multicast: u64,
    /// Collisions.
    pub collisions: u64,
    /// Received frames with a length error.
    pub rx_length_errors: u64,
    /// Receiver ring buffer overruns.
    pub rx_over_errors: u64,
    /// Received frames with a CRC error.
    pub rx_crc_errors: u64,
    /// Received frames with a frame alignment error.
    pub rx_frame_errors: u64,
    /// Receiver FIFO overruns.
    pub rx_fifo_errors: u64,
    /// Frames the receiver missed.
    pub rx_missed_errors: u64,
    /// Transmissions aborted.
    pub tx_aborted_errors: u64,
    /// Carrier errors on transmit.
    pub tx_carrier_errors: u64,
    /// Transmit FIFO errors.
    pub tx_fifo_errors: u64,
    /// Heartbeat errors on transmit.
    pub tx_heartbeat_errors: u64,
    /// Late collisions and other window errors on transmit.
    pub tx_window_errors: u64,
}

impl Stats {
    /// Every counter with its conventional name (the names of
    /// `rtnl_link_stats64`, as `ip -j -s link` prints the main ones), for
    /// generic display and comparison.
    pub fn fields(&self) -> [(&'static str, u64); 21] {
        [
            ("rx_packets", self.rx_packets),
            ("tx_packets", self.tx_packets),
            ("rx_bytes", self.rx_bytes),
            ("tx_bytes", self.tx_bytes),
            ("rx_errors", self.rx_errors),
            ("tx_errors", self.tx_errors),
            ("rx_dropped", self.rx_dropped),
            ("tx_dropped", self.tx_dropped),
            ("multicast", self.multicast),
            ("collisions", self.collisions),
            ("rx_length_errors", self.rx_length_errors),
            ("rx_over_errors", self.rx_over_errors),
            ("rx_crc_errors", self.rx_crc_errors),
            ("rx_frame_errors", self.rx_frame_errors),
            ("rx_fifo_errors", self.rx_fifo_errors),
            ("rx_missed_errors", self.rx_missed_errors),
            ("tx_aborted_errors", self.tx_aborted_errors),
            ("tx_carrier_errors", self.tx_carrier_errors),
            ("tx_fifo_errors", self.tx_fifo_errors),
            ("tx_heartbeat_errors", self.tx_heartbeat_errors),
            ("tx_window_errors", self.tx_window_errors),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cover_every_counter_once() {
        // Give every counter a distinct value; `fields` must report each one
        // exactly once, so a counter added to the struct but not to
        // `fields` (or listed twice) fails here.
        let s = Stats {
            rx_packets: 1,
            tx_packets: 2,
            rx_bytes: 3,
            tx_bytes: 4,
            rx_errors: 5,
            tx_errors: 6,
            rx_dropped: 7,
            tx_dropped: 8,
            multicast: 9,
            collisions: 10,
            rx_length_errors: 11,
            rx_over_errors: 12,
            rx_crc_errors: 13,
            rx_frame_errors: 14,
            rx_fifo_errors: 15,
            rx_missed_errors: 16,
            tx_aborted_errors: 17,
            tx_carrier_errors: 18,
            tx_fifo_errors: 19,
            tx_heartbeat_errors: 20,
            tx_window_errors: 21,
        };
        let mut values: Vec<u64> = s.fields().iter().map(|f| f.1).collect();
        values.sort_unstable();
        assert_eq!(values, (1..=21).collect::<Vec<u64>>());
        assert_eq!(std::mem::size_of::<Stats>(), 21 * 8);
    }
}
