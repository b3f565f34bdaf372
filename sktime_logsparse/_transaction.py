"""All or nothing: a ``fit`` or ``update`` that fails leaves the forecaster as it was.

sktime's ``update`` moves the cutoff before the forecaster sees the data, and
``fit`` resets the fitted state first; an error (bad data, a diverged run,
Ctrl-C) would then leave a forecaster that predicts from the wrong time point,
or none at all. :func:`atomic` snapshots the instance's attributes, with
private copies of the objects the method mutates in place, and puts them
back on any exception (``KeyboardInterrupt`` included) before re-raising it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def atomic(obj: Any, mutated: tuple[str, ...] = ()) -> Iterator[None]:
    """Restore ``obj``'s attributes if the block raises.

    Parameters
    ----------
    obj : object
        The forecaster.
    mutated : tuple of str
        Attributes whose objects the block changes in place (rather than
        replacing them): they are copied first (``copy()`` if they have one,
        deeply), and the copies are what a failure restores.
    """
    saved = dict(vars(obj))
    for name in mutated:
        value = saved.get(name)
        if value is not None:
            saved[name] = copy.deepcopy(value)
    try:
        yield
    except BaseException:
        vars(obj).clear()
        vars(obj).update(saved)
        raise
