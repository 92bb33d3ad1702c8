"""Training and evaluation loops of the predictors (MSE on standardised targets, Adam) and the
configuration of a clean + noise-aware surrogate pair (the LODO pipeline: :mod:`nagkit.transfer.lodo`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm

from nagkit.diffusion.sde import SDE, VESDE
from nagkit.predictors.model import Predictor, PredictorConfig
from nagkit.profiles import check_profile
from nagkit.progress import enabled

# (record indices of the batch, generator) -> dataset features for those records
DatasetSampler = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class FitConfig:
    """``eps``: smallest diffusion time drawn when training a noise-aware predictor."""

    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    seed: int = 0
    eps: float = 1e-5
    progress: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def scale(x: torch.Tensor) -> torch.Tensor:
    """One-hot ``{0, 1}`` -> the score network's ``{-1, 1}`` scale."""
    return x * 2.0 - 1.0


def noised(x: torch.Tensor, sde: SDE, t: torch.Tensor, generator: torch.Generator | None = None
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """``X_t ~ p_t(. | X_0 = scale(x))`` and its noise level sigma(t), as the score network sees them."""
    mean, std = sde.marginal_prob(scale(x), t)
    z = torch.randn(x.shape, generator=generator)
    return mean + std.view(-1, *([1] * (x.dim() - 1))) * z, std


def fit_predictor(model: Predictor, x: torch.Tensor, y: torch.Tensor, config: FitConfig = FitConfig(),
                  sde: SDE | None = None, dataset_sampler: DatasetSampler | None = None) -> list[float]:
    """Fit ``model`` on one-hot ``x`` ``(n, n_nodes, n_vocab)`` and targets ``y`` ``(n,)``.

    Targets are standardised (mean/std stored in the model). A noise-aware model is trained on
    ``X_t`` for ``t ~ U(eps, 1)`` under ``sde`` (required); a dataset-aware one gets features
    from ``dataset_sampler(batch_indices, generator)``. Returns the loss of every step.
    """
    if model.config.noise_aware and sde is None:
        raise ValueError("a noise-aware predictor is trained on noised inputs: pass the score network's sde")
    if model.set_encoder is not None and dataset_sampler is None:
        raise ValueError("a dataset-aware predictor needs a dataset_sampler")
    if len(x) != len(y) or len(y) < 2:
        raise ValueError(f"need matching x and y with at least 2 rows, got {len(x)} and {len(y)}")
    y = torch.as_tensor(y, dtype=torch.float32)
    model.y_mean.fill_(float(y.mean()))
    model.y_std.fill_(float(y.std()) or 1.0)
    target = (y - model.y_mean) / model.y_std
    gen = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    model.train()
    losses = []
    for _ in tqdm(range(config.steps), desc="fit predictor", disable=not enabled(config.progress)):
        idx = torch.randint(0, len(x), (min(config.batch_size, len(x)),), generator=gen)
        xb, sigma, data = x[idx], None, None
        if model.config.noise_aware:
            t = torch.rand(len(idx), generator=gen) * (1.0 - config.eps) + config.eps
            xb, sigma = noised(xb, sde, t, gen)
        if dataset_sampler is not None:
            data = dataset_sampler(idx, gen)
        loss = torch.nn.functional.mse_loss(model(xb, sigma, data), target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def predict(model: Predictor, x: torch.Tensor, sde: SDE | None = None, t: float | None = None,
            dataset: torch.Tensor | None = None, seed: int = 0, batch_size: int = 2048) -> torch.Tensor:
    """Predictions in target units for one-hot ``x``; a noise-aware model sees ``x`` noised at time ``t``."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    out = []
    for xb in torch.split(x, batch_size):
        sigma = None
        if model.config.noise_aware:
            if sde is None or t is None:
                raise ValueError("a noise-aware predictor needs sde and t (the diffusion time to noise x at)")
            xb, sigma = noised(xb, sde, torch.full((len(xb),), float(t)), gen)
        out.append(model.predict(xb, sigma, dataset))
    return torch.cat(out)


def rank_correlation(pred: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor) -> dict[str, float]:
    """Spearman's rho and Kendall's tau (scipy) between predictions and targets."""
    p, t = np.asarray(pred, dtype=float), np.asarray(y, dtype=float)
    return {"spearman": float(stats.spearmanr(p, t).statistic),
            "kendall": float(stats.kendalltau(p, t).statistic), "n": int(len(t))}


def evaluate(model: Predictor, x: torch.Tensor, y: np.ndarray | torch.Tensor, sde: SDE | None = None,
             t: float | None = None, dataset: torch.Tensor | None = None, seed: int = 0) -> dict[str, float]:
    """Rank correlation of the predictions on held-out ``x`` with ``y`` (see ``predict`` for t)."""
    return rank_correlation(predict(model, x, sde, t, dataset, seed), y)


# --- Configuration of a clean + noise-aware surrogate pair ------------------------------------
# (trained on benchmark tables by nagkit.transfer.lodo, on property tables by nagkit.predictors.properties)


@dataclass(frozen=True)
class SurrogateConfig:
    """``n_train`` source-labelled architectures (a seeded random subset; the rest is held out);
    ``fit`` / ``noise_fit`` train the clean / noise-aware predictor; the noise-aware one sees the
    score network's VE-SDE (``sigma_min``, ``sigma_max``)."""

    n_train: int = 2000
    metric: str = "test_acc"
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    fit: FitConfig = field(default_factory=lambda: FitConfig(steps=500, lr=2e-3))
    noise_fit: FitConfig = field(default_factory=lambda: FitConfig(steps=1000, lr=2e-3))
    sigma_min: float = 0.1
    sigma_max: float = 5.0

    def sde(self) -> VESDE:
        return VESDE(self.sigma_min, self.sigma_max)


def surrogate_profile(profile: str) -> SurrogateConfig:
    """``quick``: 2,000 training cells, 500 / 1,000 steps (about a minute on 2 CPU cores);
    ``paper``: 10,000 cells, 5,000 / 10,000 steps at lr 1e-3 (the meta-predictor's lr)."""
    if check_profile(profile) == "quick":
        return SurrogateConfig()
    return SurrogateConfig(n_train=10_000, fit=FitConfig(steps=5_000, lr=1e-3),
                           noise_fit=FitConfig(steps=10_000, lr=1e-3))
