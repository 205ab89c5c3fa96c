//! The XDF chunk writer: headers, samples, boundaries and footers (see the module docs).

use std::collections::BTreeMap;
use std::io::{self, Write};

/// The Boundary chunk's content, as the specification fixes it.
pub const BOUNDARY: [u8; 16] = [
    0x43, 0xA5, 0x46, 0xDC, 0xCB, 0xF5, 0x41, 0x0F, 0xB3, 0x0E, 0xD5, 0x46, 0x73, 0x83, 0xCB, 0xE4,
];

/// Why a chunk could not be written.
#[derive(Debug, thiserror::Error)]
pub enum XdfError {
    /// Writing failed (full disk, closed file, …).
    #[error("writing {what}: {source}")]
    Io {
        /// The chunk being written, e.g. `a samples chunk`.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A stream id that has no header yet, or one given twice.
    #[error("stream {0}: {1}")]
    Stream(u32, &'static str),
    /// A file being read is not XDF, or is damaged, at this byte offset.
    #[error("byte {offset}: {problem}")]
    Format {
        /// Byte offset in the file.
        offset: u64,
        /// What is wrong.
        problem: String,
    },
    /// Values that do not fit the stream (count, format).
    #[error("stream {stream}: {problem}")]
    Data {
        /// The stream.
        stream: u32,
        /// What is wrong.
        problem: String,
    },
}

/// How a stream's values are stored (LSL's channel formats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelFormat {
    /// IEEE 754 single precision.
    Float32,
    /// IEEE 754 double precision.
    Double64,
    /// 32-bit signed integers.
    Int32,
    /// 16-bit signed integers.
    Int16,
    /// UTF-8 strings (marker streams).
    String,
}

impl ChannelFormat {
    /// The name in the stream header (`float32`, `double64`, …).
    pub fn name(self) -> &'static str {
        match self {
            ChannelFormat::Float32 => "float32",
            ChannelFormat::Double64 => "double64",
            ChannelFormat::Int32 => "int32",
            ChannelFormat::Int16 => "int16",
            ChannelFormat::String => "string",
        }
    }
}

/// One channel's description (`desc/channels/channel`).
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelMeta {
    /// Label (`Fp1`).
    pub label: String,
    /// Unit, in the XDF meta-data convention's words (`microvolts`).
    pub unit: String,
    /// Type (`EEG`, `EOG`, …).
    pub kind: String,
}

impl ChannelMeta {
    /// A channel.
    pub fn new(label: &str, unit: &str, kind: &str) -> ChannelMeta {
        ChannelMeta {
            label: label.to_string(),
            unit: unit.to_string(),
            kind: kind.to_string(),
        }
    }
}

/// A stream's header: what LSL's stream info holds.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamHeader {
    /// Stream name.
    pub name: String,
    /// Content type (`EEG`, `Markers`, …).
    pub kind: String,
    /// Value format.
    pub format: ChannelFormat,
    /// Nominal sample rate (Hz); 0 for an irregular stream (markers).
    pub nominal_srate: f64,
    /// Source id (stable across restarts of the same source).
    pub source_id: String,
    /// Channels; a stream without descriptions has `channel_count` = 1 (markers).
    pub channels: Vec<ChannelMeta>,
    /// Further `desc` elements, `(name, text)`: `manufacturer`, `filters`, …
    pub desc: Vec<(String, String)>,
    /// Creation time (s, on the file's clock).
    pub created_at: f64,
}

impl StreamHeader {
    /// A stream of one undescribed channel (add channels with [`StreamHeader::channels`]).
    pub fn new(name: &str, kind: &str, format: ChannelFormat, nominal_srate: f64) -> Self {
        StreamHeader {
            name: name.to_string(),
            kind: kind.to_string(),
            format,
            nominal_srate,
            source_id: String::new(),
            channels: vec![],
            desc: vec![],
            created_at: 0.0,
        }
    }

    /// With these channels.
    pub fn channels(mut self, channels: Vec<ChannelMeta>) -> Self {
        self.channels = channels;
        self
    }

    /// Number of channels (at least 1).
    pub fn channel_count(&self) -> usize {
        self.channels.len().max(1)
    }

