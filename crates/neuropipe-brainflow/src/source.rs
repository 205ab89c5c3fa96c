//! `BrainFlowSource`: any of BrainFlow's ~60 boards (OpenBCI Cyton/Ganglion/Daisy, Muse,
//! Neurosity, g.tec Unicorn, BrainBit, …, the synthetic and playback boards) through
//! BrainFlow's C API, loaded at run time.
//!
//! * **Library**: `library` (the file or its directory), else `BRAINFLOW_LIB`, else the
//!   installed `brainflow` Python package (see [`find_library`]); when none has it, building
//!   fails naming every place searched.
//! * **Board**: `board_id` (BrainFlow's `BoardIds`: -1 synthetic, -3 playback, 0 Cyton, …)
//!   and BrainFlow's `BrainFlowInputParams` as parameters of the same names (`serial_port`,
//!   `mac_address`, `ip_address`, `ip_port`, `file`, `master_board`, …). Playback (-3) and
//!   streaming (-2) boards carry another board's data: `master_board` names it. The session
//!   is prepared when the pipeline is built to run (or by `neuropipe validate --probe`), so a
//!   board that cannot be reached is an error on `board_id` naming BrainFlow's exit code;
//!   plain `validate` only reads BrainFlow's description of the board.
//! * **Outputs**: `out`, the EEG rows (or the EXG rows of boards without EEG) in µV as
//!   BrainFlow delivers them, labelled with BrainFlow's 10-20 names when it has them; `aux`,
//!   every other measured row (accelerometer `accel_x`…, gyro, PPG, EDA, temperature,
//!   battery, …, and BrainFlow's `marker` row) in BrainFlow's units. Values are BrainFlow's
//!   doubles, delivered as `sample_type` (f64 by default: bit-identical to `get_board_data`).
//! * **Lost samples**: on boards whose package number counts every sample (modulo
//!   `package_wrap`: by default the synthetic board and the Cyton, and playback or streaming
//!   boards replaying them, modulo 256; set `package_wrap` for another board that does, 0 to
//!   turn it off) a jump forward is a loss, never filled: the next packet's `first_frame` moves
//!   on by the number missing and carries `FLAG_LOST_SAMPLES` with `lost_frames`, a
//!   `LostSamples` event is published and the readouts count it. A repeated number is not a
//!   loss; a jump back by more than half the wrap (a board or file restarting its count) is a
//!   discontinuity, flagged, not a loss. Boards that number packets otherwise (Ganglion: two
//!   samples per number, 0..200; Cyton+Daisy: steps of 2) are not checked by default.
//! * **Timestamps** (`timestamps`): `device` maps BrainFlow's timestamp row (UNIX time of
//!   capture) onto the pipeline clock through the UNIX-to-pipeline offset read when the
//!   stream starts; `host` stamps each sample with the time it was taken from BrainFlow minus
//!   its distance (at the nominal rate) to the last one taken. A device stamp more than 5 s
//!   away from the host time (a board whose clock is not UNIX time) falls back to the host
//!   stamp, counted and logged once. Stamps never go back.
//! * **Drift**: the rate the board really delivers, measured on its own stamps (frames over
//!   elapsed time since the stream started or resumed), and its deviation from the nominal
//!   rate in ppm, are the readouts `rate` and `drift` (on `/metrics` and the dashboard) and in
//!   the summary logged when the stage ends.
//! * **Markers**: with `insert_markers`, every `Marker` pipeline event whose text is a
//!   non-zero number is inserted into the board's stream with BrainFlow's `insert_marker`
//!   (it lands on the next sample of the `marker` row of `aux`); other texts are counted as
//!   refused and logged once.
//! * Pause: BrainFlow keeps streaming and the samples are discarded; after resume, frame
//!   indices continue and the first packet carries `FLAG_DISCONTINUITY`.
//! * At a stop, samples already taken are sent; the stream is stopped and the session
//!   released.

