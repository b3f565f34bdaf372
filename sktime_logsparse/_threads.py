"""How many CPU threads ``fit`` and ``predict`` use: one policy, set per call.

A forecaster's ``n_threads`` is resolved by :func:`resolve_threads` and set by
:func:`limit_threads` for the duration of a call (torch's intra-op threads and
the BLAS pool numpy uses), then restored, also when the call raises:

* an int >= 1 is used as given;
* None (the default): the count the user chose, if any (:func:`user_threads`:
  a ``torch.set_num_threads`` call made after this package was imported, else
  the ``OMP_NUM_THREADS`` environment variable, which joblib's ``loky``
  workers get), else :data:`DEFAULT_THREADS`.

Training (``fit``, ``update``, ``pretrain``) runs torch with that many
intra-op threads; the default is 1. ``predict`` decodes batches of series in
that many threads of one intra-op thread each (the sampler runs
``torch.get_num_threads()`` workers, see :class:`._sampling.SamplerSettings`),
never more threads than series (:func:`predict_threads`); the default is
``min(2, cores)``.

Parallel workers (sktime's grid searches and backtests with a ``backend``)
get their count from the backend: joblib's ``"loky"`` sets
``OMP_NUM_THREADS`` in its workers to the cores divided by the workers
(unless the parent's environment sets it), dask's nanny (``distributed``)
sets it to 1 and ray to the CPUs of a task (1 by default), so that fits and
predicts there use at most cores / workers threads per worker. joblib's
``"multiprocessing"`` and ``"threading"`` backends and dask's threaded
scheduler set nothing: each fit still trains on one thread, and each predict
decodes in ``min(2, cores)`` threads, up to two per core in all. That costs
little: two processes predicting at once on 2 cores took about 14% longer
with two decoding threads each than with one (``benchmarks/tuning.py``, part
(b)); the docs advise ``n_threads=1`` with those backends.

Why (measured by ``benchmarks/threads.py``; the figures of record are on
``docs/benchmarks/threads.md``): decoding is thousands of tiny operations, and
a training step of these small networks is many small ones. Split across
intra-op threads, each operation ends with a wait for the slowest thread,
which stalls whenever another process holds a core: a second intra-op thread
can at best halve a fit on 2 cores, and it cost several times that beside
other work, so training defaults to one. Separate decoding threads of one
intra-op thread each do not wait on each other per operation, so predict
keeps two. Torch's own default, one intra-op thread per physical core, is far
beyond what networks of this size use.

The default depends only on the cores this process may run on, never on the
load: the same call gives the same numbers. Sample paths do not depend on the
thread count (one intra-op thread per decoding thread, one generator per
series), but training can: reductions split across threads add in another
order. So ``random_state`` repeats results exactly for a fixed ``n_threads``.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import os
import threading
from collections.abc import Iterator

import torch
from threadpoolctl import ThreadpoolController

#: torch's intra-op thread count when this package was imported: a different
#: count later means the user called ``torch.set_num_threads``
IMPORT_THREADS = torch.get_num_threads()


def _cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: threads of a call when neither ``n_threads`` nor the user chose a count:
#: intra-op threads of training, decoding threads of sampling (module docstring)
DEFAULT_THREADS = {"fit": 1, "predict": min(2, _cores())}


def check_threads(n_threads) -> None:
    """Raise a ``TypeError``/``ValueError`` naming ``n_threads`` if it is invalid."""
    if n_threads is None:
        return
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be an int >= 1 or None, got {n_threads!r}")
    if n_threads < 1:
        raise ValueError(f"n_threads must be an int >= 1 or None, got {n_threads!r}")


def _env_threads() -> int | None:
    """``OMP_NUM_THREADS`` as an int >= 1 (its first level); None if unset or bad."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    try:
        count = int(value)
    except ValueError:
        return None
    return count if count >= 1 else None


def user_threads() -> int | None:
    """The thread count the user chose, or None if they chose none.

    A ``torch.set_num_threads`` call since this package was imported (the
    count outside any call of a forecaster differs from
    :data:`IMPORT_THREADS`) wins; else ``OMP_NUM_THREADS`` if it is set.
    """
    with _lock:
        outside = _state.outside if _state.depth else process_threads()
    if outside != IMPORT_THREADS:
        return outside
    return _env_threads()


