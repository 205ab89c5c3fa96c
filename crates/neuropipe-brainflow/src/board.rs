//! A BrainFlow board, safely: its description ([`BoardDescr`]), its connection parameters
//! ([`InputParams`], BrainFlow's `BrainFlowInputParams`) and a streaming [`Session`].

use crate::ffi::{self, Api};
use serde::{Deserialize, Serialize};
use std::ffi::{c_int, CString};
use std::path::Path;

/// BrainFlow's board id of the synthetic board (no hardware).
pub const SYNTHETIC_BOARD: i32 = -1;
/// BrainFlow's board id of the streaming board (data another BrainFlow program multicasts).
pub const STREAMING_BOARD: i32 = -2;
/// BrainFlow's board id of the playback board (a file written by BrainFlow's `DataFilter`).
pub const PLAYBACK_FILE_BOARD: i32 = -3;
/// BrainFlow's default preset (the main data buffer).
pub const DEFAULT_PRESET: i32 = 0;

/// The name of a BrainFlow exit code (`BrainFlowExitCodes`).
pub fn exit_code_name(code: i32) -> &'static str {
    match code {
        0 => "STATUS_OK",
        1 => "PORT_ALREADY_OPEN_ERROR",
        2 => "UNABLE_TO_OPEN_PORT_ERROR",
        3 => "SER_PORT_ERROR",
        4 => "BOARD_WRITE_ERROR",
        5 => "INCOMMING_MSG_ERROR",
        6 => "INITIAL_MSG_ERROR",
        7 => "BOARD_NOT_READY_ERROR",
        8 => "STREAM_ALREADY_RUN_ERROR",
        9 => "INVALID_BUFFER_SIZE_ERROR",
        10 => "STREAM_THREAD_ERROR",
        11 => "STREAM_THREAD_IS_NOT_RUNNING",
        12 => "EMPTY_BUFFER_ERROR",
        13 => "INVALID_ARGUMENTS_ERROR",
        14 => "UNSUPPORTED_BOARD_ERROR",
        15 => "BOARD_NOT_CREATED_ERROR",
        16 => "ANOTHER_BOARD_IS_CREATED_ERROR",
        17 => "GENERAL_ERROR",
        18 => "SYNC_TIMEOUT_ERROR",
        19 => "JSON_NOT_FOUND_ERROR",
        20 => "NO_SUCH_DATA_IN_JSON_ERROR",
        _ => "unknown error",
    }
}

/// A failed BrainFlow call: what was done and BrainFlow's exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrainFlowError {
    /// The call, e.g. `prepare_session`.
    pub call: &'static str,
    /// BrainFlow's exit code.
    pub code: i32,
}

impl std::fmt::Display for BrainFlowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "BrainFlow {} failed: {} ({})",
            self.call,
            exit_code_name(self.code),
            self.code
        )
    }
}

impl std::error::Error for BrainFlowError {}

fn check(call: &'static str, code: c_int) -> Result<(), BrainFlowError> {
    if code == 0 {
        Ok(())
    } else {
        Err(BrainFlowError { call, code })
    }
}

/// BrainFlow's `BrainFlowInputParams`: how to reach the board. Serialised as the JSON the C
/// API takes (every field, as BrainFlow's bindings send it).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct InputParams {
    /// Serial port (Cyton, Ganglion dongle, …).
    pub serial_port: String,
    /// Bluetooth MAC address.
    pub mac_address: String,
    /// IP address (WiFi shields, …).
    pub ip_address: String,
    /// Auxiliary IP address.
    pub ip_address_aux: String,
    /// Ancillary IP address.
    pub ip_address_anc: String,
    /// IP port.
    pub ip_port: i32,
    /// Auxiliary IP port.
    pub ip_port_aux: i32,
    /// Ancillary IP port.
    pub ip_port_anc: i32,
    /// IP protocol (BrainFlow's `IpProtocolTypes`: 0 none, 1 UDP, 2 TCP).
    pub ip_protocol: i32,
    /// Board-specific extra settings.
    pub other_info: String,
    /// Discovery timeout in seconds (0: BrainFlow's default).
    pub timeout: i32,
    /// Device serial number.
    pub serial_number: String,
    /// File (the playback board's recording).
    pub file: String,
    /// Auxiliary file.
    pub file_aux: String,
    /// Ancillary file.
    pub file_anc: String,
    /// The board whose data a playback or streaming board carries.
    pub master_board: i32,
}

impl InputParams {
    /// No parameters (the synthetic board's); `master_board` = BrainFlow's "no board" (-100).
    pub fn new() -> Self {
        InputParams {
            master_board: -100,
            ..Default::default()
        }
    }

