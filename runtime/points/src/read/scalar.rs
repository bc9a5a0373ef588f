//! Numeric types stored in binary PLY and PCD bodies, and a bounds-checked byte cursor.

/// A stored numeric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scalar {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl Scalar {
    /// PLY's type names, old (`uchar`) and new (`uint8`) spellings.
    pub(super) fn from_ply(name: &str) -> Option<Scalar> {
        Some(match name {
            "char" | "int8" => Scalar::I8,
            "uchar" | "uint8" => Scalar::U8,
            "short" | "int16" => Scalar::I16,
            "ushort" | "uint16" => Scalar::U16,
            "int" | "int32" => Scalar::I32,
            "uint" | "uint32" => Scalar::U32,
            "float" | "float32" => Scalar::F32,
            "double" | "float64" => Scalar::F64,
            _ => return None,
        })
    }

    /// PCD's `TYPE` letter and `SIZE` in bytes.
    pub(super) fn from_pcd(ty: &str, size: u64) -> Option<Scalar> {
        Some(match (ty, size) {
            ("I", 1) => Scalar::I8,
            ("U", 1) => Scalar::U8,
            ("I", 2) => Scalar::I16,
            ("U", 2) => Scalar::U16,
            ("I", 4) => Scalar::I32,
            ("U", 4) => Scalar::U32,
            ("I", 8) => Scalar::I64,
            ("U", 8) => Scalar::U64,
            ("F", 4) => Scalar::F32,
            ("F", 8) => Scalar::F64,
            _ => return None,
        })
    }

    pub(super) fn size(self) -> usize {
        match self {
            Scalar::I8 | Scalar::U8 => 1,
            Scalar::I16 | Scalar::U16 => 2,
            Scalar::I32 | Scalar::U32 | Scalar::F32 => 4,
            Scalar::I64 | Scalar::U64 | Scalar::F64 => 8,
        }
    }

    pub(super) fn is_integer(self) -> bool {
        !matches!(self, Scalar::F32 | Scalar::F64)
    }

    /// A text value of this type as f64. A float32 value is parsed as f32 so that it is
    /// rounded once, to the nearest f32, as its writer meant; others via f64.
    pub(super) fn parse_text(self, word: &str) -> Option<f64> {
        match self {
            Scalar::F32 => word.parse::<f32>().ok().map(f64::from),
            _ => word.parse::<f64>().ok(),
        }
    }

    /// The value in `b` (exactly `self.size()` bytes) as f64; integers beyond 2^53 round.
    pub(super) fn read(self, b: &[u8], big_endian: bool) -> f64 {
        macro_rules! get {
            ($t:ty) => {{
                let a = b.try_into().expect("caller passes size() bytes");
                if big_endian {
                    <$t>::from_be_bytes(a) as f64
                } else {
                    <$t>::from_le_bytes(a) as f64
                }
            }};
        }
        match self {
            Scalar::I8 => get!(i8),
            Scalar::U8 => get!(u8),
            Scalar::I16 => get!(i16),
            Scalar::U16 => get!(u16),
            Scalar::I32 => get!(i32),
            Scalar::U32 => get!(u32),
            Scalar::I64 => get!(i64),
            Scalar::U64 => get!(u64),
            Scalar::F32 => get!(f32),
            Scalar::F64 => get!(f64),
        }
    }
}

/// Reads forward through a byte slice; every read is bounds-checked.
pub(super) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, pos: 0 }
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes, or `None` (and no move) when fewer are left.
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.remaining() {
            return None;
        }
        let b = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Some(b)
    }

    /// Skips `count` items of `size` bytes; `None` when fewer are left or the product overflows.
    pub(super) fn skip(&mut self, count: u64, size: usize) -> Option<()> {
        let n = usize::try_from(count).ok()?.checked_mul(size)?;
        self.take(n).map(|_| ())
    }

    pub(super) fn scalar(&mut self, s: Scalar, big_endian: bool) -> Option<f64> {
        self.take(s.size()).map(|b| s.read(b, big_endian))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_in_both_byte_orders() {
        assert_eq!(Scalar::F32.read(&1.5f32.to_be_bytes(), true), 1.5);
        assert_eq!(Scalar::F64.read(&(-2.25f64).to_le_bytes(), false), -2.25);
        assert_eq!(Scalar::I16.read(&(-3i16).to_be_bytes(), true), -3.0);
        assert_eq!(Scalar::U8.read(&[200], false), 200.0);
        assert_eq!(Scalar::from_ply("uint8"), Some(Scalar::U8));
        assert_eq!(Scalar::from_ply("long"), None);
        assert_eq!(Scalar::from_pcd("F", 8), Some(Scalar::F64));
        assert_eq!(Scalar::from_pcd("F", 2), None);
        assert_eq!(Scalar::F32.parse_text("0.1"), Some(f64::from(0.1f32)));
        assert_eq!(Scalar::F64.parse_text("0.1"), Some(0.1));
        assert_eq!(Scalar::I32.parse_text("x"), None);
    }

    #[test]
    fn cursor_never_reads_past_the_end() {
        let mut c = Cursor::new(&[1, 2, 3]);
        assert_eq!(c.take(2), Some(&[1u8, 2][..]));
        assert_eq!(c.take(2), None);
        assert_eq!(c.remaining(), 1);
        assert_eq!(c.skip(u64::MAX, 8), None);
        assert_eq!(c.skip(1, 1), Some(()));
        assert_eq!(c.remaining(), 0);
    }
}
