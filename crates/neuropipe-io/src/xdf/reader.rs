//! Reading XDF: [`scan`] walks the chunks once (stream headers parsed with `roxmltree`,
//! every numeric sample's time stamp kept, string samples kept whole); [`XdfSamples`] then
//! decodes one numeric stream's values chunk by chunk, for replay.

use super::writer::{ChannelFormat, ChannelMeta, StreamHeader, XdfError};
use std::io::{Read, Seek, SeekFrom};

/// A stream found in a file.
#[derive(Clone, Debug, PartialEq)]
pub struct XdfStream {
    /// Its id in the file.
    pub id: u32,
    /// Its header (name, type, format, rate, channels; `desc` elements other than the
    /// channels as `(name, text)`).
    pub header: StreamHeader,
    /// Time stamp of every sample (numeric streams), in file order.
    pub timestamps: Vec<f64>,
    /// Whether its footer was found (a file cut short has none).
    pub footer: bool,
    /// Its `ClockOffset` chunks, `(measurement time, offset)` in file order (see
    /// [`ClockFit`](super::ClockFit)).
    pub clock_offsets: Vec<(f64, f64)>,
}

/// The string samples of a file's string streams: `(stream id, time stamp, text)` (first
/// channel), in file order.
pub type XdfStrings = Vec<(u32, f64, String)>;

/// What [`scan`] found: the streams, the string samples, and where the numeric samples are.
#[derive(Clone, Debug)]
pub struct XdfIndex {
    /// Streams in order of their headers.
    pub streams: Vec<XdfStream>,
    /// Samples of the string streams.
    pub strings: XdfStrings,
    /// Samples chunks of numeric streams: (stream id, byte offset of the sample count, samples).
    chunks: Vec<(u32, u64, u64)>,
}

impl XdfIndex {
    /// The stream with id `id`.
    pub fn stream(&self, id: u32) -> Option<&XdfStream> {
        self.streams.iter().find(|s| s.id == id)
    }
}

fn format_error(offset: u64, problem: impl Into<String>) -> XdfError {
    XdfError::Format {
        offset,
        problem: problem.into(),
    }
}

/// Reads exactly `buf.len()` bytes at `offset` (for messages).
fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], offset: u64, what: &str) -> Result<(), XdfError> {
    r.read_exact(buf).map_err(|e| {
        format_error(
            offset,
            format!("{what}: {e} (the file ends inside a chunk)"),
        )
    })
}

/// XDF's variable-length integer at `offset`; `None` at a clean end of the file.
fn varlen<R: Read>(r: &mut R, offset: u64) -> Result<Option<(u64, u64)>, XdfError> {
    let mut width = [0u8; 1];
    match r.read(&mut width) {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(format_error(offset, format!("reading a length: {e}"))),
    }
    let n = width[0] as usize;
    if !matches!(n, 1 | 4 | 8) {
        return Err(format_error(
            offset,
            format!("a length of {n} bytes (XDF allows 1, 4 or 8)"),
        ));
    }
    let mut le = [0u8; 8];
    read_exact(r, &mut le[..n], offset + 1, "a length")?;
    Ok(Some((u64::from_le_bytes(le), 1 + n as u64)))
}

