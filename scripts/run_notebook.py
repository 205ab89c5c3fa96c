"""Executes a notebook headless (nbclient, this interpreter's kernel) and fails on any error.

Usage: python scripts/run_notebook.py NOTEBOOK.ipynb [TIMEOUT_S]
"""

import os
import sys

import nbformat
from nbclient import NotebookClient

path = sys.argv[1]
timeout = int(sys.argv[2]) if len(sys.argv) > 2 else 300
nb = nbformat.read(path, as_version=4)
client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                        resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}})
client.execute()
images = sum(
    1
    for cell in nb.cells
    if cell.cell_type == "code"
    for out in cell.get("outputs", [])
    if "image/png" in out.get("data", {})
)
print(f"{path}: {len(nb.cells)} cells executed, {images} figure(s)")
if images == 0:
    sys.exit(f"{path}: no figure was drawn")
