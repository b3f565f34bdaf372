"""Likelihoods against scipy, and their samplers against their moments."""

import numpy as np
import pytest
import torch
from scipy import stats

from sktime_logsparse.nn import get_likelihood, mean_abs_scale


def _params(name, raw):
    lik = get_likelihood(name)
    return lik, lik.domain_map(torch.as_tensor(raw, dtype=torch.float64))


def test_gaussian_log_prob_matches_scipy():
    lik, p = _params("gaussian", [[0.3, -0.5], [-1.2, 2.0]])
    scale = torch.tensor([2.0, 7.5], dtype=torch.float64)
    z = torch.tensor([1.1, -3.0], dtype=torch.float64)
    sigma = np.log1p(np.exp([-0.5, 2.0])) + 1e-6
    ref = stats.norm.logpdf([1.1, -3.0], loc=[0.6, -9.0], scale=sigma * [2.0, 7.5])
    np.testing.assert_allclose(lik.log_prob(p, scale, z).numpy(), ref, rtol=1e-10)


def test_student_t_log_prob_matches_scipy():
    lik, p = _params("student_t", [[0.0, 0.3, -0.5], [1.5, -1.2, 2.0]])
    scale = torch.tensor([2.0, 7.5], dtype=torch.float64)
    z = torch.tensor([1.1, -3.0], dtype=torch.float64)
    sp = lambda a: np.log1p(np.exp(a))  # noqa: E731
    df = 2 + sp(np.array([0.0, 1.5])) + 1e-6
    assert (df > 2).all()
    ref = stats.t.logpdf(
        [1.1, -3.0],
        df,
        loc=[0.6, -9.0],
        scale=(sp(np.array([-0.5, 2.0])) + 1e-6) * [2, 7.5],
    )
    np.testing.assert_allclose(lik.log_prob(p, scale, z).numpy(), ref, rtol=1e-10)


def test_negative_binomial_log_prob_matches_scipy():
    lik, p = _params("negative_binomial", [[1.0, -1.0], [3.0, 0.5]])
    scale = torch.tensor([4.0, 1.0], dtype=torch.float64)
    k = torch.tensor([3.0, 17.0], dtype=torch.float64)
    mu, alpha = p.unbind(-1)
    m = (mu * scale).numpy()
    a = (alpha / scale.sqrt()).numpy()
    r = 1 / a
    ref = stats.nbinom.logpmf([3, 17], r, 1 / (1 + m * a))
    np.testing.assert_allclose(lik.log_prob(p, scale, k).numpy(), ref, rtol=1e-10)
    np.testing.assert_allclose(lik.mean(p, scale).numpy(), m, rtol=1e-10)


@pytest.mark.parametrize("name", ["gaussian", "student_t", "negative_binomial"])
def test_samples_match_distribution_moments(name):
    lik = get_likelihood(name)
    raw = {
        "gaussian": [0.5, 0.0],
        "student_t": [3.0, 0.5, 0.0],
        "negative_binomial": [1.0, -1.0],
    }[name]
    n = 200_000
    p = lik.domain_map(torch.tensor(raw, dtype=torch.float64)).expand(n, -1)
    scale = torch.full((n,), 3.0, dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    x = lik.sample(p, scale, generator=g)
    d = lik.distribution(p[:1], scale[:1])
    assert abs(x.mean().item() - d.mean.item()) < 4 * d.stddev.item() / n**0.5 + 1e-9
    assert x.var().item() == pytest.approx(d.variance.item(), rel=0.05)
    if name == "negative_binomial":
        assert torch.equal(x, x.round()) and (x >= 0).all()
    again = lik.sample(p, scale, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x, again)


@pytest.mark.parametrize("name", ["gaussian", "student_t", "negative_binomial"])
def test_sample_groups_equals_each_group_with_its_generator(name):
    lik = get_likelihood(name)
    G, n = 5, 7
    raw = torch.randn(G * n, lik.args_dim, generator=torch.Generator().manual_seed(0))
    p, scale = lik.domain_map(raw), torch.rand(G * n) + 0.5
    seeds = [11, 3, 29, 3, 8]  # a repeated seed draws the same values again
    got = lik.sample_groups(p, scale, [torch.Generator().manual_seed(s) for s in seeds])
    want = torch.cat(
        [
            lik.sample(p[j * n : (j + 1) * n], scale[j * n : (j + 1) * n], g)
            for j, g in enumerate(torch.Generator().manual_seed(s) for s in seeds)
        ]
    )
    assert got.shape == (G * n,)
    assert torch.equal(got, want)


def test_gamma_sampler_small_concentration():
    from sktime_logsparse.nn._likelihoods import _gamma

    conc = torch.full((200_000,), 0.3, dtype=torch.float64)
    x = _gamma(conc, torch.Generator().manual_seed(0))
    assert (x > 0).all()
    assert x.mean().item() == pytest.approx(0.3, rel=0.02)
    assert x.var().item() == pytest.approx(0.3, rel=0.05)


def test_unknown_likelihood():
    with pytest.raises(ValueError, match="likelihood"):
        get_likelihood("cauchy")


def test_mean_abs_scale_ignores_unobserved():
    z = torch.tensor([[2.0, -4.0, float("nan"), 100.0], [0.0, 0.0, 0.0, 0.0]])
    observed = torch.tensor([[True, True, False, False], [False] * 4])
    np.testing.assert_allclose(mean_abs_scale(z, observed).numpy(), [4.0, 1.0])
