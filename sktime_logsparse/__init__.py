"""sktime-logsparse: the convolutional LogSparse Transformer as an sktime forecaster."""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = ["LogSparseTransformerForecaster", "__version__"]


def __getattr__(name: str):
    # lazy, so that ``sktime_logsparse.nn`` does not pay for importing sktime
    if name == "LogSparseTransformerForecaster":
        from .forecaster import LogSparseTransformerForecaster

        return LogSparseTransformerForecaster
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:  # for type checkers and the API reference; loaded lazily
    from .forecaster import LogSparseTransformerForecaster  # noqa: F401
