//! A thin, safe layer over the liblsl C API (`lsl-sys`), for what the stages need. Private to
//! this crate: the stages are its only users.
//!
//! The `lsl` crate's safe API pushes and pulls `Vec<Vec<T>>` (an allocation per sample) and
//! hides the native handles, so the stages use the C functions directly through these
//! wrappers: pushing a chunk from, and pulling samples into, preallocated buffers allocates
//! nothing.
//!
//! Every call's safety argument rests on what liblsl 1.13 (vendored by `lsl-sys` 0.1.1) reads
//! and writes, as its C sources do it; each `unsafe` block says which part it relies on.
//!
//! None of these types is `Send` or `Sync` (each holds a raw liblsl pointer, which is neither):
//! liblsl objects are created, used and dropped on one thread.

use lsl_sys::*;
use std::ffi::{c_char, c_ulong, CStr, CString};
use std::marker::PhantomData;

/// liblsl's clock (seconds, monotonic, shared by every LSL program on this machine).
pub(crate) fn local_clock() -> f64 {
    // SAFETY: takes no arguments and touches no caller memory; liblsl reads its own clock.
    unsafe { lsl_local_clock() }
}

fn cstring(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("`{s}` contains a NUL byte"))
}

/// Copies a C string owned by liblsl (not freed here); `""` for null.
///
/// # Safety
///
/// `p` is null, or points to a NUL-terminated string that stays valid and unchanged for the
/// duration of the call.
unsafe fn copy_c_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: `p` is non-null and, by this function's contract, NUL-terminated and valid
    // while it is read here (the bytes are copied before returning).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_string_lossy().into_owned()
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

/// liblsl sizes an outlet's or inlet's buffer as `(int)(rate × seconds)` samples
/// (`seconds × 100` for an irregular-rate stream). A rate that is not a finite non-negative
/// number, or a product beyond `int`, would be undefined behaviour in its C++: refused here.
fn check_buffer(rate: f64, seconds: i32) -> Result<(), String> {
    let samples = if rate > 0.0 {
        rate * f64::from(seconds)
    } else {
        f64::from(seconds) * 100.0
    };
    if rate.is_finite() && rate >= 0.0 && seconds > 0 && samples <= f64::from(i32::MAX) {
        Ok(())
    } else {
        Err(format!(
            "liblsl cannot buffer {seconds} s of a stream at {rate} Hz"
        ))
    }
}

/// Channel format of an LSL stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// 32-bit float.
    Float32,
    /// Variable-length string (marker streams).
    String,
    /// Any other numeric format (double, int64/32/16/8), pulled converted to `f64`.
    OtherNumeric,
    /// Undefined.
    Undefined,
}

/// An owned `lsl_streaminfo` (non-null, destroyed once on drop).
pub(crate) struct Info {
    h: lsl_streaminfo,
}

impl Info {
    /// A new stream description: 1 to `i32::MAX` channels, a finite non-negative rate (0 for
    /// an irregular stream), a float32 or string format.
    pub(crate) fn new(
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
        let count = i32::try_from(channels)
            .ok()
            .filter(|&c| c > 0)
            .ok_or_else(|| format!("an LSL stream cannot have {channels} channels"))?;
        if !rate.is_finite() || rate < 0.0 {
            return Err(format!("invalid nominal rate for an LSL stream: {rate}"));
        }
        let (name, kind, source_id) = (n.as_ptr(), t.as_ptr(), s.as_ptr());
        // SAFETY: `name`, `kind` and `source_id` point to NUL-terminated strings (`n`, `t`, `s`)
        // alive for the whole call (liblsl copies them into its own strings); `fmt` is one of
        // liblsl's channel formats and `count`/`rate` are in the ranges it accepts. liblsl
        // catches its own exceptions and returns null on failure, and otherwise a new handle
        // that the caller owns.
        let h = unsafe { lsl_create_streaminfo(name, kind, count, rate, fmt, source_id) };
        // SAFETY: `h` is null or the handle just created above, owned by nobody else.
        unsafe { Info::from_raw(h) }
            .ok_or_else(|| "liblsl could not create the stream info".to_string())
    }

