"""The compiled path of the sparse kernel (``nn._compiled``) and its fallback.

The compiled kernels are checked against the dense oracle (outputs and
gradients), with and without dropout against the eager kernel, and the
fallback to the eager kernel where compiling fails.
"""

from __future__ import annotations

import logging

import pytest
import torch

from sktime_logsparse.nn import _compiled, dense_reference_attention, make_pattern
from sktime_logsparse.nn import sparse_attention as attend


@pytest.fixture
def fresh(monkeypatch):
    """A clean compiled-kernel state, restored after the test."""
    monkeypatch.setattr(_compiled, "_failed", False)
    return monkeypatch


def qkv(length: int, seed: int = 0, d: int = 8):
    gen = torch.Generator().manual_seed(seed)
    shape = (2, 2, length, d)
    return tuple(torch.randn(shape, generator=gen).requires_grad_() for _ in range(3))


def out_and_grads(q, k, v, pattern, dropout_p=0.0, upstream=None):
    out = attend(q, k, v, pattern, dropout_p=dropout_p)
    upstream = torch.ones_like(out) if upstream is None else upstream
    grads = torch.autograd.grad(out, (q, k, v), upstream)
    return out, grads


LENGTH = 50  # one shape for every test: compiled once


def test_compiled_kernel_matches_the_dense_oracle(fresh):
    fresh.setenv(_compiled.ENV, "always")
    length = LENGTH
    pattern = make_pattern("local_restart", length)
    q, k, v = qkv(length)
    upstream = torch.randn(2, 2, length, 8)
    out, grads = out_and_grads(q, k, v, pattern, upstream=upstream)
    assert not _compiled._failed and _compiled._kernels  # it did compile
    ref = dense_reference_attention(q, k, v, pattern)
    ref_grads = torch.autograd.grad(ref, (q, k, v), upstream)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    for got, want in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_compiled_dropout_draws_the_eager_mask(fresh):
    length = LENGTH
    pattern = make_pattern("local_restart", length)
    q, k, v = qkv(length, seed=1)
    results = {}
    for mode in ("never", "always"):
        fresh.setenv(_compiled.ENV, mode)
        torch.manual_seed(3)
        results[mode] = out_and_grads(q, k, v, pattern, dropout_p=0.3)[0]
    assert not _compiled._failed
    torch.testing.assert_close(results["always"], results["never"])


def test_a_failed_compile_falls_back_to_the_eager_kernel(fresh, caplog):
    def broken(fn, **kwargs):
        def run(*args):
            raise RuntimeError("no C++ compiler")

        return run

    fresh.setattr(_compiled.torch, "compile", broken)
    fresh.setattr(_compiled, "_kernels", {})
    fresh.setenv(_compiled.ENV, "always")
    pattern = make_pattern("logsparse", 20)
    q, k, v = qkv(20)
    with caplog.at_level(logging.WARNING, logger=_compiled.__name__):
        out = attend(q, k, v, pattern)
    assert "eager kernel" in caplog.text and "no C++ compiler" in caplog.text
    assert _compiled._failed
    fresh.setenv(_compiled.ENV, "never")
    torch.testing.assert_close(out, attend(q, k, v, pattern))
    # never tried again in this process
    fresh.setenv(_compiled.ENV, "always")
    assert not _compiled.wanted(q, 20)


def test_when_the_compiled_path_is_taken(fresh):
    q = torch.zeros(1, 1, 4, 2, requires_grad=True)
    frozen = q.detach()
    fresh.delenv(_compiled.ENV, raising=False)
    assert _compiled.compile_mode() == "auto"
    assert _compiled.wanted(q, _compiled.MIN_LENGTH)
    assert not _compiled.wanted(q, _compiled.MIN_LENGTH - 1)
    assert not _compiled.wanted(frozen, _compiled.MIN_LENGTH)  # no gradient
    fresh.setenv(_compiled.ENV, "always")
    assert _compiled.wanted(q, 4)
    fresh.setenv(_compiled.ENV, "never")
    assert not _compiled.wanted(q, 10**6)


def test_a_bad_mode_names_the_variable(fresh):
    fresh.setenv(_compiled.ENV, "sometimes")
    with pytest.raises(ValueError, match="SKTIME_LOGSPARSE_COMPILE must be one of"):
        _compiled.compile_mode()
