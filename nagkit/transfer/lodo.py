"""Leave-one-dataset-out (LODO) surrogates on a tabular benchmark's tables.

A target dataset's surrogate is trained on the OTHER datasets' values only. Several source
datasets are combined into one objective: the mean of their per-dataset standardised (z-scored)
values, so no source dominates by scale; the target's labels are never read. Every function takes
the benchmark (a :class:`~nagkit.benchmarks.TabularBenchmark` or the name of its space, default
``"nb201"``); LODO needs one with at least two datasets.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from nagkit.benchmarks import TabularBenchmark, get_benchmark
from nagkit import paths
from nagkit.predictors.fit import Device, SurrogateConfig, as_device, evaluate, fit_predictor
from nagkit.predictors.model import Predictor
from nagkit.storage import cached_module

BenchmarkLike = TabularBenchmark | str
SURROGATE_VERSION = 1
# Named source sets besides "lodo", per benchmark name.
SOURCE_SETS: dict[str, dict[str, tuple[str, ...]]] = {"nb201": {"imagenet16": ("ImageNet16-120",)}}


def as_benchmark(benchmark: BenchmarkLike) -> TabularBenchmark:
    """``benchmark`` itself, or the registered benchmark of the space it names."""
    return get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark


def lodo_sources(target: str, benchmark: BenchmarkLike = "nb201") -> tuple[str, ...]:
    """The benchmark's datasets other than ``target``."""
    bench = as_benchmark(benchmark)
    bench.check(target)
    sources = tuple(d for d in bench.datasets if d != target)
    if not sources:
        raise ValueError(f"leave-one-dataset-out transfer needs a benchmark with at least two datasets; "
                         f"{bench.name} has {list(bench.datasets)}")
    return sources


def check_sources(target: str, sources: tuple[str, ...], benchmark: BenchmarkLike = "nb201") -> tuple[str, ...]:
    """``sources`` without repeats, after checking they are datasets of the benchmark other than ``target``."""
    bench = as_benchmark(benchmark)
    bench.check(target)
    if not sources:
        raise ValueError("need at least one source dataset")
    for name in sources:
        if name not in bench.datasets:
            raise KeyError(f"unknown {bench.name} source dataset {name!r}; valid: {list(bench.datasets)}")
    if target in sources:
        raise ValueError(f"the target {target!r} cannot be a source of its own predictor")
    return tuple(dict.fromkeys(sources))


def source_set_names(benchmark: BenchmarkLike = "nb201") -> tuple[str, ...]:
    """``"lodo"`` and the benchmark's named source sets."""
    return ("lodo", *SOURCE_SETS.get(as_benchmark(benchmark).name, {}))


def named_sources(target: str, name: str, benchmark: BenchmarkLike = "nb201") -> tuple[str, ...]:
    """The sources ``name`` stands for: ``"lodo"`` (the other datasets) or a named set of the benchmark
    (nb201: ``"imagenet16"``, ImageNet16-120 only)."""
    bench = as_benchmark(benchmark)
    bench.check(target)
    if name == "lodo":
        return lodo_sources(target, bench)
    sets = SOURCE_SETS.get(bench.name, {})
    if name not in sets:
        raise KeyError(f"unknown source set {name!r} of {bench.name}; valid: {list(source_set_names(bench))}")
    return check_sources(target, sets[name], bench)


def source_objective(sources: tuple[str, ...], metric: str = "test_acc", benchmark: BenchmarkLike = "nb201"
                     ) -> np.ndarray:
    """Mean over ``sources`` of z-scored benchmark ``metric``, for every architecture (``space.enumerate()``
    order). A source without a value for some architectures (NaN) is z-scored over those it has and left
    out of their mean; NaN where no source has a value."""
    if not sources:
        raise ValueError("need at least one source dataset")
    bench = as_benchmark(benchmark)
    tables = [np.asarray(bench.table(s, metric), dtype=float) for s in sources]
    if not any(np.isnan(v).any() for v in tables):
        return np.mean([(v - v.mean()) / v.std() for v in tables], axis=0)
    with warnings.catch_warnings():  # architectures no source has stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean([(v - np.nanmean(v)) / np.nanstd(v) for v in tables], axis=0)


def split(n_train: int, seed: int, benchmark: BenchmarkLike = "nb201") -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded random (train, held-out) split of the indices of the benchmark's architectures."""
    n_total = len(as_benchmark(benchmark).space.enumerate())
    if not 1 < n_train < n_total:
        raise ValueError(f"n_train must be in (1, {n_total}), got {n_train}")
    perm = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    return perm[:n_train].sort().values, perm[n_train:].sort().values


_MATRICES: dict[str, torch.Tensor] = {}  # space name -> its one-hot matrices


def space_matrices(benchmark: BenchmarkLike = "nb201") -> torch.Tensor:
    """One-hot matrices of all the benchmark's architectures in ``space.enumerate()`` order (built once per space)."""
    space = as_benchmark(benchmark).space
    if space.name not in _MATRICES:
        _MATRICES[space.name] = space.encode_batch(space.enumerate())
    return _MATRICES[space.name]


