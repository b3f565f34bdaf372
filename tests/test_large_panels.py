"""Large panels: bounded memory without changing a single value.

A forecast too large to keep is sampled and summarised a block of series at a
time; its outputs must equal, bit for bit, those of the paths sampled at
once. Frames are assembled in one piece; their index must be the one that
concatenating a frame per instance gives. Training reads per-series arrays
one at a time, and scores at most ``MAX_VALIDATION_WINDOWS`` validation
windows.
"""

import gc
import weakref

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import TINY, series

import sktime_logsparse._outputs as outputs_module
import sktime_logsparse._predicting as predicting_module
import sktime_logsparse._sampling as sampling_module
from sktime_logsparse import LogSparseTransformerForecaster, _memory
from sktime_logsparse._arrays import SeriesArrays
from sktime_logsparse._batches import series_per_block
from sktime_logsparse._outputs import panel_index
from sktime_logsparse._panel import Instance
from sktime_logsparse._series import SeriesTensors, make_windows


def _panel(n: int, levels: int = 1, columns: int = 1, ragged: bool = False):
    parts = []
    for i in range(n):
        y = series(60 + (3 * i if ragged else 0), seed=i, level=10.0 + i)
        y = pd.DataFrame({f"y{j}": y["y"] * (j + 1) for j in range(columns)})
        if ragged:  # different ends
            y = y.iloc[: len(y) - i]
        key = (f"g{i % 2}", f"s{i}") if levels == 2 else (f"s{i}",)
        names = ["group", "id"][-levels:] + ["time"]
        y.index = pd.MultiIndex.from_tuples([(*key, t) for t in y.index], names=names)
        parts.append(y)
    return pd.concat(parts).sort_index()


def _outputs(f, fh=None):
    return {
        "predict": f.predict(fh=fh),
        "quantiles": f.predict_quantiles(fh=fh, alpha=[0.05, 0.5, 0.9]),
        "interval": f.predict_interval(fh=fh, coverage=[0.8]),
        "var": f.predict_var(fh=fh),
        "cov": f.predict_var(fh=fh, cov=True),
    }


def _small_batches(monkeypatch):
    """Sampler batches of at most two series, as a large panel has many of."""
    batch = sampling_module.series_per_batch
    monkeypatch.setattr(
        sampling_module, "series_per_batch", lambda *a, **k: min(batch(*a, **k), 2)
    )


@pytest.mark.parametrize(
    "shape",
    [
        dict(n=7),
        dict(n=6, levels=2, columns=2),
        dict(n=5, ragged=True),
    ],
    ids=["panel", "hierarchy-two-columns", "ragged"],
)
def test_outputs_sampled_in_blocks_equal_those_of_all_paths(monkeypatch, shape):
    _small_batches(monkeypatch)
    y = _panel(**shape)
    params = {**TINY, "num_samples": 13, "n_threads": 2}
    fh = [1, 2, 5]
    kept = LogSparseTransformerForecaster(**params).fit(y, fh=fh)
    expected = _outputs(kept)
    assert kept._path_cache.value is not None  # small: sampled once and kept
    streamed = LogSparseTransformerForecaster(**params).fit(y, fh=fh)
    monkeypatch.setattr(predicting_module, "CACHE_BYTES", 0)
    monkeypatch.setattr(predicting_module, "BLOCK_VALUES", 1)  # smallest blocks
    blocks = []
    forecast_blocks = sampling_module.forecast_blocks

    def counted(*args, **kwargs):
        for rows, paths in forecast_blocks(*args, **kwargs):
            blocks.append(rows)
            yield rows, paths

    monkeypatch.setattr(predicting_module, "forecast_blocks", counted)
    got = _outputs(streamed)
    assert len(blocks) >= 2 * len(expected)  # several blocks per output
    assert streamed._path_cache.value is None  # nothing kept
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, check_exact=True)
        if isinstance(frame.index, pd.MultiIndex):
            for a, b in zip(got[name].index.levels, frame.index.levels, strict=True):
                assert a.equals(b)


class _Tracked(np.ndarray):
    """An array that can be referenced weakly."""


