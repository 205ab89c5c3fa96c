"""neuropipe from Python: real-time EEG / biosignal pipelines, NumPy in and out.

Run a pipeline (a JSON file, JSON text or a dict, as the ``neuropipe`` command runs), watch
any output as NumPy chunks, change parameters while it runs::

    import neuropipe
    p = neuropipe.Pipeline.default()           # simulated 8-channel EEG, filtered
    tap = p.tap("notch", lossless=False)       # open before start: from the first frame
    with p:                                     # start ... stop (drained, flushed)
        chunk = next(tap)                       # chunk.data: (channels, times) float64
        p.set("bandpass", "high_hz", 30.0)     # the stage's reply, or ControlError

Also: :mod:`neuropipe.dsp` (streaming filters equal to SciPy, state kept across calls) and
:func:`read_edf` (EDF/EDF+/BDF/BDF+ into NumPy), :func:`read_xdf` (XDF streams). Data in:
a ``PushSource`` stage fed with ``Pipeline.push``; Python classes as stages:
:func:`register_stage`. Arrays are shaped ``(channels, times)``, as
MNE's. Errors are :class:`NeuropipeError` subclasses with the CLI's located messages.
"""

from ._neuropipe import (
    Chunk,
    ConfigError,
    ControlError,
    DesignError,
    FileError,
    NeuropipeError,
    Pipeline,
    PipelineFailed,
    Tap,
    TapError,
    __version__,
    register_stage,
    schema,
    stage_types,
)
from . import bci, dsp
from .io import Recording, XdfStream, read_edf, read_xdf

__all__ = [
    "Chunk",
    "ConfigError",
    "ControlError",
    "DesignError",
    "FileError",
    "NeuropipeError",
    "Pipeline",
    "PipelineFailed",
    "Recording",
    "Tap",
    "TapError",
    "XdfStream",
    "__version__",
    "bci",
    "dsp",
    "read_edf",
    "read_xdf",
    "register_stage",
    "schema",
    "stage_types",
]
