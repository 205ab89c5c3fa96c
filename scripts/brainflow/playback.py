"""Reference data for neuropipe's BrainFlow tests (crates/neuropipe-brainflow/tests), made with
BrainFlow's own Python package (pinned in python/requirements.txt).

    python scripts/brainflow/playback.py OUT_DIR [SECONDS]

1. Records SECONDS (default 2) of BrainFlow's synthetic board (-1) and writes it with
   BrainFlow's DataFilter.write_file as `synthetic.csv` (BrainFlow's file format: one sample per
   line, every row of the board), and `gap.csv`: the same with 5 samples (rows 100-104) cut out,
   a hole in the package numbers; and `renumbered.csv`: every sample kept, samples 201-203
   repeating sample 200's package number (the next numbers going on from it) and the count restarting at 0 from sample 300 (a
   board or file starting over).
2. Plays `synthetic.csv` back through BrainFlow's playback board (-3, master board -1) and
   writes what BrainFlow's own get_board_data returns, every row, to `reference.csv`
   (samples x rows, 17 significant digits: exact doubles).
"""

import os
import sys
import time

import numpy as np
from brainflow.board_shim import BoardShim, BrainFlowInputParams, BrainFlowPresets
from brainflow.data_filter import DataFilter

SYNTHETIC, PLAYBACK = -1, -3


def record(seconds):
    b = BoardShim(SYNTHETIC, BrainFlowInputParams())
    b.prepare_session()
    b.start_stream()
    time.sleep(seconds)
    data = b.get_board_data()
    b.stop_stream()
    b.release_session()
    return data


def play(path, expected, timeout=30.0):
    p = BrainFlowInputParams()
    p.file = path
    p.master_board = SYNTHETIC
    b = BoardShim(PLAYBACK, p)
    b.prepare_session()
    b.start_stream()
    t0 = time.time()
    while b.get_board_data_count() < expected and time.time() - t0 < timeout:
        time.sleep(0.05)
    data = b.get_board_data()
    b.stop_stream()
    b.release_session()
    return data


def main():
    out = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    os.makedirs(out, exist_ok=True)
    data = record(seconds)
    synthetic = os.path.join(out, "synthetic.csv")
    DataFilter.write_file(data, synthetic, "w")
    gap = np.delete(data, np.s_[100:105], axis=1)
    DataFilter.write_file(gap, os.path.join(out, "gap.csv"), "w")
    renumbered = data.copy()
    # (the numbers after the repeats go on from sample 200's, as a board numbering packets)
    renumbered[0, 201:300] = (renumbered[0, 200] + np.maximum(0, np.arange(201, 300) - 203)) % 256
    renumbered[0, 300:] = np.arange(renumbered.shape[1] - 300) % 256
    DataFilter.write_file(renumbered, os.path.join(out, "renumbered.csv"), "w")
    # What BrainFlow reads back from its own file (write_file rounds to its text format).
    on_disk = DataFilter.read_file(synthetic)
    ref = play(synthetic, on_disk.shape[1])
    if ref.shape != on_disk.shape:
        sys.exit(f"playback returned {ref.shape}, the file holds {on_disk.shape}")
    np.savetxt(os.path.join(out, "reference.csv"), ref.T, fmt="%.17g", delimiter=",")
    print(f"{ref.shape[1]} samples x {ref.shape[0]} rows; BrainFlow {BoardShim.get_version()}")


if __name__ == "__main__":
    main()