def test_a_streamed_output_releases_each_block_before_the_next(monkeypatch):
    _small_batches(monkeypatch)
    f = LogSparseTransformerForecaster(**{**TINY, "n_threads": 2}).fit(
        _panel(9), fh=[1, 2]
    )
    monkeypatch.setattr(predicting_module, "CACHE_BYTES", 0)
    monkeypatch.setattr(predicting_module, "BLOCK_VALUES", 1)
    forecast_blocks = sampling_module.forecast_blocks
    alive = []

    def tracked(*args, **kwargs):
        refs = []
        for rows, paths in forecast_blocks(*args, **kwargs):
            gc.collect()
            alive.append(sum(ref() is not None for ref in refs))
            paths = paths.view(_Tracked)
            refs.append(weakref.ref(paths))
            yield rows, paths
            del paths

    monkeypatch.setattr(predicting_module, "forecast_blocks", tracked)
    f.predict_quantiles(alpha=[0.1, 0.9])
    assert len(alive) >= 3 and not any(alive)  # no earlier block held


def test_a_distribution_is_drawn_at_once_and_then_serves_the_other_outputs(
    monkeypatch,
):
    y = _panel(3)
    f = LogSparseTransformerForecaster(**TINY).fit(y, fh=[1, 2])
    monkeypatch.setattr(predicting_module, "CACHE_BYTES", 0)
    dist = f.predict_proba()
    assert f._path_cache.value is not None
    pd.testing.assert_frame_equal(f.predict(), dist.mean(), check_exact=True)


@pytest.mark.parametrize(
    "index",
    [
        pd.date_range("2021-01-01", periods=4, freq="h"),
        pd.period_range("2021-01", periods=4, freq="M"),
        pd.RangeIndex(10, 14),
        pd.Index([3, 5, 9, 10]),
    ],
    ids=["datetime", "period", "range", "integer"],
)
@pytest.mark.parametrize("levels", [0, 1, 2])
@pytest.mark.parametrize("same", [True, False], ids=["shared", "shifted"])
def test_panel_index_is_that_of_concatenated_frames(index, levels, same, monkeypatch):
    n = 1 if levels == 0 else 5
    indexes = [index if same else index[i % 2 :] for i in range(n)]
    keys = [(f"a{i % 2}", i)[-levels:] if levels else () for i in range(n)]
    names = ["group", "id"][-levels:] if levels else []
    frames = [pd.DataFrame({"v": np.arange(len(ix))}, index=ix) for ix in indexes]
    for frame in frames:
        frame.index.name = "time"
    if levels == 0:
        expected = frames[0].index
    else:
        flat = [k[0] for k in keys] if levels == 1 else keys
        expected = pd.concat(frames, keys=flat, names=names).index
    for fallback in (False, True):
        if fallback:  # the public route, for a pandas without the builder
            monkeypatch.setattr(outputs_module, "_concat_index_builder", lambda: None)
        got = panel_index(indexes, keys, names, "time")
        assert got.equals(expected) and got.names == expected.names
        if isinstance(expected, pd.MultiIndex):
            for a, b in zip(got.levels, expected.levels, strict=True):
                assert a.equals(b) and a.dtype == b.dtype
            for a, b in zip(got.codes, expected.codes, strict=True):
                np.testing.assert_array_equal(a, b)


