"""sktime containers to instances and back (pandas and numpy, no torch).

sktime hands the forecaster a ``pd.DataFrame`` (one instance, possibly several
columns), a ``pd-multiindex`` panel or a ``pd_multiindex_hier`` hierarchy. All
are split here into *instances* (one time index each, put on the regular grid
of the panel's time axis); every (instance, column) pair is one series of the
global model, and an instance's covariates (calendar, age, exogenous ``X``)
are shared by its columns.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._checks import grid_steps, strictly_sorted
from ._time_axis import TimeAxis


@dataclass
class Instance:
    """One instance of a panel.

    Attributes
    ----------
    key : tuple
        Values of the instance levels; ``()`` for a plain series.
    index : pd.Index
        Its time points, ascending.
    values : np.ndarray
        shape: ``(T, n_columns)``, float64; NaN where missing.
    exog : np.ndarray or None
        shape: ``(T, n_exog)``, float64; the raw exogenous columns.
    """

    key: tuple
    index: pd.Index
    values: np.ndarray
    exog: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.index)


def instance_levels(y: pd.DataFrame) -> list:
    """Names of the instance levels of ``y`` (empty for a plain series)."""
    if isinstance(y.index, pd.MultiIndex):
        return list(y.index.names[:-1])
    return []


def split_instances(y: pd.DataFrame, X: pd.DataFrame | None = None) -> list[Instance]:
    """Split ``y`` (and its ``X``, on the same index) into instances.

    A panel without ``X`` whose index is sorted (instances, then time) is cut
    at the instance boundaries in one pass (:func:`_split_sorted`); others
    are grouped instance by instance. Both give the same instances.
    """
    if not isinstance(y.index, pd.MultiIndex):
        return [_instance((), y, X)]
    if X is None and strictly_sorted(y.index):
        return _split_sorted(y)
    levels = list(range(y.index.nlevels - 1))
    out = []
    for key, part in y.groupby(level=levels, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        x_part = None if X is None else X.loc[part.index]
        out.append(_instance(key, part.droplevel(levels), x_part, levels))
    return out


def _split_sorted(y: pd.DataFrame) -> list[Instance]:
    """The instances of ``y``, whose index strictly increases (:func:`strictly_sorted`).

    Each instance's rows are consecutive: its values are a slice of one
    float64 copy of ``y``, its time index what ``droplevel`` gives on its
    rows (the time level taken at their codes), its key the values of the
    instance levels, as grouping gives them.
    """
    index = y.index
    n = index.nlevels - 1
    first = np.zeros(len(index), dtype=bool)
    first[:1] = True
    for codes in index.codes[:n]:
        first[1:] |= codes[1:] != codes[:-1]
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], len(index))
    keys = zip(
        *(index.levels[i].take(index.codes[i][starts]).tolist() for i in range(n)),
        strict=True,
    )
    values = y.to_numpy(dtype=np.float64, copy=True)
    times, codes, name = index.levels[-1], index.codes[-1], index.names[-1]
    out = []
    for key, a, b in zip(keys, starts, ends, strict=True):
        time = times.take(codes[a:b])
        time.name = name
        out.append(Instance(key, time, values[a:b]))
    return out


def _instance(key, y, X, levels=None) -> Instance:
    exog = None
    if X is not None:
        if levels is not None and isinstance(X.index, pd.MultiIndex):
            X = X.droplevel(levels)
        exog = X.to_numpy(dtype=np.float64)
    return Instance(key, y.index, y.to_numpy(dtype=np.float64), exog)


def exog_for(X: pd.DataFrame, key: tuple, n_levels: int) -> pd.DataFrame:
    """Rows of ``X`` that belong to instance ``key`` (time index only)."""
    if n_levels == 0 or not isinstance(X.index, pd.MultiIndex):
        return X
    try:
        part = X.xs(key, level=list(range(n_levels)), drop_level=True)
    except KeyError:
        return X.iloc[:0].droplevel(list(range(n_levels)))
    return part


@dataclass
class ExogScaler:
    """Standardise exogenous columns with statistics of the fit data."""

    columns: list
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X: pd.DataFrame) -> ExogScaler:
        """Column means and standard deviations (NaN-aware; 1 where constant)."""
        values = X.to_numpy(dtype=np.float64)
        with np.errstate(all="ignore"):
            mean = np.nan_to_num(np.nanmean(values, axis=0)) if len(values) else 0
            std = np.nan_to_num(np.nanstd(values, axis=0)) if len(values) else 1
        std = np.where(std > 0, std, 1.0)
        return cls(list(X.columns), np.asarray(mean), np.asarray(std))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Standardise; NaN becomes the column mean (0)."""
        return np.nan_to_num((values - self.mean) / self.std).astype(np.float32)