    /// Takes ownership of a streaminfo handle; `None` if it is null.
    ///
    /// # Safety
    ///
    /// `h` is null, or a live streaminfo handle that the caller owns and hands over: nothing
    /// else uses or destroys it afterwards.
    unsafe fn from_raw(h: lsl_streaminfo) -> Option<Info> {
        (!h.is_null()).then_some(Info { h })
    }

    /// Stream name.
    pub(crate) fn name(&self) -> String {
        // SAFETY: `self.h` is a live streaminfo handle. liblsl returns the `c_str()` of the
        // info's name, NUL-terminated and valid until the info is changed or destroyed; it is
        // copied at once, while `&self` keeps the info alive and unchanged.
        unsafe { copy_c_str(lsl_get_name(self.h)) }
    }
    /// Content type.
    pub(crate) fn kind(&self) -> String {
        // SAFETY: as in `name` (the info's type string).
        unsafe { copy_c_str(lsl_get_type(self.h)) }
    }
    /// Source id.
    pub(crate) fn source_id(&self) -> String {
        // SAFETY: as in `name` (the info's source id string).
        unsafe { copy_c_str(lsl_get_source_id(self.h)) }
    }
    /// Host name of the outlet.
    pub(crate) fn hostname(&self) -> String {
        // SAFETY: as in `name` (the info's host name string).
        unsafe { copy_c_str(lsl_get_hostname(self.h)) }
    }
    /// Channel count.
    pub(crate) fn channel_count(&self) -> usize {
        // SAFETY: `self.h` is a live streaminfo handle; liblsl only reads a field of it.
        let n = unsafe { lsl_get_channel_count(self.h) };
        usize::try_from(n).unwrap_or(0)
    }
    /// Nominal rate (0 for irregular streams).
    pub(crate) fn rate(&self) -> f64 {
        // SAFETY: `self.h` is a live streaminfo handle; liblsl only reads a field of it.
        unsafe { lsl_get_nominal_srate(self.h) }
    }
    /// Channel format.
    pub(crate) fn format(&self) -> Format {
        // SAFETY: `self.h` is a live streaminfo handle; liblsl only reads a field of it.
        let f = unsafe { lsl_get_channel_format(self.h) };
        match f {
            x if x == lsl_channel_format_t_cft_float32 => Format::Float32,
            x if x == lsl_channel_format_t_cft_string => Format::String,
            x if x == lsl_channel_format_t_cft_undefined => Format::Undefined,
            _ => Format::OtherNumeric,
        }
    }
    /// The `<desc>` element, to read. The element lives in the info's XML document: the
    /// returned [`Xml`] borrows the info, so it cannot outlive it.
    fn desc(&self) -> Xml<'_> {
        // SAFETY: `self.h` is a live streaminfo handle; liblsl returns a pointer to the desc
        // node of the info's own document (no allocation, no ownership passed), which stays
        // valid while the info lives; the returned `Xml` borrows `self` for that long.
        let e = unsafe { lsl_get_desc(self.h) };
        Xml {
            e,
            _info: PhantomData,
        }
    }
    /// The `<desc>` element, to append metadata to (exclusive borrow of the info).
    fn desc_mut(&mut self) -> XmlMut<'_> {
        // SAFETY: as in `desc`; the returned `XmlMut` borrows `self` exclusively.
        let e = unsafe { lsl_get_desc(self.h) };
        XmlMut {
            e,
            _info: PhantomData,
        }
    }
    /// Text of `desc/<name>` (`""` if absent), e.g. `manufacturer`.
    pub(crate) fn desc_value(&self, name: &str) -> String {
        self.desc().child_value(name)
    }

    /// Appends `desc/<name>` with `value`.
    pub(crate) fn append_desc_value(&mut self, name: &str, value: &str) {
        self.desc_mut().append_child_value(name, value);
    }

    /// One-line description for error messages.
    pub(crate) fn summary(&self) -> String {
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
        // SAFETY: `self.h` is a live handle this `Info` owns (see `from_raw`); it is destroyed
        // exactly once, here, and never used again. Elements borrowed from it (`Xml`,
        // `XmlMut`) cannot outlive this drop.
        unsafe { lsl_destroy_streaminfo(self.h) }
    }
}

