//! PLY: the `x y z` properties of the `vertex` element, in ascii or binary (either byte
//! order). Other properties, list ones included, and other elements are skipped; reading
//! stops after the vertices, so elements after them are never parsed.

use super::scalar::{Cursor, Scalar};
use super::text::{shown, Lines};
use super::{bounded_capacity, Collector, Format, Limits, ParseError, ParseErrorKind};
use crate::PointCloud;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Ascii,
    Binary { big_endian: bool },
}

#[derive(Debug)]
enum Property {
    Scalar(Scalar),
    List { count: Scalar, item: Scalar },
}

#[derive(Debug)]
struct Element {
    name: String,
    count: u64,
    properties: Vec<(String, Property)>,
}

impl Element {
    /// The fewest bytes a record can take: list counts alone for lists, and in ascii one
    /// character and one separator per value.
    fn min_record_bytes(&self, encoding: Encoding) -> u64 {
        self.properties
            .iter()
            .map(|(_, p)| match (encoding, p) {
                (Encoding::Ascii, _) => 2,
                (_, Property::Scalar(s)) => s.size() as u64,
                (_, Property::List { count, .. }) => count.size() as u64,
            })
            .sum()
    }

    fn unit(&self) -> String {
        if self.name == "vertex" {
            "vertices".into()
        } else {
            format!("`{}` elements", self.name)
        }
    }
}

struct Header {
    encoding: Encoding,
    elements: Vec<Element>,
    /// Lines the header takes, so body line numbers count from the file's start.
    lines: usize,
}

fn err(line: Option<usize>, kind: ParseErrorKind) -> ParseError {
    ParseError::new(Format::Ply, line, kind)
}

fn header_err(line: usize, msg: impl Into<String>) -> ParseError {
    err(Some(line), ParseErrorKind::Header(msg.into()))
}

pub(super) fn parse(bytes: &[u8], limits: &Limits) -> Result<PointCloud, ParseError> {
    let mut lines = Lines::new(bytes);
    let header = parse_header(&mut lines)?;
    let body = lines.rest();
    let vertex_at = header
        .elements
        .iter()
        .position(|e| e.name == "vertex")
        .ok_or_else(|| err(None, ParseErrorKind::Header("no `vertex` element".into())))?;
    let vertex = &header.elements[vertex_at];
    let coords = coordinate_indices(vertex)?;
    check_sizes(&header.elements[..=vertex_at], header.encoding, body.len())?;
    if vertex.count > limits.max_points as u64 {
        return Err(err(
            None,
            ParseErrorKind::TooManyPoints {
                declared: vertex.count,
                limit: limits.max_points,
            },
        ));
    }
    let capacity = bounded_capacity(
        vertex.count,
        limits,
        body.len(),
        vertex.min_record_bytes(header.encoding),
    );
    let mut points = Collector::new(capacity, false);
    match header.encoding {
        Encoding::Binary { big_endian } => {
            let mut cursor = Cursor::new(body);
            for element in &header.elements[..vertex_at] {
                skip_binary(&mut cursor, element, big_endian)?;
            }
            read_binary_vertices(&mut cursor, vertex, coords, big_endian, &mut points)?;
        }
        Encoding::Ascii => {
            let mut body_lines = Lines::new(body);
            for element in &header.elements[..vertex_at] {
                read_ascii(&mut body_lines, header.lines, element, None)?;
            }
            read_ascii(
                &mut body_lines,
                header.lines,
                vertex,
                Some((coords, &mut points)),
            )?;
        }
    }
    points.finish().map_err(|k| err(None, k))
}

