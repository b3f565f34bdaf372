"""The memory guard: contexts clipped to the data, runs refused before they start.

Also the least-squares fit of the linear term, which reads its windows a chunk
at a time: it must give the solution of the whole problem at once.
"""

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from sktime_logsparse import LogSparseTransformerForecaster, _linear_ar, _memory
from sktime_logsparse._linear_ar import LeastSquares, fit_skip
from sktime_logsparse._memory import (
    Estimate,
    NetworkSize,
    check_memory,
    fit_estimate,
    pattern_width,
    predict_estimate,
)
from sktime_logsparse._series import SeriesTensors, make_windows, window_batch
from sktime_logsparse.nn import (
    KINDS,
    LogSparseConfig,
    LogSparseTransformer,
    make_pattern,
)

GIB = 2.0**30
#: what the tests pretend the machine has available
AVAILABLE = 16 * GIB


@pytest.fixture
def sixteen_gib(monkeypatch):
    """The host has 16 GiB available, whatever this machine has."""
    monkeypatch.setattr(_memory, "_host_available", lambda: AVAILABLE)


def hourly(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 10 + 3 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.3, n)
    index = pd.date_range("2021-01-01", periods=n, freq="h")
    return pd.DataFrame({"y": values}, index=index)


def _peak_rss_tracker():
    """A function returning the growth of the peak RSS since the call (Linux)."""
    status = Path("/proc/self/status")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak
    except OSError:
        return None

    def read(key):
        for line in status.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        return 0

    start = read("VmRSS")
    return lambda: read("VmHWM") - start


# ---------------------------------------------------------------- clipping


def test_a_context_longer_than_the_data_is_clipped_with_a_warning(tiny):
    f = LogSparseTransformerForecaster(**{**tiny, "context_length": 10**6})
    with pytest.warns(UserWarning) as record:
        f.fit(hourly(60), fh=[1, 2])
    messages = [str(w.message) for w in record if "context_length" in str(w.message)]
    assert messages == [
        "context_length=1000000 is longer than the data allow: using "
        "context_length=58, so that a window (the context and "
        "prediction_length=2) spans the longest series (60 points)"
    ]
    assert f.context_length_ == 58
    assert f.model_.layout.context_length == 58
    assert f.predict().shape == (2, 1)


def test_the_longest_series_of_a_panel_sets_the_clip(tiny):
    y = pd.concat({"a": hourly(40), "b": hourly(90, seed=1)}, names=["unit", "time"])
    f = LogSparseTransformerForecaster(**{**tiny, "context_length": 500})
    with pytest.warns(UserWarning, match="using context_length=88"):
        f.fit(y, fh=[1, 2])
    assert f.context_length_ == 88


@pytest.mark.parametrize("context", [6, 58])
def test_a_context_that_fits_is_kept_without_a_warning(tiny, context):
    f = LogSparseTransformerForecaster(**{**tiny, "context_length": context})
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="context_length=")
        f.fit(hourly(60), fh=[1, 2])
    assert f.context_length_ == context


# ----------------------------------------------------------------- refusal


@pytest.mark.usefixtures("sixteen_gib")
@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"batch_size": 10**8}, "batch_size=100000000: fit would need about "),
        (
            {"d_model": 4096, "n_heads": 4, "n_layers": 64},
            "d_model=4096, n_layers=64: fit would need about ",
        ),
    ],
)
def test_a_fit_that_would_not_fit_in_memory_is_refused_fast(tiny, params, named):
    f = LogSparseTransformerForecaster(**{**tiny, **params})
    y = hourly(300)
    growth = _peak_rss_tracker()
    start = time.perf_counter()
    with pytest.raises(ValueError) as err:
        f.fit(y, fh=[1, 2])
    assert time.perf_counter() - start < 30  # refused up front, not trained
    message = str(err.value)
    assert message.startswith(named)
    assert "GiB, more than the 16.0 GiB this machine has available; lower " in message
    need = float(message.split("about ")[1].split(" GiB")[0])
    assert need > 16
    if growth is not None:
        assert growth() < 256 * 2**20  # nothing of that size was allocated