def test_series_arrays_read_like_a_list():
    instances = [
        Instance(
            (f"s{k}",), pd.RangeIndex(4 + k), np.arange(8.0 + 2 * k).reshape(-1, 2)
        )
        for k in range(3)
    ]
    factors = [np.array([1.0, 2.0])] * 3
    arrays = SeriesArrays(
        instances, factors, lambda inst, j, f: inst.values[:, j] / f[j]
    )
    listed = [inst.values[:, j] / 2.0**j for inst in instances for j in range(2)]
    assert len(arrays) == 6
    for got, want in zip(arrays, listed, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(arrays[-1], listed[-1])
    assert len(arrays[1:4]) == 3
    with pytest.raises(IndexError):
        arrays[6]
    covs = [np.ones((len(v), 2), np.float32) for v in listed]
    lazy = SeriesTensors.from_arrays(arrays, covs, np.arange(6), pad=3)
    eager = SeriesTensors.from_arrays(listed, covs, np.arange(6), pad=3)
    assert torch.equal(lazy.z.isnan(), eager.z.isnan())
    assert torch.equal(lazy.z.nan_to_num(), eager.z.nan_to_num())


def test_validation_windows_are_capped_evenly_over_the_panel(make_layout, monkeypatch):
    import sktime_logsparse._series as series_module

    layout = make_layout(6, 2)
    values = [np.arange(30.0) + i for i in range(40)]
    covs = [np.zeros((30, 0), np.float32)] * 40
    pad = layout.length + layout.lead
    data = SeriesTensors.from_arrays(values, covs, np.arange(40), pad=pad)
    train, every = make_windows(data, layout, 1, "uniform")
    monkeypatch.setattr(series_module, "MAX_VALIDATION_WINDOWS", 8)
    train_capped, capped = make_windows(data, layout, 1, "uniform")
    assert len(every) == 40 and len(capped) == 8
    assert capped.series.tolist() == list(range(0, 40, 5))
    assert torch.equal(capped.ends, every.ends[::5])
    # training is unchanged: the held-out ranges stay out of it
    assert torch.equal(train_capped.ends, train.ends)


def test_blocks_are_whole_batches_and_whole_instances():
    for per_batch, workers, unit in [(81, 2, 1), (3, 2, 2), (5, 1, 3), (1, 4, 6)]:
        block = series_per_block(10**6, per_batch, workers, unit, 4800, 2**22)
        assert block % (per_batch * workers) == 0 and block % unit == 0
        assert block * 4800 <= max(2**22, per_batch * workers * unit * 4800)
    assert series_per_block(7, 81, 2, 1, 4800) == 7  # fewer: all in one


def test_the_predict_estimate_counts_one_block_of_inputs_and_paths():
    net = _memory.NetworkSize(
        d_model=32,
        n_heads=4,
        n_layers=3,
        kernel_size=6,
        attention="logsparse",
        context_length=168,
        prediction_length=48,
        n_inputs=14,
        n_covariates=3,
        lead=169,
    )
    whole = _memory.predict_estimate(net, 100_000, 100, 48, 2)
    blocks = _memory.predict_estimate(net, 100_000, 100, 48, 2, block=810)
    ten_k = _memory.predict_estimate(net, 10_000, 100, 48, 2, block=810)
    assert blocks.total < whole.total / 5
    # what still grows with the series: the outputs, a few values a step
    assert blocks.total - ten_k.total < 90_000 * 48 * 64


def _keyed(keys, times_of, names, columns=1):
    rng = np.random.default_rng(0)
    parts = []
    for k in keys:
        t = times_of(k)
        key = k if isinstance(k, tuple) else (k,)
        index = pd.MultiIndex.from_tuples([(*key, x) for x in t], names=names)
        values = rng.normal(size=(len(t), columns))
        parts.append(pd.DataFrame(values, index=index))
    return pd.concat(parts).sort_index()


def _hours(k):
    return pd.date_range("2020-01-01", periods=8 + len(str(k)) % 3, freq="h")


@pytest.mark.parametrize(
    "y",
    [
        _keyed(range(5), _hours, ["id", "time"]),
        _keyed(["a", "b", "c"], _hours, ["id", "time"], columns=2),
        _keyed([("g1", "x"), ("g1", "y"), ("g2", "x")], _hours, ["g", "id", "t"]),
        _keyed(
            range(3),
            lambda k: pd.period_range("2020-01", periods=6 + k, freq="M"),
            ["id", "t"],
        ),
        _keyed(range(3), lambda k: pd.RangeIndex(k, 8 + k), ["id", "t"]),
        _keyed(
            range(4),
            lambda k: pd.date_range(f"2020-01-0{k + 1}", periods=5, freq="D"),
            [None, None],
        ),
    ],
    ids=["int-keys", "str-keys", "two-levels", "periods", "integer-time", "ragged"],
)
def test_a_sorted_panel_is_cut_into_the_instances_grouping_gives(y, monkeypatch):
    import sktime_logsparse._panel as panel_module

    assert panel_module.strictly_sorted(y.index)
    cut = panel_module.split_instances(y)
    monkeypatch.setattr(panel_module, "strictly_sorted", lambda index: False)
    grouped = panel_module.split_instances(y)
    assert len(cut) == len(grouped)
    for a, b in zip(cut, grouped, strict=True):
        assert a.key == b.key and list(map(type, a.key)) == list(map(type, b.key))
        assert a.index.equals(b.index) and type(a.index) is type(b.index)
        assert (a.index.dtype, a.index.name) == (b.index.dtype, b.index.name)
        assert getattr(a.index, "freq", None) == getattr(b.index, "freq", None)
        np.testing.assert_array_equal(a.values, b.values)
        assert a.values.dtype == b.values.dtype and b.exog is None is a.exog


@pytest.mark.parametrize(
    "tuples",
    [[(0, 2), (0, 1), (1, 1)], [(0, 1), (0, 1), (1, 1)], [(1, 1), (0, 1)]],
    ids=["unsorted-time", "duplicate", "unsorted-instances"],
)
def test_an_unsorted_or_duplicated_index_is_left_to_the_instance_checks(tuples):
    from sktime_logsparse._checks import strictly_sorted

    assert not strictly_sorted(pd.MultiIndex.from_tuples(tuples))