/// An element of a stream info's XML metadata, for reading. It points into the [`Info`]'s
/// document, so it borrows the info for `'a`. A null pointer is pugixml's empty element, on
/// which every call below is a no-op returning the empty element or `""`.
struct Xml<'a> {
    e: lsl_xml_ptr,
    _info: PhantomData<&'a Info>,
}

impl<'a> Xml<'a> {
    /// The first child named `name` (empty if none).
    fn child(&self, name: &str) -> Xml<'a> {
        let n = cstring(name).unwrap_or_default();
        // SAFETY: `self.e` is an element (or null, the empty element) of a document that the
        // borrow `'a` keeps alive; `n` is NUL-terminated and outlives the call (pugixml only
        // compares it). The result is another element of the same document, or null.
        let e = unsafe { lsl_child(self.e, n.as_ptr()) };
        Xml {
            e,
            _info: PhantomData,
        }
    }
    /// The next sibling named `name` (empty if none).
    fn next_sibling_named(&self, name: &str) -> Xml<'a> {
        let n = cstring(name).unwrap_or_default();
        // SAFETY: as in `child`.
        let e = unsafe { lsl_next_sibling_n(self.e, n.as_ptr()) };
        Xml {
            e,
            _info: PhantomData,
        }
    }
    /// Whether this is the empty (absent) element.
    fn is_empty(&self) -> bool {
        if self.e.is_null() {
            return true;
        }
        // SAFETY: `self.e` is a non-null element of a document kept alive by `'a`; liblsl
        // only reads it.
        let empty = unsafe { lsl_empty(self.e) };
        empty != 0
    }
    /// Text of the child named `name` (`""` if absent).
    fn child_value(&self, name: &str) -> String {
        let n = cstring(name).unwrap_or_default();
        // SAFETY: `self.e` and `n` as in `child`. liblsl returns a NUL-terminated string owned
        // by the document (or a static `""`), valid while the document is unchanged: it is
        // copied at once, and nothing can change the document meanwhile (changing it takes
        // `&mut Info`, which cannot exist while `'a` lasts).
        unsafe { copy_c_str(lsl_child_value_n(self.e, n.as_ptr())) }
    }
}

/// An element of a stream info's XML metadata, for appending children. It borrows the
/// [`Info`] exclusively for `'a`; appending never moves or frees existing elements.
struct XmlMut<'a> {
    e: lsl_xml_ptr,
    _info: PhantomData<&'a mut Info>,
}

impl XmlMut<'_> {
    /// Appends a child element `name`.
    fn append_child(&mut self, name: &str) -> XmlMut<'_> {
        let n = cstring(name).unwrap_or_default();
        // SAFETY: `self.e` is an element (or null, the empty element, to which nothing is
        // appended) of a document kept alive by the borrow of the info; `n` is NUL-terminated
        // and outlives the call (pugixml copies it). The new element belongs to the same
        // document, and the returned handle borrows `self`.
        let e = unsafe { lsl_append_child(self.e, n.as_ptr()) };
        XmlMut {
            e,
            _info: PhantomData,
        }
    }
    /// Appends `<name>value</name>`.
    fn append_child_value(&mut self, name: &str, value: &str) {
        let (n, v) = (
            cstring(name).unwrap_or_default(),
            cstring(value).unwrap_or_default(),
        );
        // SAFETY: as in `append_child`; `v` is NUL-terminated and outlives the call (pugixml
        // copies it). The returned element handle is not kept.
        unsafe { lsl_append_child_value(self.e, n.as_ptr(), v.as_ptr()) };
    }
}

/// Per-channel metadata written to / read from `desc/channels/channel`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ChannelMeta {
    /// Label.
    pub(crate) label: String,
    /// Unit.
    pub(crate) unit: String,
    /// Type.
    pub(crate) kind: String,
}