use crate::board::{BoardController, InputParams, Session, PLAYBACK_FILE_BOARD, STREAMING_BOARD};
use crate::locate::find_library;
use crate::reader::{Chunk, Msg, Reader, ReaderConfig};
use neuropipe_core::prelude::*;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Parameters of `BrainFlowSource`.
#[derive(StageParams)]
pub struct BrainFlowSourceParams {
    /// BrainFlow board id (BoardIds): -1 synthetic (no hardware), -3 playback of a BrainFlow file, 0 Cyton, 1 Ganglion, 2 Cyton+Daisy, 22 Muse 2, …
    #[param(default = -1, min = -100, max = 1000)]
    pub board_id: i64,
    /// the board whose data a playback (-3) or streaming (-2) board carries
    #[param(min = -100, max = 1000)]
    pub master_board: Option<i64>,
    /// BrainFlowInputParams.serial_port, e.g. /dev/ttyUSB0
    #[param(default = "")]
    pub serial_port: String,
    /// BrainFlowInputParams.mac_address
    #[param(default = "")]
    pub mac_address: String,
    /// BrainFlowInputParams.ip_address
    #[param(default = "")]
    pub ip_address: String,
    /// BrainFlowInputParams.ip_address_aux
    #[param(default = "")]
    pub ip_address_aux: String,
    /// BrainFlowInputParams.ip_address_anc
    #[param(default = "")]
    pub ip_address_anc: String,
    /// BrainFlowInputParams.ip_port
    #[param(default = 0, min = 0, max = 65535)]
    pub ip_port: i64,
    /// BrainFlowInputParams.ip_port_aux
    #[param(default = 0, min = 0, max = 65535)]
    pub ip_port_aux: i64,
    /// BrainFlowInputParams.ip_port_anc
    #[param(default = 0, min = 0, max = 65535)]
    pub ip_port_anc: i64,
    /// BrainFlowInputParams.ip_protocol: 0 none, 1 UDP, 2 TCP
    #[param(default = 0, min = 0, max = 2)]
    pub ip_protocol: i64,
    /// BrainFlowInputParams.other_info (board-specific settings)
    #[param(default = "")]
    pub other_info: String,
    /// BrainFlowInputParams.timeout: discovery timeout in seconds (0: BrainFlow's default)
    #[param(default = 0, min = 0, max = 3600)]
    pub timeout: i64,
    /// BrainFlowInputParams.serial_number
    #[param(default = "")]
    pub serial_number: String,
    /// BrainFlowInputParams.file: the playback board's recording (a BrainFlow CSV file), relative to the pipeline file
    #[param(default = "")]
    pub file: String,
    /// BrainFlowInputParams.file_aux
    #[param(default = "")]
    pub file_aux: String,
    /// BrainFlowInputParams.file_anc
    #[param(default = "")]
    pub file_anc: String,
    /// BrainFlow's libBoardController (the file or its directory); default: BRAINFLOW_LIB, else the installed brainflow Python package
    pub library: Option<String>,
    /// frames per packet
    #[param(default = 10, min = 1, max = 4096)]
    pub frames: usize,
    /// seconds of data BrainFlow buffers while the pipeline falls behind
    #[param(default = 60.0, min = 1.0, max = 3600.0)]
    pub buffer_s: f64,
    /// packet stamps: "device" (BrainFlow's timestamp row, mapped to the pipeline clock) or "host" (when taken from BrainFlow)
    #[param(default = "device", choices = ["device", "host"])]
    pub timestamps: String,
    /// the package number counts every sample modulo this; a jump forward is a loss. Default: 256 for the synthetic board and the Cyton (and playback of them), off for other boards; 0: do not check
    #[param(min = 0, max = 4294967296i64)]
    pub package_wrap: Option<i64>,
    /// insert Marker pipeline events whose text is a number into the board's stream (BrainFlow's insert_marker)
    #[param(default = false)]
    pub insert_markers: bool,
    /// sample type of the output packets (BrainFlow delivers doubles)
    #[param(default = "f64")]
    pub sample_type: FloatKind,
}

/// Stage type specification.
pub fn spec() -> StageSpec {
    StageSpec::new(
        "BrainFlowSource",
        "Any BrainFlow board (synthetic -1, playback -3, Cyton, Ganglion, Muse, Unicorn, …) through BrainFlow's C API: EEG in uV, aux rows, lost samples counted",
        build,
    )
    .output(PortSpec::any("out").doc("EEG (or EXG) rows in uV, BrainFlow's channel names"))
    .output(PortSpec::any("aux").optional().doc(
        "the other rows: accelerometer, gyro, PPG, EDA, temperature, battery, … and BrainFlow's marker row",
    ))
    .with_stream_info()
    .params::<BrainFlowSourceParams>()
    .with_pool()
}

