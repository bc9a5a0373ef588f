//! Hostile declared sizes must not drive allocations: a file of a few hundred bytes that
//! claims billions of points, a 4 GB header or a 4 GB decompressed body is refused with
//! only small allocations made. One test in this binary, so that the counts are its own.

use std::alloc::System;

use edgeclip_points::read::{read_bytes_with, Format, Limits};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Far above what parsing a header of this size needs, far below what any claim asks.
const BUDGET: usize = 64 * 1024;

fn ply(count: &str, encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "ply\nformat {encoding} 1.0\nelement vertex {count}\nproperty float x\n\
         property float y\nproperty float z\nelement face 10\nproperty list uchar int i\nend_header\n"
    )
    .into_bytes();
    b.extend_from_slice(body);
    b
}

fn pcd(count: u64, data: &str, body: &[u8]) -> Vec<u8> {
    let mut b = format!(
        "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH {count}\nHEIGHT 1\n\
         POINTS {count}\nDATA {data}\n"
    )
    .into_bytes();
    b.extend_from_slice(body);
    b
}

fn npy(version: u8, header_len: u32, dict: &str, body: &[u8]) -> Vec<u8> {
    let mut b = b"\x93NUMPY".to_vec();
    b.extend_from_slice(&[version, 0]);
    if version == 1 {
        b.extend_from_slice(&(header_len as u16).to_le_bytes());
    } else {
        b.extend_from_slice(&header_len.to_le_bytes());
    }
    b.extend_from_slice(dict.as_bytes());
    b.extend_from_slice(body);
    b
}

fn compressed_sizes(c: u32, u: u32) -> Vec<u8> {
    let mut b = c.to_le_bytes().to_vec();
    b.extend_from_slice(&u.to_le_bytes());
    b.extend_from_slice(&[0u8; 64]);
    b
}

#[test]
fn hostile_sizes_allocate_little() {
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967295, 3), }\n";
    let cases: Vec<(&str, Vec<u8>, Format)> = vec![
        (
            "ply binary count",
            ply("4294967295", "binary_little_endian", &[0; 48]),
            Format::Ply,
        ),
        (
            "ply ascii count",
            ply("18446744073709551615", "ascii", b"1 2 3\n"),
            Format::Ply,
        ),
        // 10 faces whose first list claims 4 billion ints: the body has room for 10 list
        // lengths, so the size check passes and the skip must find the body too short.
        (
            "ply list claim",
            {
                let mut b = b"ply\nformat binary_little_endian 1.0\nelement face 10\n\
                property list uint int i\nelement vertex 1\nproperty float x\nproperty float y\n\
                property float z\nend_header\n"
                    .to_vec();
                b.extend_from_slice(&u32::MAX.to_le_bytes());
                b.extend_from_slice(&[0; 60]);
                b
            },
            Format::Ply,
        ),
        (
            "pcd binary count",
            pcd(4_000_000_000, "binary", &[0; 48]),
            Format::Pcd,
        ),
        (
            "pcd ascii count",
            pcd(4_000_000_000, "ascii", b"1 2 3\n"),
            Format::Pcd,
        ),
        (
            "pcd lzf 4 GB uncompressed",
            pcd(2, "binary_compressed", &compressed_sizes(64, u32::MAX)),
            Format::Pcd,
        ),
        (
            "pcd lzf 4 GB compressed",
            pcd(2, "binary_compressed", &compressed_sizes(u32::MAX, 24)),
            Format::Pcd,
        ),
        (
            "npy 4 GB header",
            npy(2, u32::MAX, dict, &[0; 48]),
            Format::Npy,
        ),
        (
            "npy rows",
            npy(1, dict.len() as u32, dict, &[0; 48]),
            Format::Npy,
        ),
    ];
    for limits in [Limits::default(), Limits::new(usize::MAX), Limits::new(2)] {
        for (name, bytes, format) in &cases {
            let region = Region::new(GLOBAL);
            let result = read_bytes_with(bytes, *format, &limits);
            let allocated = region.change().bytes_allocated;
            assert!(result.is_err(), "{name}: {result:?}");
            assert!(allocated < BUDGET, "{name}: {allocated} bytes allocated");
        }
    }
}