def resolve_threads(n_threads: int | None, task: str = "fit") -> int:
    """Threads of a call: ``n_threads``, else the user's count, else the default.

    ``task`` is ``"fit"`` (training: ``fit``, ``update``, ``pretrain``) or
    ``"predict"``, whose defaults differ (:data:`DEFAULT_THREADS`).

    Raises
    ------
    TypeError, ValueError
        If ``n_threads`` is not None or an int >= 1.
    """
    check_threads(n_threads)
    if n_threads is not None:
        return int(n_threads)
    chosen = user_threads()
    return DEFAULT_THREADS[task] if chosen is None else chosen


def predict_threads(n_threads: int | None, n_series: int) -> int:
    """Decoding threads of a predict of ``n_series`` series: at most one per series."""
    return max(1, min(resolve_threads(n_threads, "predict"), n_series))


def process_threads() -> int:
    """Torch's process-wide intra-op count: what a thread started now gets.

    ``torch.get_num_threads()`` answers for the calling thread, whose count
    can be stale (a worker thread started while a call had set another count
    keeps it); a new thread reads the process-wide setting when it starts.
    """
    seen: list[int] = []
    probe = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    probe.start()
    probe.join()
    return seen[0]


class _State:
    """Calls in progress (in any thread) and the counts outside all of them."""

    depth = 0
    outside = 0  # torch's count before the outermost call
    outside_blas = None  # the limiter of the outermost call: restores the BLAS pool


_state = _State()
_lock = threading.Lock()
_controller: ThreadpoolController | None = None


def _blas() -> ThreadpoolController:
    """The BLAS libraries loaded (numpy's), found once (it reads every library)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


@contextlib.contextmanager
def limit_threads(n: int) -> Iterator[int]:
    """Run the block with ``n`` torch intra-op threads and ``n`` BLAS threads.

    Both counts are restored afterwards, also on an exception. The counts are
    process-wide: calls in several threads at once share them, and the counts
    from before the first of them are restored when the last one ends.
    """
    with _lock:
        if _state.depth == 0:
            _state.outside = process_threads()
        before = torch.get_num_threads()
        blas = _blas().limit(limits=n)
        if _state.depth == 0:
            _state.outside_blas = blas
        _state.depth += 1
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        with _lock:
            _state.depth -= 1
            if _state.depth == 0:
                torch.set_num_threads(_state.outside)
                _state.outside_blas.restore_original_limits()
                _state.outside_blas = None
            else:  # a call still runs: back to the count before this one
                torch.set_num_threads(before)
                blas.restore_original_limits()


def threads_for(forecaster, n_series: int | None = None):
    """:func:`limit_threads` for a call of ``forecaster`` (its ``n_threads``).

    Training without ``n_series``; a predict of ``n_series`` series with it
    (:func:`predict_threads`).
    """
    n_threads = getattr(forecaster, "n_threads", None)  # None in older pickles
    if n_series is None:
        return limit_threads(resolve_threads(n_threads, "fit"))
    return limit_threads(predict_threads(n_threads, n_series))


class CallLock:
    """A re-entrant lock that copies and pickles as a new, unheld lock."""

    def __init__(self):
        self._lock = threading.RLock()

    def __enter__(self):
        return self._lock.__enter__()

    def __exit__(self, *exc):
        return self._lock.__exit__(*exc)

    def __getstate__(self):
        return {}

    def __setstate__(self, state):
        self.__init__()

    def __deepcopy__(self, memo):
        return CallLock()


def serialised(method):
    """``method`` of a forecaster, run under the instance's :class:`CallLock`.

    sktime's predict methods store the horizon on the instance (``_fh``) and
    read it back later in the same call; two threads predicting different
    horizons on one forecaster would read each other's. One call at a time
    per forecaster; calls on different forecasters still run in parallel.
    """

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with vars(self).setdefault("_call_lock", CallLock()):
            return method(self, *args, **kwargs)

    return call
