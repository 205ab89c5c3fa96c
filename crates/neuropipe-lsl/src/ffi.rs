//! A thin, safe layer over the liblsl C API (`lsl-sys`), for what the stages need.
//!
//! The `lsl` crate's safe API pushes and pulls `Vec<Vec<T>>` (an allocation per sample) and
//! hides the native handles, so the stages use the C chunk functions directly through these
//! wrappers: pushing and pulling a chunk into preallocated buffers allocates nothing.
//!
//! None of these types is `Send`: liblsl objects are created, used and dropped on one thread.

use lsl_sys::*;
use std::ffi::{c_char, CStr, CString};
use std::marker::PhantomData;

/// `*mut ()` makes a type neither `Send` nor `Sync`.
type NotSend = PhantomData<*mut ()>;

/// liblsl's clock (seconds, monotonic, shared by every LSL program on this machine).
pub fn local_clock() -> f64 {
    // SAFETY: no arguments, no state.
    unsafe { lsl_local_clock() }
}

fn cstring(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("`{s}` contains a NUL byte"))
}

/// Copies a C string owned by liblsl (not freed here).
fn borrowed(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: liblsl returns NUL-terminated strings valid while their owner lives.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn check(ec: i32, what: &str) -> Result<(), String> {
    match ec {
        0 => Ok(()),
        -1 => Err(format!("{what}: timed out")),
        -2 => Err(format!("{what}: the stream was lost")),
        -3 => Err(format!("{what}: invalid argument")),
        _ => Err(format!("{what}: internal liblsl error ({ec})")),
    }
}

/// Channel format of an LSL stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// 32-bit float.
    Float32,
    /// Variable-length string (marker streams).
    String,
    /// Any other numeric format (double, int64/32/16/8), pulled converted to `f32`.
    OtherNumeric,
    /// Undefined.
    Undefined,
}

/// An owned `lsl_streaminfo`.
pub struct Info {
    h: lsl_streaminfo,
    _not_send: NotSend,
}

impl Info {
    /// A new stream description.
    pub fn new(
        name: &str,
        kind: &str,
        channels: usize,
        rate: f64,
        format: Format,
        source_id: &str,
    ) -> Result<Info, String> {
        let (n, t, s) = (cstring(name)?, cstring(kind)?, cstring(source_id)?);
        let fmt = match format {
            Format::Float32 => lsl_channel_format_t_cft_float32,
            Format::String => lsl_channel_format_t_cft_string,
            _ => return Err("unsupported channel format".into()),
        };
        // SAFETY: valid C strings; a null return is checked.
        let h = unsafe {
            lsl_create_streaminfo(
                n.as_ptr(),
                t.as_ptr(),
                channels as i32,
                rate,
                fmt,
                s.as_ptr(),
            )
        };
        Self::from_raw(h).ok_or_else(|| "liblsl could not create the stream info".to_string())
    }

    fn from_raw(h: lsl_streaminfo) -> Option<Info> {
        (!h.is_null()).then_some(Info {
            h,
            _not_send: PhantomData,
        })
    }

    /// Stream name.
    pub fn name(&self) -> String {
        // SAFETY: valid handle.
        borrowed(unsafe { lsl_get_name(self.h) })
    }
    /// Content type.
    pub fn kind(&self) -> String {
        // SAFETY: valid handle.
        borrowed(unsafe { lsl_get_type(self.h) })
    }
    /// Source id.
    pub fn source_id(&self) -> String {
        // SAFETY: valid handle.
        borrowed(unsafe { lsl_get_source_id(self.h) })
    }
    /// Host name of the outlet.
    pub fn hostname(&self) -> String {
        // SAFETY: valid handle.
        borrowed(unsafe { lsl_get_hostname(self.h) })
    }
    /// Channel count.
    pub fn channel_count(&self) -> usize {
        // SAFETY: valid handle.
        unsafe { lsl_get_channel_count(self.h) }.max(0) as usize
    }
    /// Nominal rate (0 for irregular streams).
    pub fn rate(&self) -> f64 {
        // SAFETY: valid handle.
        unsafe { lsl_get_nominal_srate(self.h) }
    }
    /// Channel format.
    pub fn format(&self) -> Format {
        // SAFETY: valid handle.
        match unsafe { lsl_get_channel_format(self.h) } {
            x if x == lsl_channel_format_t_cft_float32 => Format::Float32,
            x if x == lsl_channel_format_t_cft_string => Format::String,
            x if x == lsl_channel_format_t_cft_undefined => Format::Undefined,
            _ => Format::OtherNumeric,
        }
    }
    /// The `<desc>` element.
    fn desc(&mut self) -> Xml {
        Xml {
            // SAFETY: valid handle; the element lives as long as the info.
            e: unsafe { lsl_get_desc(self.h) },
            _not_send: PhantomData,
        }
    }
    /// One-line description for error messages.
    pub fn summary(&self) -> String {
        format!(
            "name={:?} type={:?} source_id={:?} channels={} rate={} host={:?}",
            self.name(),
            self.kind(),
            self.source_id(),
            self.channel_count(),
            self.rate(),
            self.hostname()
        )
    }
}

