"""MkDocs hooks: optional Benchmarks pages, and Sphinx roles in docstrings.

The benchmark pages under ``docs/benchmarks/`` are results of record written by
scripts in ``benchmarks/``. The nav in ``mkdocs.yml`` lists all of them in their
intended order; :func:`on_config` drops the entries whose file does not exist
yet, so that ``mkdocs build --strict`` passes before every benchmark has been
run. Only entries under ``benchmarks/`` are dropped: a missing page anywhere
else still fails the strict build.

The docstrings follow numpydoc and sktime, with Sphinx roles such as
``:func:`make_pattern``` and citations ``.. [1]``, which mkdocstrings renders
literally; :func:`on_page_content` turns them into plain code and ``[1]``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

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