/// Readout columns (one row: the board).
const COLUMNS: [ReadoutColumn; 6] = [
    ReadoutColumn::number(
        "frames",
        "",
        "frames delivered (not counting lost ones: see `lost`)",
    ),
    ReadoutColumn::number("lost", "", "samples lost (package number jumps)"),
    ReadoutColumn::number(
        "rate",
        "Hz",
        "rate the board delivers, on its own timestamps",
    ),
    ReadoutColumn::number(
        "drift",
        "ppm",
        "deviation of that rate from the nominal rate",
    ),
    ReadoutColumn::number("markers", "", "markers inserted into the board's stream"),
    ReadoutColumn::number(
        "refused",
        "",
        "marker events not inserted (text not a non-zero number, or BrainFlow refused)",
    ),
];
const C_FRAMES: usize = 0;
const C_LOST: usize = 1;
const C_RATE: usize = 2;
const C_DRIFT: usize = 3;
const C_MARKERS: usize = 4;
const C_REFUSED: usize = 5;

/// Device stamps further than this from the host's time are not trusted.
const MAX_STAMP_ERROR_NS: f64 = 5e9;

fn int(param: &str, v: i64) -> Result<i32, BuildError> {
    i32::try_from(v).map_err(|_| BuildError::param(param, format!("{v} is out of range")))
}

