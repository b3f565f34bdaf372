"""What every benchmark script records: machine, command, results file, page.

A benchmark run writes its results of record to
``benchmarks/results/<name>.json`` (the one source of every number quoted in
the docs) and, with ``--markdown``, a page under ``docs/benchmarks/`` whose
tables are rendered from that same dict. The part of a page below
:data:`NOTES_MARKER` is written by hand (it quotes numbers through the
``{{ result(...) }}`` placeholders of ``docs/hooks.py``) and is kept when the
script rewrites the page.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

NOTES_MARKER = (
    "<!-- Notes for the reader, written by hand: a rerun of the script keeps "
    "everything below this line. Quote numbers of record with result "
    "placeholders (docs/hooks.py), never by hand. -->"
)


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def command(script: str, argv: list[str] | None = None) -> str:
    """The command line of this run, with ``OMP_NUM_THREADS`` if it is set."""
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ.get("OMP_NUM_THREADS")
    prefix = f"OMP_NUM_THREADS={env} " if env else ""
    return f"{prefix}python benchmarks/{script} {shlex.join(argv)}".strip()


def run_info(script: str, threads: int | None = None) -> dict:
    """The fields every results file carries: command, CPU, software, date."""
    import importlib.metadata

    info = {
        "command": command(script),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
    }
    if threads is not None:
        info["threads"] = threads
    versions = {}
    for package in ("torch", "sktime", "numpy"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    info.update(
        python=platform.python_version(),
        versions=versions,
        platform=f"{platform.system()} {platform.release()}",
        date=datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
    )
    return info


def print_machine(info: dict) -> None:
    """Print the CPU line of a run (scripts print it before measuring)."""
    print(machine_line(info), flush=True)


def machine_line(result: dict) -> str:
    """``CPU: AMD EPYC, 2 logical cores, 2 torch threads`` from a results dict."""
    parts = [f"CPU: {result.get('cpu', 'not recorded')}"]
    if result.get("cpu_count"):
        parts.append(f"{result['cpu_count']} logical cores")
    if result.get("threads"):
        n = result["threads"]
        parts.append(f"{n} torch thread{'s' if n != 1 else ''}")
    return ", ".join(parts)


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


def figure_markdown(stem: str, alt: str) -> str:
    """The image line of a page's figure (pages live in docs/benchmarks/)."""
    return f"![{alt}](../images/benchmarks/{stem}.png)"


def write_page(path, generated: str, notes: str = "") -> None:
    """Write a page: ``generated``, then the hand-written notes of the old page.

    Everything from :data:`NOTES_MARKER` on is copied from the page at
    ``path`` if it has the marker; otherwise ``notes`` follows a new marker.
    """
    path = Path(path)
    old = path.read_text() if path.is_file() else ""
    if NOTES_MARKER in old:
        kept = old[old.index(NOTES_MARKER) :]
    else:
        kept = NOTES_MARKER + "\n" + (f"\n{notes.strip()}\n" if notes else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(generated.rstrip() + "\n\n" + kept.rstrip() + "\n")
    print(f"wrote {path}", flush=True)


def markdown_table(head: list, rows: list) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(map(str, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_figure(stem: str) -> None:
    """Redraw the page figure of ``stem`` from its results file (figures.py)."""
    try:
        import figures  # benchmarks/figures.py, next to the scripts
    except ImportError as error:  # matplotlib missing: the page still stands
        print(f"figure of {stem} not redrawn ({error})", flush=True)
        return
    figures.render(stem)
