//! Format constants, the fixed header, and little-endian byte helpers.
//!
//! The byte-by-byte description is in `FORMAT.md`; this module is its code.

use xxhash_rust::xxh3::Xxh3Default;

use crate::DType;

/// First 8 bytes of every store file.
pub const MAGIC: [u8; 8] = *b"ECLIPEMB";
/// The format version this build writes and reads.
pub const VERSION: u32 = 1;
/// Conventional file extension of stores (without the dot).
pub const EXTENSION: &str = "emb";
/// Size of the fixed header; sections follow it.
pub const HEADER_LEN: usize = 128;
/// The vector payload starts at a multiple of this (maps are page aligned, so the
/// payload is then aligned for any element type and for SIMD loads).
pub const VECTOR_ALIGN: usize = 64;

/// Byte range of the checksum field; the checksum covers every other byte of the file.
pub(crate) const CHECKSUM_AT: usize = 120;

impl DType {
    /// Bytes per stored value.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
            DType::Int8 => 1,
        }
    }

    /// Lower-case name used in messages and docs (`f32`, `f16`, `int8`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::Int8 => "int8",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            DType::F32 => 1,
            DType::F16 => 2,
            DType::Int8 => 3,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<DType> {
        match code {
            1 => Some(DType::F32),
            2 => Some(DType::F16),
            3 => Some(DType::Int8),
            _ => None,
        }
    }
}

/// Where a section lies in the file. An empty section has offset 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Section {
    pub offset: u64,
    pub len: u64,
}

/// The fixed 128-byte header, decoded but not yet validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub dtype_code: u8,
    pub reserved_a: [u8; 3],
    pub dim: u32,
    pub rows: u32,
    pub file_len: u64,
    pub vectors: Section,
    pub scales: Section,
    pub fingerprint: Section,
    pub labels: Section,
    pub meta: Section,
    pub reserved_b: u64,
    pub checksum: u64,
}

fn u32_at(h: &[u8; HEADER_LEN], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&h[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(h: &[u8; HEADER_LEN], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[at..at + 8]);
    u64::from_le_bytes(b)
}

fn section_at(h: &[u8; HEADER_LEN], at: usize) -> Section {
    Section {
        offset: u64_at(h, at),
        len: u64_at(h, at + 8),
    }
}

impl Header {
    /// Decodes the fields after magic and version (offsets 12..128); constant
    /// offsets into a fixed-size array, so nothing here can go out of bounds.
    pub fn decode(h: &[u8; HEADER_LEN]) -> Header {
        Header {
            dtype_code: h[12],
            reserved_a: [h[13], h[14], h[15]],
            dim: u32_at(h, 16),
            rows: u32_at(h, 20),
            file_len: u64_at(h, 24),
            vectors: section_at(h, 32),
            scales: section_at(h, 48),
            fingerprint: section_at(h, 64),
            labels: section_at(h, 80),
            meta: section_at(h, 96),
            reserved_b: u64_at(h, 112),
            checksum: u64_at(h, CHECKSUM_AT),
        }
    }

    /// The full header bytes, magic and version included.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        let mut put = |at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
        put(0, &MAGIC);
        put(8, &VERSION.to_le_bytes());
        put(12, &[self.dtype_code]);
        put(13, &self.reserved_a);
        put(16, &self.dim.to_le_bytes());
        put(20, &self.rows.to_le_bytes());
        put(24, &self.file_len.to_le_bytes());
        for (at, s) in [
            (32, self.vectors),
            (48, self.scales),
            (64, self.fingerprint),
            (80, self.labels),
            (96, self.meta),
        ] {
            put(at, &s.offset.to_le_bytes());
            put(at + 8, &s.len.to_le_bytes());
        }
        put(112, &self.reserved_b.to_le_bytes());
        put(CHECKSUM_AT, &self.checksum.to_le_bytes());
        h
    }
}

/// xxh3-64 over the whole file except the checksum field itself.
pub(crate) fn checksum(file: &[u8]) -> u64 {
    let mut h = Xxh3Default::new();
    h.update(file.get(..CHECKSUM_AT).unwrap_or_default());
    h.update(file.get(HEADER_LEN..).unwrap_or_default());
    h.digest()
}

/// Reads little-endian values from a section, failing (never panicking) past its end.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end.and_then(|e| self.bytes.get(self.pos..e).map(|b| (e, b))) {
            Some((e, b)) => {
                self.pos = e;
                Ok(b)
            }
            None => Err(format!(
                "{what} needs {n} bytes at section offset {} but only {} remain",
                self.pos,
                self.remaining()
            )),
        }
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(self.take(1, what)?.first().copied().unwrap_or_default())
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, String> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(b))
    }

    pub fn f32(&mut self, what: &str) -> Result<f32, String> {
        Ok(f32::from_bits(self.u32(what)?))
    }

    /// A u32 byte length followed by that many bytes of UTF-8.
    pub fn str(&mut self, what: &str) -> Result<&'a str, String> {
        let len = self.u32(what)? as usize;
        let at = self.pos;
        let bytes = self.take(len, what)?;
        std::str::from_utf8(bytes)
            .map_err(|e| format!("{what} at section offset {at} is not UTF-8: {e}"))
    }
}

/// Appends a u32 length and the bytes; `None` if the string is longer than u32::MAX bytes.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) -> Option<()> {
    let len = u32::try_from(s.len()).ok()?;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(s.as_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_encode_decode_round_trip() {
        let h = Header {
            dtype_code: 2,
            reserved_a: [0; 3],
            dim: 4,
            rows: 3,
            file_len: 999,
            vectors: Section {
                offset: 128,
                len: 24,
            },
            scales: Section::default(),
            fingerprint: Section {
                offset: 152,
                len: 7,
            },
            labels: Section {
                offset: 159,
                len: 8,
            },
            meta: Section {
                offset: 167,
                len: 9,
            },
            reserved_b: 0,
            checksum: 0x0123_4567_89ab_cdef,
        };
        let bytes = h.encode();
        assert_eq!(&bytes[..8], &MAGIC);
        assert_eq!(Header::decode(&bytes), h);
    }

    #[test]
    fn cursor_refuses_reads_past_the_end() {
        let mut c = Cursor::new(&[5, 0, 0, 0, b'a']);
        assert!(c.str("label").is_err());
        let mut c = Cursor::new(&[1, 0]);
        assert!(c.u32("x").is_err());
    }
}
