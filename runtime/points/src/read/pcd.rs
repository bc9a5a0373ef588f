//! PCD (Point Cloud Library): x, y and z among any fields, `DATA ascii`, `binary` or
//! `binary_compressed`. Points whose x, y and z are all NaN (holes of organized clouds)
//! are skipped; see the module docs of [`super`].

use super::scalar::{Cursor, Scalar};
use super::text::{shown, Lines};
use super::{bounded_capacity, Collector, Format, Limits, ParseError, ParseErrorKind};
use crate::PointCloud;

/// LZF's largest expansion: a 3-byte back reference yields at most 264 bytes. A declared
/// uncompressed size beyond this many times the compressed size cannot be genuine.
const LZF_MAX_RATIO: u64 = 88;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Data {
    Ascii,
    Binary,
    BinaryCompressed,
}

#[derive(Debug)]
struct Field {
    name: String,
    scalar: Scalar,
    count: u64,
}

impl Field {
    fn bytes(&self) -> u64 {
        self.count * self.scalar.size() as u64
    }
}

#[derive(Debug)]
struct Header {
    fields: Vec<Field>,
    points: u64,
    data: Data,
    /// For each of x, y, z: the index of its field.
    coords: [usize; 3],
    lines: usize,
}

impl Header {
    /// Bytes of one point; fields were checked so that this cannot overflow.
    fn point_bytes(&self) -> u64 {
        self.fields.iter().map(Field::bytes).sum()
    }

    /// Byte offset of field `i` within a point.
    fn offset(&self, i: usize) -> u64 {
        self.fields[..i].iter().map(Field::bytes).sum()
    }

    /// Index of field `i`'s first value among a point's values.
    fn value_index(&self, i: usize) -> u64 {
        self.fields[..i].iter().map(|f| f.count).sum()
    }
}

fn err(line: Option<usize>, kind: ParseErrorKind) -> ParseError {
    ParseError::new(Format::Pcd, line, kind)
}

fn header_err(line: usize, msg: impl Into<String>) -> ParseError {
    err(Some(line), ParseErrorKind::Header(msg.into()))
}

fn compressed_err(msg: String) -> ParseError {
    err(None, ParseErrorKind::Compressed(msg))
}

pub(super) fn parse(bytes: &[u8], limits: &Limits) -> Result<PointCloud, ParseError> {
    let mut lines = Lines::new(bytes);
    let header = parse_header(&mut lines)?;
    let body = lines.rest();
    let points = match header.data {
        Data::Ascii => read_ascii(&header, body, limits)?,
        Data::Binary => read_binary(&header, body, limits)?,
        Data::BinaryCompressed => read_compressed(&header, body, limits)?,
    };
    points.finish().map_err(|k| err(None, k))
}

/// The header's lines as written, each value list with the line it was on.
#[derive(Default)]
struct HeaderLines {
    names: Option<Vec<String>>,
    sizes: Option<(usize, Vec<u64>)>,
    types: Option<(usize, Vec<String>)>,
    counts: Option<(usize, Vec<u64>)>,
    width: Option<u64>,
    height: Option<u64>,
    declared_points: Option<(usize, u64)>,
}

fn parse_header(lines: &mut Lines) -> Result<Header, ParseError> {
    let mut raw = HeaderLines::default();
    let data = loop {
        if let Some(data) = read_header_line(lines, &mut raw)? {
            break data;
        }
    };
    let data_line = lines.number();
    let (fields, count_line) = fields(raw.names, raw.sizes, raw.types, raw.counts)?;
    let coords = coordinates(&fields, count_line)?;
    let points = point_count(raw.width, raw.height, raw.declared_points)?;
    Ok(Header {
        fields,
        points,
        data,
        coords,
        lines: data_line,
    })
}

