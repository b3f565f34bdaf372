"""Time axes: frequency inference, future points, step counts, calendar features."""

import pickle
import time

import numpy as np
import pandas as pd
import pytest

from sktime_logsparse._calendar import CALENDAR_FEATURES, age_feature
from sktime_logsparse._time_axis import TimeAxis

# pandas 3: current aliases only, no deprecation (or any other) warnings
pytestmark = pytest.mark.filterwarnings("error")

START = "2015-07-01"
N_LONG = 3000  # length of the reference ranges
N_HEAD = 40  # points the axis is built from

DATETIME_FREQS = ["h", "15min", "D", "B", "W-SUN", "MS", "ME", "QE", "QS", "YS", "YE"]
PERIOD_FREQS = ["M", "D", "h", "Y"]
INTEGER_STEPS = [1, 3]

CASES = (
    [("datetime", f) for f in DATETIME_FREQS]
    + [("period", f) for f in PERIOD_FREQS]
    + [("integer", s) for s in INTEGER_STEPS]
)
CASE_IDS = [f"{kind}-{freq}" for kind, freq in CASES]


def long_range(kind, freq, n=N_LONG):
    if kind == "datetime":
        return pd.date_range(START, periods=n, freq=freq)
    if kind == "period":
        return pd.period_range(START, periods=n, freq=freq)
    return pd.RangeIndex(5, 5 + freq * n, freq)


def head_without_freq(reference):
    """The first points of ``reference`` as an index without ``freq``."""
    head = reference[:N_HEAD]
    if isinstance(head, pd.DatetimeIndex):
        head = pd.DatetimeIndex(list(head))  # built from a list: freq is None
        assert head.freq is None
    elif isinstance(head, pd.RangeIndex):
        head = pd.Index(list(head), dtype="int64")
    return head


@pytest.fixture(params=CASES, ids=CASE_IDS)
def case(request):
    kind, freq = request.param
    reference = long_range(kind, freq)
    head = head_without_freq(reference)
    return kind, freq, reference, TimeAxis.from_index(head)


# ---------------------------------------------------------------- from_index
def test_from_index_kind_and_freq(case):
    kind, freq, reference, axis = case
    assert axis.kind == kind
    if kind == "integer":
        assert axis.freq == freq
        assert axis.feature_names == ()
    else:
        # the inferred offset generates the same grid as the requested one
        # ("QS" is inferred as the equivalent "QS-OCT")
        regenerated = (
            pd.date_range(START, periods=50, freq=axis.freq)
            if kind == "datetime"
            else pd.period_range(START, periods=50, freq=axis.freq)
        )
        assert list(regenerated) == list(reference[:50])


def test_from_index_uses_freq_attribute():
    index = pd.date_range(START, periods=2, freq="2MS")
    assert TimeAxis.from_index(index).freq == pd.offsets.MonthBegin(2)
    single = pd.DatetimeIndex([START], freq="D")
    axis = TimeAxis.from_index(single)
    assert axis.freq == pd.offsets.Day()
    assert list(axis.future(single[0], 2)) == list(
        pd.date_range("2015-07-02", periods=2, freq="D")
    )


def test_from_index_infers_without_freq():
    index = pd.DatetimeIndex(
        ["2015-07-01 00:00", "2015-07-01 00:15", "2015-07-01 00:30"]
    )
    assert index.freq is None
    assert TimeAxis.from_index(index).freq == pd.offsets.Minute(15)
    months = pd.DatetimeIndex(["2015-01-31", "2015-02-28", "2015-03-31", "2015-04-30"])
    assert TimeAxis.from_index(months).freq == pd.offsets.MonthEnd()


def test_from_index_fallback_dominant_step():
    # hourly with gaps: infer_freq fails, the most common step is one hour
    index = pd.date_range(START, periods=100, freq="h").delete([5, 17, 18, 60])
    assert pd.infer_freq(index) is None
    assert TimeAxis.from_index(index).freq == pd.offsets.Hour()
    # irregular, mostly 90 minutes: a fixed offset
    points = pd.Timestamp(START) + pd.to_timedelta([0, 90, 180, 270, 300, 390], "min")
    assert TimeAxis.from_index(pd.DatetimeIndex(points)).freq == pd.offsets.Minute(90)
    # two points, no freq: their difference; whole days become Day
    two = pd.DatetimeIndex(["2015-07-01", "2015-07-03"])
    assert TimeAxis.from_index(two).freq == pd.offsets.Day(2)


