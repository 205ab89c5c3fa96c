"""Files into NumPy: EDF, EDF+, BDF, BDF+ and XDF (neuropipe's validating readers)."""

from __future__ import annotations

from dataclasses import dataclass, field
from os import PathLike
from typing import List, Optional, Tuple, Union

import numpy as np

from . import _neuropipe


@dataclass
class Recording:
    """What an EDF/BDF file holds.

    ``data`` is ``(channels, times)`` float64 in each signal's physical unit (``units``; MNE
    converts µV to V, neuropipe keeps the file's unit) when all signals share one sample rate;
    otherwise ``data`` is None and ``signals`` holds one array per signal.
    """

    ch_names: List[str]
    units: List[str]
    sfreq: List[float]
    data: Optional[np.ndarray]
    signals: Optional[List[np.ndarray]]
    annotations: List[Tuple[float, Optional[float], str]]
    start: str
    record_onsets: np.ndarray
    format: str
    variant: str
    path: str = field(default="")

    @property
    def times(self) -> np.ndarray:
        """Seconds from the start for each column of ``data`` (continuous files)."""
        if self.data is None:
            raise ValueError("signals have different rates: use signals[i] and sfreq[i]")
        return np.arange(self.data.shape[1]) / self.sfreq[0]


def read_edf(path: Union[str, "PathLike[str]"]) -> Recording:
    """Reads a whole EDF/EDF+/BDF/BDF+ file.

    Raises :class:`neuropipe.FileError` naming the byte offset and field of anything
    malformed (a truncated record, a bad header field), never returning partial data silently.
    """
    d = _neuropipe.read_edf(str(path))
    return Recording(path=str(path), **d)


@dataclass
class XdfStream:
    """One stream of an XDF file.

    Numeric streams have ``data`` (channels, samples) float64 and ``timestamps`` (s) as
    recorded: no clock synchronisation or dejittering (``pyxdf.load_xdf(...,
    synchronize_clocks=False, dejitter_timestamps=False)`` gives the same values, transposed);
    string (marker) streams have ``markers`` as (timestamp, text).
    """

    name: str
    type: str
    stream_id: int
    channel_format: str
    nominal_srate: float
    source_id: str
    ch_names: List[str]
    units: List[str]
    ch_types: List[str]
    footer: bool
    data: Optional[np.ndarray] = None
    timestamps: Optional[np.ndarray] = None
    markers: Optional[List[Tuple[float, str]]] = None


def read_xdf(path: Union[str, "PathLike[str]"]) -> List[XdfStream]:
    """Reads every stream of an XDF file (LabRecorder's, neuropipe's), in file order.

    Raises :class:`neuropipe.FileError` with the byte offset of anything malformed. A file cut
    short (no footers) is read up to its last whole chunk; ``footer`` says so.
    """
    return [XdfStream(**d) for d in _neuropipe.read_xdf(str(path))]
