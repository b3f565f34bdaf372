"""sktime-logsparse: the convolutional LogSparse Transformer as an sktime forecaster."""

from .forecaster import LogSparseTransformerForecaster

__version__ = "0.1.0"

__all__ = ["LogSparseTransformerForecaster", "__version__"]
