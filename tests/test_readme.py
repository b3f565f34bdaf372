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


# The README is not built by MkDocs, so its figures cannot be placeholders:
# each one is checked against the results file of record instead.
README_FIGURES = [
    ("m4_hourly", "models.LogSparse Transformer.sMAPE", ".2f", "sMAPE {}"),
    ("m4_hourly", "models.LogSparse Transformer.MASE", ".3f", "MASE {}"),
    ("m4_hourly", "models.LogSparse Transformer.MSIS", ".2f", "MSIS {}"),
    ("m4_hourly", "models.seasonal naive.sMAPE", ".2f", "naive {} /"),
    ("m4_hourly", "models.seasonal naive.MASE", ".3f", "/ {} /"),
    ("m4_hourly", "models.seasonal naive.MSIS", ".2f", "\n{};"),
    ("etth1", "models.LogSparse Transformer.24.MSE", ".3f", "MSE {} /"),
    ("etth1", "models.LogSparse Transformer.48.MSE", ".3f", "/ {} /"),
    ("etth1", "models.LogSparse Transformer.168.MSE", ".3f", "/ {} at"),
    ("etth1", "models.repeat last.24.MSE", ".3f", "\n{} /"),
    ("etth1", "models.repeat last.48.MSE", ".3f", "/ {} /"),
    ("etth1", "models.repeat last.168.MSE", ".3f", "/ {} ("),
]


@pytest.mark.parametrize("stem, key, spec, context", README_FIGURES)
def test_readme_figures_are_those_of_the_results_files(stem, key, spec, context):
    import importlib.util

    root = README.parent
    spec_ = importlib.util.spec_from_file_location("hooks", root / "docs/hooks.py")
    hooks = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(hooks)
    value = hooks.result_value(root, stem, key, spec)
    assert context.format(value) in README.read_text(), (stem, key, value)
