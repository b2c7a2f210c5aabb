//! The software offload fallbacks on arbitrary frames and metadata: the
//! first 10 bytes are a `virtio_net_hdr` (as a device hands it over), the
//! rest the frame. Neither `segment` nor `finish_checksum` may panic, and
//! what `segment` reports must describe what it wrote.

#![no_main]

use libfuzzer_sys::fuzz_target;
use netdev_core::offload::{finish_checksum, segment};
use netdev_core::Offload;

fuzz_target!(|data: &[u8]| {
    let Some(offload) = Offload::from_bytes(data) else {
        return;
    };
    let frame = &data[Offload::LEN..];
    assert_eq!(Offload::from_bytes(&offload.to_bytes()), Some(offload));
    let _ = offload.shifted(4).and_then(|o| o.shifted(-4));
    let mut copy = frame.to_vec();
    if finish_checksum(&mut copy, &offload).is_ok() && !offload.needs_csum() {
        assert_eq!(copy, frame, "nothing to do changes nothing");
    }
    let (mut out, mut lens) = (Vec::new(), Vec::new());
    if segment(frame, &offload, &mut out, &mut lens).is_ok() {
        assert_eq!(lens.iter().sum::<usize>(), out.len());
        if offload.is_gso() {
            let mss = usize::from(offload.gso_size);
            // Each segment is the headers and a piece of the payload.
            assert!(lens.iter().all(|&l| l <= frame.len()), "no segment grows");
            assert!(lens.len() <= frame.len() / mss.max(1) + 1);
        } else {
            assert_eq!(out.len(), frame.len());
        }
    } else {
        // A refused frame leaves the lengths consistent with what was
        // written before the refusal.
        assert!(lens.iter().sum::<usize>() <= out.len());
    }
});
