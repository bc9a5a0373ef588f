//! The bytes on disk: segment header and record frame (`FORMAT.md`).

use std::io::{self, Read};

/// The first 8 bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"ECJOURNL";
/// The segment format version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Length of the segment header.
pub const HEADER_LEN: u64 = 32;
/// Length of a record frame before its payload.
pub const FRAME_HEAD_LEN: u64 = 24;
/// The largest payload one record may carry (16 MiB).
pub const MAX_PAYLOAD: usize = 16 << 20;
/// File name extension of segment files.
pub const EXTENSION: &str = "ecj";

const HEADER_CRC_AT: usize = 28;

/// Encodes the header of a segment whose records start at `first_seq`.
pub(crate) fn encode_header(first_seq: u64) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[..HEADER_CRC_AT]);
    h[HEADER_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Checks a segment header and returns its `first_seq`, or why it is not one.
pub(crate) fn decode_header(h: &[u8; HEADER_LEN as usize]) -> Result<u64, String> {
    if h[0..8] != MAGIC {
        return Err(format!(
            "bad magic {:02x?} (expected \"ECJOURNL\")",
            &h[0..8]
        ));
    }
    let version = u32_at(h, 8);
    if version != VERSION {
        return Err(format!(
            "format version {version}, this build reads version {VERSION}"
        ));
    }
    let stored = u32_at(h, HEADER_CRC_AT);
    let computed = crc32c::crc32c(&h[..HEADER_CRC_AT]);
    if stored != computed {
        return Err(format!(
            "header checksum mismatch (stored {stored:08x}, computed {computed:08x})"
        ));
    }
    if h[12..16] != [0; 4] || h[24..28] != [0; 4] {
        return Err("reserved header bytes are not zero".into());
    }
    Ok(u64_at(h, 16))
}

/// Appends the frame of one record to `out`; the caller checked the payload length.
pub(crate) fn encode_frame(seq: u64, time_ms: u64, payload: &[u8], out: &mut Vec<u8>) {
    debug_assert!(payload.len() <= MAX_PAYLOAD);
    let len = payload.len() as u32; // ≤ MAX_PAYLOAD, checked by every caller
    let start = out.len();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&time_ms.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&out[start..start + 20]), payload);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Length of the frame of a payload of `len` bytes.
pub(crate) fn frame_len(len: usize) -> u64 {
    FRAME_HEAD_LEN + len as u64
}

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number, as given to [`Journal::append`](crate::Journal::append).
    pub seq: u64,
    /// Its time in milliseconds (since the Unix epoch, by convention).
    pub time_ms: u64,
    /// Its payload, opaque to the journal.
    pub payload: Vec<u8>,
}

/// What the bytes at one offset of a segment hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// A whole, valid frame.
    Record(Record),
    /// The file ends exactly here.
    End,
    /// The file ends inside a frame: being written, or torn by a crash.
    Torn,
    /// Bytes that no writer produced; the reason has no offset (the caller adds it).
    Corrupt(String),
}

/// Rules a frame's sequence number must follow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeqRule {
    /// The segment's first sequence number: no record is below it.
    pub first: u64,
    /// The previous record of the segment, if any: the next one is above it.
    pub prev: Option<u64>,
    /// The next segment's first sequence number, when there is one: every record
    /// of this segment is below it (the writer starts a segment after the last
    /// record it wrote), so a record at or above it is not this segment's.
    pub below: Option<u64>,
}