fn build(b: &mut StageBuilder<'_>) -> Result<BoxedStage, BuildError> {
    let p: BrainFlowSourceParams = b.parse_params()?;
    let board = int("board_id", p.board_id)?;
    let library = p.library.as_deref().map(|l| b.resolve_path(l));
    let lib = find_library(library.as_deref()).map_err(|e| {
        if library.is_some() {
            BuildError::param("library", e)
        } else {
            BuildError::stage(e)
        }
    })?;
    let bf = BoardController::load(&lib).map_err(|e| BuildError::param("library", e))?;
    // Playback and streaming boards carry another board's rows.
    let layout_board = if board == PLAYBACK_FILE_BOARD || board == STREAMING_BOARD {
        let Some(m) = p.master_board else {
            return Err(BuildError::param(
                "master_board",
                format!("board {board} replays another board's data: give that board's id in `master_board` (e.g. -1 for a file recorded from the synthetic board)"),
            ));
        };
        int("master_board", m)?
    } else {
        board
    };
    let descr = bf.describe(layout_board).map_err(|e| {
        BuildError::param(
            if layout_board == board {
                "board_id"
            } else {
                "master_board"
            },
            e,
        )
    })?;
    let rate = descr.sampling_rate;
    if descr.num_rows == 0 || !(rate > 0.0 && rate.is_finite()) {
        return Err(BuildError::param(
            "board_id",
            format!(
                "BrainFlow describes board {layout_board} ({}) without rows or sampling rate",
                descr.name
            ),
        ));
    }
    let data_rows = descr.data_rows().to_vec();
    if data_rows.is_empty() {
        return Err(BuildError::param(
            "board_id",
            format!(
                "board {layout_board} ({}) has no EEG or EXG rows",
                descr.name
            ),
        ));
    }
    let aux = descr.aux_rows();
    if data_rows
        .iter()
        .chain(aux.iter().map(|(r, _, _)| r))
        .any(|&r| r >= descr.num_rows)
    {
        return Err(BuildError::param(
            "board_id",
            format!(
                "BrainFlow's description of board {layout_board} names rows beyond its {} rows",
                descr.num_rows
            ),
        ));
    }
    let frames = p.frames;
    let name = format!("BrainFlow {}", descr.name);
    let mut info = StreamInfo::new(
        &name,
        rate,
        data_rows.len(),
        "uV",
        frames,
        PayloadKind::from(p.sample_type),
    );
    for (c, l) in info.channels.iter_mut().zip(descr.data_labels()) {
        c.label = l;
        c.kind = "EEG".to_string();
    }
    // The board and how it is reached: what tells two devices of one lab apart.
    let address = [
        &p.serial_number,
        &p.serial_port,
        &p.mac_address,
        &p.ip_address,
    ]
    .into_iter()
    .find(|a| !a.is_empty());
    info.source_id = match address {
        Some(a) => format!("brainflow:{board}@{a}"),
        None => format!("brainflow:{board}"),
    };
    info.manufacturer = format!("{} (BrainFlow board {board})", descr.name);
    let info = b.source_stream(info)?;
    let mut aux_info = StreamInfo::new(
        &format!("{name} aux"),
        rate,
        aux.len(),
        "",
        frames,
        PayloadKind::from(p.sample_type),
    );
    aux_info.kind = "AUX".to_string();
    aux_info.source_id = format!("{}-aux", info.source_id);
    aux_info.manufacturer = info.manufacturer.clone();
    for (c, (_, label, kind)) in aux_info.channels.iter_mut().zip(&aux) {
        c.label = label.clone();
        c.kind = (*kind).to_string();
        c.unit = String::new();
    }
    let file = if p.file.is_empty() {
        String::new()
    } else {
        let f = b.resolve_path(&p.file);
        if board == PLAYBACK_FILE_BOARD && !f.is_file() {
            return Err(BuildError::param(
                "file",
                format!("{} does not exist", f.display()),
            ));
        }
        f.display().to_string()
    };
    let params = InputParams {
        serial_port: p.serial_port,
        mac_address: p.mac_address,
        ip_address: p.ip_address,
        ip_address_aux: p.ip_address_aux,
        ip_address_anc: p.ip_address_anc,
        ip_port: int("ip_port", p.ip_port)?,
        ip_port_aux: int("ip_port_aux", p.ip_port_aux)?,
        ip_port_anc: int("ip_port_anc", p.ip_port_anc)?,
        ip_protocol: int("ip_protocol", p.ip_protocol)?,
        other_info: p.other_info,
        timeout: int("timeout", p.timeout)?,
        serial_number: p.serial_number,
        file,
        file_aux: p.file_aux,
        file_anc: p.file_anc,
        master_board: p
            .master_board
            .map_or(Ok(-100), |m| int("master_board", m))?,
    };
    // `neuropipe validate` does not touch the board; running (or `validate --probe`) prepares
    // the session now, so an unreachable board is a build error.
    let session = if b.validating() {
        None
    } else {
        let s = bf.prepare(board, &params).map_err(|e| {
            BuildError::param(
                "board_id",
                format!(
                    "cannot prepare board {board} ({}) with {}: {e}",
                    descr.name,
                    bf.path().display()
                ),
            )
        })?;
        tracing::info!(stage = b.id(), board, name = %descr.name, version = %bf.version(), "BrainFlow session prepared");
        Some(s)
    };
    let period_ns = 1e9 / rate;
    let poll = Duration::from_secs_f64((frames as f64 / rate / 2.0).clamp(0.001, 0.02));
    let capacity = (frames * 4).max((rate * 0.1).ceil() as usize).max(1);
    let ring = ((p.buffer_s * rate).ceil() as usize).max(capacity);
    // Boards whose package number is known to count every sample, modulo 256.
    let counts_samples = matches!(layout_board, -1 | 0);
    let wrap = match p.package_wrap {
        Some(w) => u64::try_from(w).unwrap_or(0),
        None if counts_samples => 256,
        None => 0,
    };
    let readouts = b.readouts(&COLUMNS, vec![descr.name.clone()]);
    for c in [C_FRAMES, C_LOST, C_MARKERS, C_REFUSED] {
        readouts.set(0, c, 0.0);
    }
    readouts.publish();
    let events = p.insert_markers.then(|| b.events());
    let layout = Layout {
        data: data_rows,
        aux: aux.iter().map(|(r, _, _)| *r).collect(),
        package: if wrap > 0 {
            descr.package_num_channel
        } else {
            None
        },
        wrap,
        stamp: if p.timestamps == "device" {
            descr.timestamp_channel
        } else {
            None
        },
    };
    let cfg = ReaderConfig {
        rows: descr.num_rows,
        capacity,
        ring,
        poll,
        clock: b.clock(),
    };
    with_float!(p.sample_type, S => {
        let pool = b.pool::<Samples<S>>(frames, layout.data.len())?;
        let aux_pool = if layout.aux.is_empty() {
            None
        } else {
            Some(b.pool::<Samples<S>>(frames, layout.aux.len())?)
        };
        let out = b.output::<Samples<S>>("out", info)?;
        let aux_out = b.output::<Samples<S>>("aux", aux_info)?;
        Ok(BoxedStage::new(BrainFlowSource::<S> {
            session,
            cfg: Some(cfg),
            reader: None,
            layout,
            events,
            pool,
            aux_pool,
            out,
            aux_out,
            frames,
            period_ns,
            flush_after: poll * 4 + Duration::from_secs_f64(2.0 * frames as f64 / rate),
            pending: None,
            cur: None,
            cur_aux: None,
            filled: 0,
            cur_first: 0,
            cur_ts: 0,
            cur_flags: 0,
            cur_lost: 0,
            next_frame: 0,
            sequence: 0,
            last_ts: 0,
            last_package: None,
            pending_lost: 0,
            discontinuity: false,
            discontinuity_pending: false,
            drift: DriftMeter::new(rate),
            counts: Counts::default(),
            readouts,
        }))
    })
}

