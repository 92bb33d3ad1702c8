"""The VE / VP SDEs: marginals, prior and discretisation agree with their definitions."""
import math

import pytest
import torch

from nagkit.diffusion.sde import VESDE, VPSDE


def test_ve_sigma_endpoints_and_marginal():
    sde = VESDE(0.1, 5.0)
    t = torch.tensor([0.0, 1.0])
    assert torch.allclose(sde.sigma(t), torch.tensor([0.1, 5.0]))
    x = torch.randn(2, 3, 4)
    mean, std = sde.marginal_prob(x, t)
    assert torch.equal(mean, x) and torch.allclose(std, torch.tensor([0.1, 5.0]))


def test_ve_diffusion_matches_variance_growth():
    # d sigma^2 / dt = g(t)^2 for a zero-drift SDE.
    sde, t, h = VESDE(0.1, 5.0), torch.tensor([0.3]), 1e-4
    g = sde.sde(torch.zeros(1, 2), t)[1].flatten()
    dvar = (sde.sigma(t + h) ** 2 - sde.sigma(t - h) ** 2) / (2 * h)
    assert torch.allclose(g**2, dvar, rtol=1e-3)


def test_vp_marginal_std_and_prior():
    sde = VPSDE()
    _, std = sde.marginal_prob(torch.zeros(1, 2), torch.tensor([1.0]))
    assert 0.99 < float(std) <= 1.0
    prior = sde.prior_sampling((4000, 2), torch.Generator().manual_seed(0))
    assert abs(float(prior.std()) - 1.0) < 0.05


def test_prior_sampling_reproducible_and_scaled():
    sde = VESDE(0.1, 5.0)
    a = sde.prior_sampling((2000, 3), torch.Generator().manual_seed(1))
    b = sde.prior_sampling((2000, 3), torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and abs(float(a.std()) - 5.0) < 0.2


def test_discretize_scales_with_step():
    sde = VESDE(0.1, 5.0, N=100)
    f, g = sde.discretize(torch.ones(2, 3), torch.tensor([0.5, 0.5]))
    assert torch.equal(f, torch.zeros(2, 3))
    assert torch.allclose(g.flatten(), sde.sde(torch.ones(2, 3), torch.tensor([0.5, 0.5]))[1].flatten() * math.sqrt(0.01))


def test_bad_sigmas_rejected():
    with pytest.raises(ValueError, match="sigma_min"):
        VESDE(1.0, 0.5)
