"""The documentation's example scripts run as written, made small from outside.

The pages include the scripts under ``docs/examples/`` with ``--8<--``, so
what the docs show is what runs here. The scripts are plain user scripts at
full size (minutes of training each); this module makes every run take
seconds without touching them:

* each script runs in-process (``runpy``) from a scratch copy of ``docs/``,
  so the figures and tables it writes to ``docs/images/`` land in an empty
  scratch folder and the committed ones are left alone;
* ``sktime_logsparse.datasets.load_m4_hourly`` and ``load_m4_hourly_split``
  return at most :data:`FEW` of the requested series;
* ``LogSparseTransformerForecaster._fit`` and ``_pretrain`` first shrink the
  forecaster (:data:`TINY_NETWORK`, :data:`TINY`, :data:`TINY_TRAINER`: a
  one-layer network of width 8, one epoch of 32 windows, 10 sample paths).
  They are patched on the class because sktime's ``evaluate``, grid search,
  benchmark and pipelines fit clones of the forecaster a script builds. The
  limits are set as attributes rather than with ``set_params``, which would
  reset the forecaster that sktime is in the middle of fitting (and drop
  pretrained weights); the class is restored after each test.
"""

import re
import runpy
import shutil
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch

import sktime_logsparse.datasets as datasets
from sktime_logsparse import LogSparseTransformerForecaster

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("*.py"))
PAGES = sorted(DOCS.rglob("*.md"))

FEW = 4  # series per load at most
# set on every forecaster the examples fit: a tiny network ...
TINY_NETWORK = {"d_model": 8, "n_heads": 2, "n_layers": 1}
# ... trained for a moment (limits: a smaller value set by a script is kept)
TINY = {
    "max_epochs": 1,
    "fine_tune_epochs": 1,
    "windows_per_epoch": 32,
    "num_samples": 10,
}
TINY_TRAINER = {"update_epochs": 1}  # limits on keys of trainer_kwargs


def _few(series):
    """The first :data:`FEW` series of a request (None and ints count from H1)."""
    if series is None or isinstance(series, int):
        return min(series or FEW, FEW)
    return series if isinstance(series, str) else list(series)[:FEW]


def _shrink(forecaster) -> None:
    """Make ``forecaster`` tiny in place (attributes, not ``set_params``)."""
    for name, value in TINY_NETWORK.items():
        setattr(forecaster, name, value)
    for name, limit in TINY.items():
        value = getattr(forecaster, name)
        if value is None or value > limit:
            setattr(forecaster, name, limit)
    trainer = dict(forecaster.trainer_kwargs or {})  # a copy: clones share the dict
    for key, limit in TINY_TRAINER.items():
        trainer[key] = min(trainer.get(key, limit), limit)
    forecaster.trainer_kwargs = trainer


@pytest.fixture
def small(monkeypatch, tmp_path):
    """Scratch copy of docs/, few series, tiny forecasters; yields the copy."""
    load, load_split = datasets.load_m4_hourly, datasets.load_m4_hourly_split
    monkeypatch.setattr(
        datasets,
        "load_m4_hourly",
        lambda split="train", series=None: load(split, _few(series)),
    )
    monkeypatch.setattr(
        datasets, "load_m4_hourly_split", lambda series=None: load_split(_few(series))
    )
    for method in ("_fit", "_pretrain"):
        original = getattr(LogSparseTransformerForecaster, method)

        def shrunk(self, *args, _original=original, **kwargs):
            _shrink(self)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(LogSparseTransformerForecaster, method, shrunk)

    docs = tmp_path / "docs"
    shutil.copytree(DOCS / "examples", docs / "examples")
    (docs / "benchmarks").symlink_to(DOCS / "benchmarks")  # read by figure scripts
    (docs / "images").mkdir()

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: more threads only add overhead
    yield docs
    torch.set_num_threads(threads)
    plt.close("all")


def test_there_are_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_a_plain_user_script(script):
    text = script.read_text()
    for harness in ("os.environ", "TINY", "SMOKE", "matplotlib.use("):
        assert harness not in text, f"{script.name}: {harness} (test harness?)"


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs_and_writes_only_committed_outputs(script, small):
    # tiny models on a few series: sktime's notices (index frequencies) and
    # tiny-model warnings are not what is tested here. They are recorded into
    # a list that is dropped, not just filtered out: sktime 1.2's
    # ForecastingHorizon code puts a "default" filter for FutureWarning in
    # front of the ignore (sktime.utils.warnings._SuppressWarningPattern)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("ignore")
        runpy.run_path(str(small / "examples" / script.name), run_name="__main__")
    # every figure or table the script writes is one that the docs commit
    for output in (small / "images").iterdir():
        assert (DOCS / "images" / output.name).is_file(), (
            f"{script.name} writes {output.name}, which is not in docs/images/: "
            f"run `python docs/examples/{script.name}` and commit the result"
        )


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_included_by_a_page(script):
    relative = f"docs/examples/{script.name}"
    assert any(relative in page.read_text() for page in PAGES), (
        f"no page of docs/ includes {relative}"
    )


def _written_blocks() -> list:
    """The python blocks written on the pages (not included from a script)."""
    params = []
    for page in PAGES:
        if page.parent.name == "benchmarks":  # pages of record, written by scripts
            continue
        blocks = re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL)
        for i, code in enumerate(b for b in blocks if "--8<--" not in b):
            params.append(pytest.param(code, id=f"{page.relative_to(DOCS)}:{i}"))
    return params


@pytest.mark.parametrize("code", _written_blocks())
def test_code_written_on_pages_runs(code):
    exec(compile(code, "<docs page>", "exec"), {})


def test_images_used_by_pages_exist():
    for page in PAGES:
        for image in re.findall(r"\]\(([^)\s]+\.(?:png|svg))\)", page.read_text()):
            assert (page.parent / image).resolve().is_file(), f"{page}: {image}"