/// Which rows go where.
struct Layout {
    data: Vec<usize>,
    aux: Vec<usize>,
    package: Option<usize>,
    wrap: u64,
    stamp: Option<usize>,
}

#[derive(Default)]
struct Counts {
    frames: u64,
    lost: u64,
    markers: u64,
    refused: u64,
    stamp_fallbacks: u64,
    rate: f64,
    drift_ppm: f64,
}

/// The `BrainFlowSource` stage.
pub struct BrainFlowSource<S: FloatSample> {
    /// The prepared session, until the reader thread takes it.
    session: Option<Session>,
    cfg: Option<ReaderConfig>,
    reader: Option<Reader>,
    layout: Layout,
    events: Option<EventReceiver>,
    pool: MemoryPool<Samples<S>>,
    aux_pool: Option<MemoryPool<Samples<S>>>,
    out: Output<Samples<S>>,
    aux_out: Output<Samples<S>>,
    frames: usize,
    period_ns: f64,
    /// How long a part-filled packet waits for more samples.
    flush_after: Duration,
    /// The chunk being unpacked and the next column in it.
    pending: Option<(Chunk, usize)>,
    /// The packets being filled (data and aux, frame for frame).
    cur: Option<Packet<Samples<S>>>,
    cur_aux: Option<Packet<Samples<S>>>,
    filled: usize,
    cur_first: u64,
    cur_ts: u64,
    cur_flags: u32,
    cur_lost: u64,
    next_frame: u64,
    sequence: u64,
    last_ts: u64,
    last_package: Option<u64>,
    /// Frames lost before the next packet.
    pending_lost: u64,
    /// The next packet follows a pause or a restart of the package count.
    discontinuity: bool,
    /// The sample being unpacked follows a restart of the package count.
    discontinuity_pending: bool,
    /// The board's rate on its own stamps.
    drift: DriftMeter,
    counts: Counts,
    readouts: Readouts,
}

/// What woke the stage up.
enum Woke {
    Control,
    Event(Result<PipelineEvent, RecvError>),
    Msg(Option<Msg>),
    /// Nothing came for `flush_after` while a packet was part filled.
    Silent,
}

/// A finished pair of packets.
type Ready<S> = (Packet<Samples<S>>, Option<Packet<Samples<S>>>);

impl<S: FloatSample> BrainFlowSource<S> {
    fn start(&mut self) -> Result<(), StageError> {
        let (Some(session), Some(cfg)) = (self.session.take(), self.cfg.take()) else {
            return Err(StageError::fatal(
                "the BrainFlow session was already released",
            ));
        };
        self.reader = Some(Reader::start(session, cfg)?);
        Ok(())
    }

