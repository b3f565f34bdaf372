"""sktime's forecast outputs from one set of sample paths (pandas, no torch).

Point forecasts, variances, covariances, quantiles and the ``predict_proba``
distribution are all computed from the same paths, so they agree with each
other. Frames come back in the container type and instance order of the data
the forecaster was fitted on (as sktime's per-series forecasters do), so that
forecasts line up row by row with a test panel in that order.

Every output but the distribution is a :class:`Summary` of each instance's
paths on its own, so it can be computed a block of instances at a time
(:func:`summarise`) from paths that are never all held at once; the values
are those of the whole set, bit for bit. A panel's frame is assembled in one
piece, not from one frame per instance.
"""

from __future__ import annotations

import hashlib
import inspect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._calibration import widen


class InstancePaths(Sequence):
    """Per instance, its paths ``(columns, samples, steps)``, made when read.

    Built from the sampled values of a block of instances, float32 ``(S,
    samples, H)`` with the columns of each instance consecutive (model
    order). Instance ``i``'s paths are its values as float64, widened by the
    calibration ``factors`` (rounded with ``counts``, see
    :func:`._calibration.widen`), at its ``steps`` (1-based), times its
    magnitude ``factors``. Only the float32 samples are kept: half the
    memory of float64 paths, and the same values.
    """

    def __init__(
        self,
        samples: np.ndarray,
        steps: list[np.ndarray],
        factors: list[np.ndarray],
        calibration: np.ndarray | None = None,
        counts: bool = False,
    ):
        self.samples, self.steps, self.factors = samples, steps, factors
        self.calibration, self.counts = calibration, counts
        self.columns = len(samples) // max(1, len(steps))

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = int(i) + (len(self) if i < 0 else 0)
        if not 0 <= i < len(self):
            raise IndexError(f"instance {i} of {len(self)}")
        c = self.columns
        values = self.samples[i * c : (i + 1) * c].astype(np.float64)
        values = widen(values, self.calibration, self.counts)
        return values[:, :, self.steps[i] - 1] * self.factors[i][:, None, None]


@dataclass(frozen=True)
class Summary:
    """One output of the paths, computed for each instance on its own.

    ``kind`` is ``"mean"``, ``"median"``, ``"var"`` (divisor ``num_samples``),
    ``"cov"`` (covariances of the steps of each variable, with ``steps`` the
    relative steps of ``fh``) or ``"quantiles"`` (at ``alpha``, under
    sktime's ``columns``).
    """

    kind: str
    alpha: tuple[float, ...] = ()
    columns: Any = None
    steps: Any = None

    def of(self, p: np.ndarray) -> np.ndarray:
        """The values ``(steps, k)`` of one instance's paths ``p``."""
        if self.kind in ("mean", "median"):
            center = np.median if self.kind == "median" else np.mean
            return center(p, axis=1).T
        if self.kind == "var":
            return p.var(axis=1).T
        if self.kind == "cov":
            dev = p - p.mean(axis=1, keepdims=True)  # (columns, samples, steps)
            c = np.einsum("csi,csj->icj", dev, dev) / p.shape[1]
            return c.reshape(c.shape[0], -1)
        if self.kind == "quantiles":
            q = np.quantile(p, list(self.alpha), axis=1)  # (alpha, columns, steps)
            return q.transpose(2, 1, 0).reshape(q.shape[2], -1)
        raise ValueError(f"unknown summary {self.kind!r}")

    def labels(self, paths: SamplePaths):
        """The columns of the frame of ``paths`` (the metadata of every instance)."""
        if self.kind == "quantiles":
            return self.columns
        if self.kind != "cov":
            return paths.columns
        # the time level: the forecast time index (named as the rows' time
        # level) when every instance is forecast at the same time points,
        # else the relative steps of fh
        first = paths.indexes[0]
        shared = all(index.equals(first) for index in paths.indexes)
        times = first.rename(paths.time_name) if shared else self.steps
        return pd.MultiIndex.from_product([paths.columns, times])


@dataclass
class SamplePaths:
    """The sample paths of a forecast, per instance.

    Attributes
    ----------
    paths : sequence of np.ndarray
        Per instance, shape ``(columns, samples, steps)`` (a list, or
        :class:`InstancePaths`, which makes them when read).
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
        return self.summarise(Summary("median" if median else "mean"))

    def var(self) -> pd.DataFrame:
        """The variance at each step, with divisor ``num_samples``."""
        return self.summarise(Summary("var"))

    def cov(self, fh_steps: pd.Index) -> pd.DataFrame:
        """Covariances of the steps of each series, as sktime specifies.

        Rows are the forecast index, columns a ``(variable, time)``
        MultiIndex; entries are covariances within one variable and one
        instance. The time level of the columns is the forecast time index
        when every instance is forecast at the same time points, else the
        relative steps of ``fh`` (``fh_steps``).
        """
        return self.summarise(Summary("cov", steps=fh_steps))

    def quantiles(self, alpha: list[float], columns: pd.Index) -> pd.DataFrame:
        """Empirical quantiles ``alpha`` at each step, under sktime's ``columns``."""
        return self.summarise(Summary("quantiles", tuple(alpha), columns))

    def summarise(self, summary: Summary) -> pd.DataFrame:
        """The frame of ``summary`` of these paths."""
        return summarise([self], summary)

    def distribution(self, marginal: bool = True):
        """The empirical distribution of the paths (skpro ``Empirical``).

        Its index and columns are those of :meth:`point`. With
        ``marginal=False`` its samples are whole paths (joint over time).
        """
        from skpro.distributions.empirical import Empirical

        # the row of each (instance, step) in the index of the point forecast
        rows = np.arange(sum(len(index) for index in self.indexes))
        order = self.frame(rows[:, None], ["row"])
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

    def frame(self, values: np.ndarray, columns) -> pd.DataFrame:
        """``values`` under ``columns``, in the container type of ``y``.

        The rows of ``values`` are the steps of every instance, instance after
        instance; the index is the one that concatenating a frame per
        instance, keyed by the instance keys, gives (as sktime's per-series
        forecasters return panels), built in one piece.
        """
        index = panel_index(self.indexes, self.keys, self.level_names, self.time_name)
        return pd.DataFrame(values, index=index, columns=columns, copy=False)