@pytest.mark.usefixtures("sixteen_gib")
def test_a_huge_context_on_long_data_is_refused_before_training(tiny):
    n = 2 * 10**6
    y = pd.DataFrame({"y": np.sin(np.arange(n) / 7.0)})  # an integer index
    params = {**tiny, "context_length": 10**6, "batch_size": 64, "d_model": 32}
    f = LogSparseTransformerForecaster(**params)
    start = time.perf_counter()
    with pytest.raises(
        ValueError, match=r"^context_length=1000000: fit would need about "
    ):
        f.fit(y, fh=[1, 2])
    assert time.perf_counter() - start < 60


@pytest.mark.usefixtures("sixteen_gib")
def test_a_predict_with_too_many_paths_is_refused_fast(tiny):
    f = LogSparseTransformerForecaster(**{**tiny, "num_samples": 10**9})
    f.fit(hourly(100), fh=[1, 2])  # the fit does not depend on num_samples
    growth = _peak_rss_tracker()
    start = time.perf_counter()
    with pytest.raises(ValueError) as err:
        f.predict()
    assert time.perf_counter() - start < 30
    message = str(err.value)
    assert message.startswith("num_samples=1000000000: predict would need about ")
    assert message.endswith("this machine has available; lower num_samples")
    if growth is not None:
        assert growth() < 256 * 2**20


def test_the_check_passes_what_fits_and_names_the_drivers():
    estimate = Estimate(
        {"data": 1.0 * GIB},
        {"training": 3.0 * GIB},
        {
            "data": ("context_length",),
            "training": ("context_length", "batch_size", "d_model"),
        },
    )
    values = {"context_length": 4096, "batch_size": 16, "d_model": 32}
    check_memory(estimate, "fit", values, available=4.5 * GIB)  # fits
    with pytest.raises(ValueError) as err:
        check_memory(estimate, "fit", values, available=2.5 * GIB)
    assert str(err.value) == (
        "context_length=4096: fit would need about 4.0 GiB, more than the 2.5 GiB "
        "this machine has available; lower context_length"
    )
    small = {"context_length": 100, "batch_size": 16, "d_model": 32}
    with pytest.raises(ValueError, match="^context_length=100, batch_size=16, d_model"):
        check_memory(estimate, "fit", small, available=2.5 * GIB)


def test_available_memory_is_known_here():
    available, where = _memory.available_memory("cpu")
    assert available is None or available > 0
    assert where == "this machine"


# ---------------------------------------------------------------- estimate


def network(**changes) -> NetworkSize:
    sizes = dict(
        d_model=32,
        n_heads=4,
        n_layers=3,
        kernel_size=6,
        attention="logsparse",
        context_length=512,
        prediction_length=24,
        n_inputs=14,
        n_covariates=7,
        lead=169,
        n_embeddings=10,
    )
    return NetworkSize(**{**sizes, **changes})


@pytest.mark.parametrize("name", ["context_length", "d_model", "n_layers"])
def test_the_fit_estimate_grows_with_the_model(name):
    base = getattr(network(), name)
    totals = [
        fit_estimate(network(**{name: base * k}), 16, [5000] * 10).total
        for k in (1, 2, 4)
    ]
    assert totals[0] < totals[1] < totals[2]


def test_the_fit_estimate_grows_with_the_batch_and_the_data():
    totals = [fit_estimate(network(), b, [5000] * 10).total for b in (16, 32, 64)]
    assert totals[0] < totals[1] < totals[2]
    more = fit_estimate(network(), 16, [5000] * 1000).total
    assert more > totals[0]


@pytest.mark.parametrize("name", ["context_length", "d_model", "n_layers"])
def test_the_predict_estimate_grows_with_the_model(name):
    base = getattr(network(), name)
    totals = [
        predict_estimate(network(**{name: base * k}), 10, 100, 48, 2).total
        for k in (1, 2, 4)
    ]
    assert totals[0] < totals[1] < totals[2]


def test_the_predict_estimate_grows_with_the_paths():
    totals = [predict_estimate(network(), 10, n, 48, 2).total for n in (10, 100, 10**4)]
    assert totals[0] < totals[1] < totals[2]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("length", [1, 2, 7, 64, 100, 1000])