impl Drop for Info {
    fn drop(&mut self) {
        // SAFETY: owned handle, destroyed once.
        unsafe { lsl_destroy_streaminfo(self.h) }
    }
}

/// An element of a stream info's XML metadata (valid while its [`Info`] lives; only used
/// inside this module's functions, which borrow the info for the duration).
struct Xml {
    e: lsl_xml_ptr,
    _not_send: NotSend,
}

impl Xml {
    /// Appends a child element `name`.
    fn append_child(&mut self, name: &str) -> Xml {
        let n = cstring(name).unwrap_or_default();
        Xml {
            // SAFETY: valid element and C string.
            e: unsafe { lsl_append_child(self.e, n.as_ptr()) },
            _not_send: PhantomData,
        }
    }
    /// Appends `<name>value</name>`.
    fn append_child_value(&mut self, name: &str, value: &str) {
        let (n, v) = (
            cstring(name).unwrap_or_default(),
            cstring(value).unwrap_or_default(),
        );
        // SAFETY: valid element and C strings.
        unsafe { lsl_append_child_value(self.e, n.as_ptr(), v.as_ptr()) };
    }
    /// The first child named `name` (empty if none).
    fn child(&self, name: &str) -> Xml {
        let n = cstring(name).unwrap_or_default();
        Xml {
            // SAFETY: valid element and C string; returns an empty element if absent.
            e: unsafe { lsl_child(self.e, n.as_ptr()) },
            _not_send: PhantomData,
        }
    }
    /// The next sibling named `name` (empty if none).
    fn next_sibling_named(&self, name: &str) -> Xml {
        let n = cstring(name).unwrap_or_default();
        Xml {
            // SAFETY: as above.
            e: unsafe { lsl_next_sibling_n(self.e, n.as_ptr()) },
            _not_send: PhantomData,
        }
    }
    /// Whether this is the empty (absent) element.
    fn is_empty(&self) -> bool {
        // SAFETY: valid (possibly empty) element.
        self.e.is_null() || unsafe { lsl_empty(self.e) } != 0
    }
    /// Text of the child named `name` ("" if absent).
    fn child_value(&self, name: &str) -> String {
        let n = cstring(name).unwrap_or_default();
        // SAFETY: valid element; the string is owned by the document.
        borrowed(unsafe { lsl_child_value_n(self.e, n.as_ptr()) })
    }
}

/// Per-channel metadata written to / read from `desc/channels/channel`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelMeta {
    /// Label.
    pub label: String,
    /// Unit.
    pub unit: String,
    /// Type.
    pub kind: String,
}

/// Writes the standard channel metadata (`desc/channels/channel/{label,unit,type}`).
pub fn write_channels(info: &mut Info, channels: &[ChannelMeta]) {
    let mut desc = info.desc();
    let mut chans = desc.append_child("channels");
    for c in channels {
        let mut ch = chans.append_child("channel");
        ch.append_child_value("label", &c.label);
        ch.append_child_value("unit", &c.unit);
        ch.append_child_value("type", &c.kind);
    }
}

/// Reads `desc/channels/channel/{label,unit,type}` (as many as present).
pub fn read_channels(info: &mut Info) -> Vec<ChannelMeta> {
    let desc = info.desc();
    let chans = desc.child("channels");
    let mut out = vec![];
    if chans.is_empty() {
        return out;
    }
    let mut ch = chans.child("channel");
    // Bounded walk: XML from the network.
    while !ch.is_empty() && out.len() < 65_536 {
        out.push(ChannelMeta {
            label: ch.child_value("label"),
            unit: ch.child_value("unit"),
            kind: ch.child_value("type"),
        });
        ch = ch.next_sibling_named("channel");
    }
    out
}

