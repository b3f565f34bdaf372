"""sktime-logsparse: the convolutional LogSparse Transformer as an sktime forecaster."""

__version__ = "0.1.0"
