"""GP-BO: an exact GP (botorch ``SingleTaskGP``) on the flattened one-hot encoding.

On one-hot rows an isotropic RBF kernel is an exponentiated Hamming kernel (squared distance =
2 x the number of differing nodes), a natural choice for categorical node types that stays
differentiable in ``X`` for guided optimisers. (botorch's default ARD kernel ranked NB201 cells
worse, Kendall tau 0.54 vs 0.61 with 100 points, and fitted 6x slower.)
"""
from __future__ import annotations

import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.kernels import RBFKernel, ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood

from nagkit.search.acquisition import Acquisition
from nagkit.search.bananas import BayesOpt, pool_optimiser
from nagkit.spaces.base import SearchSpace


class GPSurrogate:
    """Exact GP, scaled isotropic RBF kernel on one-hot ``X``, outcome standardised, hyperparameters
    by maximum marginal likelihood; predicts the latent function."""

    def __init__(self) -> None:
        self.model: SingleTaskGP | None = None

    def fit(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> None:
        train_x = x.flatten(1).double()
        train_y = y.double().unsqueeze(-1)
        model = SingleTaskGP(train_x, train_y, covar_module=ScaleKernel(RBFKernel()),
                             outcome_transform=Standardize(m=1))
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        with torch.random.fork_rng():  # botorch's fitting retries draw from the global RNG
            torch.manual_seed(seed)
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        model.eval()
        self.model = model

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.model is None:
            raise RuntimeError("fit the GP before predicting")
        post = self.model.posterior(x.flatten(1).double())
        return post.mean.squeeze(-1), post.variance.clamp_min(0).sqrt().squeeze(-1)


def _gp(space: SearchSpace) -> GPSurrogate:
    return GPSurrogate()


def gpbo(acquisition: str = "ei", optimiser: str = "mutation", n_init: int = 10, batch: int = 1,
         pool: int = 100, edits: int = 1, rank_targets: bool = True) -> BayesOpt:
    """GP-BO with EI (or UCB/PI/ITS) and a random or mutation candidate pool."""
    return BayesOpt(surrogate=_gp, acquisition=Acquisition(acquisition),
                    optimiser=pool_optimiser(optimiser, pool, edits), n_init=n_init, batch=batch,
                    rank_targets=rank_targets, name="gpbo")