def default_cache_dir() -> Path:
    """``<cache root>/surrogates`` (:mod:`nagkit.paths`)."""
    return paths.cache_dir("surrogates")


def surrogate_key(sources: tuple[str, ...], noise_aware: bool, config: SurrogateConfig, seed: int,
                  benchmark: str = "nb201") -> str:
    """Hash of everything that determines a trained surrogate (progress bars excluded). NB201 keys
    predate other benchmarks and carry no benchmark name (cached NB201 surrogates stay valid)."""
    fit = config.noise_fit if noise_aware else config.fit
    spec = {
        "version": SURROGATE_VERSION, "sources": sorted(sources), "noise_aware": noise_aware, "seed": seed,
        "metric": config.metric, "n_train": config.n_train, "predictor": config.predictor.to_dict(),
        "fit": {k: v for k, v in fit.to_dict().items() if k != "progress"},
        "sde": [config.sigma_min, config.sigma_max] if noise_aware else None,
    }
    if benchmark != "nb201":
        spec["benchmark"] = benchmark
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def train_surrogate(sources: tuple[str, ...], noise_aware: bool, config: SurrogateConfig = SurrogateConfig(),
                    seed: int = 0, cache_dir: Path | str | None = None, benchmark: BenchmarkLike = "nb201",
                    device: Device = "cpu") -> Predictor:
    """Clean or noise-aware predictor of the ``sources`` objective, cached on disk.

    Trained on the seeded ``split(config.n_train, seed)`` training indices only; a cached copy
    (``cache_dir/<key>.pt``, loaded with ``weights_only=True``) is reused when the key matches.
    Concurrent callers train it once; a corrupt copy is reported, discarded and retrained
    (:func:`nagkit.storage.cached_module`). Trained on and returned on ``device`` (not part of the key).
    """
    bench = as_benchmark(benchmark)
    space = bench.space
    pconf = replace(config.predictor, noise_aware=noise_aware)

    def make() -> Predictor:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return Predictor(space, pconf)

    def train(model: Predictor) -> None:
        train_idx, _ = split(config.n_train, seed, bench)
        y = torch.as_tensor(source_objective(sources, config.metric, bench), dtype=torch.float32)
        train_idx = train_idx[torch.isfinite(y[train_idx])]  # architectures the sources have a value for
        fit = replace(config.noise_fit if noise_aware else config.fit, seed=seed)
        fit_predictor(model, space_matrices(bench)[train_idx], y[train_idx], fit,
                      config.sde() if noise_aware else None, device=device)

    key = surrogate_key(sources, noise_aware, config, seed, bench.name)
    return cached_module(Path(cache_dir or default_cache_dir()) / f"{key}.pt", make, train).to(as_device(device))


def lodo_surrogates(target: str, config: SurrogateConfig = SurrogateConfig(), seed: int = 0,
                    sources: tuple[str, ...] | None = None, cache_dir: Path | str | None = None,
                    benchmark: BenchmarkLike = "nb201", device: Device = "cpu") -> dict:
    """Clean and noise-aware surrogates for ``target`` from ``sources`` (default: all the benchmark's
    other datasets; e.g. ``("ImageNet16-120",)`` for NB201's ImageNet-only source) and the split,
    on ``device``."""
    bench = as_benchmark(benchmark)
    sources = tuple(sources) if sources is not None else lodo_sources(target, bench)
    if target in sources:
        raise ValueError(f"the target {target!r} cannot be a source of its own surrogate")
    train_idx, heldout_idx = split(config.n_train, seed, bench)
    return {
        "target": target, "sources": sources, "train_idx": train_idx, "heldout_idx": heldout_idx,
        "clean": train_surrogate(sources, False, config, seed, cache_dir, bench, device),
        "noise": train_surrogate(sources, True, config, seed, cache_dir, bench, device),
    }


def heldout_correlation(model: Predictor, target: str, config: SurrogateConfig, seed: int = 0,
                        t: float | None = None, n_cells: int | None = None, benchmark: BenchmarkLike = "nb201",
                        device: Device = "cpu") -> dict[str, float]:
    """Rank correlation of a surrogate with ``target``'s benchmark test accuracy on the architectures
    held out of its training split (or a seeded subset of ``n_cells`` of them) that the target has a
    value for; noise-aware models see their inputs noised at diffusion time ``t``; run on ``device``."""
    bench = as_benchmark(benchmark)
    _, heldout = split(config.n_train, seed, bench)
    if n_cells is not None:
        heldout = heldout[torch.randperm(len(heldout), generator=torch.Generator().manual_seed(seed))[:n_cells]]
    y = np.asarray(bench.table(target, "test_acc"))[heldout.numpy()]
    keep = np.isfinite(y)  # architectures the target has a value for
    heldout, y = heldout[torch.from_numpy(keep)], y[keep]
    sde = config.sde() if model.config.noise_aware else None
    return evaluate(model, space_matrices(bench)[heldout], y, sde, t, seed=seed, device=device)