/// Writes the standard channel metadata (`desc/channels/channel/{label,unit,type}`).
pub(crate) fn write_channels(info: &mut Info, channels: &[ChannelMeta]) {
    let mut desc = info.desc_mut();
    let mut chans = desc.append_child("channels");
    for c in channels {
        let mut ch = chans.append_child("channel");
        ch.append_child_value("label", &c.label);
        ch.append_child_value("unit", &c.unit);
        ch.append_child_value("type", &c.kind);
    }
}

/// Reads `desc/channels/channel/{label,unit,type}` (as many as present).
pub(crate) fn read_channels(info: &Info) -> Vec<ChannelMeta> {
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

/// Takes ownership of the handles a resolve call wrote at the start of `buf`.
///
/// # Safety
///
/// The first `n` entries of `buf` (`n` clamped to `0..=buf.len()`) are streaminfo handles (or
/// null) that liblsl handed over to the caller, each taken once, here.
unsafe fn take_infos(buf: &[lsl_streaminfo], n: i32) -> Vec<Info> {
    let n = usize::try_from(n).unwrap_or(0).min(buf.len());
    buf[..n]
        .iter()
        .filter_map(|&h| {
            // SAFETY: by this function's contract each of these handles is owned by the caller
            // and passed on exactly once.
            unsafe { Info::from_raw(h) }
        })
        .collect()
}

/// Every stream visible within `wait_s` seconds.
pub(crate) fn resolve_all(wait_s: f64) -> Vec<Info> {
    let mut buf: Vec<lsl_streaminfo> = vec![std::ptr::null_mut(); 256];
    let len = buf.len() as u32;
    // SAFETY: `buf` holds `len` writable handle slots; liblsl writes at most `len` of them
    // (`min(buffer_elements, found)`) and returns how many (new infos the caller owns), or a
    // negative error code having written none.
    let n = unsafe { lsl_resolve_all(buf.as_mut_ptr(), len, wait_s) };
    // SAFETY: the first `n` entries are the handles liblsl just handed over, taken once.
    unsafe { take_infos(&buf, n) }
}

/// Streams matching an XPath predicate (waits until one is found or `timeout_s`).
pub(crate) fn resolve_bypred(pred: &str, timeout_s: f64) -> Result<Vec<Info>, String> {
    let p = cstring(pred)?;
    let mut buf: Vec<lsl_streaminfo> = vec![std::ptr::null_mut(); 64];
    let len = buf.len() as u32;
    // SAFETY: as in `resolve_all`; `p` is NUL-terminated and outlives the call (liblsl copies
    // it into its query).
    let n = unsafe { lsl_resolve_bypred(buf.as_mut_ptr(), len, p.as_ptr(), 1, timeout_s) };
    if n < 0 {
        check(n, "resolving streams")?;
    }
    // SAFETY: the first `n` entries are the handles liblsl just handed over, taken once.
    let infos = unsafe { take_infos(&buf, n) };
    Ok(infos)
}

/// An owned `lsl_outlet` (non-null, destroyed once on drop).
struct RawOutlet {
    h: lsl_outlet,
}

impl RawOutlet {
    /// Makes the stream described by `info` visible; each push is one chunk on the wire.
    fn new(info: &Info, max_buffered_s: i32) -> Result<RawOutlet, String> {
        check_buffer(info.rate(), max_buffered_s)?;
        // SAFETY: `info.h` is a live streaminfo handle; liblsl copies the info into the new
        // outlet (which keeps no pointer to ours). The buffer size it computes from the rate
        // and `max_buffered_s` fits an `int` (`check_buffer`). Null on failure (checked).
        let h = unsafe { lsl_create_outlet(info.h, 0, max_buffered_s) };
        if h.is_null() {
            return Err("liblsl could not create the outlet".into());
        }
        Ok(RawOutlet { h })
    }
}

impl Drop for RawOutlet {
    fn drop(&mut self) {
        // SAFETY: `self.h` is a live outlet handle owned by this value, destroyed exactly
        // once, here, and never used again.
        unsafe { lsl_destroy_outlet(self.h) }
    }
}

/// An outlet of float32 samples (`channels` ≥ 1 values per frame).
pub(crate) struct Outlet {
    raw: RawOutlet,
    /// The channel count of the outlet's own copy of its info.
    channels: usize,
}

impl Outlet {
    /// Makes a float32 stream visible; each push is one chunk on the wire.
    pub(crate) fn new(info: &Info, max_buffered_s: i32) -> Result<Outlet, String> {
        if info.format() != Format::Float32 {
            return Err("a sample outlet needs a float32 stream".into());
        }
        let channels = info.channel_count();
        if channels == 0 {
            return Err("an LSL stream needs at least one channel".into());
        }
        Ok(Outlet {
            raw: RawOutlet::new(info, max_buffered_s)?,
            channels,
        })
    }
    /// Pushes frame-major samples (a whole number of frames; an error otherwise); `last_ts` is
    /// the capture time of the last frame on the LSL clock (earlier frames' stamps are deduced
    /// from the rate).
    pub(crate) fn push_chunk_f32(&self, data: &[f32], last_ts: f64) -> Result<(), String> {
        if !data.len().is_multiple_of(self.channels) {
            return Err(format!(
                "pushing a chunk: {} values are not a whole number of {}-channel frames",
                data.len(),
                self.channels
            ));
        }
        let elements = c_ulong::try_from(data.len())
            .map_err(|_| "pushing a chunk: too many values".to_string())?;
        // SAFETY: `self.raw.h` is a live outlet handle. liblsl reads exactly `elements` floats
        // from `data` (`push_chunk_multiplexed`: `elements / channels` frames of `channels`
        // values), i.e. `data.len()`: within the live slice. It copies them into its own
        // samples before returning and keeps no pointer.
        let ec = unsafe { lsl_push_chunk_ftp(self.raw.h, data.as_ptr(), elements, last_ts, 1) };
        check(ec, "pushing a chunk")
    }
    /// Whether an inlet is connected.
    pub(crate) fn have_consumers(&self) -> bool {
        // SAFETY: `self.raw.h` is a live outlet handle; no caller memory is involved.
        let r = unsafe { lsl_have_consumers(self.raw.h) };
        r != 0
    }
    /// Waits up to `timeout_s` for an inlet to connect.
    pub(crate) fn wait_for_consumers(&self, timeout_s: f64) -> bool {
        // SAFETY: `self.raw.h` is a live outlet handle; no caller memory is involved.
        let r = unsafe { lsl_wait_for_consumers(self.raw.h, timeout_s) };
        r != 0
    }
}

/// A one-channel string outlet: an LSL marker stream. It is always created with exactly one
/// channel, and its push takes exactly one string — the one string pointer liblsl reads per
/// sample of such a stream.
pub(crate) struct MarkerOutlet {
    raw: RawOutlet,
}

impl MarkerOutlet {
    /// Publishes an irregular-rate, one-channel string stream `name` of content type `kind`,
    /// its channel described by `channel`.
    pub(crate) fn new(
        name: &str,
        kind: &str,
        source_id: &str,
        channel: &ChannelMeta,
        max_buffered_s: i32,
    ) -> Result<MarkerOutlet, String> {
        let mut info = Info::new(name, kind, 1, 0.0, Format::String, source_id)?;
        write_channels(&mut info, std::slice::from_ref(channel));
        // `push` relies on it.
        if info.channel_count() != 1 || info.format() != Format::String {
            return Err("liblsl did not create a one-channel string stream".into());
        }
        Ok(MarkerOutlet {
            raw: RawOutlet::new(&info, max_buffered_s)?,
        })
    }
    /// Pushes one marker stamped `ts` (LSL clock).
    pub(crate) fn push(&self, text: &str, ts: f64) -> Result<(), String> {
        let c = cstring(text)?;
        let mut ptrs: [*const c_char; 1] = [c.as_ptr()];
        // SAFETY: `lsl_push_sample_strtp` reads one `const char *` per channel of the outlet
        // (`for k < info().channel_count(): std::string(data[k])`). This outlet was created in
        // `new` from an info with exactly one channel (checked), and liblsl keeps its own copy
        // of that info, so it reads exactly `ptrs[0]`: a NUL-terminated string (`c`) alive
        // until the end of this function, copied into a `std::string` during the call.
        // `self.raw.h` is a live outlet handle.
        let ec = unsafe { lsl_push_sample_strtp(self.raw.h, ptrs.as_mut_ptr(), ts, 1) };
        check(ec, "pushing a marker")
    }
}

/// A stream inlet.
pub(crate) struct Inlet {
    h: lsl_inlet,
    /// The channel count (≥ 1) of the info the inlet was created from (liblsl keeps a copy).
    channels: usize,
}

impl Inlet {
    /// An inlet on a resolved stream. `recover`: reconnect transparently if the outlet comes
    /// back (streams with a source id).
    pub(crate) fn new(info: &Info, max_buflen_s: i32, recover: bool) -> Result<Inlet, String> {
        let channels = info.channel_count();
        if channels == 0 {
            return Err(format!("LSL stream [{}] has no channels", info.summary()));
        }
        if info.format() == Format::Undefined {
            return Err(format!(
                "LSL stream [{}] has an undefined channel format",
                info.summary()
            ));
        }
        check_buffer(info.rate(), max_buflen_s)
            .map_err(|e| format!("LSL stream [{}]: {e}", info.summary()))?;
        // SAFETY: `info.h` is a live streaminfo handle; liblsl copies the info into the new
        // inlet (which keeps no pointer to ours). The buffer size it computes from the rate and
        // `max_buflen_s` fits an `int` (`check_buffer`). Null on failure (checked).
        let h = unsafe { lsl_create_inlet(info.h, max_buflen_s, 0, i32::from(recover)) };
        if h.is_null() {
            return Err("liblsl could not create the inlet".into());
        }
        Ok(Inlet { h, channels })
    }
    /// The full stream info, with its XML description.
    pub(crate) fn full_info(&self, timeout_s: f64) -> Result<Info, String> {
        let mut ec = 0;
        // SAFETY: `self.h` is a live inlet handle and `ec` a valid out-pointer for the call.
        // liblsl returns a new streaminfo that the caller owns, or null with `ec` set.
        let h = unsafe { lsl_get_fullinfo(self.h, timeout_s, &mut ec) };
        // SAFETY: `h` is null or the handle liblsl just handed over, taken once.
        let info = unsafe { Info::from_raw(h) };
        check(ec, "reading the stream's metadata")?;
        info.ok_or_else(|| "reading the stream's metadata failed".into())
    }
    /// Subscribes to the data.
    pub(crate) fn open(&self, timeout_s: f64) -> Result<(), String> {
        let mut ec = 0;
        // SAFETY: `self.h` is a live inlet handle and `ec` a valid out-pointer for the call.
        unsafe { lsl_open_stream(self.h, timeout_s, &mut ec) };
        check(ec, "opening the stream")
    }
    /// Offset to add to the stream's timestamps to get this machine's LSL clock.
    pub(crate) fn time_correction(&self, timeout_s: f64) -> Result<f64, String> {
        let mut ec = 0;
        // SAFETY: `self.h` is a live inlet handle and `ec` a valid out-pointer for the call.
        let t = unsafe { lsl_time_correction(self.h, timeout_s, &mut ec) };
        check(ec, "time correction")?;
        Ok(t)
    }
    /// Pulls one sample into `buf` (exactly `channels` values, in double precision whatever
    /// the stream's format), waiting up to `timeout_s`. Returns its timestamp, or `None` if
    /// nothing came.
    pub(crate) fn pull_sample_f64(
        &self,
        buf: &mut [f64],
        timeout_s: f64,
    ) -> Result<Option<f64>, String> {
        if buf.len() != self.channels {
            return Err(format!(
                "pulling a sample: a buffer of {} values for {} channels",
                buf.len(),
                self.channels
            ));
        }
        // Fits: the count came from liblsl's `int32_t`.
        let elements = self.channels as i32;
        let out = buf.as_mut_ptr();
        let mut ec = 0;
        // SAFETY: `self.h` is a live inlet handle, `ec` a valid out-pointer, and `out` points to
        // `buf`, a live, exclusively borrowed buffer of `elements` doubles. liblsl writes a
        // sample only when `buffer_elements` equals the inlet's channel count (otherwise it
        // fails with a range error, writing nothing), and then writes exactly that many values:
        // within `buf`.
        let ts = unsafe { lsl_pull_sample_d(self.h, out, elements, timeout_s, &mut ec) };
        check(ec, "pulling a sample")?;
        Ok((ts != 0.0).then_some(ts))
    }
    /// Pulls whatever is available now (no waiting), up to `stamps.len()` frames, into `data`
    /// (frame-major, double precision) and `stamps`. Returns the number of frames.
    ///
    /// One sample at a time with [`pull_sample_f64`](Self::pull_sample_f64), as liblsl's own
    /// `pull_chunk` does it, so that every write is bounded by this inlet's channel count
    /// (`pull_chunk` divides by the channel count of the metadata the outlet sent instead).
    pub(crate) fn drain_f64(&self, data: &mut [f64], stamps: &mut [f64]) -> Result<usize, String> {
        let frames = stamps.len().min(data.len() / self.channels);
        let slots = data.chunks_exact_mut(self.channels).zip(stamps.iter_mut());
        for (f, (frame, stamp)) in slots.enumerate() {
            match self.pull_sample_f64(frame, 0.0)? {
                Some(ts) => *stamp = ts,
                None => return Ok(f),
            }
        }
        Ok(frames)
    }
    /// Pulls one string sample (first channel), waiting up to `timeout_s`.
    pub(crate) fn pull_string(&self, timeout_s: f64) -> Result<Option<(String, f64)>, String> {
        let mut ptrs = vec![std::ptr::null_mut::<c_char>(); self.channels];
        let mut lens = vec![0u32; self.channels];
        // Fits: the count came from liblsl's `int32_t`.
        let elements = self.channels as i32;
        let mut ec = 0;
        // SAFETY: `self.h` is a live inlet handle, `ec` a valid out-pointer, and `ptrs` and
        // `lens` live buffers of `elements` entries each. liblsl fills one pointer and one
        // length per channel of the inlet, after checking that `buffer_elements` is at least
        // that count (a range error otherwise, writing nothing).
        let ts = unsafe {
            lsl_pull_sample_buf(
                self.h,
                ptrs.as_mut_ptr(),
                lens.as_mut_ptr(),
                elements,
                timeout_s,
                &mut ec,
            )
        };
        // liblsl allocates the strings whenever the call succeeds — also when no sample came
        // (`ts == 0`: one empty string per channel) — and allocates none when it fails. Free
        // them in both success cases.
        let mut text = String::new();
        if ec == 0 {
            for (i, (&p, &l)) in ptrs.iter().zip(&lens).enumerate() {
                if p.is_null() {
                    continue;
                }
                if i == 0 {
                    // SAFETY: on success liblsl stored at `p` a `malloc`ed buffer holding the
                    // `l` bytes of the string (not NUL-terminated), ours until freed below.
                    let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, l as usize) };
                    text = String::from_utf8_lossy(bytes).into_owned();
                }
                // SAFETY: a string liblsl allocated and handed over; freed exactly once, and
                // not used afterwards (`text` is a copy).
                unsafe { lsl_destroy_string(p) };
            }
        }
        check(ec, "pulling a marker")?;
        if ts == 0.0 {
            return Ok(None);
        }
        Ok(Some((text, ts)))
    }
}

impl Drop for Inlet {
    fn drop(&mut self) {
        // SAFETY: `self.h` is a live inlet handle owned by this value, destroyed exactly once,
        // here, and never used again.
        unsafe { lsl_destroy_inlet(self.h) }
    }
}

/// Quotes a value for an LSL XPath predicate (`'...'`; values containing `'` use `"`).
pub(crate) fn xpath_literal(v: &str) -> String {
    if v.contains('\'') {
        format!("\"{v}\"")
    } else {
        format!("'{v}'")
    }
}
