//! `.npy`: one (N, 3) array of float32 or float64, either byte order, C or Fortran
//! order, header versions 1.0, 2.0 and 3.0.

use super::scalar::{Cursor, Scalar};
use super::{bounded_capacity, Collector, Format, Limits, ParseError, ParseErrorKind};
use crate::PointCloud;

const MAGIC: &[u8] = b"\x93NUMPY";

fn err(kind: ParseErrorKind) -> ParseError {
    ParseError::new(Format::Npy, None, kind)
}

fn header_err(msg: impl Into<String>) -> ParseError {
    err(ParseErrorKind::Header(msg.into()))
}

fn unsupported(msg: impl Into<String>) -> ParseError {
    err(ParseErrorKind::Unsupported(msg.into()))
}

/// The magic, the version, and the header dictionary that follows them.
fn read_header(cursor: &mut Cursor<'_>) -> Result<Dict, ParseError> {
    if cursor.take(MAGIC.len()) != Some(MAGIC) {
        return Err(header_err("not an NPY file: no \\x93NUMPY magic"));
    }
    let Some(&[major, minor]) = cursor.take(2) else {
        return Err(header_err("the file ends inside the version"));
    };
    let header_len = match major {
        1 => cursor
            .take(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize),
        2 | 3 => cursor
            .take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize),
        _ => return Err(unsupported(format!("NPY version {major}.{minor}"))),
    }
    .ok_or_else(|| header_err("the file ends inside the header length"))?;
    let available = cursor.remaining();
    let text = cursor.take(header_len).ok_or_else(|| {
        header_err(format!(
            "header length {header_len} bytes but {available} bytes follow"
        ))
    })?;
    // Versions 1 and 2 are latin-1, 3 is UTF-8; a valid header is ASCII in all of them.
    let text = std::str::from_utf8(text).map_err(|_| header_err("the header is not text"))?;
    Dict::parse(text).map_err(|m| header_err(format!("{m}: {:?}", short(text))))
}

/// The scalar a `descr` names and whether it is big-endian: float32 or float64.
fn element_type(descr: &str) -> Result<(Scalar, bool), ParseError> {
    match descr {
        "<f4" => Ok((Scalar::F32, false)),
        "<f8" => Ok((Scalar::F64, false)),
        ">f4" => Ok((Scalar::F32, true)),
        ">f8" => Ok((Scalar::F64, true)),
        d => Err(unsupported(format!(
            "dtype '{d}' (expected float32 or float64: '<f4', '<f8', '>f4' or '>f8')"
        ))),
    }
}

pub(super) fn parse(bytes: &[u8], limits: &Limits) -> Result<PointCloud, ParseError> {
    let mut cursor = Cursor::new(bytes);
    let header = read_header(&mut cursor)?;
    let (scalar, big_endian) = element_type(&header.descr)?;
    let rows = match header.shape.as_slice() {
        [n, 3] => *n,
        s => {
            return Err(unsupported(format!(
                "shape {} (expected (N, 3))",
                show_shape(s)
            )))
        }
    };
    let body = cursor.take(cursor.remaining()).unwrap_or_default();
    let row_bytes = 3 * scalar.size() as u64;
    let needed = rows.saturating_mul(row_bytes);
    if needed > body.len() as u64 {
        return Err(err(ParseErrorKind::Truncated {
            declared: rows,
            unit: "rows".into(),
            needed,
            available: body.len() as u64,
        }));
    }
    if rows > limits.max_points as u64 {
        return Err(err(ParseErrorKind::TooManyPoints {
            declared: rows,
            limit: limits.max_points,
        }));
    }
    let n = rows as usize;
    let size = scalar.size();
    let mut points = Collector::new(bounded_capacity(rows, limits, body.len(), row_bytes), false);
    for i in 0..n {
        let xyz = [0, 1, 2].map(|axis| {
            // C order stores rows; Fortran order stores the x column, then y, then z.
            let value = if header.fortran_order {
                axis * n + i
            } else {
                i * 3 + axis
            };
            scalar.read(&body[value * size..(value + 1) * size], big_endian)
        });
        points.push(xyz).map_err(err)?;
    }
    points.finish().map_err(err)
}

fn short(text: &str) -> String {
    super::text::shown(text.trim_end().as_bytes())
}

