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

import argparse
import datetime
import math
import os
import platform
import re
import shlex
import sys
from pathlib import Path

# the places of the results files, and their reading and writing, live in
# _results.py (below the figures); the scripts reach them through here too
from _results import RESULTS as RESULTS
from _results import ROOT as ROOT
from _results import read_json, results_path, write_json
from _results import why_not_run as why_not_run

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


def proc_status(key: str) -> int:
    """A field of /proc/self/status in bytes (``VmRSS``, ``VmHWM``)."""
    with open("/proc/self/status") as f:
        text = f.read()
    return int(re.search(rf"^{key}:\s+(\d+) kB", text, re.M).group(1)) * 1024


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


def run_stamp(result: dict) -> dict:
    """The command, date and CPU of a results file's run (for a part kept)."""
    return {k: result[k] for k in ("command", "date", "cpu") if k in result}


def start_run(script: str, threads: int | None = None) -> dict:
    """:func:`run_info` of a run that starts measuring now; prints its CPU line."""
    info = run_info(script, threads)
    print(machine_line(info), flush=True)
    return info


def machine_line(result: dict) -> str:
    """``CPU: AMD EPYC, 2 logical cores, 2 torch threads`` from a results dict."""
    parts = [f"CPU: {result.get('cpu', 'not recorded')}"]
    if result.get("cpu_count"):
        parts.append(f"{result['cpu_count']} logical cores")
    if result.get("threads"):
        n = result["threads"]
        parts.append(f"{n} torch thread{'s' if n != 1 else ''}")
    return ", ".join(parts)


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


def cell(value, fmt: str) -> str:
    """``value`` in the format ``fmt``; "–" where it is missing (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, fmt)


def column_table(label: str, columns: list, rows) -> str:
    """A markdown table: ``(name, values)`` rows, ``(key, title, format)`` columns."""
    head = [label] + [title for _, title, _ in columns]
    body = [
        [name] + [cell(values.get(key), fmt) for key, _, fmt in columns]
        for name, values in rows
    ]
    return markdown_table(head, body)


#: title and number format of each column of the M4 Hourly metric tables
#: (``m4_hourly.py`` and ``m4_hourly_search.py``): one precision per metric
M4_COLUMNS = {
    "sMAPE": ("sMAPE", ".2f"),
    "MASE": ("MASE", ".3f"),
    "OWA": ("OWA", ".3f"),
    "MSIS": ("MSIS", ".2f"),
    "R0.5": ("R0.5", ".4f"),
    "R0.9": ("R0.9", ".4f"),
    "coverage80": ("80% coverage", ".3f"),
    "coverage95": ("95% coverage", ".3f"),
    "budget_s": ("budget (s)", ".0f"),
    "epochs": ("epochs", "d"),
    "fit_s": ("fit (s)", ".0f"),
    "predict_s": ("predict (s)", ".1f"),
}


def m4_columns(*keys: str) -> list:
    """``(key, title, format)`` columns of :data:`M4_COLUMNS`, in this order."""
    return [(key, *M4_COLUMNS[key]) for key in keys]


def run_line(result: dict, detail: str = "", note: str = "") -> str:
    """``CPU: ...<detail>; run on DATE<note>.``: the machine line of a page."""
    date = f"; run on {result['date']}" if "date" in result else ""
    return machine_line(result) + detail + date + note + "."


def page_head(
    result: dict,
    stem: str,
    *,
    title: str,
    protocol: str | None,
    figure: str,
    command_intro: str = "Command:",
    machine: str | None = None,
) -> list[str]:
    """The top of a page, as lines: what every page says before its tables.

    The title, the protocol paragraph (none if ``None``), ``command_intro``
    and the recorded command of the run in a bash block, the machine line
    (:func:`run_line` unless ``machine`` is given), and the page's figure with
    the alt text ``figure``.
    """
    lines = [f"# {title}", ""]
    if protocol is not None:
        lines += [protocol, ""]
    return lines + [
        command_intro,
        "",
        "```bash",
        result.get("command", "(not recorded)"),
        "```",
        "",
        run_line(result) if machine is None else machine,
        "",
        figure_markdown(stem, figure),
    ]


def render_figure(stem: str) -> None:
    """Redraw the page figure of ``stem`` from its results file (figures.py)."""
    try:
        import figures  # benchmarks/figures.py, next to the scripts
    except ImportError as error:  # matplotlib missing: the page still stands
        print(f"figure of {stem} not redrawn ({error})", flush=True)
        return
    figures.render(stem)


# ------------------------------------------------------------------- CLI --


def add_page_args(
    parser: argparse.ArgumentParser,
    *,
    json_of: str | None = None,
    source: str = "the results file",
) -> None:
    """``--markdown`` and ``--from-results``; ``--json`` too with ``json_of``.

    ``json_of`` is the name of the results file of record of a script whose
    runs write one only with ``--markdown`` or ``--json`` (see
    :func:`results_file`); ``source`` names the file in ``--from-results``'s
    help.
    """
    parser.add_argument(
        "--markdown", type=Path, default=None, metavar="PATH", help="write the page"
    )
    if json_of is not None:
        parser.add_argument(
            "--json",
            type=Path,
            default=None,
            metavar="PATH",
            help=f"results file (with --markdown: benchmarks/results/{json_of}.json)",
        )
    parser.add_argument(
        "--from-results",
        action="store_true",
        help=f"write the --markdown page from {source} (and redraw its figure) "
        "without running anything",
    )


def results_file(args, name: str) -> Path | None:
    """``--json``, else with ``--markdown`` the results file of record, else none."""
    return args.json or (results_path(name) if args.markdown else None)


def page_from_results(parser, args, name: str, markdown) -> dict:
    """``--from-results``: the page from the results file, and its figure.

    The results are read from ``--json`` where the script has it and it is
    given, else from ``benchmarks/results/<name>.json``; the figure is the one
    of record. ``markdown(result, name)`` renders the page.
    """
    if not args.markdown:
        parser.error("--from-results needs --markdown")
    result = read_json(getattr(args, "json", None) or name)
    write_page(args.markdown, markdown(result, name))
    render_figure(name)
    return result


def record(args, name: str, result: dict, markdown, path) -> None:
    """Write the results file ``path`` (if any) and the ``--markdown`` page.

    The figure is redrawn with the page when ``path`` is the results file of
    record, ``benchmarks/results/<name>.json``.
    """
    if path:
        write_json(path, result)
    if args.markdown:
        write_page(args.markdown, markdown(result, name))
        if path and Path(path) == results_path(name):
            render_figure(name)