def test_from_index_fallback_prefers_calendar_offset():
    # month starts with missing months: steps of 28-62 days, "MS" in stretches
    index = pd.date_range(START, periods=40, freq="MS").delete([5, 17])
    assert pd.infer_freq(index) is None
    axis = TimeAxis.from_index(index)
    assert axis.freq == pd.offsets.MonthBegin()
    assert axis.steps_between(index[0], index[-1]) == 39
    # business days with gaps
    bdays = pd.date_range(START, periods=40, freq="B").delete([3, 20])
    assert TimeAxis.from_index(bdays).freq == pd.offsets.BusinessDay()


def test_from_index_integer_steps():
    assert TimeAxis.from_index(pd.RangeIndex(1)).freq == 1
    assert TimeAxis.from_index(pd.Index([7])).freq == 1
    irregular = pd.Index([0, 3, 6, 9, 15, 18, 21], dtype="int32")
    axis = TimeAxis.from_index(irregular)
    assert (axis.kind, axis.freq, axis.n_calendar) == ("integer", 3, 0)


@pytest.mark.parametrize(
    "index",
    [
        pd.DatetimeIndex(["2015-07-01"]),
        pd.DatetimeIndex([]),
        pd.DatetimeIndex(["2015-07-01", "2015-07-01", "2015-07-02", "2015-07-03"]),
        pd.DatetimeIndex(["2015-07-02", "2015-07-01", "2015-07-03"]),
        pd.DatetimeIndex(["2015-07-01", None, "2015-07-03"]),
        pd.Index([1, 2, 2, 3]),
        pd.Index([3, 2, 1]),
        pd.PeriodIndex(["2015-07", "2015-07"], freq="M"),
    ],
    ids=[
        "one-point",
        "empty",
        "duplicates",
        "unsorted",
        "nat",
        "int-dup",
        "int-desc",
        "period-dup",
    ],
)
def test_from_index_undeterminable_frequency(index):
    with pytest.raises(ValueError, match="cannot determine the frequency"):
        TimeAxis.from_index(index)


@pytest.mark.parametrize(
    "index",
    [
        pd.Index([1.0, 2.0]),
        pd.Index(["a", "b"]),
        pd.to_timedelta(["1D", "2D"]),
        pd.MultiIndex.from_tuples([(0, 1), (0, 2)]),
    ],
)
def test_from_index_rejects_other_index_types(index):
    with pytest.raises(TypeError):
        TimeAxis.from_index(index)


# -------------------------------------------------------------------- future
def test_future_matches_longer_range(case):
    kind, freq, reference, axis = case
    last = reference[N_HEAD - 1]
    future = axis.future(last, 25)
    expected = reference[N_HEAD : N_HEAD + 25]
    assert type(future) is type(expected) or kind == "integer"
    assert list(future) == list(expected)
    if kind == "datetime":
        assert future.freq is not None
        assert future.dtype == expected.dtype
    if kind == "period":
        assert future.dtype == expected.dtype
    if kind == "integer":
        assert future.dtype == np.int64
    assert len(axis.future(last, 0)) == 0


def test_future_long_horizon(case):
    kind, freq, reference, axis = case
    future = axis.future(reference[0], N_LONG - 1)
    assert list(future) == list(reference[1:])


def test_future_keeps_index_type_and_timezone():
    assert isinstance(
        TimeAxis.from_index(pd.RangeIndex(10)).future(9, 3), pd.RangeIndex
    )
    int32 = TimeAxis.from_index(pd.Index([0, 2, 4], dtype="int32")).future(4, 2)
    assert int32.dtype == np.int32 and list(int32) == [6, 8]
    # calendar days across the DST change (23-hour day) in a time zone
    days = pd.date_range("2021-03-25", periods=10, freq="D", tz="Europe/Berlin")
    axis = TimeAxis.from_index(days[:3])
    future = axis.future(days[2], 7)
    assert future.equals(days[3:])
    assert axis.steps_between(days[0], days[-1]) == 9
    ns = pd.date_range(START, periods=3, freq="h", unit="ns")
    assert TimeAxis.from_index(ns).future(ns[-1], 2).dtype == ns.dtype


def test_future_rejects_negative_steps():
    axis = TimeAxis.from_index(pd.date_range(START, periods=3, freq="h"))
    with pytest.raises(ValueError):
        axis.future(pd.Timestamp(START), -1)


# ------------------------------------------------------------- steps_between
def test_steps_between_round_trips_with_future(case):
    kind, freq, reference, axis = case
    last = reference[N_HEAD - 1]
    future = axis.future(last, 30)
    for k in (1, 2, 7, 30):
        assert axis.steps_between(last, future[k - 1]) == k
    assert axis.steps_between(last, last) == 0