/// Reads the frame starting `remaining` bytes before the end of the file from `r`,
/// which is positioned at its start. Reads at most `remaining` bytes and allocates
/// only a payload that fits both in them and under [`MAX_PAYLOAD`].
pub(crate) fn read_frame(r: &mut impl Read, remaining: u64, rule: SeqRule) -> io::Result<Frame> {
    if remaining == 0 {
        return Ok(Frame::End);
    }
    if remaining < FRAME_HEAD_LEN {
        return Ok(Frame::Torn);
    }
    let mut head = [0u8; FRAME_HEAD_LEN as usize];
    if !read_all(r, &mut head)? {
        return Ok(Frame::Torn);
    }
    let len = u32_at(&head, 0) as usize;
    let seq = u64_at(&head, 4);
    let time_ms = u64_at(&head, 12);
    let stored = u32_at(&head, 20);
    if len > MAX_PAYLOAD {
        return Ok(Frame::Corrupt(format!(
            "payload length {len} over the limit of {MAX_PAYLOAD}"
        )));
    }
    if remaining - FRAME_HEAD_LEN < len as u64 {
        return Ok(Frame::Torn);
    }
    let mut payload = vec![0u8; len];
    if !read_all(r, &mut payload)? {
        return Ok(Frame::Torn);
    }
    let computed = crc32c::crc32c_append(crc32c::crc32c(&head[..20]), &payload);
    if stored != computed {
        return Ok(Frame::Corrupt("checksum mismatch".into()));
    }
    if seq < rule.first {
        return Ok(Frame::Corrupt(format!(
            "seq {seq} is below the segment's first seq {}",
            rule.first
        )));
    }
    if let Some(prev) = rule.prev.filter(|&p| seq <= p) {
        return Ok(Frame::Corrupt(format!(
            "seq {seq} does not follow the previous record's {prev}"
        )));
    }
    if let Some(next) = rule.below.filter(|&n| seq >= n) {
        return Ok(Frame::Corrupt(format!(
            "seq {seq} is at or above the next segment's first seq {next}"
        )));
    }
    Ok(Frame::Record(Record {
        seq,
        time_ms,
        payload,
    }))
}

/// How far above the last good record's seq a resynchronising scan accepts one:
/// a candidate must also check (its CRC-32C) and be whole, so bytes that are not a
/// frame are all but never taken for one (a random 8-byte seq lands in this window
/// with a chance of 2^-32, and then its checksum must match too).
pub(crate) const RESYNC_SEQ_WINDOW: u64 = 1 << 32;

/// After a frame that is damaged (corrupt, or a length that runs past the end):
/// the offset in `bytes` (which start at the damaged frame) of the next whole,
/// valid frame that follows `rule`, found by trying every later byte; `None` when
/// there is none. Only frames with a seq within [`RESYNC_SEQ_WINDOW`] above the
/// previous record are considered, and nothing is allocated.
pub(crate) fn resync(bytes: &[u8], rule: SeqRule) -> Option<usize> {
    let head_len = FRAME_HEAD_LEN as usize;
    let floor = rule
        .prev
        .map_or(rule.first, |p| p.saturating_add(1))
        .max(rule.first);
    (1..bytes.len()).find(|&at| {
        let frame = &bytes[at..];
        if frame.len() < head_len {
            return false;
        }
        let len = u32_at(frame, 0) as usize;
        let seq = u64_at(frame, 4);
        if len > MAX_PAYLOAD
            || seq < floor
            || seq - floor >= RESYNC_SEQ_WINDOW
            || rule.below.is_some_and(|next| seq >= next)
        {
            return false;
        }
        let Some(payload) = frame.get(head_len..head_len + len) else {
            return false;
        };
        crc32c::crc32c_append(crc32c::crc32c(&frame[..20]), payload) == u32_at(frame, 20)
    })
}

