"""MkDocs hooks: optional Benchmarks pages, Sphinx roles, numbers of record.

The benchmark pages under ``docs/benchmarks/`` are results of record written by
scripts in ``benchmarks/``. The nav in ``mkdocs.yml`` lists all of them in their
intended order; :func:`on_config` drops the entries whose file does not exist
yet, so that ``mkdocs build --strict`` passes before every benchmark has been
run. Only entries under ``benchmarks/`` are dropped: a missing page anywhere
else still fails the strict build.

The docstrings follow numpydoc and sktime, with Sphinx roles such as
``:func:`make_pattern``` and citations ``.. [1]``, which mkdocstrings renders
literally; :func:`on_page_content` turns them into plain code and ``[1]``.

Numbers of record
-----------------
A number that a results file under ``benchmarks/results/`` holds is never
typed into a page: :func:`on_page_markdown` replaces, in every page, a
placeholder of the form ::

    {{ result("m4_hourly", "models.LogSparse Transformer.sMAPE", ".2f") }}

with the value read from ``benchmarks/results/m4_hourly.json``:

* the first argument is the file stem under ``benchmarks/results/``;
* the second is the path of the value inside the JSON, its keys separated by
  ``/`` if the path contains a ``/``, otherwise by ``.``. Keys that contain a
  dot (``R0.5``, ``R0.9``) therefore need the ``/`` form:
  ``"models/LogSparse Transformer/R0.5"``. Keys are matched exactly (spaces
  and case included); an element of a JSON list is selected by its integer
  index. The path must end at a number or a string, not at an object or list;
* the third, optional, is a Python format spec applied with :func:`format`
  (``".2f"``, ``".3g"``, ``",.0f"``); without it the value is written with
  ``str``.

The arguments are Python string literals (single or double quotes) and may
be wrapped over lines. A missing file, a missing key, a path that ends at an
object, a bad format spec or malformed arguments raise
:class:`ResultPlaceholderError`, which aborts the build with a message naming
the page, the file and the key. Text that starts like a placeholder
(``{{ result``) but does not parse as one fails the build too. Placeholders
are replaced everywhere in the Markdown source, code blocks included.
"""

from __future__ import annotations

import ast
import json
import logging
import re
from functools import lru_cache
from pathlib import Path

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.benchmarks")

_OPTIONAL = "benchmarks/"


def _prune(items: list, docs_dir: Path) -> list:
    """Return ``items`` without optional pages that do not exist."""
    kept = []
    for item in items:
        if isinstance(item, dict):
            (title, value), *_ = item.items()
            if isinstance(value, list):
                kept.append({title: _prune(value, docs_dir)})
                continue
            page = value
        else:
            page = item
        if (
            isinstance(page, str)
            and page.startswith(_OPTIONAL)
            and not (docs_dir / page).is_file()
        ):
            log.info("benchmark page %s not written yet: left out of the nav", page)
            continue
        kept.append(item)
    return kept


def on_config(config):
    """Prune the nav before the build reads it."""
    if config.get("nav"):
        config["nav"] = _prune(config["nav"], Path(config["docs_dir"]))
    return config


# ":func:<code>~pkg.mod.name</code>" as rendered from :func:`~pkg.mod.name`
_ROLE = re.compile(
    r":(?:func|meth|class|attr|data|mod|obj|exc):<code>(~?)([^<]*)</code>"
)
_CITATION = re.compile(r"(<p>)\.\. (\[\d+\])")


def _role(match: re.Match) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html, page, config, files):
    """Render Sphinx cross-reference roles as code, citations as ``[n]``."""
    return _CITATION.sub(r"\1\2", _ROLE.sub(_role, html))


# ---------------------------------------------------------------- results --

RESULTS = Path("benchmarks") / "results"
_PLACEHOLDER = re.compile(r"\{\{\s*result\((?P<args>.*?)\)\s*\}\}", re.DOTALL)
_STARTS_LIKE = re.compile(r"\{\{\s*result")


class ResultPlaceholderError(PluginError):
    """A ``{{ result(...) }}`` placeholder that cannot be filled."""


@lru_cache(maxsize=64)
def _load(path: Path, mtime_ns: int):
    """The parsed JSON file (cached until the file changes)."""
    return json.loads(path.read_text())


def _lookup(data, key: str):
    """The value at ``key``: parts split on ``/`` if there is one, else ``.``."""
    node = data
    for part in key.split("/" if "/" in key else "."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and re.fullmatch(r"-?\d+", part):
            index = int(part)
            if not -len(node) <= index < len(node):
                raise KeyError(f"index {index} out of range (list of {len(node)})")
            node = node[index]
        else:
            have = ", ".join(map(repr, node)) if isinstance(node, dict) else ""
            raise KeyError(f"no {part!r}" + (f" (keys here: {have})" if have else ""))
    if isinstance(node, (dict, list)) or node is None:
        raise KeyError(f"ends at {type(node).__name__}, not at a number or string")
    return node


def result_value(root: Path, stem: str, key: str, spec: str = "") -> str:
    """The formatted value of ``key`` in ``<root>/benchmarks/results/<stem>.json``.

    Raises ``FileNotFoundError``, ``KeyError`` or ``ValueError``.
    """
    if not re.fullmatch(r"[\w.-]+", stem):
        raise ValueError(f"bad results file stem {stem!r}")
    path = root / RESULTS / f"{stem}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no results file {RESULTS / (stem + '.json')}")
    return format(_lookup(_load(path, path.stat().st_mtime_ns), key), spec)


def _arguments(text: str) -> tuple[str, str, str]:
    """``(stem, key, spec)`` of a placeholder's argument list."""
    try:
        args = ast.literal_eval(f"({text},)")
    except (SyntaxError, ValueError) as error:
        raise ValueError(f"arguments are not string literals: {error}") from None
    if not 2 <= len(args) <= 3 or not all(isinstance(a, str) for a in args):
        raise ValueError("expected 2 or 3 string arguments: file, key[, format]")
    stem, key, spec = (*args, "")[:3]
    return stem, key, spec


def on_page_markdown(markdown, page, config, files):
    """Replace ``{{ result(file, key, format) }}`` with the value of record."""
    root = Path(config["config_file_path"]).resolve().parent
    where = getattr(getattr(page, "file", None), "src_uri", None) or str(page)

    def fill(match: re.Match) -> str:
        stem = key = "?"
        try:
            stem, key, spec = _arguments(match.group("args"))
            return result_value(root, stem, key, spec)
        except (OSError, KeyError, ValueError, TypeError) as error:
            reason = error.args[0] if isinstance(error, KeyError) else error
            raise ResultPlaceholderError(
                f"{where}: placeholder {match.group(0)!r}: file "
                f"{RESULTS / (stem + '.json')}, key {key!r}: {reason}"
            ) from error

    # anything left that starts like a placeholder is a typo (line numbers
    # of the source: each placeholder is blanked to its own line breaks)
    blanked = _PLACEHOLDER.sub(lambda m: "\n" * m.group(0).count("\n"), markdown)
    left = _STARTS_LIKE.search(blanked)
    if left:
        line = blanked.count("\n", 0, left.start()) + 1
        raise ResultPlaceholderError(
            f"{where}: line {line}: text starts like a result placeholder but is "
            f"not one: {blanked[left.start() : left.start() + 60]!r}"
        )
    return _PLACEHOLDER.sub(fill, markdown)
