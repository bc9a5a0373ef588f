//! The JSON Lines printer: one compact record per line.

use std::io::{self, Write};

use super::Record;

/// Writes each record as one line of compact JSON.
pub struct JsonPrinter<W> {
    out: W,
    /// Reused between records; serializing into memory first keeps a write error
    /// an `io::Error` (through `serde_json::to_writer` it would become a
    /// `serde_json::Error`, and a closed pipe would no longer be recognised).
    line: Vec<u8>,
}

impl<W: Write> JsonPrinter<W> {
    /// A printer writing to `out`.
    pub fn new(out: W) -> Self {
        Self {
            out,
            line: Vec::new(),
        }
    }

    /// Writes `record` and a newline, then flushes.
    pub fn print(&mut self, record: &Record<'_>) -> io::Result<()> {
        self.line.clear();
        // Records hold strings, numbers and maps with string keys: serializing
        // them cannot fail short of running out of memory.
        serde_json::to_writer(&mut self.line, record).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.out.flush()
    }

    /// The writer back (tests read what was printed).
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}