/// Reads one header line into `raw`; the `DATA` line, which ends the header,
/// gives the data's encoding.
fn read_header_line(lines: &mut Lines, raw: &mut HeaderLines) -> Result<Option<Data>, ParseError> {
    let Some(bytes) = lines.next() else {
        return Err(missing("DATA"));
    };
    let n = lines.number();
    let line = std::str::from_utf8(bytes)
        .map_err(|_| header_err(n, format!("not text: {:?}", shown(bytes))))?;
    let mut words = line.split_ascii_whitespace();
    let Some(key) = words.next() else {
        return Ok(None);
    };
    let values: Vec<&str> = words.collect();
    let number = |v: &str| {
        v.parse::<u64>()
            .map_err(|_| header_err(n, format!("{key}: `{v}` is not a count")))
    };
    let numbers = || {
        values
            .iter()
            .map(|v| number(v))
            .collect::<Result<Vec<_>, _>>()
    };
    let one_number = || match values.as_slice() {
        [v] => number(v),
        _ => Err(header_err(n, format!("{key} needs one value"))),
    };
    let words = || values.iter().map(|v| v.to_string()).collect::<Vec<_>>();
    match key.to_ascii_uppercase().as_str() {
        _ if key.starts_with('#') => {}
        "VERSION" | "VIEWPOINT" => {}
        "FIELDS" | "COLUMNS" => raw.names = Some(words()),
        "SIZE" => raw.sizes = Some((n, numbers()?)),
        "TYPE" => raw.types = Some((n, words())),
        "COUNT" => raw.counts = Some((n, numbers()?)),
        "WIDTH" => raw.width = Some(one_number()?),
        "HEIGHT" => raw.height = Some(one_number()?),
        "POINTS" => raw.declared_points = Some((n, one_number()?)),
        "DATA" => {
            return match values.as_slice() {
                ["ascii"] => Ok(Some(Data::Ascii)),
                ["binary"] => Ok(Some(Data::Binary)),
                ["binary_compressed"] => Ok(Some(Data::BinaryCompressed)),
                _ => Err(err(
                    Some(n),
                    ParseErrorKind::Unsupported(format!(
                        "DATA `{}` (expected ascii, binary or binary_compressed)",
                        values.join(" ")
                    )),
                )),
            };
        }
        _ => {
            return Err(header_err(
                n,
                format!("unknown header line {:?}", shown(bytes)),
            ))
        }
    }
    Ok(None)
}

/// The error for a header without a `what` line.
fn missing(what: &str) -> ParseError {
    err(
        None,
        ParseErrorKind::Header(format!("the header has no {what} line")),
    )
}

/// The fields named by FIELDS, SIZE, TYPE and COUNT (one value each per field;
/// COUNT defaults to 1), and the COUNT line, where a bad count is reported.
fn fields(
    names: Option<Vec<String>>,
    sizes: Option<(usize, Vec<u64>)>,
    types: Option<(usize, Vec<String>)>,
    counts: Option<(usize, Vec<u64>)>,
) -> Result<(Vec<Field>, usize), ParseError> {
    let names = names.ok_or_else(|| missing("FIELDS"))?;
    let (size_line, sizes) = sizes.ok_or_else(|| missing("SIZE"))?;
    let (type_line, types) = types.ok_or_else(|| missing("TYPE"))?;
    let (count_line, counts) = counts.unwrap_or((0, vec![1; names.len()]));
    for (line, what, len) in [
        (size_line, "SIZE", sizes.len()),
        (type_line, "TYPE", types.len()),
        (count_line, "COUNT", counts.len()),
    ] {
        if len != names.len() {
            return Err(header_err(
                line,
                format!("{what} has {len} values for {} fields", names.len()),
            ));
        }
    }
    let mut fields = Vec::with_capacity(names.len());
    let mut point_bytes: u64 = 0;
    for (((name, ty), size), count) in names.into_iter().zip(types).zip(sizes).zip(counts) {
        let scalar = Scalar::from_pcd(&ty, size).ok_or_else(|| {
            err(
                Some(type_line),
                ParseErrorKind::Unsupported(format!("field `{name}`: TYPE {ty} with SIZE {size}")),
            )
        })?;
        let field = Field {
            name,
            scalar,
            count,
        };
        point_bytes = field
            .count
            .checked_mul(field.scalar.size() as u64)
            .and_then(|b| point_bytes.checked_add(b))
            .ok_or_else(|| header_err(count_line, "the fields' COUNTs overflow a point's size"))?;
        fields.push(field);
    }
    Ok((fields, count_line))
}