    /// The stamp of sample `col` of `chunk` on the pipeline clock.
    fn stamp(&mut self, chunk: &Chunk, col: usize, ctx: &StageContext) -> u64 {
        let host = chunk.read_ns as f64 - (chunk.n - 1 - col) as f64 * self.period_ns;
        let mut t = host;
        if let (Some(row), Some(r)) = (self.layout.stamp, &self.reader) {
            let offset = r.unix_offset_ns.load(Ordering::Relaxed) as f64;
            let device = chunk.data[row * chunk.n + col] * 1e9 - offset;
            if device.is_finite() && (device - host).abs() <= MAX_STAMP_ERROR_NS {
                t = device;
            } else {
                if self.counts.stamp_fallbacks == 0 {
                    tracing::warn!(
                        stage = ctx.id(),
                        "BrainFlow's timestamp {} s is not near this machine's time: stamping with the host's time instead",
                        chunk.data[row * chunk.n + col]
                    );
                }
                self.counts.stamp_fallbacks += 1;
            }
        }
        (t.max(0.0) as u64).max(self.last_ts)
    }

    /// Completes the packets being filled.
    fn finalize(&mut self) -> Option<Ready<S>> {
        let mut pkt = self.cur.take()?;
        let mut aux = self.cur_aux.take();
        let n = std::mem::take(&mut self.filled);
        let (d, a) = (self.layout.data.len(), self.layout.aux.len());
        if pkt.set_shape(n, d).is_err() {
            return None; // cannot happen: n ≤ frames, the pool's packet size
        }
        if let Some(x) = &mut aux {
            if x.set_shape(n, a).is_err() {
                return None;
            }
        }
        for p in std::iter::once(&mut pkt).chain(aux.as_mut()) {
            p.scrub_nonfinite();
            let h = &mut p.header;
            h.sequence = self.sequence;
            h.first_frame = self.cur_first;
            h.timestamp = self.cur_ts;
            h.flags |= self.cur_flags;
            h.lost_frames = self.cur_lost.min(u64::from(u32::MAX)) as u32;
        }
        self.sequence += 1;
        self.last_ts = self.cur_ts;
        self.counts.frames += n as u64;
        // Drift: frames over the board's own elapsed time since the stretch began.
        if let Some((rate, ppm)) = self.drift.record(self.cur_first, self.cur_ts) {
            self.counts.rate = rate;
            self.counts.drift_ppm = ppm;
        }
        Some((pkt, aux))
    }

