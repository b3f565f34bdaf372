"""The bundled M4 Hourly loader: shapes, index, mtype, subsetting and values."""

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sktime.datatypes import check_is_mtype

from sktime_logsparse import datasets
from sktime_logsparse.datasets import (
    HORIZON,
    SEASONALITY,
    _m4,
    load_m4_hourly,
    load_m4_hourly_split,
)

SHARED_M4 = Path(__file__).resolve().parents[1].parent / "shared/data/m4_hourly"
N_SERIES = 414


@pytest.fixture(scope="module")
def full():
    return load_m4_hourly("full")


def _sizes(y):
    return y.groupby(level="instances", sort=False).size()


def test_constants():
    assert HORIZON == 48
    assert SEASONALITY == 24


def test_full_panel_shape_and_index(full):
    assert list(full.columns) == ["value"]
    assert full["value"].dtype == np.float64
    assert full.index.names == ["instances", "timepoints"]
    sizes = _sizes(full)
    assert list(sizes.index) == [f"H{i}" for i in range(1, N_SERIES + 1)]
    assert sizes.min() == 748 and sizes.max() == 1008
    assert len(full) == sizes.sum() == 373_372
    assert not full["value"].isna().any()
    assert full.index[0] == ("H1", pd.Timestamp("2015-07-01 12:00"))


def test_train_is_full_minus_horizon_and_test_is_horizon(full):
    y_train, y_test = load_m4_hourly_split()
    full_sizes = _sizes(full)
    assert (_sizes(y_train) == full_sizes - HORIZON).all()
    assert (_sizes(y_test) == HORIZON).all()
    assert y_train.index[0] == ("H1", pd.Timestamp("2015-07-01 12:00"))
    # train then test reproduces the full series, values and timestamps
    joined = pd.concat([y_train, y_test]).sort_index()
    pd.testing.assert_frame_equal(joined, full.sort_index())
    # each test series starts one hour after its train series ends
    last_train = y_train.reset_index().groupby("instances")["timepoints"].max()
    first_test = y_test.reset_index().groupby("instances")["timepoints"].min()
    assert (first_test - last_train == pd.Timedelta("1h")).all()


def test_default_split_is_train():
    pd.testing.assert_frame_equal(
        load_m4_hourly(series=2), load_m4_hourly("train", series=2)
    )


@pytest.mark.parametrize("split", ["train", "test", "full"])
def test_is_pd_multiindex_and_hourly(split):
    y = load_m4_hourly(split)
    ok, msg, meta = check_is_mtype(y, "pd-multiindex", return_metadata=True)
    assert ok, msg
    assert meta["n_instances"] == N_SERIES
    assert meta["is_equally_spaced"]
    steps = y.reset_index().groupby("instances")["timepoints"].diff().dropna()
    assert (steps == pd.Timedelta("1h")).all()
    assert pd.infer_freq(y.loc["H414"].index) == "h"


def test_series_starts_differ(full):
    starts = full.reset_index().groupby("instances")["timepoints"].min()
    assert starts.nunique() > 1
    assert (starts.dt.minute == 0).all() and (starts.dt.second == 0).all()


def test_subset_by_n():
    y = load_m4_hourly("test", series=5)
    assert list(_sizes(y).index) == ["H1", "H2", "H3", "H4", "H5"]
    assert len(y) == 5 * HORIZON
    assert check_is_mtype(y, "pd-multiindex")
    assert list(_sizes(load_m4_hourly(series=np.int64(1))).index) == ["H1"]


def test_subset_by_ids_keeps_order_and_values(full):
    ids = ["H200", "H3", "H414"]
    y = load_m4_hourly("full", series=ids)
    assert list(_sizes(y).index) == ids
    for sid in ids:
        pd.testing.assert_frame_equal(y.loc[sid], full.loc[sid])
    single = load_m4_hourly("full", series="H3")
    pd.testing.assert_frame_equal(single, full.loc[["H3"]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"split": "validation"},
        {"split": "Train"},
        {"split": None},
        {"series": 0},
        {"series": -1},
        {"series": N_SERIES + 1},
        {"series": True},
        {"series": []},
        {"series": ["H1", "H415"]},
        {"series": ["T1"]},
        {"series": "h1"},
        {"series": ["H2", "H2"]},
    ],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        load_m4_hourly(**kwargs)


def test_unknown_id_message_names_it():
    with pytest.raises(ValueError, match="H999"):
        load_m4_hourly_split(series=["H1", "H999"])


def test_returned_frames_are_independent_of_cache():
    y = load_m4_hourly("full", series=1)
    expected = y.copy()
    y["value"] = -1.0
    y.iloc[0, 0] = 1e9
    pd.testing.assert_frame_equal(load_m4_hourly("full", series=1), expected)
    assert not _m4._load_arrays().values.flags.writeable


def test_parser_skips_header_and_comments():
    text = (
        "# comment\n@relation m4\n@data\n\n"
        "T2:2016-01-01 03-00-00:1,2.5,3\nT1:2015-07-01 12-00-00:4,5\n"
    )
    arrays = _m4._parse_tsf(text)
    assert arrays.ids == ("H2", "H1")
    assert arrays.lengths.tolist() == [3, 2]
    assert arrays.offsets.tolist() == [0, 3]
    assert arrays.values.tolist() == [1.0, 2.5, 3.0, 4.0, 5.0]
    assert arrays.starts[0] == np.datetime64("2016-01-01T03:00")


@pytest.mark.filterwarnings("ignore:The default of config:FutureWarning")
def test_relative_horizon_forecasts_test_index():
    from sktime.forecasting.naive import NaiveForecaster

    y_train, y_test = load_m4_hourly_split(series=2)
    fc = NaiveForecaster(strategy="last", sp=SEASONALITY)
    y_pred = fc.fit(y_train, fh=np.arange(1, HORIZON + 1)).predict()
    assert y_pred.index.equals(y_test.index)


def test_docstring_examples():
    result = doctest.testmod(_m4, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
    assert set(datasets.__all__) >= {"load_m4_hourly", "load_m4_hourly_split"}


@pytest.mark.skipif(not SHARED_M4.is_dir(), reason="shared M4 data not present")
def test_values_match_competition_csv():
    def row(name, sid, n=20):
        raw = pd.read_csv(SHARED_M4 / name, index_col=0, nrows=3)
        return raw.loc[sid].dropna().to_numpy(dtype=float)[:n]

    y_train, y_test = load_m4_hourly_split(series=["H1", "H2"])
    for sid in ("H1", "H2"):
        expected_train = row("Hourly-train.csv", sid)
        np.testing.assert_array_equal(
            y_train.loc[sid, "value"].to_numpy()[: len(expected_train)],
            expected_train,
        )
        np.testing.assert_array_equal(
            y_test.loc[sid, "value"].to_numpy(), row("Hourly-test.csv", sid, HORIZON)
        )
    assert y_train.loc["H1", "value"].iloc[:5].tolist() == [605, 586, 586, 559, 511]
