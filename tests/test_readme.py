"""The README's python blocks run as written."""

import re
from pathlib import Path

import pandas as pd
import pytest
import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def quickstart_code() -> str:
    """The first python code block under the README's "## Quickstart" heading."""
    text = README.read_text()
    section = text[text.index("## Quickstart") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def other_blocks() -> list[str]:
    """The README's other python code blocks."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    return [code for code in blocks if code != quickstart_code()]


def test_readme_quickstart_runs_as_written():
    code = quickstart_code()
    assert "LogSparseTransformerForecaster" in code
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a small network: more threads only add overhead
    try:
        namespace = {}
        exec(compile(code, str(README), "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
    y_pred, intervals = namespace["y_pred"], namespace["intervals"]
    y_test = namespace["y_test"]
    assert len(y_pred) == len(y_test) == 20 * 48
    assert y_pred.notna().all().all() and intervals.notna().all().all()
    assert isinstance(intervals.columns, pd.MultiIndex)


@pytest.mark.parametrize("code", other_blocks())
def test_readme_other_blocks_run_as_written(code):
    exec(compile(code, str(README), "exec"), {})