fn parse_header(lines: &mut Lines) -> Result<Header, ParseError> {
    if lines.next().map(|l| l.trim_ascii_end()) != Some(b"ply") {
        return Err(header_err(1, "not a PLY file: the first line is not `ply`"));
    }
    let mut encoding = None;
    let mut elements: Vec<Element> = Vec::new();
    loop {
        let Some(raw) = lines.next() else {
            return Err(err(
                None,
                ParseErrorKind::Header("the header has no `end_header` line".into()),
            ));
        };
        let n = lines.number();
        let line = std::str::from_utf8(raw)
            .map_err(|_| header_err(n, format!("not text: {:?}", shown(raw))))?;
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        match words.as_slice() {
            [] | ["comment", ..] | ["obj_info", ..] => {}
            ["end_header"] => break,
            ["format", enc, version] => {
                if !version.starts_with('1') {
                    return Err(header_err(n, format!("unsupported PLY version {version}")));
                }
                encoding = Some(match *enc {
                    "ascii" => Encoding::Ascii,
                    "binary_little_endian" => Encoding::Binary { big_endian: false },
                    "binary_big_endian" => Encoding::Binary { big_endian: true },
                    _ => return Err(header_err(n, format!("unknown format `{enc}`"))),
                });
            }
            ["element", name, count] => {
                let count = count.parse().map_err(|_| {
                    header_err(
                        n,
                        format!("element `{name}` count `{count}` is not a count"),
                    )
                })?;
                elements.push(Element {
                    name: name.to_string(),
                    count,
                    properties: Vec::new(),
                });
            }
            ["property", rest @ ..] => {
                let element = elements
                    .last_mut()
                    .ok_or_else(|| header_err(n, "a property before any element"))?;
                let (name, property) = parse_property(rest).map_err(|m| header_err(n, m))?;
                element.properties.push((name, property));
            }
            _ => {
                return Err(header_err(
                    n,
                    format!("unexpected header line {:?}", shown(raw)),
                ))
            }
        }
    }
    let encoding = encoding.ok_or_else(|| {
        err(
            None,
            ParseErrorKind::Header("the header has no `format` line".into()),
        )
    })?;
    Ok(Header {
        encoding,
        elements,
        lines: lines.number(),
    })
}

fn parse_property(words: &[&str]) -> Result<(String, Property), String> {
    let scalar =
        |t: &str| Scalar::from_ply(t).ok_or_else(|| format!("unknown property type `{t}`"));
    match words {
        ["list", count, item, name] => {
            let count = scalar(count)?;
            if !count.is_integer() {
                return Err(format!("list `{name}` has a non-integer length type"));
            }
            let item = scalar(item)?;
            Ok((name.to_string(), Property::List { count, item }))
        }
        [ty, name] => Ok((name.to_string(), Property::Scalar(scalar(ty)?))),
        _ => Err(format!(
            "malformed property line `property {}`",
            words.join(" ")
        )),
    }
}

/// Where `x`, `y` and `z` are among the vertex properties.
fn coordinate_indices(vertex: &Element) -> Result<[usize; 3], ParseError> {
    let mut found = [0; 3];
    for (slot, axis) in found.iter_mut().zip(["x", "y", "z"]) {
        let i = vertex
            .properties
            .iter()
            .position(|(name, _)| name == axis)
            .ok_or_else(|| {
                err(
                    None,
                    ParseErrorKind::MissingCoordinate {
                        axis,
                        place: "vertex element",
                    },
                )
            })?;
        if matches!(vertex.properties[i].1, Property::List { .. }) {
            return Err(err(
                None,
                ParseErrorKind::Unsupported(format!("vertex property `{axis}` is a list")),
            ));
        }
        *slot = i;
    }
    Ok(found)
}

/// Refuses counts the body cannot hold before anything is read or reserved.
fn check_sizes(
    elements: &[Element],
    encoding: Encoding,
    available: usize,
) -> Result<(), ParseError> {
    let mut needed: u64 = 0;
    for e in elements {
        needed = needed.saturating_add(e.count.saturating_mul(e.min_record_bytes(encoding)));
        // The last ascii line needs no newline.
        let needed_here = match encoding {
            Encoding::Ascii => needed.saturating_sub(1),
            Encoding::Binary { .. } => needed,
        };
        if needed_here > available as u64 {
            return Err(err(
                None,
                ParseErrorKind::Truncated {
                    declared: e.count,
                    unit: e.unit(),
                    needed: needed_here,
                    available: available as u64,
                },
            ));
        }
    }
    Ok(())
}