def test_pattern_width_is_that_of_the_pattern(kind, length):
    expected = make_pattern(kind, length).width
    assert pattern_width(kind, length) == expected
    if kind.startswith("local"):
        built = make_pattern(kind, length, local_window=3, sub_len=max(1, length // 3))
        assert pattern_width(kind, length, 3, max(1, length // 3)) == built.width


# ---------------------------------------------------- least squares by chunks


def _oracle(design: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The whole problem at once, by gelsd (the former implementation)."""
    return torch.linalg.lstsq(design.double(), y.double().unsqueeze(1), driver="gelsd")


def test_chunked_least_squares_matches_gelsd_on_the_whole_problem():
    gen = torch.Generator().manual_seed(0)
    m, p = 5000, 8
    x = torch.randn(m, p, generator=gen, dtype=torch.float64)
    x[:, 2] = 1.0  # constant: collinear with the intercept
    x[:, 5] = 2 * x[:, 0] - 3 * x[:, 1]  # collinear with two others
    x[:, 6] *= 1e3  # a column of another scale
    design = torch.cat([x, torch.ones(m, 1, dtype=torch.float64)], dim=1)
    y = x[:, :4] @ torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    y = y + 0.1 * torch.randn(m, generator=gen, dtype=torch.float64)
    problem = LeastSquares(p + 1)
    for lo, hi in [(0, 1), (1, 7), (7, 1500), (1500, 1500), (1500, m)]:
        problem.add(design[lo:hi], y[lo:hi])
    got = problem.solve()
    expected = _oracle(design, y).solution[:, 0]
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-9, atol=1e-11)
    # the minimum-norm split: the constant column and the intercept share
    assert got[2].item() == pytest.approx(got[-1].item(), rel=1e-9)


def test_least_squares_without_rows_has_no_solution():
    assert LeastSquares(3).solve() is None


def _ar_panel(n_series=3, n=300):
    rng = np.random.default_rng(1)
    values = []
    for _ in range(n_series):
        z = np.zeros(n)
        for t in range(2, n):
            z[t] = 2.0 + 0.6 * z[t - 1] + 0.3 * z[t - 2] + rng.normal(0, 0.5)
        values.append(z[20:].astype(np.float32))
    return values


def test_fit_skip_by_chunks_matches_the_whole_design(make_layout, monkeypatch):
    C, P, lags = 8, 4, (2,)
    values = _ar_panel()
    covs = [np.ones((len(v), 2), dtype=np.float32) for v in values]  # constant
    data = SeriesTensors.from_arrays(values, covs, np.arange(3), pad=C + P + 2)
    layout = make_layout(C, P, lags, scaling="standard", n_cov=2)
    config = LogSparseConfig(
        n_inputs=layout.n_inputs, d_model=8, n_heads=2, n_layers=1,
        max_length=C + P, ar_skip=True,
    )  # fmt: skip
    net = LogSparseTransformer(config)
    windows, _ = make_windows(data, layout, False, "uniform")
    # a handful of windows per chunk
    monkeypatch.setattr(_linear_ar, "CHUNK_ENTRIES", 5 * layout.length * 8)
    assert _linear_ar.chunk_windows(layout.length, layout.n_inputs) < 10
    threads = torch.get_num_threads()
    fit_skip(net, data, windows, layout, torch.Generator().manual_seed(5), 100)
    assert torch.get_num_threads() == threads  # restored
    # the oracle: the same draws, every window in one design
    rows = torch.randint(
        len(windows), (100,), generator=torch.Generator().manual_seed(5)
    )
    batch, _ = window_batch(data, windows, rows, layout)
    x = batch.x[batch.observed].double()
    u = layout.scaler.transform(
        batch.target, batch.loc.unsqueeze(-1), batch.scale.unsqueeze(-1)
    )
    design = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
    coef = _oracle(design, u[batch.observed]).solution[:, 0].float()
    np.testing.assert_allclose(
        net.skip.weight[0].detach().numpy(), coef[:-1].numpy(), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(net.skip.bias.item(), coef[-1].item(), rtol=1e-5)


def test_the_estimate_reads_the_chunks_of_the_least_squares_fit():
    assert _memory.LSQ_ENTRIES == _linear_ar.CHUNK_ENTRIES
