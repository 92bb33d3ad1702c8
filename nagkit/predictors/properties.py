"""Predictors of an arbitrary per-architecture property (benchmark metrics, a space's analytic costs).

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
from pathlib import Path

import numpy as np
import torch

from nagkit.benchmarks import get_benchmark
from nagkit.diffusion.train import TrainConfig
from nagkit.paths import cache_dir
from nagkit.predictors.fit import Device, FitConfig, SurrogateConfig, as_device, fit_predictor
from nagkit.predictors.model import Predictor
from nagkit.profiles import check_profile
from nagkit.spaces import get_space
from nagkit.spaces.base import SearchSpace
from nagkit.storage import cached_module

PROPERTY_VERSION = 1


@dataclass(frozen=True)
class Property:
    """A per-architecture quantity: a metric of the space's tabular benchmark on ``dataset`` (in the
    benchmark's unit, e.g. NB201 latency in ms), or one of the space's ``analytic_properties`` (no
    dataset; e.g. MBV3 ``flops`` in MFLOPs at ``resolution``)."""

    space: str
    metric: str
    dataset: str | None = None
    resolution: int = 224  # passed to analytic properties that depend on the input size

    def __post_init__(self) -> None:
        try:
            space = get_space(self.space)
        except KeyError as err:
            raise ValueError(err.args[0]) from None
        if self.metric in space.analytic_properties:
            if self.dataset is not None:
                raise ValueError(f"{self.space} {self.metric} is analytic and takes no dataset")
            return
        try:
            bench = get_benchmark(self.space)
        except KeyError:
            raise ValueError(f"{self.space} property must be one of {list(space.analytic_properties)}, "
                             f"got {self.metric!r}") from None
        valid = [*space.analytic_properties, *map(str, bench.metrics)]
        if self.metric not in bench.metrics:
            raise ValueError(f"{self.space} property must be one of {valid}, got {self.metric!r}")
        bench.check(self.dataset or "", None)

    @property
    def analytic(self) -> bool:
        return self.metric in get_space(self.space).analytic_properties

    @property
    def unit(self) -> str:
        if self.analytic:
            return get_space(self.space).analytic_properties[self.metric]
        return get_benchmark(self.space).units[self.metric][0]

    @property
    def label(self) -> str:
        where = f" ({self.dataset})" if self.dataset else ""
        return f"{self.metric}{where} [{self.unit}]"

    def values(self, archs: list[str]) -> np.ndarray:
        """True values of ``archs`` (``ValueError`` on a malformed string)."""
        if self.analytic:
            values = get_space(self.space).property_values(archs, self.metric, resolution=self.resolution)
            return np.asarray(values, dtype=float)
        bench = get_benchmark(self.space)
        table = bench.table(self.dataset, self.metric) * bench.units[self.metric][1]
        return np.asarray([table[bench.index(a)] for a in archs], dtype=float)

    def __call__(self, arch: str) -> float:
        return float(self.values([arch])[0])


# Property predictors reuse the surrogates' configuration (``metric`` is unused here); quick default:
QUICK = SurrogateConfig(noise_fit=FitConfig(steps=800, lr=2e-3))


def property_profile(profile: str, score_config: TrainConfig) -> SurrogateConfig:
    """``quick``: 2,000 architectures, 500 / 800 steps; ``paper``: 10,000, 5,000 / 10,000 steps at
    lr 1e-3; ``smoke``: the paper's settings at 200 architectures and 30 / 30 steps. The SDE is the
    score net's (``score_config`` from its checkpoint; VE only)."""
    if score_config.sde != "ve":
        raise ValueError(f"property predictors are trained under a VE-SDE; the score net uses {score_config.sde!r}")
    sde = {"sigma_min": score_config.sigma_min, "sigma_max": score_config.sigma_max}
    if check_profile(profile) == "quick":
        return replace(QUICK, **sde)
    if profile == "smoke":
        return SurrogateConfig(n_train=200, fit=FitConfig(steps=30, lr=1e-3), noise_fit=FitConfig(steps=30, lr=1e-3),
                               **sde)
    return SurrogateConfig(n_train=10_000, fit=FitConfig(steps=5_000, lr=1e-3),
                           noise_fit=FitConfig(steps=10_000, lr=1e-3), **sde)


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
                       seed: int = 0, cache_dir: Path | str | None = None, device: Device = "cpu") -> Predictor:
    """Clean or noise-aware predictor of ``prop`` (in ``prop.unit``), cached as ``cache_dir/<key>.pt``
    (loaded with ``weights_only=True``) and reused when the key matches; trained once by concurrent
    callers, retrained when the copy is corrupt (:func:`nagkit.storage.cached_module`). Trained on and
    returned on ``device`` (not part of the key)."""
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
        fit_predictor(model, space.encode_batch(archs), y, fit, config.sde() if noise_aware else None, device=device)

    path = Path(cache_dir or default_cache_dir()) / f"{property_key(prop, noise_aware, config, seed)}.pt"
    return cached_module(path, make, train).to(as_device(device))