/// Parses a stream header's XML (at `offset`, for messages).
fn parse_header(xml: &str, offset: u64) -> Result<StreamHeader, XdfError> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| format_error(offset, format!("stream header XML: {e}")))?;
    let info = doc.root_element();
    let text = |parent: roxmltree::Node, tag: &str| -> String {
        parent
            .children()
            .find(|n| n.has_tag_name(tag))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let format = match text(info, "channel_format").as_str() {
        "float32" => ChannelFormat::Float32,
        "double64" => ChannelFormat::Double64,
        "int32" => ChannelFormat::Int32,
        "int16" => ChannelFormat::Int16,
        "string" => ChannelFormat::String,
        other => {
            return Err(format_error(
                offset,
                format!("channel_format {other:?} (this reader takes float32, double64, int32, int16, string)"),
            ))
        }
    };
    let count: usize = text(info, "channel_count")
        .parse()
        .map_err(|_| format_error(offset, "channel_count is not a number"))?;
    let srate: f64 = text(info, "nominal_srate")
        .parse()
        .map_err(|_| format_error(offset, "nominal_srate is not a number"))?;
    if count == 0 || !(srate.is_finite() && srate >= 0.0) {
        return Err(format_error(
            offset,
            format!("{count} channels at {srate} Hz"),
        ));
    }
    let mut h = StreamHeader::new(&text(info, "name"), &text(info, "type"), format, srate);
    h.source_id = text(info, "source_id");
    if let Some(desc) = info.children().find(|n| n.has_tag_name("desc")) {
        for el in desc.children().filter(|n| n.is_element()) {
            if el.has_tag_name("channels") {
                h.channels = el
                    .children()
                    .filter(|n| n.has_tag_name("channel"))
                    .map(|c| {
                        ChannelMeta::new(&text(c, "label"), &text(c, "unit"), &text(c, "type"))
                    })
                    .collect();
            } else if let Some(t) = el.text().map(str::trim).filter(|t| !t.is_empty()) {
                h.desc
                    .push((el.tag_name().name().to_string(), t.to_string()));
            }
        }
    }
    if h.channels.is_empty() || h.channels.len() != count {
        // Undescribed (or inconsistently described) channels: numbered.
        h.channels = (1..=count)
            .map(|k| ChannelMeta::new(&format!("Ch{k}"), "", ""))
            .collect();
    }
    Ok(h)
}

fn value_bytes(format: ChannelFormat) -> u64 {
    match format {
        ChannelFormat::Float32 | ChannelFormat::Int32 => 4,
        ChannelFormat::Double64 => 8,
        ChannelFormat::Int16 => 2,
        ChannelFormat::String => 0,
    }
}

/// Walks every chunk of `r` once (see the module docs). Damage is an error naming the byte
/// offset, except a file cut inside its last chunk: what came before is kept (as `pyxdf`
/// does), and that stream has no footer.
pub fn scan<R: Read + Seek>(r: &mut R) -> Result<XdfIndex, XdfError> {
    let mut magic = [0u8; 4];
    read_exact(r, &mut magic, 0, "the magic")?;
    if &magic != b"XDF:" {
        return Err(format_error(
            0,
            "not an XDF file (no \"XDF:\" at its start)",
        ));
    }
    let mut index = XdfIndex {
        streams: vec![],
        strings: vec![],
        chunks: vec![],
    };
    let mut pos = 4u64;
    let mut content = vec![];
    while let Some((len, width)) = varlen(r, pos)? {
        let start = pos + width;
        if len < 2 {
            return Err(format_error(pos, format!("a chunk of {len} bytes")));
        }
        let mut tag = [0u8; 2];
        if r.read_exact(&mut tag).is_err() {
            break; // cut short
        }
        let tag = u16::from_le_bytes(tag);
        let body = len - 2;
        let body_at = start + 2;
        match tag {
            2 | 6 => {
                content.resize(body as usize, 0);
                if r.read_exact(&mut content).is_err() {
                    break;
                }
                if body < 4 {
                    return Err(format_error(body_at, "a stream chunk without a stream id"));
                }
                let id = u32::from_le_bytes([content[0], content[1], content[2], content[3]]);
                let xml = String::from_utf8_lossy(&content[4..]);
                if tag == 2 {
                    let header = parse_header(&xml, body_at + 4)?;
                    if index.stream(id).is_some() {
                        return Err(format_error(body_at, format!("stream {id} declared twice")));
                    }
                    index.streams.push(XdfStream {
                        id,
                        header,
                        timestamps: vec![],
                        footer: false,
                        clock_offsets: vec![],
                    });
                } else if let Some(s) = index.streams.iter_mut().find(|s| s.id == id) {
                    s.footer = true;
                }
            }
            3 => {
                let mut idb = [0u8; 4];
                if r.read_exact(&mut idb).is_err() {
                    break;
                }
                let id = u32::from_le_bytes(idb);
                let Some(si) = index.streams.iter().position(|s| s.id == id) else {
                    return Err(format_error(
                        body_at,
                        format!("samples of stream {id}, which has no header before them"),
                    ));
                };
                let count_at = body_at + 4;
                match read_samples(r, &mut index, si, count_at) {
                    Ok(n) => {
                        if index.streams[si].header.format != ChannelFormat::String {
                            index.chunks.push((id, count_at, n));
                        }
                    }
                    Err(Cut) => break,
                }
                r.seek(SeekFrom::Start(start + len))
                    .map_err(|e| format_error(start, format!("seeking past a chunk: {e}")))?;
            }
            4 => {
                let mut b = [0u8; 20];
                if body < 20 || r.read_exact(&mut b).is_err() {
                    break; // cut short
                }
                let id = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                let f = |k: usize| {
                    let mut x = [0u8; 8];
                    x.copy_from_slice(&b[k..k + 8]);
                    f64::from_le_bytes(x)
                };
                // An offset of a stream with no header yet has nothing to correct.
                if let Some(s) = index.streams.iter_mut().find(|s| s.id == id) {
                    s.clock_offsets.push((f(4), f(12)));
                }
                r.seek(SeekFrom::Start(start + len))
                    .map_err(|e| format_error(start, format!("seeking past a chunk: {e}")))?;
            }
            _ => {
                // File header, boundaries: skipped.
                r.seek(SeekFrom::Start(start + len))
                    .map_err(|e| format_error(start, format!("seeking past a chunk: {e}")))?;
            }
        }
        pos = start + len;
    }
    Ok(index)
}