    /// The header's XML.
    pub fn xml(&self) -> String {
        let mut x = String::from("<?xml version=\"1.0\"?>\n<info>\n");
        let mut el = |tag: &str, text: &str| {
            x += &format!("  <{tag}>{}</{tag}>\n", escape(text));
        };
        el("name", &self.name);
        el("type", &self.kind);
        el("channel_count", &self.channel_count().to_string());
        el("channel_format", self.format.name());
        el("source_id", &self.source_id);
        el("nominal_srate", &self.nominal_srate.to_string());
        el("version", "1.1000000000000001");
        el("created_at", &self.created_at.to_string());
        x += "  <desc>\n";
        if !self.channels.is_empty() {
            x += "    <channels>\n";
            for c in &self.channels {
                x += &format!(
                    "      <channel><label>{}</label><unit>{}</unit><type>{}</type></channel>\n",
                    escape(&c.label),
                    escape(&c.unit),
                    escape(&c.kind)
                );
            }
            x += "    </channels>\n";
        }
        for (tag, text) in &self.desc {
            x += &format!("    <{tag}>{}</{tag}>\n", escape(text));
        }
        x += "  </desc>\n</info>\n";
        x
    }
}

/// `text` with XML's special characters escaped.
fn escape(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&apos;"),
            c => s.push(c),
        }
    }
    s
}

/// What the writer tracks per stream (for checks and the footer).
#[derive(Clone, Debug)]
struct Stream {
    format: ChannelFormat,
    channels: usize,
    first: Option<f64>,
    last: f64,
    count: u64,
    footer: bool,
}

/// Writes an XDF file chunk by chunk (see the module docs). Allocates only while a chunk is
/// larger than every one before it.
pub struct XdfWriter<W: Write> {
    w: W,
    /// The chunk being assembled.
    buf: Vec<u8>,
    streams: BTreeMap<u32, Stream>,
}

/// Room for a chunk's head: the widest length (1 + 8 bytes) and the tag (2).
const HEAD: usize = 11;

/// Appends XDF's variable-length integer: one byte giving the width (1, 4 or 8), then `n`.
fn varlen(buf: &mut Vec<u8>, n: u64) {
    if n <= u64::from(u8::MAX) {
        buf.push(1);
        buf.push(n as u8);
    } else if n <= u64::from(u32::MAX) {
        buf.push(4);
        buf.extend_from_slice(&(n as u32).to_le_bytes());
    } else {
        buf.push(8);
        buf.extend_from_slice(&n.to_le_bytes());
    }
}

impl<W: Write> XdfWriter<W> {
    /// Starts a file on `w`: the magic and the file header.
    pub fn new(w: W) -> Result<XdfWriter<W>, XdfError> {
        let mut x = XdfWriter {
            w,
            buf: Vec::with_capacity(4096),
            streams: BTreeMap::new(),
        };
        x.w.write_all(b"XDF:").map_err(|source| XdfError::Io {
            what: "the magic",
            source,
        })?;
        x.begin();
        x.buf.extend_from_slice(
            b"<?xml version=\"1.0\"?>\n<info>\n  <version>1.0</version>\n  <writer>neuropipe</writer>\n</info>\n",
        );
        x.chunk(1, "the file header")?;
        Ok(x)
    }

    /// Starts a samples chunk of `n` samples of stream `id` (the samples follow).
    fn begin_samples(&mut self, id: u32, n: usize) {
        self.begin();
        self.buf.extend_from_slice(&id.to_le_bytes());
        varlen(&mut self.buf, n as u64);
    }