fn collect(buf: &[lsl_streaminfo], n: i32) -> Vec<Info> {
    buf[..n.max(0) as usize]
        .iter()
        .filter_map(|&h| Info::from_raw(h))
        .collect()
}

/// Every stream visible within `wait_s` seconds.
pub fn resolve_all(wait_s: f64) -> Vec<Info> {
    let mut buf = vec![std::ptr::null_mut(); 256];
    // SAFETY: the buffer holds `len` handles; liblsl writes at most that many.
    let n = unsafe { lsl_resolve_all(buf.as_mut_ptr(), buf.len() as u32, wait_s) };
    collect(&buf, n)
}

/// Streams matching an XPath predicate (waits until one is found or `timeout_s`).
pub fn resolve_bypred(pred: &str, timeout_s: f64) -> Result<Vec<Info>, String> {
    let p = cstring(pred)?;
    let mut buf = vec![std::ptr::null_mut(); 64];
    // SAFETY: as above.
    let n =
        unsafe { lsl_resolve_bypred(buf.as_mut_ptr(), buf.len() as u32, p.as_ptr(), 1, timeout_s) };
    if n < 0 {
        check(n, "resolving streams")?;
    }
    Ok(collect(&buf, n))
}

/// A stream outlet.
pub struct Outlet {
    h: lsl_outlet,
    _not_send: NotSend,
}

impl Outlet {
    /// Makes the stream visible. `chunk_size` 0: each push is one chunk on the wire.
    pub fn new(info: &Info, chunk_size: i32, max_buffered_s: i32) -> Result<Outlet, String> {
        // SAFETY: valid info handle (liblsl copies it).
        let h = unsafe { lsl_create_outlet(info.h, chunk_size, max_buffered_s) };
        if h.is_null() {
            return Err("liblsl could not create the outlet".into());
        }
        Ok(Outlet {
            h,
            _not_send: PhantomData,
        })
    }
    /// Pushes frame-major samples (a whole number of frames); `last_ts` is the capture time of
    /// the last frame on the LSL clock (earlier frames' stamps are deduced from the rate).
    pub fn push_chunk_f32(&self, data: &[f32], last_ts: f64) -> Result<(), String> {
        // SAFETY: pointer and length of a live slice.
        let ec = unsafe {
            lsl_push_chunk_ftp(
                self.h,
                data.as_ptr(),
                data.len() as std::os::raw::c_ulong,
                last_ts,
                1,
            )
        };
        check(ec, "pushing a chunk")
    }
    /// Pushes one string sample (single-channel marker stream).
    pub fn push_string(&self, text: &str, ts: f64) -> Result<(), String> {
        let c = cstring(text)?;
        let mut ptrs = [c.as_ptr()];
        // SAFETY: one valid C string for a one-channel string outlet.
        let ec = unsafe { lsl_push_sample_strtp(self.h, ptrs.as_mut_ptr(), ts, 1) };
        check(ec, "pushing a marker")
    }
    /// Whether an inlet is connected.
    pub fn have_consumers(&self) -> bool {
        // SAFETY: valid handle.
        unsafe { lsl_have_consumers(self.h) != 0 }
    }
    /// Waits up to `timeout_s` for an inlet to connect.
    pub fn wait_for_consumers(&self, timeout_s: f64) -> bool {
        // SAFETY: valid handle.
        unsafe { lsl_wait_for_consumers(self.h, timeout_s) != 0 }
    }
}

impl Drop for Outlet {
    fn drop(&mut self) {
        // SAFETY: owned handle, destroyed once.
        unsafe { lsl_destroy_outlet(self.h) }
    }
}

/// A stream inlet.
pub struct Inlet {
    h: lsl_inlet,
    channels: usize,
    _not_send: NotSend,
}

