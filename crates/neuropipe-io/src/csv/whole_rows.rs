//! [`WholeRows`]: a buffered writer that leaves only whole rows in its file, even when the
//! disk fills up half-way through a write.

use std::fs::File;
use std::io::{self, Write};

/// Rows buffered before they are written out without an explicit flush.
const AUTO_FLUSH_BYTES: usize = 1 << 20;

/// Buffers rows in memory and writes them out at row boundaries; if a write fails part-way
/// (disk full, quota), the file is cut back to its last whole row before the error is
/// returned, so a reader never finds a half-written row.
///
/// Rows must reach it whole before [`flush`](Write::flush): a flush happens on request, or
/// automatically once more than 1 MiB is buffered and a write ends with `\n`.
#[derive(Debug)]
pub struct WholeRows<W: Write> {
    out: W,
    buf: Vec<u8>,
    /// Bytes of the file known to end at a row boundary.
    committed: u64,
    truncate: fn(&mut W, u64) -> io::Result<()>,
}

impl WholeRows<File> {
    /// Wraps a file positioned at its end, `len` bytes long.
    pub fn file(file: File, len: u64) -> Self {
        WholeRows::new(file, len, |f, len| {
            f.set_len(len)?;
            use std::io::Seek;
            f.seek(io::SeekFrom::Start(len)).map(|_| ())
        })
    }
}

impl<W: Write> WholeRows<W> {
    /// Wraps `out`, which holds `len` bytes of whole rows; `truncate` cuts it back to a length.
    pub fn new(out: W, len: u64, truncate: fn(&mut W, u64) -> io::Result<()>) -> Self {
        WholeRows {
            out,
            buf: Vec::with_capacity(64 * 1024),
            committed: len,
            truncate,
        }
    }

    /// The wrapped writer (after a [`flush`](Write::flush), everything is in it).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Flushes and returns the wrapped writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for WholeRows<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > AUTO_FLUSH_BYTES && bytes.ends_with(b"\n") {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return self.out.flush();
        }
        match self
            .out
            .write_all(&self.buf)
            .and_then(|()| self.out.flush())
        {
            Ok(()) => {
                self.committed += self.buf.len() as u64;
                self.buf.clear();
                Ok(())
            }
            Err(e) => {
                // Part of the buffer may be in the file: cut back to the last whole row.
                let _ = (self.truncate)(&mut self.out, self.committed);
                self.buf.clear();
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "disk" that takes `room` bytes, then fails (after a partial write).
    struct Disk {
        data: Vec<u8>,
        room: usize,
    }

    impl Write for Disk {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let n = b.len().min(self.room - self.data.len());
            if n == 0 {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            self.data.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_leaves_whole_rows() {
        let disk = Disk {
            data: b"t,a\n".to_vec(),
            room: 30,
        };
        let mut w = WholeRows::new(disk, 4, |d, len| {
            d.data.truncate(len as usize);
            Ok(())
        });
        w.write_all(b"0,1.5\n0.1,2.5\n").unwrap();
        w.flush().unwrap();
        w.write_all(b"0.2,3.25\n0.3,4.125\n").unwrap();
        let e = w.flush().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
        let data = &w.get_mut().data;
        assert_eq!(
            data,
            b"t,a\n0,1.5\n0.1,2.5\n",
            "{}",
            String::from_utf8_lossy(data)
        );
    }
}