/// A file cut short inside a samples chunk.
struct Cut;

/// Reads a samples chunk's time stamps (and strings), the reader just after the stream id.
fn read_samples<R: Read>(r: &mut R, index: &mut XdfIndex, si: usize, at: u64) -> Result<u64, Cut> {
    let (n, _) = varlen(r, at).map_err(|_| Cut)?.ok_or(Cut)?;
    let s = &mut index.streams[si];
    let (format, channels, srate) = (
        s.header.format,
        s.header.channel_count(),
        s.header.nominal_srate,
    );
    let skip = value_bytes(format) as usize * channels;
    let mut values = vec![0u8; skip];
    for _ in 0..n {
        let mut has = [0u8; 1];
        r.read_exact(&mut has).map_err(|_| Cut)?;
        let t = if has[0] == 8 {
            let mut b = [0u8; 8];
            r.read_exact(&mut b).map_err(|_| Cut)?;
            f64::from_le_bytes(b)
        } else {
            // Omitted: the previous one plus a sample period (as pyxdf deduces it).
            let last = s.timestamps.last().copied().unwrap_or(0.0);
            if srate > 0.0 {
                last + 1.0 / srate
            } else {
                last
            }
        };
        if format == ChannelFormat::String {
            let mut first = None;
            for _ in 0..channels {
                let (len, _) = varlen(r, at).map_err(|_| Cut)?.ok_or(Cut)?;
                let mut b = vec![0u8; len as usize];
                r.read_exact(&mut b).map_err(|_| Cut)?;
                first.get_or_insert_with(|| String::from_utf8_lossy(&b).into_owned());
            }
            index.strings.push((s.id, t, first.unwrap_or_default()));
        } else {
            r.read_exact(&mut values).map_err(|_| Cut)?;
        }
        s.timestamps.push(t);
    }
    Ok(n)
}

/// One numeric stream's values, decoded chunk by chunk in file order (see [`scan`]).
pub struct XdfSamples<R: Read + Seek> {
    r: R,
    /// The stream's chunks: (byte offset of the sample count, samples).
    chunks: Vec<(u64, u64)>,
    next: usize,
    format: ChannelFormat,
    channels: usize,
    /// Decoded values of the current chunk (frame-major) and the next frame in them.
    buf: Vec<f64>,
    at: usize,
    raw: Vec<u8>,
}

