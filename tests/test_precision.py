"""Mixed precision: ``trainer_kwargs["precision"]="bf16-mixed"`` (autocast to bfloat16).

The network computes its projections in bfloat16 in fit and predict, keeps its
head, the linear autoregression and the likelihood in float32, and the setting
lives only for the duration of a call (nothing of it is saved). The GPU tests
run where CUDA is present and skip elsewhere.
"""

import pickle

import numpy as np
import pytest
import torch
from conftest import TINY, series

from sktime_logsparse import LogSparseTransformerForecaster
from sktime_logsparse._model import GlobalModel, mixed_precision
from sktime_logsparse.nn import (
    LogSparseConfig,
    LogSparseTransformer,
    decode_step,
    prefill,
)

BF16 = {"trainer_kwargs": {"precision": "bf16-mixed"}}


def _network(ar_skip: bool = True) -> LogSparseTransformer:
    torch.manual_seed(0)
    config = LogSparseConfig(
        n_inputs=4, d_model=16, n_heads=2, max_length=32, ar_skip=ar_skip
    )
    net = LogSparseTransformer(config).eval()
    for p in net.parameters():  # away from the zero initialisation of head and skip
        torch.nn.init.normal_(p, std=0.2)
    return net


def test_autocast_computes_in_bf16_and_returns_float32():
    net = _network()
    x = torch.randn(3, 32, 4)
    seen = []
    net.blocks[0].mlp.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    exact = net(x)
    net.autocast_dtype = torch.bfloat16
    mixed = net(x)
    assert seen == [torch.float32, torch.bfloat16]
    assert mixed.dtype == torch.float32
    assert not torch.equal(mixed, exact)  # bfloat16 was used ...
    # ... to bfloat16's precision
    torch.testing.assert_close(mixed, exact, rtol=0.05, atol=0.05)


def test_decoding_under_autocast_matches_the_forward_pass():
    net = _network()
    net.autocast_dtype = torch.bfloat16
    x = torch.randn(2, 32, 4)
    whole = net(x)
    params, caches = prefill(net, x[:, :20])
    steps = [decode_step(net, x[:, t : t + 1], None, t, caches) for t in range(20, 32)]
    decoded = torch.cat([params, *steps], dim=1)
    assert decoded.dtype == torch.float32
    torch.testing.assert_close(decoded, whole, rtol=0.05, atol=0.05)


def test_fit_and_predict_run_in_bf16_and_restore_the_network():
    y = series(80)
    seen = []
    f = LogSparseTransformerForecaster(**TINY, **BF16)
    f.fit(y, fh=[1, 2])
    hook = f.model_.network.blocks[0].mlp.register_forward_hook(
        lambda m, i, o: seen.append(o.dtype)
    )
    pred = f.predict()
    hook.remove()
    assert np.isfinite(pred.to_numpy()).all()
    assert seen and set(seen) == {torch.bfloat16}
    assert f.model_.network.autocast_dtype is None  # only for the call


def test_bf16_predict_is_close_to_float32_with_the_same_weights():
    f = LogSparseTransformerForecaster(**TINY).fit(series(80), fh=[1, 2])
    exact = f.predict_quantiles(alpha=[0.1, 0.5, 0.9]).to_numpy()
    g = pickle.loads(pickle.dumps(f))  # the same weights (and no kept paths) ...
    g.trainer_kwargs = BF16["trainer_kwargs"]  # ... predicted in bf16
    mixed = g.predict_quantiles(alpha=[0.1, 0.5, 0.9]).to_numpy()
    assert np.isfinite(mixed).all()
    assert not np.array_equal(mixed, exact)
    spread = exact[:, -1] - exact[:, 0]
    assert np.abs(mixed - exact).max() <= 0.25 * spread.max()


def test_saved_bf16_forecaster_loads_with_its_precision(tmp_path):
    f = LogSparseTransformerForecaster(**TINY, **BF16).fit(series(80), fh=[1, 2])
    f.save_model(tmp_path)
    loaded = LogSparseTransformerForecaster.load_model(tmp_path)
    assert loaded.trainer_kwargs == BF16["trainer_kwargs"]
    np.testing.assert_array_equal(loaded.predict().to_numpy(), f.predict().to_numpy())


def test_mixed_precision_is_restored_after_an_error():
    net = _network()
    model = object.__new__(GlobalModel)
    model.network, model.device = net, torch.device("cpu")
    with pytest.raises(RuntimeError, match="boom"):
        with mixed_precision(model, "bf16-mixed"):
            assert net.autocast_dtype is torch.bfloat16
            raise RuntimeError("boom")
    assert net.autocast_dtype is None


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@needs_cuda
@pytest.mark.parametrize("precision", ["32", "bf16-mixed"])
def test_gpu_fit_and_predict(precision):
    y = series(80)
    kwargs = {"precision": precision}
    f = LogSparseTransformerForecaster(
        **{**TINY, "device": "cuda"}, trainer_kwargs=kwargs
    )
    f.fit(y, fh=[1, 2])
    assert next(f.model_.network.parameters()).is_cuda
    assert np.isfinite(f.predict_interval(coverage=0.8).to_numpy()).all()


@needs_cuda
def test_gpu_and_cpu_forecasts_agree_with_the_same_weights(tmp_path):
    gpu = LogSparseTransformerForecaster(**{**TINY, "device": "cuda"})
    f = gpu.fit(series(80), fh=[1, 2])
    f.save_model(tmp_path)
    on_cpu = LogSparseTransformerForecaster.load_model(tmp_path, device="cpu")
    # different generators (CUDA's and the CPU's) draw different paths: compare
    # the medians of many paths loosely
    f.set_params(num_samples=2000)
    on_cpu.set_params(num_samples=2000)
    np.testing.assert_allclose(
        f.predict().to_numpy(), on_cpu.predict().to_numpy(), rtol=0.1, atol=0.1
    )