/// `read_exact`, except that a file shorter than expected (it shrank since its
/// length was taken) is `Ok(false)` rather than an error.
fn read_all(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: SeqRule = SeqRule {
        first: 0,
        prev: None,
        below: None,
    };

    fn frame(seq: u64, time_ms: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_frame(seq, time_ms, payload, &mut out);
        out
    }

    fn read(bytes: &[u8], rule: SeqRule) -> Frame {
        read_frame(&mut &bytes[..], bytes.len() as u64, rule).unwrap()
    }

    #[test]
    fn frame_round_trip() {
        for payload in [
            &b""[..],
            b"x",
            br#"{"type":"appeared","label":"cat"}"#,
            &[0xff; 5000],
        ] {
            let bytes = frame(42, 1_700_000_000_123, payload);
            assert_eq!(bytes.len() as u64, frame_len(payload.len()));
            assert_eq!(
                read(&bytes, ANY),
                Frame::Record(Record {
                    seq: 42,
                    time_ms: 1_700_000_000_123,
                    payload: payload.to_vec()
                })
            );
        }
    }

    #[test]
    fn frame_layout_is_little_endian() {
        let bytes = frame(0x0102, 0x0304, b"ab");
        assert_eq!(&bytes[0..4], &[2, 0, 0, 0]);
        assert_eq!(&bytes[4..12], &[2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&bytes[12..20], &[4, 3, 0, 0, 0, 0, 0, 0]);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&bytes[..20]), b"ab");
        assert_eq!(&bytes[20..24], &crc.to_le_bytes());
        assert_eq!(&bytes[24..], b"ab");
    }

    #[test]
    fn every_prefix_of_a_frame_is_torn() {
        let bytes = frame(7, 9, b"hello journal");
        assert_eq!(read(&[], ANY), Frame::End);
        for cut in 1..bytes.len() {
            assert_eq!(read(&bytes[..cut], ANY), Frame::Torn, "cut at {cut}");
        }
    }

    #[test]
    fn resync_finds_the_next_good_frame_after_any_flipped_byte() {
        let mut bytes = frame(7, 1, b"first payload");
        let second_at = bytes.len();
        bytes.extend(frame(8, 2, b"second"));
        bytes.extend(frame(9, 3, b"third"));
        let rule = SeqRule {
            first: 1,
            prev: Some(6),
            below: None,
        };
        for i in 0..second_at {
            for bit in [0x01, 0x80] {
                let mut damaged = bytes.clone();
                damaged[i] ^= bit;
                assert!(
                    !matches!(read(&damaged, rule), Frame::Record(_)),
                    "byte {i}"
                );
                assert_eq!(
                    resync(&damaged, rule),
                    Some(second_at),
                    "byte {i} bit {bit:#x}"
                );
            }
        }
        // Nothing valid after the damage: no resync point; nor below the floor.
        assert_eq!(resync(&bytes[..second_at], rule), None);
        assert_eq!(
            resync(
                &bytes,
                SeqRule {
                    first: 1,
                    prev: Some(9),
                    below: None,
                }
            ),
            None
        );
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let bytes = frame(7, 9, b"hello journal");
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            match read(&bad, ANY) {
                Frame::Corrupt(_) | Frame::Torn => {}
                other => panic!("flip at {at} read as {other:?}"),
            }
        }
    }

    #[test]
    fn oversized_length_is_corrupt_without_allocating() {
        let mut bytes = frame(1, 1, b"x");
        bytes[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let Frame::Corrupt(reason) = read(&bytes, ANY) else {
            panic!()
        };
        assert!(reason.contains("over the limit"), "{reason}");
    }

    #[test]
    fn sequence_rules() {
        let bytes = frame(5, 0, b"");
        let below = SeqRule {
            first: 6,
            prev: None,
            below: None,
        };
        assert!(matches!(read(&bytes, below), Frame::Corrupt(r) if r.contains("below")));
        let repeat = SeqRule {
            first: 0,
            prev: Some(5),
            below: None,
        };
        assert!(matches!(read(&bytes, repeat), Frame::Corrupt(r) if r.contains("follow")));
        let ok = SeqRule {
            first: 5,
            prev: Some(4),
            below: None,
        };
        assert!(matches!(read(&bytes, ok), Frame::Record(_)));
        let next_segments = SeqRule {
            first: 5,
            prev: Some(4),
            below: Some(5),
        };
        assert!(
            matches!(read(&bytes, next_segments), Frame::Corrupt(r) if r.contains("next segment"))
        );
    }

    #[test]
    fn header_round_trip_and_checks() {
        let h = encode_header(123);
        assert_eq!(decode_header(&h), Ok(123));
        assert_eq!(&h[0..8], b"ECJOURNL");
        let mut bad = h;
        bad[0] = b'X';
        assert!(decode_header(&bad).unwrap_err().contains("magic"));
        let mut bad = h;
        bad[8] = 2;
        assert!(decode_header(&bad).unwrap_err().contains("version 2"));
        let mut bad = h;
        bad[17] ^= 1;
        assert!(decode_header(&bad).unwrap_err().contains("checksum"));
        let mut bad = h;
        bad[13] = 1;
        let crc = crc32c::crc32c(&bad[..28]);
        bad[28..].copy_from_slice(&crc.to_le_bytes());
        assert!(decode_header(&bad).unwrap_err().contains("reserved"));
    }
}
