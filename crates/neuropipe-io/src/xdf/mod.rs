//! XDF (Extensible Data Format, the format LabRecorder writes and `pyxdf`, MNE and EEGLAB
//! read), written and read from its specification.
//!
//! A file is the magic `XDF:` followed by chunks, each `[NumLengthBytes][Length][Tag]
//! [Content]` (`Length` counts the tag and the content; lengths, counts and numbers are
//! little-endian): a `FileHeader` (tag 1), then per stream a `StreamHeader` (2: its id and
//! the stream's XML description, as LSL's `info`), `Samples` (3: the id, a sample count,
//! then per sample its timestamp and values), `ClockOffset` (4), `Boundary` (5: a fixed
//! 16-byte signature readers scan for to resynchronise in a damaged file) and a
//! `StreamFooter` (6: first and last timestamp, sample count). [`XdfWriter`] writes every
//! chunk with one `write_all` of the whole chunk, so a file cut short (a crash, `kill -9`)
//! holds every chunk written before the cut; `pyxdf` reads such a file up to its last whole
//! chunk (the footers are then missing, which it accepts).
//!
//! Reading ([`scan`], then [`XdfSamples`] for one numeric stream's values) is what
//! `FileReplay` replays an XDF file with; [`ClockSync`] puts a stream's time stamps on the
//! recorder's clock from its `ClockOffset` chunks, as pyxdf does (clock resets included).
//!
//! Values are written in the stream's [`ChannelFormat`]: `float32` (rounded from the `f64`
//! given), `double64`, `int32`/`int16` (integral values only: anything else is an error,
//! never a silent change), or strings (marker streams).
//!
//! ```
//! use neuropipe_io::xdf::{ChannelFormat, ChannelMeta, StreamHeader, XdfWriter};
//!
//! let mut w = XdfWriter::new(Vec::new())?;
//! let eeg = StreamHeader::new("eeg", "EEG", ChannelFormat::Float32, 250.0)
//!     .channels(vec![ChannelMeta::new("Cz", "microvolts", "EEG")]);
//! w.add_stream(1, &eeg)?;
//! w.add_stream(2, &StreamHeader::new("markers", "Markers", ChannelFormat::String, 0.0))?;
//! w.write_numeric(1, &[10.0, 10.004], &[1.5, -2.0])?;
//! w.write_strings(2, &[10.002], &["target"])?;
//! w.footer(1)?;
//! w.footer(2)?;
//! let bytes = w.into_inner();
//! assert_eq!(&bytes[..4], b"XDF:");
//! # Ok::<(), neuropipe_io::xdf::XdfError>(())
//! ```

mod reader;
mod resets;
mod sync;
mod writer;

pub use reader::{scan, XdfIndex, XdfSamples, XdfStream, XdfStrings};
pub use sync::{ClockFit, ClockSync};
pub use writer::{ChannelFormat, ChannelMeta, StreamHeader, XdfError, XdfWriter, BOUNDARY};
