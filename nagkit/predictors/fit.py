"""Training and evaluation loops of the predictors (MSE on standardised targets, Adam) and the
configuration of a clean + noise-aware surrogate pair (the LODO pipeline: :mod:`nagkit.transfer.lodo`;
the meta-trained pair: :mod:`nagkit.predictors.metad2a`).

Every loop takes a ``device`` (``auto`` | ``cpu`` | ``cuda[:i]``, :func:`nagkit.device.resolve_device`):
the model and batches move there, while every random draw comes from a CPU ``torch.Generator`` and is
copied over, so a seed gives the same draws on every device (and CPU results are those of earlier
versions, bit for bit). Losses stay on the device until the loop ends (no host sync per step)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from scipy import stats

from nagkit.device import resolve_device
from nagkit.diffusion.sde import SDE, VESDE
from nagkit.predictors.model import Predictor, PredictorConfig
from nagkit.profiles import check_profile
from nagkit.progress import enabled, progress_bar as tqdm

# (record indices of the batch, generator) -> dataset features for those records
DatasetSampler = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
Device = str | torch.device


def as_device(device: Device) -> torch.device:
    """A ``torch.device`` as is; a name through :func:`nagkit.device.resolve_device`."""
    return device if isinstance(device, torch.device) else resolve_device(device)


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
    """``X_t ~ p_t(. | X_0 = scale(x))`` and its noise level sigma(t), as the score network sees them
    (on ``x``'s device; ``t`` and the noise are drawn on the CPU and copied there)."""
    mean, std = sde.marginal_prob(scale(x), t.to(x.device))
    z = torch.randn(x.shape, generator=generator).to(x.device)
    return mean + std.view(-1, *([1] * (x.dim() - 1))) * z, std


def fit_predictor(model: Predictor, x: torch.Tensor, y: torch.Tensor, config: FitConfig = FitConfig(),
                  sde: SDE | None = None, dataset_sampler: DatasetSampler | None = None,
                  device: Device = "cpu") -> list[float]:
    """Fit ``model`` on one-hot ``x`` ``(n, n_nodes, n_vocab)`` and targets ``y`` ``(n,)`` on ``device``
    (``model`` is moved there and stays).

    Targets are standardised (mean/std stored in the model). A noise-aware model is trained on
    ``X_t`` for ``t ~ U(eps, 1)`` under ``sde`` (required); a dataset-aware one gets features
    from ``dataset_sampler(batch_indices, generator)`` (CPU indices; features copied to ``device``).
    Returns the loss of every step.
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
    device = as_device(device)
    model.to(device)
    x, target = x.to(device), target.to(device)
    gen = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    model.train()
    losses = []
    for _ in tqdm(range(config.steps), desc="fit predictor", disable=not enabled(config.progress)):
        idx = torch.randint(0, len(x), (min(config.batch_size, len(x)),), generator=gen)
        on = idx.to(device)
        xb, sigma, data = x[on], None, None
        if model.config.noise_aware:
            t = torch.rand(len(idx), generator=gen) * (1.0 - config.eps) + config.eps
            xb, sigma = noised(xb, sde, t, gen)
        if dataset_sampler is not None:
            data = dataset_sampler(idx, gen).to(device)
        loss = torch.nn.functional.mse_loss(model(xb, sigma, data), target[on])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    model.eval()
    return torch.stack(losses).tolist() if losses else []


@torch.no_grad()
def predict(model: Predictor, x: torch.Tensor, sde: SDE | None = None, t: float | None = None,
            dataset: torch.Tensor | None = None, seed: int = 0, batch_size: int = 2048,
            device: Device = "cpu") -> torch.Tensor:
    """Predictions in target units for one-hot ``x``, on ``device`` (``model`` is moved there); a
    noise-aware model sees ``x`` noised at time ``t``."""
    device = as_device(device)
    model.to(device).eval()
    dataset = dataset.to(device) if dataset is not None else None
    gen = torch.Generator().manual_seed(seed)
    out = []
    for xb in torch.split(x.to(device), batch_size):
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
             t: float | None = None, dataset: torch.Tensor | None = None, seed: int = 0,
             device: Device = "cpu") -> dict[str, float]:
    """Rank correlation of the predictions on held-out ``x`` with ``y`` (see ``predict`` for t)."""
    return rank_correlation(predict(model, x, sde, t, dataset, seed, device=device).cpu(), y)


# --- Configuration of a clean + noise-aware surrogate pair ------------------------------------
# (trained on benchmark tables by nagkit.transfer.lodo, on property tables by nagkit.predictors.properties,
# meta-trained on MetaD2A's records by nagkit.predictors.metad2a)

N_VALID = 400  # MetaD2A: the first 400 records of the idx permutation are the validation split


@dataclass(frozen=True)
class MetaTrainConfig:
    """Meta-training of the dataset-aware f(X, D) (:func:`nagkit.predictors.metad2a.meta_train_predictor`);
    ``n_per_class`` images per class encode a task and the target. Authors: 10k iterations, lr 1e-3,
    20 images per class."""

    n_per_class: int = 20
    n_valid: int = N_VALID
    fit: FitConfig = field(default_factory=lambda: FitConfig(steps=10_000, lr=1e-3, batch_size=32))


def meta_train_profile(profile: str) -> MetaTrainConfig:
    """``quick`` and ``paper``: the authors' 10,000 steps (the meta-predictor is only trained, once and
    cached, by runs that use it); ``smoke``: the same loop at 20 steps of 8 records, 2 images per class,
    20 validation records."""
    if check_profile(profile) == "smoke":
        return MetaTrainConfig(n_per_class=2, n_valid=20, fit=FitConfig(steps=20, lr=1e-3, batch_size=8))
    return MetaTrainConfig()


@dataclass(frozen=True)
class SurrogateConfig:
    """``n_train`` source-labelled architectures (a seeded random subset; the rest is held out);
    ``fit`` / ``noise_fit`` train the clean / noise-aware predictor; the noise-aware one sees the
    score network's VE-SDE (``sigma_min``, ``sigma_max``); ``meta``: how the MetaD2A meta-predictor
    pair is meta-trained when a run uses it instead (:mod:`nagkit.transfer.predictors`)."""

    n_train: int = 2000
    metric: str = "test_acc"
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    fit: FitConfig = field(default_factory=lambda: FitConfig(steps=500, lr=2e-3))
    noise_fit: FitConfig = field(default_factory=lambda: FitConfig(steps=1000, lr=2e-3))
    sigma_min: float = 0.1
    sigma_max: float = 5.0
    meta: MetaTrainConfig = field(default_factory=MetaTrainConfig)

    def sde(self) -> VESDE:
        return VESDE(self.sigma_min, self.sigma_max)


def surrogate_profile(profile: str) -> SurrogateConfig:
    """``quick``: 2,000 training cells, 500 / 1,000 steps (about a minute on 2 CPU cores);
    ``paper``: 10,000 cells, 5,000 / 10,000 steps at lr 1e-3 (the meta-predictor's lr);
    ``smoke``: the paper's settings at 200 cells and 30 / 30 steps. ``meta``: :func:`meta_train_profile`."""
    if check_profile(profile) == "quick":
        return SurrogateConfig()
    if profile == "smoke":
        return SurrogateConfig(n_train=200, fit=FitConfig(steps=30, lr=1e-3), noise_fit=FitConfig(steps=30, lr=1e-3),
                               meta=meta_train_profile("smoke"))
    return SurrogateConfig(n_train=10_000, fit=FitConfig(steps=5_000, lr=1e-3),
                           noise_fit=FitConfig(steps=10_000, lr=1e-3))