    /// Unpacks taken samples until a packet pair is complete (returned) or none are left.
    async fn step(&mut self, ctx: &StageContext) -> Result<Option<Ready<S>>, StageError> {
        loop {
            let Some((chunk, col)) = self.pending.take() else {
                return Ok(None);
            };
            if col >= chunk.n {
                if let Some(r) = &self.reader {
                    r.recycle(chunk.data);
                }
                continue;
            }
            let n = chunk.n;
            // A jump of the package number: samples lost before this one.
            if let Some(row) = self.layout.package {
                let wrap = self.layout.wrap;
                let v = chunk.data[row * n + col];
                let pkg = if v.is_finite() && v >= 0.0 {
                    (v as u64) % wrap
                } else {
                    0
                };
                if let Some(last) = self.last_package {
                    let missing = (pkg + wrap - (last + 1) % wrap) % wrap;
                    if pkg == last {
                        // A repeated number: not a loss.
                    } else if missing > wrap / 2 {
                        // A jump back (the count restarted): a discontinuity, not a loss.
                        self.discontinuity_pending = true;
                    } else if missing > 0 {
                        self.next_frame += missing;
                        self.pending_lost += missing;
                        self.counts.lost += missing;
                        self.readouts.set(0, C_LOST, self.counts.lost as f64);
                        ctx.emit_event(
                            EventKind::LostSamples,
                            format!("lost {missing} samples (BrainFlow package number jumped)"),
                        );
                        // Checked again on re-entry: the sample before this one counts as seen.
                        self.last_package = Some((pkg + wrap - 1) % wrap);
                        let done = self.finalize();
                        self.pending = Some((chunk, col));
                        if done.is_some() {
                            return Ok(done);
                        }
                        continue;
                    }
                }
                self.last_package = Some(pkg);
                if std::mem::take(&mut self.discontinuity_pending) {
                    // The packet being filled ends before the restart; the next is flagged.
                    self.discontinuity = true;
                    let done = self.finalize();
                    self.pending = Some((chunk, col));
                    if done.is_some() {
                        return Ok(done);
                    }
                    continue;
                }
            }
            if self.cur.is_none() {
                let mut p = self.pool.acquire().await;
                p.set_shape(self.frames, self.layout.data.len())?;
                p.header.flags = 0;
                self.cur = Some(p);
                if let Some(pool) = &self.aux_pool {
                    let mut a = pool.acquire().await;
                    a.set_shape(self.frames, self.layout.aux.len())?;
                    a.header.flags = 0;
                    self.cur_aux = Some(a);
                }
                self.cur_first = self.next_frame;
                self.cur_ts = self.stamp(&chunk, col, ctx);
                self.cur_lost = std::mem::take(&mut self.pending_lost);
                self.cur_flags = 0;
                if self.cur_lost > 0 {
                    self.cur_flags |= FLAG_LOST_SAMPLES;
                }
                if std::mem::take(&mut self.discontinuity) {
                    self.cur_flags |= FLAG_DISCONTINUITY;
                }
            }
            let f = self.filled;
            if let Some(p) = &mut self.cur {
                let d = self.layout.data.len();
                for (o, &r) in p.samples_mut()[f * d..(f + 1) * d]
                    .iter_mut()
                    .zip(&self.layout.data)
                {
                    *o = S::from_f64(chunk.data[r * n + col]);
                }
            }
            if let Some(p) = &mut self.cur_aux {
                let a = self.layout.aux.len();
                for (o, &r) in p.samples_mut()[f * a..(f + 1) * a]
                    .iter_mut()
                    .zip(&self.layout.aux)
                {
                    *o = S::from_f64(chunk.data[r * n + col]);
                }
            }
            self.filled += 1;
            self.next_frame += 1;
            self.pending = Some((chunk, col + 1));
            if self.filled == self.frames {
                return Ok(self.finalize());
            }
        }
    }

    /// Sends a finished pair.
    async fn send(&mut self, (pkt, aux): Ready<S>) -> Result<(), StageError> {
        self.readouts.set(0, C_FRAMES, self.counts.frames as f64);
        if self.counts.rate > 0.0 {
            self.readouts.set(0, C_RATE, self.counts.rate);
            self.readouts.set(0, C_DRIFT, self.counts.drift_ppm);
        }
        if let Some(a) = aux {
            // The aux stream is optional: its consumers being gone does not end the source.
            let _ = self.aux_out.send(a).await;
        }
        self.out.send(pkt).await
    }

    /// A marker event to insert into the board's stream.
    fn marker(&mut self, ev: &PipelineEvent, ctx: &StageContext) {
        if ev.kind != EventKind::Marker || ev.stage == ctx.id() {
            return;
        }
        let value = ev
            .text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v != 0.0);
        let sent = match (value, &self.reader) {
            (Some(v), Some(r)) => r.worker.try_send(crate::reader::Job::Marker(v)).is_ok(),
            _ => false,
        };
        if sent {
            self.counts.markers += 1;
            self.readouts.set(0, C_MARKERS, self.counts.markers as f64);
        } else {
            if self.counts.refused == 0 {
                tracing::warn!(
                    stage = ctx.id(),
                    "marker {:?} not inserted into the board's stream: BrainFlow markers are non-zero numbers",
                    ev.text
                );
            }
            self.counts.refused += 1;
            self.readouts.set(0, C_REFUSED, self.counts.refused as f64);
        }
    }

    fn accept(&mut self, msg: Msg) {
        match msg {
            Msg::Data(chunk) => self.pending = Some((chunk, 0)),
            Msg::Paused => {}
            Msg::Resumed => {
                // The package number moved on during the pause: not a loss.
                self.last_package = None;
                self.discontinuity = true;
                self.drift.restart();
            }
        }
    }
}