impl<R: Read + Seek> XdfSamples<R> {
    /// The values of numeric stream `id` of `index`, read from `r` (the file scanned).
    pub fn new(r: R, index: &XdfIndex, id: u32) -> Result<XdfSamples<R>, XdfError> {
        let s = index
            .stream(id)
            .ok_or(XdfError::Stream(id, "has no header"))?;
        if s.header.format == ChannelFormat::String {
            return Err(XdfError::Stream(id, "is a string stream"));
        }
        let chunks = index
            .chunks
            .iter()
            .filter(|c| c.0 == id)
            .map(|c| (c.1, c.2))
            .collect();
        Ok(XdfSamples {
            r,
            chunks,
            next: 0,
            format: s.header.format,
            channels: s.header.channel_count(),
            buf: vec![],
            at: 0,
            raw: vec![],
        })
    }

    /// Back to the first sample.
    pub fn rewind(&mut self) {
        self.next = 0;
        self.buf.clear();
        self.at = 0;
    }

    fn load_next(&mut self) -> Result<bool, XdfError> {
        let Some(&(offset, n)) = self.chunks.get(self.next) else {
            return Ok(false);
        };
        self.next += 1;
        let io = |e: std::io::Error| format_error(offset, format!("reading samples: {e}"));
        self.r.seek(SeekFrom::Start(offset)).map_err(io)?;
        let (_, _) =
            varlen(&mut self.r, offset)?.ok_or_else(|| format_error(offset, "no sample count"))?;
        let width = value_bytes(self.format) as usize;
        self.raw.resize(width * self.channels, 0);
        self.buf.clear();
        self.at = 0;
        for _ in 0..n {
            let mut has = [0u8; 1];
            self.r.read_exact(&mut has).map_err(io)?;
            if has[0] == 8 {
                let mut t = [0u8; 8];
                self.r.read_exact(&mut t).map_err(io)?;
            }
            self.r.read_exact(&mut self.raw).map_err(io)?;
            for b in self.raw.chunks_exact(width) {
                self.buf.push(match self.format {
                    ChannelFormat::Float32 => {
                        f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    }
                    ChannelFormat::Double64 => {
                        f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                    }
                    ChannelFormat::Int32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                    ChannelFormat::Int16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
                    ChannelFormat::String => 0.0,
                });
            }
        }
        Ok(true)
    }

