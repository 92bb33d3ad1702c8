"""Training and evaluation loops of the predictors (MSE on standardised targets, Adam)."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm

from nagkit.benchmarks.nb201 import DATASETS, NB201Benchmark
from nagkit.diffusion.sde import SDE, VESDE
from nagkit.paths import cache_dir
from nagkit.predictors.model import Predictor, PredictorConfig
from nagkit.progress import enabled
from nagkit.spaces.nb201 import NB201Space
from nagkit.storage import cached_module

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


# --- Leave-one-dataset-out surrogates on the NB201 tables -------------------------------------
# A target dataset's surrogate is trained on the OTHER datasets' accuracies only. Several source
# datasets are combined into one objective: the mean of their per-dataset standardised (z-scored)
# accuracies, so no source dominates by scale; the target's labels are never read.

SURROGATE_VERSION = 1


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


def lodo_sources(target: str) -> tuple[str, ...]:
    """The NB201 datasets other than ``target``."""
    NB201Benchmark.check(target)
    return tuple(d for d in DATASETS if d != target)


def source_objective(sources: tuple[str, ...], metric: str = "test_acc", benchmark=None) -> np.ndarray:
    """Mean over ``sources`` of z-scored benchmark ``metric``, for all 15,625 cells (official order)."""
    if not sources:
        raise ValueError("need at least one source dataset")
    bench = benchmark or NB201Benchmark()
    tables = [np.asarray(bench.table(s, metric), dtype=float) for s in sources]
    return np.mean([(v - v.mean()) / v.std() for v in tables], axis=0)


def split(n_train: int, seed: int, n_total: int = 15625) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded random (train, held-out) split of the official indices."""
    if not 1 < n_train < n_total:
        raise ValueError(f"n_train must be in (1, {n_total}), got {n_train}")
    perm = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    return perm[:n_train].sort().values, perm[n_train:].sort().values


@lru_cache(maxsize=1)
def nb201_matrices() -> torch.Tensor:
    """All 15,625 NB201 one-hot matrices in official index order."""
    space = NB201Space()
    return space.encode_batch(space.enumerate())


def default_cache_dir() -> Path:
    """``<cache root>/surrogates`` (:mod:`nagkit.paths`)."""
    return cache_dir("surrogates")


def surrogate_key(sources: tuple[str, ...], noise_aware: bool, config: SurrogateConfig, seed: int) -> str:
    """Hash of everything that determines a trained surrogate (progress bars excluded)."""
    fit = config.noise_fit if noise_aware else config.fit
    spec = {
        "version": SURROGATE_VERSION, "sources": sorted(sources), "noise_aware": noise_aware, "seed": seed,
        "metric": config.metric, "n_train": config.n_train, "predictor": config.predictor.to_dict(),
        "fit": {k: v for k, v in fit.to_dict().items() if k != "progress"},
        "sde": [config.sigma_min, config.sigma_max] if noise_aware else None,
    }
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def train_surrogate(sources: tuple[str, ...], noise_aware: bool, config: SurrogateConfig = SurrogateConfig(),
                    seed: int = 0, cache_dir: Path | str | None = None, benchmark=None) -> Predictor:
    """Clean or noise-aware NB201 predictor of the ``sources`` objective, cached on disk.

    Trained on the seeded ``split(config.n_train, seed)`` training indices only; a cached copy
    (``cache_dir/<key>.pt``, loaded with ``weights_only=True``) is reused when the key matches.
    Concurrent callers train it once; a corrupt copy is reported, discarded and retrained
    (:func:`nagkit.storage.cached_module`).
    """
    space = NB201Space()
    pconf = replace(config.predictor, noise_aware=noise_aware)

    def make() -> Predictor:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return Predictor(space, pconf)

    def train(model: Predictor) -> None:
        train_idx, _ = split(config.n_train, seed)
        y = torch.as_tensor(source_objective(sources, config.metric, benchmark), dtype=torch.float32)
        fit = replace(config.noise_fit if noise_aware else config.fit, seed=seed)
        fit_predictor(model, nb201_matrices()[train_idx], y[train_idx], fit, config.sde() if noise_aware else None)

    path = Path(cache_dir or default_cache_dir()) / f"{surrogate_key(sources, noise_aware, config, seed)}.pt"
    return cached_module(path, make, train)


def lodo_surrogates(target: str, config: SurrogateConfig = SurrogateConfig(), seed: int = 0,
                    sources: tuple[str, ...] | None = None, cache_dir: Path | str | None = None,
                    benchmark=None) -> dict:
    """Clean and noise-aware surrogates for ``target`` from ``sources`` (default: all other
    NB201 datasets; e.g. ``("ImageNet16-120",)`` for the ImageNet-only source) and the split."""
    sources = tuple(sources) if sources is not None else lodo_sources(target)
    if target in sources:
        raise ValueError(f"the target {target!r} cannot be a source of its own surrogate")
    train_idx, heldout_idx = split(config.n_train, seed)
    return {
        "target": target, "sources": sources, "train_idx": train_idx, "heldout_idx": heldout_idx,
        "clean": train_surrogate(sources, False, config, seed, cache_dir, benchmark),
        "noise": train_surrogate(sources, True, config, seed, cache_dir, benchmark),
    }


def surrogate_profile(profile: str) -> SurrogateConfig:
    """``quick``: 2,000 training cells, 500 / 1,000 steps (about a minute on 2 CPU cores);
    ``paper``: 10,000 cells, 5,000 / 10,000 steps at lr 1e-3 (the meta-predictor's lr)."""
    if profile == "quick":
        return SurrogateConfig()
    if profile == "paper":
        return SurrogateConfig(n_train=10_000, fit=FitConfig(steps=5_000, lr=1e-3),
                               noise_fit=FitConfig(steps=10_000, lr=1e-3))
    raise ValueError(f"profile must be 'quick' or 'paper', got {profile!r}")


def heldout_correlation(model: Predictor, target: str, config: SurrogateConfig, seed: int = 0,
                        t: float | None = None, n_cells: int | None = None, benchmark=None) -> dict[str, float]:
    """Rank correlation of a surrogate with ``target``'s benchmark test accuracy on the cells
    held out of its training split (or a seeded subset of ``n_cells`` of them); noise-aware
    models see their inputs noised at diffusion time ``t``."""
    _, heldout = split(config.n_train, seed)
    if n_cells is not None:
        heldout = heldout[torch.randperm(len(heldout), generator=torch.Generator().manual_seed(seed))[:n_cells]]
    y = np.asarray((benchmark or NB201Benchmark()).table(target, "test_acc"))[heldout.numpy()]
    sde = config.sde() if model.config.noise_aware else None
    return evaluate(model, nb201_matrices()[heldout], y, sde, t, seed=seed)
