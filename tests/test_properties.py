"""Property-based tests: random small panels either work or fail clearly.

Over random panels (1-4 instances of 1-60 points, random fractions of missing
values, hourly, daily, weekly, month-start or integer time indexes, unequal
starts and ends) and random small window layouts, a tiny forecaster's
``fit``, ``predict`` and ``predict_quantiles`` either succeed with output on the
right index and finite, or raise a ``ValueError`` naming the problem.

``LOGSPARSE_PROPERTY_EXAMPLES`` sets the number of examples (default 25).
"""

import os
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sktime_logsparse import LogSparseTransformerForecaster

EXAMPLES = int(os.environ.get("LOGSPARSE_PROPERTY_EXAMPLES", "25"))
FREQS = ["h", "D", "W", "MS", None]  # None: integer (RangeIndex-like) index
# the clear errors that random data may legitimately trigger
EXPECTED_ERRORS = re.compile(
    "has no observed values|is too short to train on|needs non-negative integer counts"
)


pytestmark = pytest.mark.usefixtures("one_thread")


@st.composite
def panels(draw):
    """A random panel (or plain series) and its frequency."""
    freq = draw(st.sampled_from(FREQS))
    n_instances = draw(st.integers(1, 4))
    plain = n_instances == 1 and draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    level = draw(st.sampled_from([0.0, 1.0, 100.0, 1e6]))
    integer = draw(st.booleans())
    frames = {}
    for i in range(n_instances):
        n = draw(st.integers(1, 60))
        offset = draw(st.integers(0, 5))
        nan_fraction = draw(st.sampled_from([0.0, 0.0, 0.0, 0.1, 0.3, 0.6, 1.0]))
        values = level + rng.normal(0, 1 + level / 10, n)
        if integer:
            values = np.round(values)
        values[rng.random(n) < nan_fraction] = np.nan
        if freq is None:
            index = (
                pd.RangeIndex(offset, offset + n)
                if plain
                else pd.Index(np.arange(offset, offset + n))
            )
        else:
            start = pd.Timestamp("2020-01-06") if freq != "MS" else "2020-01-01"
            index = pd.date_range(start, periods=n + offset, freq=freq)[offset:]
        frames[f"s{i}"] = pd.DataFrame({"y": values}, index=index)
    if plain:
        return frames["s0"], freq
    return pd.concat(frames, names=["instance", "time"]), freq


@st.composite
def params(draw):
    return dict(
        context_length=draw(st.sampled_from([None, 1, 4, 12])),
        prediction_length=draw(st.sampled_from([None, 1, 3])),
        d_model=8,
        n_heads=2,
        n_layers=1,
        kernel_size=draw(st.sampled_from([1, 3])),
        attention=draw(st.sampled_from(["logsparse", "full", "local_restart"])),
        likelihood=draw(st.sampled_from(["gaussian", "student_t"])),
        lags=draw(st.sampled_from(["auto", None, [2]])),
        early_stopping_patience=draw(st.sampled_from([None, 2])),
        max_epochs=1,
        batch_size=4,
        windows_per_epoch=4,
        num_samples=4,
        device="cpu",
        random_state=draw(st.integers(0, 100)),
    )


def _expected_index(y, freq, fh):
    """Each instance forecast from its own last point, at the relative steps."""

    def future(times):
        last = times[-1]
        if freq is None:
            return pd.Index([last + k for k in fh])
        grid = pd.date_range(last, periods=max(fh) + 1, freq=freq)
        return pd.DatetimeIndex([grid[k] for k in fh])

    if not isinstance(y.index, pd.MultiIndex):
        return future(y.index)
    parts = []
    for key, part in y.groupby(level=0, sort=True):
        times = future(part.index.get_level_values(-1))
        arrays = [[key] * len(times), times]
        parts.append(pd.MultiIndex.from_arrays(arrays, names=y.index.names))
    return parts[0].append(parts[1:]) if len(parts) > 1 else parts[0]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    data=panels(),
    params=params(),
    fh=st.lists(st.integers(1, 5), min_size=1, max_size=3, unique=True).map(sorted),
)
def test_random_panels_work_or_fail_clearly(data, params, fh):
    y, freq = data
    f = LogSparseTransformerForecaster(**params)
    try:
        f.fit(y, fh=fh)
    except (ValueError, TypeError) as err:
        assert EXPECTED_ERRORS.search(str(err)), repr(err)
        event(f"clear error: {EXPECTED_ERRORS.search(str(err)).group(0)}")
        return
    event("fitted")
    expected = _expected_index(y, freq, fh)
    pred = f.predict()
    assert list(pred.index) == list(expected)
    assert list(pred.columns) == ["y"]
    assert np.isfinite(pred.to_numpy()).all()
    q = f.predict_quantiles(alpha=[0.1, 0.5, 0.9])
    assert list(q.index) == list(expected)
    values = q.to_numpy()
    assert np.isfinite(values).all()
    assert (np.diff(values, axis=1) >= 0).all()