impl Inlet {
    /// An inlet on a resolved stream. `recover`: reconnect transparently if the outlet comes
    /// back (streams with a source id).
    pub fn new(info: &Info, max_buflen_s: i32, recover: bool) -> Result<Inlet, String> {
        // SAFETY: valid info handle (liblsl copies it).
        let h = unsafe { lsl_create_inlet(info.h, max_buflen_s, 0, recover as i32) };
        if h.is_null() {
            return Err("liblsl could not create the inlet".into());
        }
        Ok(Inlet {
            h,
            channels: info.channel_count(),
            _not_send: PhantomData,
        })
    }
    /// The full stream info, with its XML description.
    pub fn full_info(&self, timeout_s: f64) -> Result<Info, String> {
        let mut ec = 0;
        // SAFETY: valid handle; error code checked.
        let h = unsafe { lsl_get_fullinfo(self.h, timeout_s, &mut ec) };
        check(ec, "reading the stream's metadata")?;
        Info::from_raw(h).ok_or_else(|| "reading the stream's metadata failed".into())
    }
    /// Subscribes to the data.
    pub fn open(&self, timeout_s: f64) -> Result<(), String> {
        let mut ec = 0;
        // SAFETY: valid handle.
        unsafe { lsl_open_stream(self.h, timeout_s, &mut ec) };
        check(ec, "opening the stream")
    }
    /// Offset to add to the stream's timestamps to get this machine's LSL clock.
    pub fn time_correction(&self, timeout_s: f64) -> Result<f64, String> {
        let mut ec = 0;
        // SAFETY: valid handle.
        let t = unsafe { lsl_time_correction(self.h, timeout_s, &mut ec) };
        check(ec, "time correction")?;
        Ok(t)
    }
    /// Pulls one sample into `buf` (`channels` values, in double precision whatever the
    /// stream's format), waiting up to `timeout_s`. Returns its timestamp, or `None` if
    /// nothing came.
    pub fn pull_sample_f64(&self, buf: &mut [f64], timeout_s: f64) -> Result<Option<f64>, String> {
        assert_eq!(buf.len(), self.channels);
        let mut ec = 0;
        // SAFETY: the buffer holds exactly one sample.
        let ts = unsafe {
            lsl_pull_sample_d(
                self.h,
                buf.as_mut_ptr(),
                buf.len() as i32,
                timeout_s,
                &mut ec,
            )
        };
        check(ec, "pulling a sample")?;
        Ok((ts != 0.0).then_some(ts))
    }
    /// Pulls whatever is available now (no waiting), up to `stamps.len()` frames, into `data`
    /// (frame-major, double precision) and `stamps`. Returns the number of frames.
    pub fn drain_f64(&self, data: &mut [f64], stamps: &mut [f64]) -> Result<usize, String> {
        let frames = stamps.len().min(data.len() / self.channels.max(1));
        if frames == 0 {
            return Ok(0);
        }
        let mut ec = 0;
        // SAFETY: `frames` frames fit both buffers.
        let n = unsafe {
            lsl_pull_chunk_d(
                self.h,
                data.as_mut_ptr(),
                stamps.as_mut_ptr(),
                (frames * self.channels) as std::os::raw::c_ulong,
                frames as std::os::raw::c_ulong,
                0.0,
                &mut ec,
            )
        };
        check(ec, "pulling a chunk")?;
        Ok(n as usize / self.channels.max(1))
    }
    /// Pulls one string sample (first channel), waiting up to `timeout_s`.
    pub fn pull_string(&self, timeout_s: f64) -> Result<Option<(String, f64)>, String> {
        let mut ptrs = vec![std::ptr::null_mut::<c_char>(); self.channels.max(1)];
        let mut lens = vec![0u32; ptrs.len()];
        let mut ec = 0;
        // SAFETY: buffers hold one pointer/length per channel; returned strings are freed.
        let ts = unsafe {
            lsl_pull_sample_buf(
                self.h,
                ptrs.as_mut_ptr(),
                lens.as_mut_ptr(),
                ptrs.len() as i32,
                timeout_s,
                &mut ec,
            )
        };
        check(ec, "pulling a marker")?;
        if ts == 0.0 {
            return Ok(None);
        }
        let mut text = String::new();
        for (i, (&p, &l)) in ptrs.iter().zip(&lens).enumerate() {
            if p.is_null() {
                continue;
            }
            if i == 0 {
                // SAFETY: liblsl returned `l` bytes at `p`.
                let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, l as usize) };
                text = String::from_utf8_lossy(bytes).into_owned();
            }
            // SAFETY: string allocated by liblsl, freed once.
            unsafe { lsl_destroy_string(p) };
        }
        Ok(Some((text, ts)))
    }
}

impl Drop for Inlet {
    fn drop(&mut self) {
        // SAFETY: owned handle, destroyed once.
        unsafe { lsl_destroy_inlet(self.h) }
    }
}

/// Quotes a value for an LSL XPath predicate (`'...'`; values containing `'` use `"`).
pub fn xpath_literal(v: &str) -> String {
    if v.contains('\'') {
        format!("\"{v}\"")
    } else {
        format!("'{v}'")
    }
}