fn show_shape(s: &[u64]) -> String {
    match s {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            s.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// The header dictionary: `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }`.
#[derive(Debug, PartialEq)]
struct Dict {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

enum Value {
    Str(String),
    Bool(bool),
    Tuple(Vec<u64>),
}

/// A parser for the Python literal subset numpy writes; anything else is an error.
struct Literal<'a> {
    s: &'a str,
}

impl Literal<'_> {
    fn skip_ws(&mut self) {
        self.s = self.s.trim_start();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        match self.s.strip_prefix(c) {
            Some(rest) => {
                self.s = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{c}`"))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_ws();
        let quote = self.s.chars().next().filter(|c| *c == '\'' || *c == '"');
        let quote = quote.ok_or("expected a quoted string")?;
        let rest = &self.s[1..];
        let end = rest.find(quote).ok_or("unterminated string")?;
        self.s = &rest[end + 1..];
        Ok(rest[..end].to_string())
    }

    fn integer(&mut self) -> Result<u64, String> {
        self.skip_ws();
        let digits = self.s.len()
            - self
                .s
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let n = self.s[..digits]
            .parse()
            .map_err(|_| "expected a dimension".to_string())?;
        self.s = &self.s[digits..];
        // Python 2 wrote longs with an `L` suffix.
        let _ = self.eat('L');
        Ok(n)
    }

    fn value(&mut self) -> Result<Value, String> {
        self.skip_ws();
        if let Some(rest) = self.s.strip_prefix("True") {
            self.s = rest;
            return Ok(Value::Bool(true));
        }
        if let Some(rest) = self.s.strip_prefix("False") {
            self.s = rest;
            return Ok(Value::Bool(false));
        }
        if self.eat('(') {
            let mut dims = Vec::new();
            while !self.eat(')') {
                // Bounded by the header's length: each dimension consumes a digit.
                dims.push(self.integer()?);
                if !self.eat(',') {
                    self.expect(')')?;
                    break;
                }
            }
            return Ok(Value::Tuple(dims));
        }
        if self.s.starts_with('[') {
            return Err("structured dtypes are not supported".into());
        }
        self.string().map(Value::Str)
    }
}

impl Dict {
    fn parse(s: &str) -> Result<Dict, String> {
        let mut p = Literal { s };
        p.expect('{')?;
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        while !p.eat('}') {
            let key = p.string()?;
            p.expect(':')?;
            match (key.as_str(), p.value()?) {
                ("descr", Value::Str(d)) => descr = Some(d),
                ("fortran_order", Value::Bool(b)) => fortran_order = Some(b),
                ("shape", Value::Tuple(t)) => shape = Some(t),
                ("descr" | "fortran_order" | "shape", _) => {
                    return Err(format!("`{key}` has the wrong kind of value"))
                }
                _ => return Err(format!("unknown key `{key}`")),
            }
            if !p.eat(',') {
                p.expect('}')?;
                break;
            }
        }
        Ok(Dict {
            descr: descr.ok_or("no `descr` key")?,
            fortran_order: fortran_order.ok_or("no `fortran_order` key")?,
            shape: shape.ok_or("no `shape` key")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(dict: &str, body: &[u8]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        let mut h = dict.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(body);
        b
    }

    fn read(b: &[u8]) -> Result<PointCloud, ParseError> {
        parse(b, &Limits::default())
    }

    #[test]
    fn dicts_parse_as_numpy_writes_them() {
        let d = Dict::parse("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }").unwrap();
        assert_eq!(
            d,
            Dict {
                descr: "<f4".into(),
                fortran_order: false,
                shape: vec![3, 3]
            }
        );
        let d = Dict::parse("{\"shape\":(7L,),\"fortran_order\":True,\"descr\":\">f8\"}").unwrap();
        assert_eq!(d.shape, vec![7]);
        assert!(
            Dict::parse("{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (3,)}")
                .is_err()
        );
        assert!(Dict::parse("{'descr': '<f4', 'shape': (3, 3)}").is_err());
        assert!(Dict::parse("{'descr': '<f4'").is_err());
        assert!(Dict::parse("{'shape': (1, -3)}").is_err());
    }

    #[test]
    fn c_and_fortran_order() {
        let body: Vec<u8> = [1f32, 2., 3., 4., 5., 6.]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let c = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            &body,
        );
        assert_eq!(
            read(&c).unwrap().points(),
            &[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
        );
        let f = npy(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
            &body,
        );
        assert_eq!(
            read(&f).unwrap().points(),
            &[[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]
        );
    }

    #[test]
    fn wrong_shapes_dtypes_and_sizes_are_named() {
        let e = read(&npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }",
            &[0; 16],
        ))
        .unwrap_err();
        assert_eq!(e.to_string(), "NPY: shape (4,) (expected (N, 3))");
        let e = read(&npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }",
            &[0; 32],
        ))
        .unwrap_err();
        assert_eq!(e.to_string(), "NPY: shape (2, 4) (expected (N, 3))");
        let e = read(&npy(
            "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 3), }",
            &[0; 12],
        ))
        .unwrap_err();
        assert!(e.to_string().starts_with("NPY: dtype '<i4'"), "{e}");
        let e = read(&npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551615, 3), }",
            &[0; 24],
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "NPY: header declares 18446744073709551615 rows but the body holds 24 bytes \
             (at least 18446744073709551615 needed)"
        );
        let e = read(&npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (0, 3), }",
            &[],
        ))
        .unwrap_err();
        assert_eq!(e.to_string(), "NPY: the cloud has no points");
        let mut b = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3), }",
            &[0; 12],
        );
        b[8] = 0xff;
        b[9] = 0xff;
        assert!(read(&b)
            .unwrap_err()
            .to_string()
            .contains("header length 65535 bytes"));
        assert!(read(b"\x93NUMPY\x09\x00")
            .unwrap_err()
            .to_string()
            .contains("version 9.0"));
        assert!(read(b"PK\x03\x04")
            .unwrap_err()
            .to_string()
            .contains("not an NPY file"));
    }
}