def test_steps_between_long_distance_is_exact_and_fast(case):
    kind, freq, reference, axis = case
    rng = np.random.default_rng(0)
    pairs = np.sort(rng.integers(0, N_LONG, size=(50, 2)), axis=1)
    pairs[0] = (0, N_LONG - 1)
    tic = time.perf_counter()
    for i, j in pairs:
        assert axis.steps_between(reference[i], reference[j]) == j - i
    assert time.perf_counter() - tic < 1.0  # no per-step work (about 0.1 ms each)


def test_steps_between_rejects_reversed_and_off_grid(case):
    kind, freq, reference, axis = case
    with pytest.raises(ValueError, match="before"):
        axis.steps_between(reference[5], reference[3])
    if kind == "datetime":
        off_grid = reference[8] + pd.Timedelta(minutes=1)
    elif kind == "period":
        return  # a Period of the axis frequency is always on the grid
    elif freq == 1:
        return
    else:
        off_grid = reference[8] + 1
    with pytest.raises(ValueError, match="not on the grid"):
        axis.steps_between(reference[3], off_grid)


def test_steps_between_rejects_other_period_frequency():
    axis = TimeAxis.from_index(pd.period_range(START, periods=3, freq="M"))
    with pytest.raises(ValueError):
        axis.steps_between(pd.Period("2015-07-01", "D"), pd.Period("2015-09", "M"))


def test_steps_between_rejects_start_off_anchor():
    axis = TimeAxis.from_index(pd.date_range(START, periods=3, freq="MS"))
    with pytest.raises(ValueError, match="start"):
        axis.steps_between(pd.Timestamp("2015-07-15"), pd.Timestamp("2015-09-01"))


# ---------------------------------------------------------- calendar features
EXPECTED_NAMES = {
    "h": ("hour_of_day", "day_of_week", "day_of_month", "day_of_year"),
    "15min": (
        "minute_of_hour",
        "hour_of_day",
        "day_of_week",
        "day_of_month",
        "day_of_year",
    ),
    "D": ("day_of_week", "day_of_month", "day_of_year"),
    "B": ("day_of_week", "day_of_month", "day_of_year"),
    "W-SUN": ("day_of_month", "week_of_year"),
    "MS": ("month_of_year",),
    "ME": ("month_of_year",),
    "QE": ("month_of_year",),
    "QS": ("month_of_year",),
    "YS": (),
    "YE": (),
    "M": ("month_of_year",),
    "Y": (),
    1: (),
    3: (),
}


def test_calendar_feature_names_and_ranges(case):
    kind, freq, reference, axis = case
    assert axis.feature_names == EXPECTED_NAMES[freq]
    assert axis.n_calendar == len(axis.feature_names)
    features = axis.calendar_features(reference)
    assert features.shape == (N_LONG, axis.n_calendar)
    assert features.dtype == np.float32
    if axis.n_calendar:
        assert features.min() >= -0.5 and features.max() <= 0.5


def test_calendar_features_hit_both_ends():
    index = pd.date_range("2016-01-01", "2016-12-31 23:59", freq="5min")  # leap
    features = TimeAxis.from_index(index).calendar_features(index)
    np.testing.assert_allclose(features.min(axis=0), -0.5)
    np.testing.assert_allclose(features[:, 1:].max(axis=0), 0.5)  # minute 55 < 59
    minutes = pd.date_range(START, periods=60, freq="min")
    features = TimeAxis.from_index(minutes).calendar_features(minutes)
    assert features[:, 0].min() == -0.5 and features[:, 0].max() == 0.5
    weeks = pd.date_range("2015-01-01", periods=60, freq="W-SUN")  # 2015: 53 weeks
    features = TimeAxis.from_index(weeks).calendar_features(weeks)
    np.testing.assert_allclose(features.min(axis=0), -0.5)
    np.testing.assert_allclose(features.max(axis=0), 0.5)