/// Where x, y and z are among `fields`: each must be there, with COUNT 1.
fn coordinates(fields: &[Field], count_line: usize) -> Result<[usize; 3], ParseError> {
    let mut coords = [0; 3];
    for (slot, axis) in coords.iter_mut().zip(["x", "y", "z"]) {
        *slot = fields.iter().position(|f| f.name == axis).ok_or_else(|| {
            err(
                None,
                ParseErrorKind::MissingCoordinate {
                    axis,
                    place: "FIELDS line",
                },
            )
        })?;
        if fields[*slot].count != 1 {
            return Err(err(
                Some(count_line),
                ParseErrorKind::Unsupported(format!(
                    "field `{axis}` has COUNT {}",
                    fields[*slot].count
                )),
            ));
        }
    }
    Ok(coords)
}

/// WIDTH × HEIGHT, checked against POINTS where the header has it.
fn point_count(
    width: Option<u64>,
    height: Option<u64>,
    declared: Option<(usize, u64)>,
) -> Result<u64, ParseError> {
    let width = width.ok_or_else(|| missing("WIDTH"))?;
    // HEIGHT is required by the format, but unorganized clouds from some writers omit it.
    let height = height.unwrap_or(1);
    let points = width.checked_mul(height).ok_or_else(|| {
        err(
            None,
            ParseErrorKind::Header(format!("WIDTH {width} × HEIGHT {height} overflows")),
        )
    })?;
    if let Some((line, declared)) = declared {
        if declared != points {
            return Err(header_err(
                line,
                format!("POINTS {declared} but WIDTH {width} × HEIGHT {height} = {points}"),
            ));
        }
    }
    Ok(points)
}

fn too_many(header: &Header, limits: &Limits) -> Result<(), ParseError> {
    if header.points > limits.max_points as u64 {
        return Err(err(
            None,
            ParseErrorKind::TooManyPoints {
                declared: header.points,
                limit: limits.max_points,
            },
        ));
    }
    Ok(())
}

fn truncated(header: &Header, needed: u64, available: usize) -> ParseError {
    err(
        None,
        ParseErrorKind::Truncated {
            declared: header.points,
            unit: "points".into(),
            needed,
            available: available as u64,
        },
    )
}

fn read_ascii(header: &Header, body: &[u8], limits: &Limits) -> Result<Collector, ParseError> {
    let values_per_point: u64 = header.fields.iter().map(|f| f.count).sum();
    let min_line = values_per_point.saturating_mul(2);
    let needed = header.points.saturating_mul(min_line).saturating_sub(1);
    if needed > body.len() as u64 {
        return Err(truncated(header, needed, body.len()));
    }
    too_many(header, limits)?;
    let positions = header.coords.map(|i| header.value_index(i));
    let scalars = header.coords.map(|i| header.fields[i].scalar);
    let mut points = Collector::new(
        bounded_capacity(header.points, limits, body.len(), min_line),
        true,
    );
    let mut lines = Lines::new(body);
    for i in 0..header.points {
        let raw = loop {
            let line = lines.next().ok_or_else(|| {
                err(
                    None,
                    ParseErrorKind::EndsEarly {
                        read: i,
                        declared: header.points,
                        unit: "points",
                    },
                )
            })?;
            if !line.trim_ascii().is_empty() {
                break line;
            }
        };
        let n = header.lines + lines.number();
        let syntax = |m: String| err(Some(n), ParseErrorKind::Syntax(m));
        let text =
            std::str::from_utf8(raw).map_err(|_| syntax(format!("not text: {:?}", shown(raw))))?;
        let mut xyz = [0f64; 3];
        let mut found = 0u64;
        for (k, word) in text.split_ascii_whitespace().enumerate() {
            found += 1;
            if let Some(axis) = positions.iter().position(|&p| p == k as u64) {
                xyz[axis] = scalars[axis].parse_text(word).ok_or_else(|| {
                    syntax(format!(
                        "field `{}`: `{word}` is not a number",
                        ["x", "y", "z"][axis]
                    ))
                })?;
            }
        }
        if found != values_per_point {
            return Err(syntax(format!(
                "expected {values_per_point} values, found {found}: {:?}",
                shown(raw)
            )));
        }
        points.push(xyz).map_err(|k| err(Some(n), k))?;
    }
    Ok(points)
}

