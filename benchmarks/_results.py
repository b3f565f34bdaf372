"""Where the results files of record live, and how they are read and written.

The bottom of the benchmark scripts: :mod:`_report` (pages) and the figure
modules both read results through here, so the figures never import the page
machinery that redraws them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"


def results_path(name: str) -> Path:
    """``benchmarks/results/<name>.json``."""
    return RESULTS / f"{name}.json"


def _plain(value):
    """Numpy scalars as Python numbers (json's ``default``)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {value!r}")


def write_json(path: Path, result: dict) -> Path:
    """Write a results file (indented, keys in insertion order)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=_plain) + "\n")
    print(f"wrote {path}", flush=True)
    return path


def read_json(name_or_path) -> dict:
    """A results file, by stem (``"m4_hourly"``) or path."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = results_path(str(name_or_path))
    return json.loads(path.read_text())


def why_not_run(run: dict) -> str:
    """A few words on a run that did not finish: its estimate, or its error."""
    if run.get("estimated_fit_s"):
        return f"estimated fit {run['estimated_fit_s']:.0f} s"
    error = run.get("error", "?")
    asked = re.search(r"tried to allocate (\d+) bytes", error)
    if asked:
        return f"out of memory: {int(asked.group(1)) / 2**30:.0f} GiB asked"
    return error.split("|")[-1].strip()[:60]
