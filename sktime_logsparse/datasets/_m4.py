"""Loader for the M4 competition's Hourly data set, shipped with the package.

The bundled file ``data/m4_hourly.tsf.gz`` is the gzip of the Hourly set in the
``.tsf`` layout: one series per line, ``T<i>:<YYYY-MM-DD HH-MM-SS>:v1,v2,...``,
train and test together, with the real start timestamp of every series. Series
``T<i>`` is the competition's ``H<i>``; its last :data:`HORIZON` values are the
competition's test set, the rest its training set.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from numbers import Integral
from typing import NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "HORIZON",
    "SEASONALITY",
    "load_m4_hourly",
    "load_m4_hourly_split",
]

HORIZON = 48
"""Forecast horizon of M4 Hourly: the last 48 points of each series are the test."""

SEASONALITY = 24
"""Seasonal period of M4 Hourly (daily cycle), e.g. for seasonal-naive or MASE."""

_DATA_FILE = "m4_hourly.tsf.gz"
_SPLITS = ("train", "test", "full")
_NAME_RE = re.compile(r"[A-Za-z]*(\d+)")
_ONE_HOUR = np.timedelta64(1, "h")


class _M4Arrays(NamedTuple):
    """Parsed M4 Hourly file: all series concatenated, in file order (H1, H2, ...)."""

    ids: tuple[str, ...]  # "H1", "H2", ...
    starts: np.ndarray  # datetime64[ns], first timestamp of each series
    lengths: np.ndarray  # int64, full length (train + test) of each series
    offsets: np.ndarray  # int64, position of each series' first value in `values`
    values: np.ndarray  # float64, every series back to back (read-only)


def _read_text() -> str:
    """Return the decompressed text of the bundled tsf file."""
    ref = resources.files(__package__) / "data" / _DATA_FILE
    return gzip.decompress(ref.read_bytes()).decode("ascii")


def _parse_tsf(text: str) -> _M4Arrays:
    """Parse ``name:start:v1,v2,...`` lines into flat numpy arrays.

    Lines that are blank or start with ``@`` or ``#`` (tsf header and comments)
    are skipped. Series names ``T<i>`` become the competition ids ``H<i>``.
    """
    ids, starts, chunks = [], [], []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "@#":
            continue
        name, start, vals = line.split(":", 2)
        match = _NAME_RE.fullmatch(name)
        if match is None:
            raise ValueError(f"unexpected series name {name!r} in the M4 file")
        ids.append(f"H{match.group(1)}")
        starts.append(start)
        chunks.append(vals)
    lengths = np.array([c.count(",") + 1 for c in chunks], dtype=np.int64)
    # one split and one conversion for all values: no per-series numpy calls
    values = np.array(",".join(chunks).split(","), dtype=np.float64)
    if values.size != lengths.sum():  # pragma: no cover - guards the bundled file
        raise ValueError("malformed M4 file: value counts do not add up")
    start_ts = pd.to_datetime(pd.Series(starts), format="%Y-%m-%d %H-%M-%S")
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    arrays = _M4Arrays(
        ids=tuple(ids),
        starts=start_ts.to_numpy(dtype="datetime64[ns]"),
        lengths=lengths,
        offsets=offsets,
        values=values,
    )
    for arr in arrays[1:]:
        arr.setflags(write=False)  # the cached arrays are shared: keep them intact
    return arrays


@lru_cache(maxsize=1)
def _load_arrays() -> _M4Arrays:
    """Read and parse the bundled file once per process."""
    return _parse_tsf(_read_text())


def _select(series: int | str | Iterable[str] | None, ids: tuple[str, ...]) -> list:
    """Return the positions of the requested series, validating ``series``."""
    n_all = len(ids)
    if series is None:
        return list(range(n_all))
    if isinstance(series, bool):
        raise ValueError("`series` must be None, an int or a list of ids, not a bool")
    if isinstance(series, Integral):
        if not 1 <= series <= n_all:
            raise ValueError(
                f"`series` as an int is the number of series to load and must be "
                f"in [1, {n_all}], got {series}"
            )
        return list(range(int(series)))
    if isinstance(series, str):
        series = [series]
    requested = list(series)
    if not requested:
        raise ValueError("`series` is an empty list; pass None to load every series")
    position = {sid: i for i, sid in enumerate(ids)}
    unknown = [s for s in requested if s not in position]
    if unknown:
        raise ValueError(
            f"unknown M4 Hourly series id(s) {unknown[:10]}; ids are "
            f"'H1' ... 'H{n_all}'"
        )
    if len(set(requested)) != len(requested):
        raise ValueError(f"`series` contains duplicate ids: {requested}")
    return [position[s] for s in requested]


def load_m4_hourly(
    split: str = "train",
    series: int | str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Load the M4 Hourly series as an sktime ``pd-multiindex`` panel.

    The 414 hourly series of the M4 competition (Makridakis et al., 2018), with
    their real start timestamps. Series have different starts and lengths (748 to
    1008 points, train and test together); the last :data:`HORIZON` = 48 points
    of each are the competition's test set.

    Parameters
    ----------
    split : {"train", "test", "full"}, default="train"
        Which part of each series to return: ``"train"`` (all but the last 48
        points, 700 to 960 per series), ``"test"`` (the last 48 points) or
        ``"full"`` (train followed by test).
    series : int, str, list of str or None, default=None
        Which series to return. ``None`` for all 414; an int ``n`` for the first
        ``n`` (``"H1"`` to ``"H<n>"``); an id such as ``"H7"`` or a list of ids,
        returned in the order given.

    Returns
    -------
    pd.DataFrame
        A frame with one float column ``"value"`` and a two-level row
        ``MultiIndex`` named ``("instances", "timepoints")``: the series id
        (``"H1"``, ...) and its hourly ``datetime64[ns]`` timestamps. Rows are
        grouped by series, in ``H1, H2, ...`` order (or the order of ``series``),
        and in time order within each series. Every call returns a new frame that
        the caller may modify.

    Raises
    ------
    ValueError
        If ``split`` is not one of the above, or ``series`` is out of range,
        empty, duplicated or names an unknown id.

    See Also
    --------
    load_m4_hourly_split : train and test panels in one call.

    Notes
    -----
    The bundled file is read and parsed once per process and kept in memory.
    The timepoints level of a ``MultiIndex`` carries no ``freq``; per series
    the timestamps are exactly one hour apart, so ``freq="h"`` may be set on
    ``y.loc["H1"].index`` (or ``pd.infer_freq`` it) where a single series
    needs it.

    Examples
    --------
    >>> from sktime_logsparse.datasets import load_m4_hourly
    >>> y = load_m4_hourly(series=["H1", "H2"])
    >>> y.shape
    (1400, 1)
    >>> y.index[0]
    ('H1', Timestamp('2015-07-01 12:00:00'))
    >>> load_m4_hourly("test", series=1)["value"].head(3).tolist()
    [619.0, 565.0, 532.0]
    """
    if split not in _SPLITS:
        raise ValueError(f"`split` must be one of {_SPLITS}, got {split!r}")
    data = _load_arrays()
    sel = np.asarray(_select(series, data.ids), dtype=np.int64)

    lengths = data.lengths[sel]
    # first position (within each series) and length of the requested segment
    if split == "full":
        first, n = np.zeros_like(lengths), lengths
    elif split == "train":
        first, n = np.zeros_like(lengths), lengths - HORIZON
    else:
        first, n = lengths - HORIZON, np.full_like(lengths, HORIZON)

    # position within its series of every returned row, then in `values`
    seg_start = np.concatenate([[0], np.cumsum(n)[:-1]])
    step = np.arange(n.sum(), dtype=np.int64) - np.repeat(seg_start, n)
    in_series = np.repeat(first, n) + step
    values = data.values[np.repeat(data.offsets[sel], n) + in_series]  # a copy

    timepoints = np.repeat(data.starts[sel], n) + in_series * _ONE_HOUR
    instances = np.repeat(np.asarray(data.ids, dtype=object)[sel], n)
    index = pd.MultiIndex.from_arrays(
        [instances, pd.DatetimeIndex(timepoints)], names=["instances", "timepoints"]
    )
    return pd.DataFrame({"value": values}, index=index)