def summarise(blocks: Iterable[SamplePaths], summary: Summary) -> pd.DataFrame:
    """The frame of ``summary`` over consecutive ``blocks`` of instances.

    Each block's paths are read once, summarised instance by instance and
    dropped: only the values of the frame are held, whatever the number of
    instances. The frame is that of the instances of all blocks as one
    :class:`SamplePaths`, value for value.
    """
    values, indexes, keys, meta = [], [], [], ()
    for block in blocks:
        stats = [summary.of(p) for p in block.paths]
        values.append(np.concatenate(stats) if len(stats) > 1 else stats[0])
        indexes += block.indexes
        keys += block.keys
        meta = (block.level_names, block.time_name, block.columns)
        del block, stats  # its paths go before the next block is sampled
    whole = SamplePaths([], indexes, keys, *meta)
    values = np.concatenate(values) if len(values) > 1 else values[0]
    return whole.frame(values, summary.labels(whole))


#: sampled values of a forecast (float32 bytes) up to which its paths are
#: drawn at once and kept for the next output (:class:`PathCache`); larger
#: forecasts are sampled and summarised a block of series at a time, once per
#: output (e.g. 100 paths of 48 steps: up to about 14,000 series are kept)
CACHE_BYTES = 256 * 2**20


class PathCache:
    """The sample paths of the last horizon predicted, and their key.

    The key is the cutoff, the horizon and ``X``, which is compared by a
    digest of its values, index and columns. A cache only: pickles and copies
    of it are empty, so that saved or cloned forecasters carry no paths.
    The forecaster keeps paths here only up to :data:`CACHE_BYTES`.

    Thread-safe: a lock makes concurrent calls on one forecaster take turns,
    so that each gets the paths of its own key (sampling also sets process
    state, torch's thread count and RNG, which must not interleave).
    """

    def __init__(self):
        self._entry: tuple | None = None
        self._lock = threading.Lock()

    def get(self, key: tuple, compute) -> SamplePaths:
        """The value for ``key``: cached, or ``compute()`` and kept."""
        key = self._digest(key)
        with self._lock:
            if self._entry is None or self._entry[0] != key:
                self._entry = None  # a failed compute leaves no stale value
                self._entry = (key, compute())
            return self._entry[1]

    def peek(self, key: tuple) -> SamplePaths | None:
        """The value kept for ``key``, or None (nothing is computed)."""
        key = self._digest(key)
        with self._lock:
            entry = self._entry
            return entry[1] if entry is not None and entry[0] == key else None

    @staticmethod
    def _digest(key: tuple) -> tuple:
        *head, X = key
        return (*head, None if X is None else _frame_hash(X))

    @property
    def value(self) -> SamplePaths | None:
        """The paths kept (None if none)."""
        entry = self._entry
        return None if entry is None else entry[1]

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.__init__()


def panel_index(
    indexes: list[pd.Index], keys: list[tuple], level_names: list, time_name: Any
) -> pd.Index:
    """The index of per-instance frames (``indexes``) concatenated under ``keys``.

    What ``pd.concat(frames, keys=keys, names=level_names)`` gives, with the
    time level named ``time_name``, without a frame per instance: pandas'
    own index builder where it is available, else the concatenation of one
    empty-valued Series per instance. A plain series (no ``level_names``)
    keeps its index.
    """
    renamed: dict[int, pd.Index] = {}  # instances often share one index object
    for index in indexes:
        if id(index) not in renamed:
            renamed[id(index)] = index.rename(time_name)
    named = [renamed[id(index)] for index in indexes]
    if not level_names:
        return named[0]
    if len(level_names) == 1:
        keys = [k[0] for k in keys]
    build = _concat_index_builder()
    if build is not None:
        try:
            return build(named, pd.Index(keys), None, list(level_names))
        except TypeError:  # pragma: no cover - another signature
            pass
    pieces = [pd.Series(np.zeros(len(index), np.int8), index=index) for index in named]
    return pd.concat(pieces, keys=keys, names=level_names).index


def _concat_index_builder():
    """The builder of the index of ``pd.concat(..., keys=)`` in pandas, or None."""
    try:
        from pandas.core.reshape.concat import _make_concat_multiindex
    except ImportError:  # pragma: no cover - another pandas
        return None
    return _make_concat_multiindex


def _frame_hash(X: pd.DataFrame) -> str:
    """A digest of the values, index and columns of ``X``."""
    rows = pd.util.hash_pandas_object(X, index=True).to_numpy()
    digest = hashlib.blake2b(rows.tobytes(), digest_size=16)
    digest.update(repr(list(X.columns)).encode())
    return digest.hexdigest()
