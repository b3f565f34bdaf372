"""Every ``>>>`` example in the package's docstrings runs and prints what it shows.

The forecaster's own example is run by sktime's suite (``test_sktime_suite``).
"""

import doctest
import importlib
import pkgutil

import pytest

import sktime_logsparse

MODULES = sorted(
    name
    for _, name, _ in pkgutil.walk_packages(
        sktime_logsparse.__path__, sktime_logsparse.__name__ + "."
    )
    if not name.endswith((".forecaster", ".demo"))
)


def test_examples_exist():
    found = 0
    for name in MODULES:
        finder = doctest.DocTestFinder()
        found += sum(
            len(t.examples) for t in finder.find(importlib.import_module(name))
        )
    assert found >= 10


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
