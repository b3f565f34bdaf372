"""Tensor side of sktime-logsparse: attention, network, decoding, likelihoods, scaling.

Nothing in this subpackage imports pandas or sktime.
"""

from ._attention import ConvSelfAttention, dense_reference_attention, sparse_attention
from ._decoding import KVCache, decode_positions, decode_step, prefill
from ._dropout import Dropout, dropout
from ._likelihoods import (
    LIKELIHOODS,
    GaussianLikelihood,
    Likelihood,
    NegativeBinomialLikelihood,
    StudentTLikelihood,
    get_likelihood,
)
from ._network import Block, LogSparseConfig, LogSparseTransformer
from ._pattern import KINDS, AttentionPattern, make_pattern
from ._scaling import (
    SCALINGS,
    MeanScaler,
    Scaler,
    StandardScaler,
    get_scaler,
    mean_abs_scale,
    standard_scale,
)

__all__ = [
    "KINDS",
    "LIKELIHOODS",
    "SCALINGS",
    "AttentionPattern",
    "Block",
    "ConvSelfAttention",
    "Dropout",
    "GaussianLikelihood",
    "KVCache",
    "Likelihood",
    "LogSparseConfig",
    "LogSparseTransformer",
    "MeanScaler",
    "NegativeBinomialLikelihood",
    "Scaler",
    "StandardScaler",
    "StudentTLikelihood",
    "decode_positions",
    "decode_step",
    "dense_reference_attention",
    "dropout",
    "get_likelihood",
    "get_scaler",
    "make_pattern",
    "mean_abs_scale",
    "prefill",
    "sparse_attention",
    "standard_scale",
]