    /// Up to `max` frames into `out` (frame-major); 0 at the end of the stream.
    pub fn read(&mut self, out: &mut [f64], max: usize) -> Result<usize, XdfError> {
        let c = self.channels;
        let mut done = 0;
        while done < max {
            if self.at * c >= self.buf.len() && !self.load_next()? {
                break;
            }
            let avail = self.buf.len() / c - self.at;
            let take = avail.min(max - done);
            out[done * c..(done + take) * c]
                .copy_from_slice(&self.buf[self.at * c..(self.at + take) * c]);
            self.at += take;
            done += take;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::super::XdfWriter;
    use super::*;
    use std::io::Cursor;

    /// Two numeric streams (float32 3 ch, int16 1 ch) and markers, chunks interleaved.
    fn file() -> Vec<u8> {
        let mut w = XdfWriter::new(Vec::new()).unwrap();
        let eeg = StreamHeader::new("eeg", "EEG", ChannelFormat::Float32, 100.0).channels(vec![
            ChannelMeta::new("Fz", "microvolts", "EEG"),
            ChannelMeta::new("Cz", "microvolts", "EEG"),
            ChannelMeta::new("EOG", "microvolts", "EOG"),
        ]);
        w.add_stream(3, &eeg).unwrap();
        w.add_stream(
            9,
            &StreamHeader::new("acc", "Accel", ChannelFormat::Int16, 10.0),
        )
        .unwrap();
        w.add_stream(
            4,
            &StreamHeader::new("m", "Markers", ChannelFormat::String, 0.0),
        )
        .unwrap();
        for k in 0..4 {
            let t: Vec<f64> = (0..5).map(|i| 1.0 + (k * 5 + i) as f64 / 100.0).collect();
            let v: Vec<f64> = (0..15).map(|i| (k * 15 + i) as f64 * 0.5).collect();
            w.write_numeric(3, &t, &v).unwrap();
            w.write_numeric(9, &[1.0 + k as f64 * 0.1], &[-(k as f64)])
                .unwrap();
            w.boundary().unwrap();
        }
        w.write_strings(4, &[1.05, 1.1], &["target", "x<&>"])
            .unwrap();
        for id in [3, 9, 4] {
            w.footer(id).unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn a_written_file_reads_back() {
        let bytes = file();
        let index = scan(&mut Cursor::new(&bytes)).unwrap();
        assert_eq!(index.streams.len(), 3);
        let eeg = index.stream(3).unwrap();
        assert_eq!(eeg.header.name, "eeg");
        assert_eq!(
            eeg.header.channels[2],
            ChannelMeta::new("EOG", "microvolts", "EOG")
        );
        assert_eq!(eeg.timestamps.len(), 20);
        assert_eq!(eeg.timestamps[19], 1.19);
        assert!(eeg.footer);
        assert_eq!(index.stream(9).unwrap().header.channels[0].label, "Ch1");
        assert_eq!(
            index.strings,
            [
                (4, 1.05, "target".to_string()),
                (4, 1.1, "x<&>".to_string())
            ]
        );
        let mut s = XdfSamples::new(Cursor::new(&bytes), &index, 3).unwrap();
        let mut out = vec![0.0; 7 * 3];
        let mut all = vec![];
        loop {
            let n = s.read(&mut out, 7).unwrap();
            if n == 0 {
                break;
            }
            all.extend_from_slice(&out[..n * 3]);
        }
        let want: Vec<f64> = (0..60).map(|i| i as f64 * 0.5).collect();
        assert_eq!(all, want);
        s.rewind();
        assert_eq!(s.read(&mut out, 1).unwrap(), 1);
        assert_eq!(out[..3], [0.0, 0.5, 1.0]);
        let mut acc = XdfSamples::new(Cursor::new(&bytes), &index, 9).unwrap();
        let mut a = [0.0; 8];
        assert_eq!(acc.read(&mut a, 8).unwrap(), 4);
        assert_eq!(a[..4], [0.0, -1.0, -2.0, -3.0]);
        assert!(XdfSamples::new(Cursor::new(&bytes), &index, 4).is_err());
    }

    #[test]
    fn a_file_cut_short_keeps_what_came_before() {
        let bytes = file();
        // Cut inside the last samples chunk of stream 3 (before the markers and footers).
        let index = scan(&mut Cursor::new(&bytes)).unwrap();
        let last = index.chunks.iter().rev().find(|c| c.0 == 3).unwrap().1;
        let cut = &bytes[..last as usize + 20];
        let index = scan(&mut Cursor::new(cut)).unwrap();
        let eeg = index.stream(3).unwrap();
        assert!(!eeg.footer);
        let mut s = XdfSamples::new(Cursor::new(cut), &index, 3).unwrap();
        let mut out = vec![0.0; 30 * 3];
        assert_eq!(s.read(&mut out, 30).unwrap(), 15, "three whole chunks");
        // Not XDF, and damage, say where.
        let e = scan(&mut Cursor::new(b"EDF+....".to_vec())).unwrap_err();
        assert!(e.to_string().contains("byte 0: not an XDF file"), "{e}");
        let mut bad = bytes.clone();
        bad[4] = 3; // a length of 3 bytes
        let e = scan(&mut Cursor::new(bad)).unwrap_err();
        assert!(e.to_string().contains("byte 4: a length of 3 bytes"), "{e}");
    }
}
