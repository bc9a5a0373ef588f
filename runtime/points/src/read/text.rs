//! Line splitting shared by the text headers and bodies.

/// Lines of a byte slice split at `\n`, a trailing `\r` removed, numbered from 1.
pub(super) struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
    number: usize,
}

impl<'a> Lines<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Lines<'a> {
        Lines {
            bytes,
            pos: 0,
            number: 0,
        }
    }

    /// The bytes after the last line returned.
    pub(super) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.pos..]
    }

    /// The number of the last line returned (0 before the first).
    pub(super) fn number(&self) -> usize {
        self.number
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let rest = &self.bytes[self.pos..];
        let (line, used) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += used;
        self.number += 1;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

/// A line as text, for messages: lossy, and cut short so a hostile line cannot flood a log.
pub(super) fn shown(line: &[u8]) -> String {
    const MAX: usize = 60;
    let s = String::from_utf8_lossy(&line[..line.len().min(MAX)]);
    if line.len() > MAX {
        format!("{s}…")
    } else {
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_strip_crlf_and_keep_the_rest() {
        let mut l = Lines::new(b"a\r\nbb\n\nc");
        assert_eq!(l.next(), Some(&b"a"[..]));
        assert_eq!(l.rest(), b"bb\n\nc");
        assert_eq!(l.next(), Some(&b"bb"[..]));
        assert_eq!(l.next(), Some(&b""[..]));
        assert_eq!(l.next(), Some(&b"c"[..]));
        assert_eq!(l.number(), 4);
        assert_eq!(l.next(), None);
    }

    #[test]
    fn long_lines_are_cut_in_messages() {
        assert_eq!(shown(b"1.0 abc"), "1.0 abc");
        assert_eq!(shown(&[b'9'; 100]).chars().count(), 61);
    }
}
