//! XYZ text (`.xyz`, `.txt`, `.pts`): x, y and z first on each line, separated by
//! whitespace or by commas; further columns (intensity, colour, normals) are ignored.
//! `#` starts a comment; blank lines are skipped. A first line holding one integer is
//! the point count of the `.pts` layout and is skipped.

use super::text::{shown, Lines};
use super::{Collector, Format, Limits, ParseError, ParseErrorKind};
use crate::PointCloud;

fn err(line: Option<usize>, kind: ParseErrorKind) -> ParseError {
    ParseError::new(Format::Xyz, line, kind)
}

pub(super) fn parse(bytes: &[u8], limits: &Limits) -> Result<PointCloud, ParseError> {
    // No count to trust here; a short "0 0 0\n" line takes 6 bytes.
    let mut points = Collector::new((bytes.len() / 6).min(limits.max_points).min(1 << 16), false);
    let mut lines = Lines::new(bytes);
    let mut first = true;
    while let Some(raw) = lines.next() {
        let n = lines.number();
        let raw = raw.split(|&b| b == b'#').next().unwrap_or_default();
        let text = std::str::from_utf8(raw).map_err(|_| {
            err(
                Some(n),
                ParseErrorKind::Syntax(format!("not text: {:?}", shown(raw))),
            )
        })?;
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if std::mem::take(&mut first) && text.parse::<u64>().is_ok() {
            continue;
        }
        let xyz = coordinates(text).ok_or_else(|| {
            err(
                Some(n),
                ParseErrorKind::Syntax(format!("expected 3 numbers, found {:?}", shown(raw))),
            )
        })?;
        if points.seen >= limits.max_points {
            return Err(err(
                Some(n),
                ParseErrorKind::OverLimit {
                    limit: limits.max_points,
                },
            ));
        }
        points.push(xyz).map_err(|k| err(Some(n), k))?;
    }
    points.finish().map_err(|k| err(None, k))
}

/// The first three numbers of a line, comma-separated if it has a comma.
fn coordinates(text: &str) -> Option<[f64; 3]> {
    let mut words: Box<dyn Iterator<Item = &str>> = if text.contains(',') {
        Box::new(text.split(',').map(str::trim))
    } else {
        Box::new(text.split_ascii_whitespace())
    };
    // Parsed as f32 directly: one rounding, to the nearest f32.
    let mut next = || words.next()?.parse::<f32>().ok().map(f64::from);
    Some([next()?, next()?, next()?])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<PointCloud, ParseError> {
        parse(s.as_bytes(), &Limits::default())
    }

    #[test]
    fn separators_comments_and_extra_columns() {
        let c = read("# x y z\n\n1 2 3 99\n4,5,6,7 # trailing\r\n\t-1e1\t0.5 +2\n").unwrap();
        assert_eq!(
            c.points(),
            &[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [-10.0, 0.5, 2.0]]
        );
    }

    #[test]
    fn a_pts_count_line_is_skipped_only_first() {
        let c = read("2\n1 2 3\n4 5 6\n").unwrap();
        assert_eq!(c.len(), 2);
        let e = read("1 2 3\n2\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "XYZ: line 2: expected 3 numbers, found \"2\""
        );
    }

    #[test]
    fn bad_lines_and_empty_files_are_named() {
        let e = read("1 2 3\n1.0 abc\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "XYZ: line 2: expected 3 numbers, found \"1.0 abc\""
        );
        let e = read("1,,3\n").unwrap_err();
        assert!(e.to_string().contains("line 1: expected 3 numbers"), "{e}");
        let e = read("# nothing\n\n").unwrap_err();
        assert_eq!(e.to_string(), "XYZ: the cloud has no points");
        let e = read("1 2 3\nnan 0 0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "XYZ: line 2: point 1 has a non-finite coordinate (NaN, 0, 0)"
        );
    }

    #[test]
    fn the_limit_is_enforced_while_reading() {
        let e = parse(b"1 2 3\n4 5 6\n7 8 9\n", &Limits::new(2)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "XYZ: line 3: the file holds more than the limit of 2 points"
        );
    }
}