def test_calendar_feature_values():
    # Wednesday 2015-07-01 12:00, the 182nd day of the year, ISO week 27
    index = pd.date_range("2015-07-01 12:00", periods=2, freq="15min")
    axis = TimeAxis.from_index(index)
    values = dict(
        zip(axis.feature_names, axis.calendar_features(index)[0], strict=True)
    )
    expected = {
        "minute_of_hour": 0 / 59 - 0.5,
        "hour_of_day": 12 / 23 - 0.5,
        "day_of_week": 2 / 6 - 0.5,
        "day_of_month": 0 / 30 - 0.5,
        "day_of_year": 181 / 365 - 0.5,
    }
    assert values.keys() == expected.keys()
    for name, value in expected.items():
        assert values[name] == pytest.approx(value, abs=1e-6), name
    assert axis.calendar_features(index)[1, 0] == pytest.approx(15 / 59 - 0.5)
    assert CALENDAR_FEATURES["week_of_year"](index)[0] == pytest.approx(26 / 52 - 0.5)
    assert CALENDAR_FEATURES["month_of_year"](index)[0] == pytest.approx(6 / 11 - 0.5)


def test_calendar_features_of_periods_use_start_time():
    periods = pd.period_range("2015-07-01 12:00", periods=3, freq="h")
    axis = TimeAxis.from_index(periods)
    stamps = pd.date_range("2015-07-01 12:00", periods=3, freq="h")
    np.testing.assert_array_equal(
        axis.calendar_features(periods), axis.calendar_features(stamps)
    )
    months = pd.period_range("2015-01", periods=12, freq="M")
    features = TimeAxis.from_index(months).calendar_features(months)[:, 0]
    np.testing.assert_allclose(features, np.arange(12) / 11 - 0.5, atol=1e-6)


def test_calendar_features_follow_local_time():
    index = pd.date_range("2015-07-01 12:00", periods=3, freq="h", tz="Asia/Tokyo")
    axis = TimeAxis.from_index(index)
    hour = axis.calendar_features(index)[0, axis.feature_names.index("hour_of_day")]
    assert hour == pytest.approx(12 / 23 - 0.5)


def test_no_calendar_features():
    index = pd.date_range(START, periods=10, freq="h")
    axis = TimeAxis.from_index(index, calendar=False)
    assert axis.feature_names == () and axis.n_calendar == 0
    assert axis.calendar_features(index).shape == (10, 0)
    integer = TimeAxis.from_index(pd.RangeIndex(10))
    assert integer.calendar_features(pd.RangeIndex(10)).shape == (10, 0)


@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        ("h", 24),
        ("2h", 12),
        ("15min", 96),
        ("min", 60),
        ("D", 7),
        ("B", 5),
        ("W-SUN", 52),
        ("MS", 12),
        ("2MS", 6),
        ("QE", 4),
        ("YS", 1),
        ("5h", 1),
    ],
)
def test_season_length(freq, expected):
    axis = TimeAxis.from_index(pd.date_range(START, periods=3, freq=freq))
    assert axis.season_length == expected


def test_season_length_integer_and_period():
    assert TimeAxis.from_index(pd.RangeIndex(5)).season_length == 1
    periods = pd.period_range(START, periods=3, freq="M")
    assert TimeAxis.from_index(periods).season_length == 12


# ------------------------------------------------------------------- misc
def test_pickle_round_trip(case):
    kind, freq, reference, axis = case
    restored = pickle.loads(pickle.dumps(axis))
    assert restored == axis
    last = reference[N_HEAD - 1]
    assert list(restored.future(last, 3)) == list(axis.future(last, 3))
    assert len(pickle.dumps(axis)) < 2000


def test_pickle_with_timezone():
    index = pd.date_range(START, periods=3, freq="h", tz="Europe/Berlin")
    axis = TimeAxis.from_index(index)
    restored = pickle.loads(pickle.dumps(axis))
    assert restored.future(index[-1], 2).equals(axis.future(index[-1], 2))


def test_age_feature():
    positions = np.array([[-5, 0, 1], [8, 98, 998]])
    age = age_feature(positions)
    assert age.dtype == np.float32 and age.shape == positions.shape
    np.testing.assert_allclose(age, np.log10(2 + np.clip(positions, 0, None)))
    assert age[1, 0] == pytest.approx(1.0)


def test_min_cycles_keeps_features_the_data_cover():
    # one month of hourly data (as M4 Hourly): day of month and of year would
    # take values in a forecast that training never saw
    month = pd.date_range("2015-07-01 12:00", periods=700, freq="h")
    axis = TimeAxis.from_index(month, min_cycles=2)
    assert axis.feature_names == ("hour_of_day", "day_of_week")
    assert "day_of_month" in TimeAxis.from_index(month).feature_names
    years = pd.period_range("2015-01", periods=30, freq="M")
    assert TimeAxis.from_index(years, min_cycles=2).feature_names == ("month_of_year",)
    assert TimeAxis.from_index(years[:20], min_cycles=2).feature_names == ()
