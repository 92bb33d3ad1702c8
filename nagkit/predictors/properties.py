"""Predictors of an arbitrary per-architecture property (NB201 benchmark metrics, MBV3 analytic costs).

A :class:`Property` maps an architecture string to its true value (the guidance target and the
ground truth the guided samples are judged by). :func:`property_predictor` fits a clean or
noise-aware :class:`~nagkit.predictors.model.Predictor` of it on a seeded sample of architectures,
under the score network's VE-SDE (same sigma range as the net that will be guided), and caches it
under ``<cache root>/properties/`` (:mod:`nagkit.paths`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from nagkit.benchmarks.nb201 import NB201Benchmark
from nagkit.diffusion.train import TrainConfig
from nagkit.paths import cache_dir
from nagkit.predictors.fit import FitConfig, SurrogateConfig, fit_predictor
from nagkit.predictors.model import Predictor
from nagkit.spaces import get_space
from nagkit.spaces import mbv3 as mbv3_costs
from nagkit.spaces.base import SearchSpace
from nagkit.storage import cached_module

PROPERTY_VERSION = 1
# NB201 benchmark metrics a property can read, and the factor to the unit it is predicted in.
NB201_METRICS = {"latency": 1000.0, "params": 1.0, "train_time": 1.0, "test_acc": 1.0, "val_acc": 1.0}
MBV3_METRICS = ("flops", "params")
UNITS = {("nb201", "latency"): "ms", ("nb201", "params"): "M", ("nb201", "train_time"): "s",
         ("nb201", "test_acc"): "%", ("nb201", "val_acc"): "%", ("mbv3", "flops"): "MFLOPs", ("mbv3", "params"): "M"}


@dataclass(frozen=True)
class Property:
    """A per-architecture quantity: an NB201 benchmark ``metric`` on ``dataset`` (latency in ms), or an
    analytic MBV3 cost (``flops`` in MFLOPs, ``params`` in millions) at ``resolution``."""

    space: str
    metric: str
    dataset: str | None = None
    resolution: int = 224

    def __post_init__(self) -> None:
        if self.space == "nb201":
            if self.metric not in NB201_METRICS:
                raise ValueError(f"nb201 property must be one of {list(NB201_METRICS)}, got {self.metric!r}")
            NB201Benchmark.check(self.dataset or "", None)
        elif self.space == "mbv3":
            if self.dataset is not None:
                raise ValueError("mbv3 properties are analytic and take no dataset")
            if self.metric not in MBV3_METRICS:
                raise ValueError(f"mbv3 property must be one of {MBV3_METRICS}, got {self.metric!r}")
        else:
            raise ValueError(f"no properties defined for space {self.space!r}")

    @property
    def unit(self) -> str:
        return UNITS[(self.space, self.metric)]

    @property
    def label(self) -> str:
        where = f" ({self.dataset})" if self.dataset else ""
        return f"{self.metric}{where} [{self.unit}]"

    def values(self, archs: list[str]) -> np.ndarray:
        """True values of ``archs`` (``ValueError`` on a malformed string)."""
        if self.space == "nb201":
            bench = _benchmark()
            table = bench.table(self.dataset, self.metric) * NB201_METRICS[self.metric]
            return np.asarray([table[bench.index(a)] for a in archs], dtype=float)
        if self.metric == "flops":
            return np.asarray([mbv3_costs.flops(a, self.resolution) for a in archs], dtype=float)
        return np.asarray([mbv3_costs.params(a) for a in archs], dtype=float)

    def __call__(self, arch: str) -> float:
        return float(self.values([arch])[0])


@lru_cache(maxsize=1)
def _benchmark() -> NB201Benchmark:
    return NB201Benchmark()


# Property predictors reuse the surrogates' configuration (``metric`` is unused here); quick default:
QUICK = SurrogateConfig(noise_fit=FitConfig(steps=800, lr=2e-3))


def property_profile(profile: str, score_config: TrainConfig) -> SurrogateConfig:
    """``quick``: 2,000 architectures, 500 / 800 steps; ``paper``: 10,000, 5,000 / 10,000 steps at
    lr 1e-3. The SDE is the score net's (``score_config`` from its checkpoint; VE only)."""
    if score_config.sde != "ve":
        raise ValueError(f"property predictors are trained under a VE-SDE; the score net uses {score_config.sde!r}")
    sde = {"sigma_min": score_config.sigma_min, "sigma_max": score_config.sigma_max}
    if profile == "quick":
        return replace(QUICK, **sde)
    if profile == "paper":
        return SurrogateConfig(n_train=10_000, fit=FitConfig(steps=5_000, lr=1e-3),
                              noise_fit=FitConfig(steps=10_000, lr=1e-3), **sde)
    raise ValueError(f"profile must be 'quick' or 'paper', got {profile!r}")


def training_archs(space: SearchSpace, n: int, seed: int) -> list[str]:
    """``n`` distinct architectures of a finite space (seeded subset), else ``n`` seeded samples."""
    gen = torch.Generator().manual_seed(seed)
    try:
        archs = space.enumerate()
    except NotImplementedError:
        return space.sample(n, gen)
    if not 1 < n <= len(archs):
        raise ValueError(f"n_train must be in (1, {len(archs)}], got {n}")
    return [archs[i] for i in sorted(torch.randperm(len(archs), generator=gen)[:n].tolist())]


def default_cache_dir() -> Path:
    """``<cache root>/properties`` (:mod:`nagkit.paths`)."""
    return cache_dir("properties")


def property_key(prop: Property, noise_aware: bool, config: SurrogateConfig, seed: int) -> str:
    """Hash of everything that determines a trained property predictor (progress bars excluded)."""
    fit = config.noise_fit if noise_aware else config.fit
    spec = {
        "version": PROPERTY_VERSION, "property": [prop.space, prop.metric, prop.dataset, prop.resolution],
        "noise_aware": noise_aware, "seed": seed, "n_train": config.n_train, "predictor": config.predictor.to_dict(),
        "fit": {k: v for k, v in fit.to_dict().items() if k != "progress"},
        "sde": [config.sigma_min, config.sigma_max] if noise_aware else None,
    }
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def property_predictor(prop: Property, noise_aware: bool = True, config: SurrogateConfig = QUICK,
                       seed: int = 0, cache_dir: Path | str | None = None) -> Predictor:
    """Clean or noise-aware predictor of ``prop`` (in ``prop.unit``), cached as ``cache_dir/<key>.pt``
    (loaded with ``weights_only=True``) and reused when the key matches; trained once by concurrent
    callers, retrained when the copy is corrupt (:func:`nagkit.storage.cached_module`)."""
    space = get_space(prop.space)
    pconf = replace(config.predictor, noise_aware=noise_aware)

    def make() -> Predictor:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return Predictor(space, pconf)

    def train(model: Predictor) -> None:
        archs = training_archs(space, config.n_train, seed)
        y = torch.as_tensor(prop.values(archs), dtype=torch.float32)
        fit = replace(config.noise_fit if noise_aware else config.fit, seed=seed)
        fit_predictor(model, space.encode_batch(archs), y, fit, config.sde() if noise_aware else None)

    path = Path(cache_dir or default_cache_dir()) / f"{property_key(prop, noise_aware, config, seed)}.pt"
    return cached_module(path, make, train)