fn ends_early(read: u64, element: &Element) -> ParseError {
    let unit = if element.name == "vertex" {
        "vertices"
    } else {
        "elements"
    };
    err(
        None,
        ParseErrorKind::EndsEarly {
            read,
            declared: element.count,
            unit,
        },
    )
}

fn skip_binary(cursor: &mut Cursor, element: &Element, big_endian: bool) -> Result<(), ParseError> {
    if element
        .properties
        .iter()
        .all(|(_, p)| matches!(p, Property::Scalar(_)))
    {
        // Fixed-size records (or none at all): one jump, whatever the count.
        let size = element.min_record_bytes(Encoding::Binary { big_endian }) as usize;
        return cursor
            .skip(element.count, size)
            .ok_or_else(|| ends_early(0, element));
    }
    // Every record holds at least one list length byte, so this loop ends with the body.
    for i in 0..element.count {
        for (_, p) in &element.properties {
            skip_property(cursor, p, big_endian).ok_or_else(|| ends_early(i, element))?;
        }
    }
    Ok(())
}

fn skip_property(cursor: &mut Cursor, p: &Property, big_endian: bool) -> Option<()> {
    match p {
        Property::Scalar(s) => cursor.skip(1, s.size()),
        Property::List { count, item } => {
            let n = cursor.scalar(*count, big_endian)?;
            // A negative length is malformed; treating it as truncation ends the read.
            if n < 0.0 {
                return None;
            }
            cursor.skip(n as u64, item.size())
        }
    }
}

fn read_binary_vertices(
    cursor: &mut Cursor,
    vertex: &Element,
    coords: [usize; 3],
    big_endian: bool,
    points: &mut Collector,
) -> Result<(), ParseError> {
    let mut values = [0f64; 3];
    for i in 0..vertex.count {
        for (k, (_, p)) in vertex.properties.iter().enumerate() {
            let truncated = || ends_early(i, vertex);
            match (coords.iter().position(|&c| c == k), p) {
                (Some(axis), Property::Scalar(s)) => {
                    values[axis] = cursor.scalar(*s, big_endian).ok_or_else(truncated)?;
                }
                _ => skip_property(cursor, p, big_endian).ok_or_else(truncated)?,
            }
        }
        points.push(values).map_err(|k| err(None, k))?;
    }
    Ok(())
}

