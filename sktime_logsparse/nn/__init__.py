"""Tensor side of sktime-logsparse: attention patterns, kernels, network, likelihoods.

Nothing in this subpackage imports pandas or sktime.
"""

from ._attention import ConvSelfAttention, dense_reference_attention, sparse_attention
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
from ._scaling import mean_abs_scale, standard_scale

__all__ = [
    "KINDS",
    "LIKELIHOODS",
    "AttentionPattern",
    "Block",
    "ConvSelfAttention",
    "GaussianLikelihood",
    "Likelihood",
    "LogSparseConfig",
    "LogSparseTransformer",
    "NegativeBinomialLikelihood",
    "StudentTLikelihood",
    "dense_reference_attention",
    "get_likelihood",
    "make_pattern",
    "mean_abs_scale",
    "standard_scale",
    "sparse_attention",
]
