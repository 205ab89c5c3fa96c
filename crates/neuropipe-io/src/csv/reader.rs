//! [`CsvReader`]: reads multichannel CSV for replay.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::{CsvError, TIMESTAMP_NAMES};

/// Longest line read (bytes): 64 channels of 24-character numbers take ~1.6 kB; 1 MiB leaves
/// room for 40,000 channels and bounds what a file without line breaks can make us read.
pub(super) const MAX_LINE_BYTES: usize = 1 << 20;

/// One field of a row, with the column it starts at.
#[derive(Debug, Default)]
struct Field {
    column: u64,
    text: String,
}

/// What [`CsvReader::read_frame`] found besides the values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CsvFrame {
    /// The timestamp in seconds, if the file has a timestamp column.
    pub timestamp: Option<f64>,
    /// The line the row started on.
    pub line: u64,
}

/// A whole file, as returned by [`CsvReader::read_all`].
#[derive(Debug, Clone, PartialEq)]
pub struct CsvData {
    /// Channel labels.
    pub labels: Vec<String>,
    /// One timestamp per frame, if the file has a timestamp column.
    pub timestamps: Option<Vec<f64>>,
    /// Values, frame-major (`frames[frame * labels.len() + ch]`).
    pub frames: Vec<f64>,
}

/// Reads a CSV file frame by frame (see the [module docs](super)).
#[derive(Debug)]
pub struct CsvReader<R: BufRead> {
    input: R,
    name: String,
    labels: Vec<String>,
    timestamps: bool,
    /// Lines read so far.
    line: u64,
    fields: Vec<Field>,
    used: usize,
    buf: String,
    last_time: Option<f64>,
}

impl CsvReader<BufReader<File>> {
    /// Opens the file at `path` and reads its header row.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CsvError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| CsvError::Io {
            file: name.clone(),
            action: "opening the file".into(),
            source,
        })?;
        CsvReader::new(BufReader::new(file), name)
    }
}