def load_m4_hourly_split(
    series: int | str | Iterable[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Load the M4 Hourly train and test panels together.

    Equivalent to ``(load_m4_hourly("train", series), load_m4_hourly("test",
    series))``. Each test series starts one hour after its training series ends,
    so a relative horizon ``np.arange(1, HORIZON + 1)`` forecasts exactly
    ``y_test``.

    Parameters
    ----------
    series : int, str, list of str or None, default=None
        Which series to return, as in :func:`load_m4_hourly`.

    Returns
    -------
    y_train : pd.DataFrame
        The training panel, ``pd-multiindex`` as in :func:`load_m4_hourly`.
    y_test : pd.DataFrame
        The test panel: the next :data:`HORIZON` = 48 hours of each series.

    Raises
    ------
    ValueError
        If ``series`` is invalid, as in :func:`load_m4_hourly`.

    Examples
    --------
    >>> from sktime_logsparse.datasets import HORIZON, load_m4_hourly_split
    >>> y_train, y_test = load_m4_hourly_split(series=3)
    >>> y_test.groupby(level="instances").size().tolist() == [HORIZON] * 3
    True
    >>> y_train.loc["H1"].index[-1], y_test.loc["H1"].index[0]
    (Timestamp('2015-07-30 15:00:00'), Timestamp('2015-07-30 16:00:00'))
    """
    return load_m4_hourly("train", series), load_m4_hourly("test", series)