    /// Starts a chunk: room for its head, then the content is appended.
    fn begin(&mut self) {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; HEAD]);
    }

    /// Writes the chunk whose content follows the head room in `buf`, tagged `tag`, in one
    /// `write_all` (no allocation: the head is written into the room before the content).
    fn chunk(&mut self, tag: u16, what: &'static str) -> Result<(), XdfError> {
        let len = (self.buf.len() - HEAD) as u64 + 2;
        let mut head = [0u8; HEAD];
        let mut n = 0;
        let mut put = |bytes: &[u8]| {
            head[n..n + bytes.len()].copy_from_slice(bytes);
            n += bytes.len();
        };
        if len <= u64::from(u8::MAX) {
            put(&[1, len as u8]);
        } else if len <= u64::from(u32::MAX) {
            put(&[4]);
            put(&(len as u32).to_le_bytes());
        } else {
            put(&[8]);
            put(&len.to_le_bytes());
        }
        put(&tag.to_le_bytes());
        let start = HEAD - n;
        self.buf[start..HEAD].copy_from_slice(&head[..n]);
        let r = self.w.write_all(&self.buf[start..]);
        self.buf.clear();
        r.map_err(|source| XdfError::Io { what, source })
    }

    /// Declares stream `id` with its header (a `StreamHeader` chunk).
    pub fn add_stream(&mut self, id: u32, header: &StreamHeader) -> Result<(), XdfError> {
        if self.streams.contains_key(&id) {
            return Err(XdfError::Stream(id, "declared twice"));
        }
        self.streams.insert(
            id,
            Stream {
                format: header.format,
                channels: header.channel_count(),
                first: None,
                last: 0.0,
                count: 0,
                footer: false,
            },
        );
        self.begin();
        self.buf.extend_from_slice(&id.to_le_bytes());
        self.buf.extend_from_slice(header.xml().as_bytes());
        self.chunk(2, "a stream header")
    }

    fn stream(&mut self, id: u32) -> Result<&mut Stream, XdfError> {
        match self.streams.get_mut(&id) {
            Some(s) if s.footer => Err(XdfError::Stream(id, "already ended by its footer")),
            Some(s) => Ok(s),
            None => Err(XdfError::Stream(id, "has no header")),
        }
    }

    /// Appends samples to numeric stream `id`: one timestamp (s) per sample, values
    /// sample-major (`timestamps.len() × channels`), stored in the stream's format.
    pub fn write_numeric(
        &mut self,
        id: u32,
        timestamps: &[f64],
        values: &[f64],
    ) -> Result<(), XdfError> {
        let s = self.stream(id)?;
        let (format, channels) = (s.format, s.channels);
        if format == ChannelFormat::String {
            return Err(XdfError::Data {
                stream: id,
                problem: "a string stream takes strings".into(),
            });
        }
        if values.len() != timestamps.len() * channels {
            return Err(XdfError::Data {
                stream: id,
                problem: format!(
                    "{} values are not {} samples of {channels} channels",
                    values.len(),
                    timestamps.len()
                ),
            });
        }
        if timestamps.is_empty() {
            return Ok(());
        }
        self.begin_samples(id, timestamps.len());
        for (t, sample) in timestamps.iter().zip(values.chunks_exact(channels)) {
            self.buf.push(8);
            self.buf.extend_from_slice(&t.to_le_bytes());
            for &v in sample {
                match format {
                    ChannelFormat::Float32 => self.buf.extend_from_slice(&(v as f32).to_le_bytes()),
                    ChannelFormat::Double64 => self.buf.extend_from_slice(&v.to_le_bytes()),
                    ChannelFormat::Int32 | ChannelFormat::Int16 => {
                        let (lo, hi) = if format == ChannelFormat::Int32 {
                            (f64::from(i32::MIN), f64::from(i32::MAX))
                        } else {
                            (f64::from(i16::MIN), f64::from(i16::MAX))
                        };
                        if v.fract() != 0.0 || !(lo..=hi).contains(&v) {
                            self.buf.clear();
                            return Err(XdfError::Data {
                                stream: id,
                                problem: format!("{v} is not a {} value", format.name()),
                            });
                        }
                        if format == ChannelFormat::Int32 {
                            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
                        } else {
                            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
                        }
                    }
                    ChannelFormat::String => {
                        // Refused above already; kept total rather than assumed.
                        self.buf.clear();
                        return Err(XdfError::Data {
                            stream: id,
                            problem: "a string stream takes strings".into(),
                        });
                    }
                }
            }
        }
        self.chunk(3, "a samples chunk")?;
        self.count(id, timestamps);
        Ok(())
    }

    /// Appends samples to string stream `id` (one channel): one timestamp per value.
    pub fn write_strings(
        &mut self,
        id: u32,
        timestamps: &[f64],
        values: &[&str],
    ) -> Result<(), XdfError> {
        let s = self.stream(id)?;
        if s.format != ChannelFormat::String || s.channels != 1 {
            return Err(XdfError::Data {
                stream: id,
                problem: "strings go to a one-channel string stream".into(),
            });
        }
        if values.len() != timestamps.len() {
            return Err(XdfError::Data {
                stream: id,
                problem: format!(
                    "{} strings for {} timestamps",
                    values.len(),
                    timestamps.len()
                ),
            });
        }
        if timestamps.is_empty() {
            return Ok(());
        }
        self.begin_samples(id, timestamps.len());
        for (t, v) in timestamps.iter().zip(values) {
            self.buf.push(8);
            self.buf.extend_from_slice(&t.to_le_bytes());
            varlen(&mut self.buf, v.len() as u64);
            self.buf.extend_from_slice(v.as_bytes());
        }
        self.chunk(3, "a samples chunk")?;
        self.count(id, timestamps);
        Ok(())
    }

    fn count(&mut self, id: u32, timestamps: &[f64]) {
        if let Some(s) = self.streams.get_mut(&id) {
            s.first.get_or_insert(timestamps[0]);
            s.last = timestamps[timestamps.len() - 1];
            s.count += timestamps.len() as u64;
        }
    }

    /// A `ClockOffset` chunk: at `collection_time` (s), the stream's clock was `offset` (s)
    /// from the file's.
    pub fn clock_offset(
        &mut self,
        id: u32,
        collection_time: f64,
        offset: f64,
    ) -> Result<(), XdfError> {
        self.stream(id)?;
        self.begin();
        self.buf.extend_from_slice(&id.to_le_bytes());
        self.buf.extend_from_slice(&collection_time.to_le_bytes());
        self.buf.extend_from_slice(&offset.to_le_bytes());
        self.chunk(4, "a clock offset")
    }

    /// A `Boundary` chunk (a resynchronisation point for readers of a damaged file).
    pub fn boundary(&mut self) -> Result<(), XdfError> {
        self.begin();
        self.buf.extend_from_slice(&BOUNDARY);
        self.chunk(5, "a boundary")
    }

    /// Ends stream `id` with its footer: first and last timestamp, sample count.
    pub fn footer(&mut self, id: u32) -> Result<(), XdfError> {
        let s = self.stream(id)?.clone();
        // The rate the samples really came at, over the whole stream (as LabRecorder's).
        let measured = match s.first {
            Some(first) if s.count > 1 && s.last > first => (s.count - 1) as f64 / (s.last - first),
            _ => 0.0,
        };
        let xml = format!(
            "<?xml version=\"1.0\"?>\n<info>\n  <first_timestamp>{}</first_timestamp>\n  <last_timestamp>{}</last_timestamp>\n  <sample_count>{}</sample_count>\n  <measured_srate>{measured}</measured_srate>\n  <clock_offsets></clock_offsets>\n</info>\n",
            s.first.unwrap_or(0.0),
            if s.count > 0 { s.last } else { 0.0 },
            s.count
        );
        self.begin();
        self.buf.extend_from_slice(&id.to_le_bytes());
        self.buf.extend_from_slice(xml.as_bytes());
        self.chunk(6, "a stream footer")?;
        if let Some(s) = self.streams.get_mut(&id) {
            s.footer = true;
        }
        Ok(())
    }

    /// Samples written to stream `id` so far.
    pub fn sample_count(&self, id: u32) -> u64 {
        self.streams.get(&id).map_or(0, |s| s.count)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<(), XdfError> {
        self.w.flush().map_err(|source| XdfError::Io {
            what: "the file (flush)",
            source,
        })
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// The underlying writer (the caller writes the footers first).
    pub fn into_inner(self) -> W {
        self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks the chunks of `bytes`: (tag, content).
    fn chunks(bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
        assert_eq!(&bytes[..4], b"XDF:");
        let mut i = 4;
        let mut out = vec![];
        while i < bytes.len() {
            let width = bytes[i] as usize;
            let mut le = [0u8; 8];
            le[..width].copy_from_slice(&bytes[i + 1..i + 1 + width]);
            let len = u64::from_le_bytes(le) as usize;
            i += 1 + width;
            let tag = u16::from_le_bytes([bytes[i], bytes[i + 1]]);
            out.push((tag, bytes[i + 2..i + len].to_vec()));
            i += len;
        }
        out
    }

    #[test]
    fn chunks_follow_the_specification() {
        let mut w = XdfWriter::new(Vec::new()).unwrap();
        let h = StreamHeader::new("a&b", "EEG", ChannelFormat::Float32, 100.0)
            .channels(vec![ChannelMeta::new("C<3>", "microvolts", "EEG"); 2]);
        w.add_stream(7, &h).unwrap();
        w.write_numeric(7, &[1.0, 1.01], &[0.5, -1.0, 2.0, 3.0])
            .unwrap();
        w.boundary().unwrap();
        w.footer(7).unwrap();
        let c = chunks(&w.into_inner());
        let tags: Vec<u16> = c.iter().map(|c| c.0).collect();
        assert_eq!(tags, [1, 2, 3, 5, 6]);
        let header = String::from_utf8(c[1].1[4..].to_vec()).unwrap();
        assert!(header.contains("<name>a&amp;b</name>"), "{header}");
        assert!(header.contains("<label>C&lt;3&gt;</label>"), "{header}");
        assert!(header.contains("<channel_count>2</channel_count>"));
        // Samples: id, count (varlen 1 byte), then [8][ts][2 × f32] per sample.
        let s = &c[2].1;
        assert_eq!(u32::from_le_bytes(s[..4].try_into().unwrap()), 7);
        assert_eq!(&s[4..6], &[1, 2]);
        assert_eq!(s[6], 8);
        assert_eq!(f64::from_le_bytes(s[7..15].try_into().unwrap()), 1.0);
        assert_eq!(f32::from_le_bytes(s[15..19].try_into().unwrap()), 0.5);
        assert_eq!(s.len(), 6 + 2 * (1 + 8 + 8));
        assert_eq!(c[3].1, BOUNDARY);
        let footer = String::from_utf8(c[4].1[4..].to_vec()).unwrap();
        assert!(footer.contains("<sample_count>2</sample_count>"));
        assert!(footer.contains("<last_timestamp>1.01</last_timestamp>"));
        let measured: f64 = footer
            .split("<measured_srate>")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!((measured - 100.0).abs() < 1e-9, "{footer}");
    }

    #[test]
    fn bad_values_are_refused_not_altered() {
        let mut w = XdfWriter::new(Vec::new()).unwrap();
        w.add_stream(
            1,
            &StreamHeader::new("i", "EEG", ChannelFormat::Int16, 10.0),
        )
        .unwrap();
        let e = w.write_numeric(1, &[0.0], &[40000.0]).unwrap_err();
        assert!(e.to_string().contains("is not a int16 value"), "{e}");
        let e = w.write_numeric(1, &[0.0], &[1.5]).unwrap_err();
        assert!(e.to_string().contains("1.5"), "{e}");
        let e = w.write_numeric(1, &[0.0, 1.0], &[1.0]).unwrap_err();
        assert!(e.to_string().contains("not 2 samples"), "{e}");
        assert!(w.write_numeric(2, &[0.0], &[1.0]).is_err());
        assert!(w.write_strings(1, &[0.0], &["x"]).is_err());
        w.footer(1).unwrap();
        assert!(w.write_numeric(1, &[0.0], &[1.0]).is_err());
        // Nothing but the header chunks and the footer reached the file.
        let c = chunks(&w.into_inner());
        assert_eq!(c.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 2, 6]);
    }

    #[test]
    fn long_chunks_use_wider_lengths() {
        let mut buf = vec![];
        varlen(&mut buf, 255);
        varlen(&mut buf, 256);
        varlen(&mut buf, 1 << 33);
        assert_eq!(buf[..2], [1, 255]);
        assert_eq!(buf[2..7], [4, 0, 1, 0, 0]);
        assert_eq!(buf[7], 8);
        let mut w = XdfWriter::new(Vec::new()).unwrap();
        w.add_stream(
            1,
            &StreamHeader::new("m", "Markers", ChannelFormat::String, 0.0),
        )
        .unwrap();
        let long = "x".repeat(300);
        w.write_strings(1, &[2.0], &[&long]).unwrap();
        let c = chunks(&w.into_inner());
        let s = &c[2].1;
        // id, count [1][1], [8][ts], [4][300 as u32], the text.
        assert_eq!(&s[4..6], &[1, 1]);
        assert_eq!(&s[15..20], &[4, 44, 1, 0, 0]);
        assert_eq!(&s[20..], long.as_bytes());
    }
}