impl<R: BufRead> CsvReader<R> {
    /// Reads the header row from `input`; `name` is used in error messages.
    pub fn new(input: R, name: impl Into<String>) -> Result<Self, CsvError> {
        let mut r = CsvReader {
            input,
            name: name.into(),
            labels: Vec::new(),
            timestamps: false,
            line: 0,
            fields: Vec::new(),
            used: 0,
            buf: String::new(),
            last_time: None,
        };
        let Some(first_line) = r.next_record()? else {
            return Err(r.parse_err(1, 1, "the file is empty; expected a header row".into()));
        };
        let names: Vec<String> = r.fields[..r.used]
            .iter()
            .map(|f| f.text.trim().to_string())
            .collect();
        if names.iter().all(|n| n.parse::<f64>().is_ok()) {
            let shown: Vec<&str> = names.iter().take(4).map(String::as_str).collect();
            return Err(r.parse_err(
                first_line,
                1,
                format!(
                    "the first row ({}{}) is numeric: the file has no header row, and its first frame would be lost as labels; add a header such as `timestamp_s,Fp1,Fp2,…` (or `Ch1,Ch2,…` without a time column)",
                    shown.join(","),
                    if names.len() > 4 { ",…" } else { "" }
                ),
            ));
        }
        r.timestamps = TIMESTAMP_NAMES
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&names[0]));
        r.labels = names.into_iter().skip(usize::from(r.timestamps)).collect();
        if r.labels.is_empty() {
            return Err(r.parse_err(
                first_line,
                1,
                "the header row has no channel columns".into(),
            ));
        }
        Ok(r)
    }

    /// Channel labels (the timestamp column left out).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.labels.len()
    }

    /// Whether the first column holds timestamps.
    pub fn has_timestamps(&self) -> bool {
        self.timestamps
    }

    fn parse_err(&self, line: u64, column: u64, problem: String) -> CsvError {
        CsvError::Parse {
            file: self.name.clone(),
            line,
            column,
            problem,
        }
    }

    /// Reads one physical line into `buf`; false at end of input. A line is read up to
    /// [`MAX_LINE_BYTES`]: input with no line break (e.g. `/dev/zero`) is an error, not an
    /// unbounded read.
    fn read_line(&mut self) -> Result<bool, CsvError> {
        self.buf.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        match (&mut self.input).take(limit).read_line(&mut self.buf) {
            Ok(0) => Ok(false),
            Ok(n) if n as u64 == limit && !self.buf.ends_with('\n') => Err(self.parse_err(
                self.line + 1,
                1,
                format!("the line is longer than {MAX_LINE_BYTES} bytes (no line break): not a CSV file of frames?"),
            )),
            Ok(_) => {
                self.line += 1;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                Err(self.parse_err(self.line + 1, 1, "the line is not valid UTF-8".into()))
            }
            Err(source) => Err(CsvError::Io {
                file: self.name.clone(),
                action: format!("reading line {}", self.line + 1),
                source,
            }),
        }
    }

    fn field(&mut self, column: u64) -> &mut Field {
        if self.used == self.fields.len() {
            self.fields.push(Field::default());
        }
        let f = &mut self.fields[self.used];
        self.used += 1;
        f.column = column;
        f.text.clear();
        f
    }

    /// Splits the next non-blank record (which may span lines inside
    /// quotes) into `fields[..used]`. Returns the line it starts on.
    fn next_record(&mut self) -> Result<Option<u64>, CsvError> {
        loop {
            if !self.read_line()? {
                return Ok(None);
            }
            if !self.buf.trim().is_empty() {
                break;
            }
        }
        let start_line = self.line;
        self.used = 0;
        let mut line = std::mem::take(&mut self.buf);
        let mut col = 1u64;
        let mut chars = line.char_indices().peekable();
        let mut cur = self.used;
        self.field(1);
        let mut quoted = false;
        let mut quote_start = (start_line, 1);
        loop {
            let Some((_, c)) = chars.next() else {
                if quoted {
                    // A quoted field continues on the next line.
                    drop(chars);
                    self.buf = line;
                    if !self.read_line()? {
                        let (l, c) = quote_start;
                        return Err(self.parse_err(l, c, "quoted field is not closed".into()));
                    }
                    line = std::mem::take(&mut self.buf);
                    chars = line.char_indices().peekable();
                    col = 1;
                    continue;
                }
                break;
            };
            match c {
                '"' if quoted => {
                    if chars.peek().map(|&(_, c)| c) == Some('"') {
                        chars.next();
                        col += 1;
                        self.fields[cur].text.push('"');
                    } else {
                        quoted = false;
                    }
                }
                '"' if self.fields[cur].text.trim().is_empty() => {
                    self.fields[cur].text.clear();
                    quoted = true;
                    quote_start = (self.line, col);
                }
                ',' if !quoted => {
                    cur = self.used;
                    self.field(col + 1);
                }
                '\n' | '\r' if !quoted => {}
                c => self.fields[cur].text.push(c),
            }
            col += c.len_utf8() as u64;
        }
        drop(chars);
        self.buf = line;
        Ok(Some(start_line))
    }

    /// Reads the next frame into `values` (length = [`channels`](Self::channels)).
    /// Returns `None` at the end of the file.
    pub fn read_frame(&mut self, values: &mut [f64]) -> Result<Option<CsvFrame>, CsvError> {
        if values.len() != self.labels.len() {
            return Err(CsvError::Usage {
                file: self.name.clone(),
                problem: format!(
                    "read_frame got room for {} values, the file has {} channels",
                    values.len(),
                    self.labels.len()
                ),
            });
        }
        let Some(line) = self.next_record()? else {
            return Ok(None);
        };
        let want = self.labels.len() + usize::from(self.timestamps);
        if self.used != want {
            let end = self.buf.trim_end_matches(['\n', '\r']).len() as u64 + 1;
            return Err(self.parse_err(
                self.line,
                end,
                format!("expected {want} fields, found {}", self.used),
            ));
        }
        let mut timestamp = None;
        for (k, f) in self.fields[..self.used].iter().enumerate() {
            let text = f.text.trim();
            let what = if self.timestamps && k == 0 {
                "timestamp".to_string()
            } else {
                format!(
                    "channel {:?}",
                    self.labels[k - usize::from(self.timestamps)]
                )
            };
            let v: f64 = if text.is_empty() {
                return Err(self.parse_err(line, f.column, format!("{what}: empty field")));
            } else {
                text.parse().map_err(|_| {
                    self.parse_err(line, f.column, format!("{what}: {text:?} is not a number"))
                })?
            };
            if self.timestamps && k == 0 {
                if !v.is_finite() {
                    return Err(self.parse_err(
                        line,
                        f.column,
                        format!("timestamp {text:?} is not finite"),
                    ));
                }
                if let Some(prev) = self.last_time.filter(|&p| v < p) {
                    return Err(self.parse_err(
                        line,
                        f.column,
                        format!("timestamp {v} is earlier than the previous one, {prev}"),
                    ));
                }
                timestamp = Some(v);
            } else {
                values[k - usize::from(self.timestamps)] = v;
            }
        }
        if timestamp.is_some() {
            self.last_time = timestamp;
        }
        Ok(Some(CsvFrame { timestamp, line }))
    }

    /// Reads all remaining frames.
    pub fn read_all(mut self) -> Result<CsvData, CsvError> {
        let mut frame = vec![0.0; self.labels.len()];
        let mut frames = Vec::new();
        let mut times = Vec::new();
        while let Some(info) = self.read_frame(&mut frame)? {
            frames.extend_from_slice(&frame);
            if let Some(t) = info.timestamp {
                times.push(t);
            }
        }
        Ok(CsvData {
            timestamps: self.timestamps.then_some(times),
            labels: self.labels,
            frames,
        })
    }
}