#: series whose mean magnitude exceeds this are rescaled (see :func:`magnitudes`)
LARGE = 1e8


def magnitudes(values: np.ndarray, integer_data: bool) -> np.ndarray:
    """Power-of-ten factors that bring a series to order one before float32.

    The values are held in float64; the network computes in float32, whose
    range ends near 3e38 (and whose squares overflow from 2e19). A series
    whose ``mean |z|`` is below 1 (1e-9, say: DeepAR's scale ``1 + mean |z|``
    would then hide its variation) or above :data:`LARGE` is divided by
    ``10 ** floor(log10(mean |z|))`` here, in float64, so that the network
    sees values of order one to ten; its sample paths are multiplied back.
    Other series, series without observed values, and counts
    (``integer_data``) keep the factor 1.

    Parameters
    ----------
    values : np.ndarray
        shape: ``(T, n_columns)``; one instance's series, NaN where missing.
    integer_data : bool
        Whether the likelihood models counts, which must stay integers.

    Returns
    -------
    np.ndarray
        shape: ``(n_columns,)``, float64 powers of ten.
    """
    factors = np.ones(values.shape[1])
    if integer_data or not len(values):
        return factors
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN series
        # mean |z| as max * mean(|z| / max): no overflow near 1e308
        top = np.nanmax(np.abs(values), axis=0)
        level = top * np.nanmean(np.abs(values) / top, axis=0)
    rescale = np.isfinite(level) & (level > 0) & ((level < 1) | (level > LARGE))
    factors[rescale] = 10.0 ** np.floor(np.log10(level[rescale]))
    return factors


def regularise(axis: TimeAxis, inst: Instance) -> Instance:
    """Put an instance on the regular grid of ``axis`` (gaps become NaN)."""
    first = inst.index[0]
    n = grid_steps(axis, first, inst.index[-1], inst.key)
    if n + 1 == len(inst):
        return inst
    grid = inst.index[:1].append(axis.future(first, n))
    rows = grid.get_indexer(inst.index)
    if (rows < 0).any():
        raise ValueError(
            "the time index of y has points off the grid of its frequency "
            f"{axis.freq!r}, e.g. {inst.index[rows < 0][0]!r}"
        )
    values = np.full((len(grid), inst.values.shape[1]), np.nan)
    values[rows] = inst.values
    exog = None
    if inst.exog is not None:
        exog = np.full((len(grid), inst.exog.shape[1]), np.nan)
        exog[rows] = inst.exog
    return Instance(inst.key, grid, values, exog)


def extend(axis: TimeAxis, old: Instance, new: Instance) -> Instance:
    """Append the points of ``new`` after the end of ``old``."""
    later = new.index > old.index[-1]
    if not later.any():
        return old
    index = old.index.append(new.index[later])
    values = np.concatenate([old.values, new.values[later]])
    exog = None
    if old.exog is not None and new.exog is not None:
        exog = np.concatenate([old.exog, new.exog[later]])
    return regularise(axis, Instance(old.key, index, values, exog))


def series_keys(instances: list[Instance], columns) -> list[tuple]:
    """The key ``(instance key, column)`` of every series, in model order."""
    return [(inst.key, col) for inst in instances for col in columns]