impl<S: FloatSample> DataPlaneStage for BrainFlowSource<S> {
    async fn run(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        if self.reader.is_none() {
            self.start()?;
        }
        loop {
            if let Some(ready) = self.step(ctx).await? {
                return self.send(ready).await;
            }
            let Some(reader) = &mut self.reader else {
                return Err(StageError::fatal("the BrainFlow reader is gone"));
            };
            let events = &mut self.events;
            // A packet half filled when the board falls silent (the end of a playback file, a
            // stalled device) goes out after `flush_after` rather than waiting for more.
            let partial = self.cur.is_some();
            let flush = tokio::time::sleep(self.flush_after);
            let woke = ctx
                .waiting(async {
                    match events {
                        Some(events) => tokio::select! {
                            biased;
                            _ = ctx.control_pending() => Woke::Control,
                            ev = events.recv() => Woke::Event(ev),
                            m = reader.worker.recv() => Woke::Msg(m),
                            _ = flush, if partial => Woke::Silent,
                        },
                        None => tokio::select! {
                            biased;
                            _ = ctx.control_pending() => Woke::Control,
                            m = reader.worker.recv() => Woke::Msg(m),
                            _ = flush, if partial => Woke::Silent,
                        },
                    }
                })
                .await;
            let msg = match woke {
                Woke::Control => return Ok(()),
                Woke::Silent => match self.finalize() {
                    Some(ready) => return self.send(ready).await,
                    None => continue,
                },
                Woke::Msg(m) => m,
                Woke::Event(Ok(ev)) => {
                    self.marker(&ev, ctx);
                    continue;
                }
                Woke::Event(Err(RecvError::Lagged(n))) => {
                    self.counts.refused += n;
                    self.readouts.set(0, C_REFUSED, self.counts.refused as f64);
                    tracing::warn!(
                        stage = ctx.id(),
                        "{n} pipeline events lost before they could be inserted as markers"
                    );
                    continue;
                }
                Woke::Event(Err(RecvError::Closed)) => {
                    self.events = None;
                    continue;
                }
            };
            match msg {
                Some(m) => {
                    // A pause mark ends the packet being filled.
                    let paused = matches!(m, Msg::Paused);
                    self.accept(m);
                    if paused {
                        if let Some(ready) = self.finalize() {
                            return self.send(ready).await;
                        }
                    }
                }
                None => {
                    return Err(match reader.worker.finish().await {
                        Err(e) => e,
                        Ok(()) => StageError::fatal("the BrainFlow reader thread ended"),
                    })
                }
            }
        }
    }

    fn control(
        &mut self,
        msg: &ControlMsg,
        _ctx: &mut StageContext,
    ) -> Result<Handled, StageError> {
        if let Some(r) = &self.reader {
            match msg {
                ControlMsg::Pause => r.set_paused(true),
                ControlMsg::Resume => r.set_paused(false),
                _ => {}
            }
        }
        Ok(Handled::Default)
    }

    async fn finish(&mut self, ctx: &mut StageContext) -> Result<(), StageError> {
        let Some(mut reader) = self.reader.take() else {
            return Ok(()); // never started: the session is released with the stage
        };
        reader.worker.stop();
        let stopped = reader.worker.finish().await;
        // Deliver what was taken before the stop: the chunk being unpacked, then the rest.
        let mut chunks: Vec<(Chunk, usize)> = self.pending.take().into_iter().collect();
        while let Ok(Some(m)) = reader.worker.try_recv() {
            if let Msg::Data(c) = m {
                chunks.push((c, 0));
            }
        }
        self.reader = Some(reader);
        for chunk in chunks {
            self.pending = Some(chunk);
            while let Some(ready) = self.step(ctx).await? {
                if self.send(ready).await.is_err() {
                    break;
                }
            }
        }
        if let Some(ready) = self.finalize() {
            let _ = self.send(ready).await;
        }
        self.readouts.set(0, C_FRAMES, self.counts.frames as f64);
        let c = &self.counts;
        tracing::info!(
            stage = ctx.id(),
            frames = c.frames,
            lost = c.lost,
            rate_hz = c.rate,
            drift_ppm = c.drift_ppm,
            markers = c.markers,
            markers_refused = c.refused,
            markers_failed = self
                .reader
                .as_ref()
                .map_or(0, |r| r.markers_failed.load(Ordering::Relaxed)),
            host_stamps = c.stamp_fallbacks,
            "BrainFlow stopped"
        );
        self.reader = None;
        stopped
    }
}