/// Reads `element`'s records, one a line; with `sink`, collects the vertices' coordinates.
fn read_ascii(
    lines: &mut Lines,
    header_lines: usize,
    element: &Element,
    mut sink: Option<([usize; 3], &mut Collector)>,
) -> Result<(), ParseError> {
    if element.properties.is_empty() {
        return Ok(());
    }
    let mut values = [0f64; 3];
    for i in 0..element.count {
        let raw = loop {
            let line = lines.next().ok_or_else(|| ends_early(i, element))?;
            if !line.trim_ascii().is_empty() {
                break line;
            }
        };
        let n = header_lines + lines.number();
        let syntax = |m: String| err(Some(n), ParseErrorKind::Syntax(m));
        let text =
            std::str::from_utf8(raw).map_err(|_| syntax(format!("not text: {:?}", shown(raw))))?;
        let mut words = text.split_ascii_whitespace();
        let mut next = |what: &str| {
            words.next().ok_or_else(|| {
                syntax(format!(
                    "too few values for a `{}` element (no {what}): {:?}",
                    element.name,
                    shown(raw)
                ))
            })
        };
        for (k, (name, p)) in element.properties.iter().enumerate() {
            match p {
                Property::Scalar(scalar) => {
                    let word = next(name)?;
                    let axis = sink
                        .as_ref()
                        .and_then(|(c, _)| c.iter().position(|&c| c == k));
                    if sink.is_some() {
                        let v = scalar.parse_text(word).ok_or_else(|| {
                            syntax(format!("property `{name}`: `{word}` is not a number"))
                        })?;
                        if let Some(axis) = axis {
                            values[axis] = v;
                        }
                    }
                }
                Property::List { .. } => {
                    let word = next(name)?;
                    let len: u64 = word.parse().map_err(|_| {
                        syntax(format!("list `{name}`: length `{word}` is not a count"))
                    })?;
                    for _ in 0..len {
                        next(name)?;
                    }
                }
            }
        }
        if words.next().is_some() {
            return Err(syntax(format!(
                "more values than a `{}` element has properties: {:?}",
                element.name,
                shown(raw)
            )));
        }
        if let Some((_, points)) = sink.as_mut() {
            points.push(values).map_err(|k| err(Some(n), k))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &[u8]) -> Result<PointCloud, ParseError> {
        parse(s, &Limits::default())
    }

    const ASCII: &str = "ply\nformat ascii 1.0\ncomment hi\nelement face 1\n\
        property list uchar int vertex_indices\nelement vertex 2\nproperty float x\n\
        property float y\nproperty list uchar float extra\nproperty double z\nend_header\n\
        3 0 1 1\n1 2 2 7 8 3\n4 5 0 6\n";

    #[test]
    fn ascii_with_faces_first_and_a_list_in_the_vertices() {
        let c = read(ASCII.as_bytes()).unwrap();
        assert_eq!(c.points(), &[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    }

    #[test]
    fn binary_big_endian_skips_faces_and_lists() {
        let mut b = b"ply\r\nformat binary_big_endian 1.0\r\nelement face 2\r\n\
            property list uchar int vertex_indices\r\nelement vertex 1\r\nproperty uchar red\r\n\
            property double x\r\nproperty float y\r\nproperty float z\r\nend_header\r\n"
            .to_vec();
        for face in [&[0u8][..], &[2, 0, 0, 0, 1, 0, 0, 0, 2]] {
            b.extend_from_slice(face);
        }
        b.push(9);
        b.extend_from_slice(&0.5f64.to_be_bytes());
        b.extend_from_slice(&(-1.5f32).to_be_bytes());
        b.extend_from_slice(&2.0f32.to_be_bytes());
        assert_eq!(read(&b).unwrap().points(), &[[0.5, -1.5, 2.0]]);
    }

    #[test]
    fn header_problems_are_named() {
        let e = read(b"plyx\n").unwrap_err();
        assert!(e.to_string().contains("not a PLY file"), "{e}");
        let e = read(b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\n").unwrap_err();
        assert!(e.to_string().contains("no `end_header`"), "{e}");
        let e = read(b"ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nproperty float y\nend_header\n1 2\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "PLY: no `z` coordinate: the vertex element has none"
        );
        let e = read(b"ply\nformat ascii 1.0\nproperty float x\nend_header\n").unwrap_err();
        assert_eq!(e.to_string(), "PLY: line 3: a property before any element");
        let e = read(b"ply\nformat ascii 1.0\nelement vertex -1\nend_header\n").unwrap_err();
        assert!(
            e.to_string()
                .contains("line 3: element `vertex` count `-1`"),
            "{e}"
        );
    }

    #[test]
    fn huge_counts_are_refused_before_reading() {
        let b = b"ply\nformat binary_little_endian 1.0\nelement vertex 4294967295\n\
            property float x\nproperty float y\nproperty float z\nend_header\n012345678901";
        let e = read(b).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PLY: header declares 4294967295 vertices but the body holds 12 bytes \
             (at least 51539607540 needed)"
        );
        // A zero-size element with a huge count is skipped in one step, not looped over.
        let b = b"ply\nformat binary_little_endian 1.0\nelement empty 18446744073709551615\n\
            element vertex 1\nproperty uchar x\nproperty uchar y\nproperty uchar z\nend_header\n\x01\x02\x03";
        assert_eq!(read(b).unwrap().points(), &[[1.0, 2.0, 3.0]]);
    }

    #[test]
    fn ascii_record_problems_carry_the_line() {
        let b = b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\n\
            property float z\nend_header\n1 2 3\n4 five 6\n";
        let e = read(b).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PLY: line 9: property `y`: `five` is not a number"
        );
        let b = b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\n\
            property float z\nend_header\n1000000 2000000 3000000\n";
        let e = read(b).unwrap_err();
        assert_eq!(
            e.to_string(),
            "PLY: the file ends after 1 of the 2 vertices the header declares"
        );
    }
}