fn read_binary(header: &Header, body: &[u8], limits: &Limits) -> Result<Collector, ParseError> {
    let point_bytes = header.point_bytes();
    let needed = header.points.saturating_mul(point_bytes);
    if needed > body.len() as u64 {
        return Err(truncated(header, needed, body.len()));
    }
    too_many(header, limits)?;
    let fields = header
        .coords
        .map(|i| (header.offset(i) as usize, header.fields[i].scalar));
    let mut points = Collector::new(
        bounded_capacity(header.points, limits, body.len(), point_bytes),
        true,
    );
    if point_bytes == 0 {
        return Ok(points);
    }
    // The size check above makes every record below in bounds.
    for record in body
        .chunks_exact(point_bytes as usize)
        .take(header.points as usize)
    {
        let xyz = fields.map(|(at, s)| s.read(&record[at..at + s.size()], false));
        points.push(xyz).map_err(|k| err(None, k))?;
    }
    Ok(points)
}

fn read_compressed(header: &Header, body: &[u8], limits: &Limits) -> Result<Collector, ParseError> {
    let mut cursor = Cursor::new(body);
    let (Some(c), Some(u)) = (cursor.take(4), cursor.take(4)) else {
        return Err(compressed_err(format!(
            "the body holds {} bytes, fewer than the 8 of the two sizes",
            body.len()
        )));
    };
    let compressed = u32::from_le_bytes(c.try_into().expect("4 bytes")) as u64;
    let uncompressed = u32::from_le_bytes(u.try_into().expect("4 bytes")) as u64;
    let available = cursor.remaining() as u64;
    if compressed > available {
        return Err(compressed_err(format!(
            "compressed size {compressed} bytes but the body holds {available} after the sizes"
        )));
    }
    too_many(header, limits)?;
    let expected = header.points.saturating_mul(header.point_bytes());
    if uncompressed != expected {
        return Err(compressed_err(format!(
            "uncompressed size {uncompressed} bytes but {} points of {} bytes take {expected}",
            header.points,
            header.point_bytes()
        )));
    }
    if uncompressed > compressed.saturating_mul(LZF_MAX_RATIO) {
        return Err(compressed_err(format!(
            "uncompressed size {uncompressed} bytes is more than LZF can expand {compressed} bytes to"
        )));
    }
    let payload = cursor
        .take(compressed as usize)
        .expect("checked against remaining");
    // Bounded by the checks above: at most LZF_MAX_RATIO times bytes the file really holds.
    let mut columns = vec![0u8; uncompressed as usize];
    if uncompressed > 0 {
        let written = lzf_rust::decompress(payload, &mut columns)
            .map_err(|e| compressed_err(format!("the LZF payload does not decompress: {e}")))?;
        if written as u64 != uncompressed {
            return Err(compressed_err(format!(
                "the LZF payload decompresses to {written} bytes, not {uncompressed}"
            )));
        }
    }
    // Struct of arrays: each field's values for every point, field after field.
    let starts = header
        .coords
        .map(|i| (header.offset(i) * header.points) as usize);
    let capacity = bounded_capacity(header.points, limits, columns.len(), header.point_bytes());
    let mut points = Collector::new(capacity, true);
    for i in 0..header.points as usize {
        let xyz = [0, 1, 2].map(|a| {
            let s = header.fields[header.coords[a]].scalar;
            let at = starts[a] + i * s.size();
            s.read(&columns[at..at + s.size()], false)
        });
        points.push(xyz).map_err(|k| err(None, k))?;
    }
    Ok(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &[u8]) -> Result<PointCloud, ParseError> {
        parse(s, &Limits::default())
    }

    const HEAD: &str = "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n\
        FIELDS x y z rgb\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\nWIDTH 2\nHEIGHT 1\n\
        VIEWPOINT 0 0 0 1 0 0 0\nPOINTS 2\n";

    #[test]
    fn ascii_skips_nan_holes_and_reads_the_rest() {
        let b = format!("{HEAD}DATA ascii\n1 2 3 0\nnan nan nan 0\n");
        assert_eq!(read(b.as_bytes()).unwrap().points(), &[[1.0, 2.0, 3.0]]);
        let b = format!("{HEAD}DATA ascii\nnan nan nan 0\nnan nan nan 0\n");
        let e = read(b.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PCD: all 2 points are NaN: the cloud has no valid points"
        );
        let b = format!("{HEAD}DATA ascii\n1 2 3 0\n1 inf 3 0\n");
        let e = read(b.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PCD: line 13: point 1 has a non-finite coordinate (1, inf, 3)"
        );
    }

    #[test]
    fn ascii_value_counts_are_checked() {
        let b = format!("{HEAD}DATA ascii\n1 2 3 0\n1.0 abc 3 0\n");
        let e = read(b.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PCD: line 13: field `y`: `abc` is not a number"
        );
        let b = format!("{HEAD}DATA ascii\n1 2 3 0\n10 20 30\n");
        let e = read(b.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PCD: line 13: expected 4 values, found 3: \"10 20 30\""
        );
    }

    #[test]
    fn header_consistency_is_checked() {
        let b = HEAD.replace("POINTS 2", "POINTS 3") + "DATA ascii\n";
        let e = read(b.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PCD: line 10: POINTS 3 but WIDTH 2 × HEIGHT 1 = 2"
        );
        let b = HEAD.replace("SIZE 4 4 4 4", "SIZE 4 4 4") + "DATA ascii\n";
        let e = read(b.as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), "PCD: line 4: SIZE has 3 values for 4 fields");
        let b = HEAD.replace("FIELDS x y z", "FIELDS x y q") + "DATA ascii\n";
        let e = read(b.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PCD: no `z` coordinate: the FIELDS line has none"
        );
        let b = format!("{HEAD}DATA binary_lz4\n");
        assert!(read(b.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("line 11: DATA `binary_lz4`"));
        assert!(read(HEAD.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("no DATA line"));
    }

    #[test]
    fn binary_body_size_is_checked_before_reading() {
        let b = HEAD
            .replace("WIDTH 2", "WIDTH 4000000000")
            .replace("POINTS 2", "POINTS 4000000000")
            + "DATA binary\n0123456789";
        let e = read(b.as_bytes()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PCD: header declares 4000000000 points but the body holds 10 bytes (at least 64000000000 needed)"
        );
    }

    fn compressed(points: &[[f32; 3]], sizes: Option<(u32, u32)>) -> Vec<u8> {
        let mut columns = Vec::new();
        for axis in 0..3 {
            for p in points {
                columns.extend_from_slice(&p[axis].to_le_bytes());
            }
        }
        let mut payload = vec![0u8; columns.len() * 2 + 16];
        let n = lzf_rust::compress(&columns, &mut payload).unwrap();
        payload.truncate(n);
        let (c, u) = sizes.unwrap_or((n as u32, columns.len() as u32));
        let mut b = format!(
            "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH {}\nDATA binary_compressed\n",
            points.len()
        )
        .into_bytes();
        b.extend_from_slice(&c.to_le_bytes());
        b.extend_from_slice(&u.to_le_bytes());
        b.extend_from_slice(&payload);
        b
    }

    #[test]
    fn binary_compressed_reads_columns() {
        let pts = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [4.0, 5.0, 6.0]];
        assert_eq!(read(&compressed(&pts, None)).unwrap().points(), &pts);
    }

    #[test]
    fn bad_lzf_sizes_are_refused() {
        let pts = [[1.0, 2.0, 3.0]; 40];
        let good = compressed(&pts, None);
        let n = read(&good).map(|c| c.len()).unwrap();
        assert_eq!(n, 40);
        let e = read(&compressed(&pts, Some((1_000_000, 480)))).unwrap_err();
        assert!(
            e.to_string()
                .contains("compressed size 1000000 bytes but the body holds"),
            "{e}"
        );
        let e = read(&compressed(&pts, Some((5, 4_000_000_000)))).unwrap_err();
        assert!(
            e.to_string()
                .contains("uncompressed size 4000000000 bytes but 40 points of 12 bytes take 480"),
            "{e}"
        );
        let mut b = compressed(&pts, None);
        let end = b.len() - 3;
        b.truncate(end);
        let e = read(&b).unwrap_err();
        assert!(
            e.to_string().starts_with("PCD: binary_compressed data:"),
            "{e}"
        );
        let e = read(
            b"FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 1\nDATA binary_compressed\n\x01\x00",
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("fewer than the 8 of the two sizes"),
            "{e}"
        );
    }
}
