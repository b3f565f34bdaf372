"""sktime's forecast outputs from one set of sample paths (pandas, no torch).

Point forecasts, variances, covariances, quantiles and the ``predict_proba``
distribution are all computed from the same paths, so they agree with each
other. Frames come back in the container type and instance order of the data
the forecaster was fitted on (as sktime's per-series forecasters do), so that
forecasts line up row by row with a test panel in that order.
"""

from __future__ import annotations

import hashlib
import inspect
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class SamplePaths:
    """The sample paths of a forecast, per instance.

    Attributes
    ----------
    paths : list of np.ndarray
        Per instance, shape ``(columns, samples, steps)``.
    indexes : list of pd.Index
        Per instance, the time points of its steps.
    keys : list of tuple
        Instance keys, in the order of the fitted data (``()`` for a series).
    level_names : list
        Names of the instance levels (empty for a plain series).
    time_name : Any
        Name of the time level.
    columns : list
        The variables of ``y``.
    """

    paths: list[np.ndarray]
    indexes: list[pd.Index]
    keys: list[tuple]
    level_names: list
    time_name: Any
    columns: list

    def point(self, median: bool = False) -> pd.DataFrame:
        """The mean (or median) of the paths at each step."""
        center = np.median if median else np.mean
        return self._frames(lambda p: center(p, axis=1).T, self.columns)

    def var(self) -> pd.DataFrame:
        """The variance at each step, with divisor ``num_samples``."""
        return self._frames(lambda p: p.var(axis=1).T, self.columns)

    def cov(self, fh_steps: pd.Index) -> pd.DataFrame:
        """Covariances of the steps of each series, as sktime specifies.

        Rows are the forecast index, columns a ``(variable, time)``
        MultiIndex; entries are covariances within one variable and one
        instance. The time level of the columns is the forecast time index
        when every instance is forecast at the same time points, else the
        relative steps of ``fh`` (``fh_steps``).
        """
        shared = all(index.equals(self.indexes[0]) for index in self.indexes)
        times = self.indexes[0] if shared else fh_steps
        labels = pd.MultiIndex.from_product([self.columns, times])

        def cov(p):
            dev = p - p.mean(axis=1, keepdims=True)  # (columns, samples, steps)
            c = np.einsum("csi,csj->icj", dev, dev) / p.shape[1]
            return c.reshape(c.shape[0], -1)

        return self._frames(cov, labels)

    def quantiles(self, alpha: list[float], columns: pd.Index) -> pd.DataFrame:
        """Empirical quantiles ``alpha`` at each step, under sktime's ``columns``."""

        def quantile(p):
            q = np.quantile(p, alpha, axis=1)  # (alpha, columns, steps)
            return q.transpose(2, 1, 0).reshape(q.shape[2], -1)

        return self._frames(quantile, columns)

    def distribution(self, marginal: bool = True):
        """The empirical distribution of the paths (skpro ``Empirical``).

        Its index and columns are those of :meth:`point`. With
        ``marginal=False`` its samples are whole paths (joint over time).
        """
        from skpro.distributions.empirical import Empirical

        # the row of each (instance, step) in the index of the point forecast
        frames, start = [], 0
        for index in self.indexes:
            rows = np.arange(start, start + len(index))
            frames.append(pd.DataFrame({"row": rows}, index=index))
            start += len(index)
        order = self._assemble(frames)
        index = order.index
        # (samples, rows, columns), rows in the order of `index`
        values = np.concatenate([p.transpose(1, 2, 0) for p in self.paths], axis=1)
        values = values[:, order["row"].to_numpy()]
        n, m = values.shape[:2]
        every = np.tile(np.arange(m), n)
        spl_index = pd.MultiIndex.from_arrays(
            [np.repeat(np.arange(n), m)]
            + [index.get_level_values(i).take(every) for i in range(index.nlevels)],
            names=["sample", *index.names],
        )
        columns = pd.Index(self.columns)
        spl = pd.DataFrame(values.reshape(n * m, -1), spl_index, columns)
        lazy = {}
        if "skip_init_sorted" in inspect.signature(Empirical).parameters:
            # sorting every marginal up front takes seconds on large panels
            lazy["skip_init_sorted"] = True
        return Empirical(spl, time_indep=marginal, index=index, columns=columns, **lazy)

    def _frames(self, stat, columns) -> pd.DataFrame:
        """``stat(paths)`` of every instance, ``(steps, ...)``, as one frame."""
        frames = [
            pd.DataFrame(stat(p), index=index, columns=columns)
            for p, index in zip(self.paths, self.indexes, strict=True)
        ]
        return self._assemble(frames)

    def _assemble(self, frames: list[pd.DataFrame]) -> pd.DataFrame:
        """Stack per-instance frames into the container type of ``y``."""
        for frame in frames:
            frame.index.name = self.time_name
        if not self.level_names:
            return frames[0]
        keys = self.keys
        if len(self.level_names) == 1:
            keys = [k[0] for k in keys]
        return pd.concat(frames, keys=keys, names=self.level_names)


class PathCache:
    """The sample paths of the last horizon predicted, and their key.

    The key is the cutoff, the horizon and ``X``, which is compared by a
    digest of its values, index and columns. A cache only: pickles and copies
    of it are empty, so that saved or cloned forecasters carry no paths.

    Thread-safe: a lock makes concurrent calls on one forecaster take turns,
    so that each gets the paths of its own key (sampling also sets process
    state, torch's thread count and RNG, which must not interleave).
    """

    def __init__(self):
        self._entry: tuple | None = None
        self._lock = threading.Lock()

    def get(self, key: tuple, compute) -> SamplePaths:
        """The value for ``key``: cached, or ``compute()`` and kept."""
        *head, X = key
        key = (*head, None if X is None else _frame_hash(X))
        with self._lock:
            if self._entry is None or self._entry[0] != key:
                self._entry = None  # a failed compute leaves no stale value
                self._entry = (key, compute())
            return self._entry[1]

    @property
    def value(self) -> SamplePaths | None:
        """The paths kept (None if none)."""
        entry = self._entry
        return None if entry is None else entry[1]

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.__init__()


def _frame_hash(X: pd.DataFrame) -> str:
    """A digest of the values, index and columns of ``X``."""
    rows = pd.util.hash_pandas_object(X, index=True).to_numpy()
    digest = hashlib.blake2b(rows.tobytes(), digest_size=16)
    digest.update(repr(list(X.columns)).encode())
    return digest.hexdigest()
