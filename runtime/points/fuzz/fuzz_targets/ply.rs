//! Fuzzes the PLY reader: arbitrary bytes must give a cloud or an error, never a panic,
//! and a cloud must hold only finite points. A small point limit also runs the limit
//! checks, which the default limit of 50 million never reaches with fuzzer-sized inputs.
#![no_main]

use edgeclip_points::read::{read_bytes, read_bytes_with, Format, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cloud) = read_bytes(data, Format::Ply) {
        assert!(!cloud.is_empty());
        assert!(cloud.points().iter().flatten().all(|c| c.is_finite()));
    }
    let _ = read_bytes_with(data, Format::Ply, &Limits::new(4));
});
