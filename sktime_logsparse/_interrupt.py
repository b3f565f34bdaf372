"""Ctrl-C during training: the first stops it cleanly, the second aborts.

While :class:`GracefulInterrupt` is active (in the main thread, where Python
delivers signals, and only where Ctrl-C has its default behaviour), the first
SIGINT only sets :attr:`GracefulInterrupt.requested`: the training loop stops
after the step it is in and keeps the best weights so far, as Lightning does.
A second SIGINT raises ``KeyboardInterrupt`` as usual.
"""

from __future__ import annotations

import logging
import signal
import threading

logger = logging.getLogger(__name__)


class GracefulInterrupt:
    """Context manager turning the first Ctrl-C into a stop request."""

    def __init__(self) -> None:
        self.requested = False
        self._installed = False

    def __enter__(self) -> GracefulInterrupt:
        # only take over Ctrl-C where it would raise KeyboardInterrupt anyway:
        # not in other threads, not where the application set its own handler
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self._installed = False

    def _handle(self, signum, frame) -> None:
        if self.requested:
            self._restore()
            raise KeyboardInterrupt
        self.requested = True
        logger.warning(
            "Ctrl-C: training stops after the current step and keeps the best "
            "weights so far; press Ctrl-C again to abort"
        )