    fn json(&self) -> Result<CString, String> {
        let text = serde_json::to_string(self).map_err(|e| e.to_string())?;
        CString::new(text).map_err(|_| "a parameter contains a NUL byte".to_string())
    }
}

/// What BrainFlow says about a board (`get_board_descr`): rows of its data array and what
/// each holds.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct BoardDescr {
    /// Board name, e.g. `Synthetic`, `Cyton`.
    pub name: String,
    /// Rows of the data array.
    pub num_rows: usize,
    /// Samples per second.
    pub sampling_rate: f64,
    /// Row of the package number.
    pub package_num_channel: Option<usize>,
    /// Row of the UNIX timestamps (seconds).
    pub timestamp_channel: Option<usize>,
    /// Row of the markers.
    pub marker_channel: Option<usize>,
    /// Row of the battery level.
    pub battery_channel: Option<usize>,
    /// EEG rows (µV).
    pub eeg_channels: Vec<usize>,
    /// 10-20 names of the EEG rows, comma-separated, when their places are fixed.
    pub eeg_names: Option<String>,
    /// EXG rows of boards without EEG rows (EMG/ECG devices).
    pub exg_channels: Vec<usize>,
    /// EMG rows.
    pub emg_channels: Vec<usize>,
    /// ECG rows.
    pub ecg_channels: Vec<usize>,
    /// EOG rows.
    pub eog_channels: Vec<usize>,
    /// Accelerometer rows.
    pub accel_channels: Vec<usize>,
    /// Gyroscope rows.
    pub gyro_channels: Vec<usize>,
    /// Magnetometer rows.
    pub magnetometer_channels: Vec<usize>,
    /// Rotation rows.
    pub rotation_channels: Vec<usize>,
    /// PPG rows.
    pub ppg_channels: Vec<usize>,
    /// EDA rows.
    pub eda_channels: Vec<usize>,
    /// Temperature rows.
    pub temperature_channels: Vec<usize>,
    /// Resistance rows.
    pub resistance_channels: Vec<usize>,
    /// Analog input rows.
    pub analog_channels: Vec<usize>,
    /// Optical rows.
    pub optical_channels: Vec<usize>,
    /// Other rows.
    pub other_channels: Vec<usize>,
}

impl BoardDescr {
    /// The rows of the data output (µV): the EEG rows, or the EXG/EMG/ECG rows of a board
    /// without EEG.
    pub fn data_rows(&self) -> &[usize] {
        [
            &self.eeg_channels,
            &self.exg_channels,
            &self.emg_channels,
            &self.ecg_channels,
        ]
        .into_iter()
        .find(|r| !r.is_empty())
        .map_or(&[], |r| r.as_slice())
    }

    /// The data rows' names: BrainFlow's 10-20 names when it has one per row, else `EEG1`….
    pub fn data_labels(&self) -> Vec<String> {
        let n = self.data_rows().len();
        if let Some(names) = &self.eeg_names {
            let names: Vec<String> = names.split(',').map(|s| s.trim().to_string()).collect();
            if names.len() == n && names.iter().all(|s| !s.is_empty()) {
                return names;
            }
        }
        (1..=n).map(|i| format!("EEG{i}")).collect()
    }

    /// Every other measured row, in row order, with its label and type: accelerometer, gyro,
    /// PPG, battery, … and the marker row (`marker`). Not the data rows, the package number or
    /// the timestamp.
    pub fn aux_rows(&self) -> Vec<(usize, String, &'static str)> {
        let data = self.data_rows();
        let mut rows: Vec<(usize, String, &'static str)> = vec![];
        let groups: [(&[usize], &str, &'static str, &[&str]); 13] = [
            (&self.accel_channels, "accel", "ACC", &["x", "y", "z"]),
            (&self.gyro_channels, "gyro", "GYRO", &["x", "y", "z"]),
            (&self.magnetometer_channels, "mag", "MAG", &["x", "y", "z"]),
            (&self.rotation_channels, "rotation", "ROT", &[]),
            (&self.ppg_channels, "ppg", "PPG", &[]),
            (&self.eda_channels, "eda", "EDA", &[]),
            (&self.temperature_channels, "temperature", "TEMP", &[]),
            (&self.resistance_channels, "resistance", "RES", &[]),
            (&self.analog_channels, "analog", "AUX", &[]),
            (&self.optical_channels, "optical", "OPT", &[]),
            (&self.eog_channels, "eog", "EOG", &[]),
            (&self.emg_channels, "emg", "EMG", &[]),
            (&self.other_channels, "other", "MISC", &[]),
        ];
        for (group, name, kind, axes) in groups {
            let mut k = 0;
            for &r in group {
                if data.contains(&r) || rows.iter().any(|(x, _, _)| *x == r) {
                    continue;
                }
                k += 1;
                let label = match (group.len(), axes.get(k - 1)) {
                    (3, Some(axis)) if axes.len() == 3 => format!("{name}_{axis}"),
                    (1, _) => name.to_string(),
                    _ => format!("{name}{k}"),
                };
                rows.push((r, label, kind));
            }
        }
        for (r, name, kind) in [
            (self.battery_channel, "battery", "MISC"),
            (self.marker_channel, "marker", "MARKER"),
        ] {
            if let Some(r) = r {
                if !data.contains(&r) && !rows.iter().any(|(x, _, _)| *x == r) {
                    rows.push((r, name.to_string(), kind));
                }
            }
        }
        rows.sort_by_key(|(r, _, _)| *r);
        rows
    }
}

/// A loaded BrainFlow board controller.
#[derive(Clone, Copy)]
pub struct BoardController {
    api: &'static Api,
}

impl BoardController {
    /// Loads the library (see [`find_library`](crate::locate::find_library)).
    pub fn load(path: &Path) -> Result<Self, String> {
        Ok(BoardController {
            api: ffi::load(path)?,
        })
    }

    /// BrainFlow's version.
    pub fn version(&self) -> String {
        self.api.version()
    }

    /// The file loaded.
    pub fn path(&self) -> &Path {
        self.api.path()
    }

    /// The description of `board` (its default preset).
    pub fn describe(&self, board: i32) -> Result<BoardDescr, String> {
        let text = self
            .api
            .board_descr(board, DEFAULT_PRESET)
            .map_err(|code| {
                if code == 14 {
                    format!(
                        "BrainFlow {} does not know board id {board}",
                        self.version()
                    )
                } else {
                    BrainFlowError {
                        call: "get_board_descr",
                        code,
                    }
                    .to_string()
                }
            })?;
        serde_json::from_str(&text)
            .map_err(|e| format!("BrainFlow's description of board {board} is not valid: {e}"))
    }

    /// Prepares a session with `board` (opens the port, connects, …): may take seconds.
    pub fn prepare(&self, board: i32, params: &InputParams) -> Result<Session, String> {
        let json = params.json()?;
        check("prepare_session", self.api.prepare_session(board, &json))
            .map_err(|e| e.to_string())?;
        Ok(Session {
            api: self.api,
            board,
            json,
            streaming: false,
        })
    }
}

/// A prepared board session; released on drop (its stream stopped first).
pub struct Session {
    api: &'static Api,
    board: i32,
    json: CString,
    streaming: bool,
}

impl Session {
    /// Starts streaming into BrainFlow's ring buffer of `buffer` samples.
    pub fn start(&mut self, buffer: usize) -> Result<(), BrainFlowError> {
        let buffer = c_int::try_from(buffer).unwrap_or(c_int::MAX);
        check(
            "start_stream",
            self.api.start_stream(buffer, self.board, &self.json),
        )?;
        self.streaming = true;
        Ok(())
    }

    /// Samples waiting in the ring buffer.
    pub fn available(&self) -> Result<usize, BrainFlowError> {
        self.api
            .get_board_data_count(DEFAULT_PRESET, self.board, &self.json)
            .map_err(|code| BrainFlowError {
                call: "get_board_data_count",
                code,
            })
    }

    /// Takes `n` samples (at most [`available`](Self::available)) into `buf`, row-major with
    /// `rows` rows (the board's `num_rows`).
    pub fn take(&self, n: usize, rows: usize, buf: &mut [f64]) -> Result<(), BrainFlowError> {
        check(
            "get_board_data",
            self.api
                .get_board_data(n, rows, DEFAULT_PRESET, buf, self.board, &self.json),
        )
    }

    /// Inserts a marker into the board's stream (its marker row, on the next sample).
    pub fn insert_marker(&self, value: f64) -> Result<(), BrainFlowError> {
        check(
            "insert_marker",
            self.api
                .insert_marker(value, DEFAULT_PRESET, self.board, &self.json),
        )
    }

    /// Stops streaming.
    pub fn stop(&mut self) -> Result<(), BrainFlowError> {
        if !std::mem::take(&mut self.streaming) {
            return Ok(());
        }
        check("stop_stream", self.api.stop_stream(self.board, &self.json))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!("{e}");
        }
        if let Err(e) = check(
            "release_session",
            self.api.release_session(self.board, &self.json),
        ) {
            tracing::warn!("{e}");
        }
    }
}
