"""Notebook 06's experiments: candidate architectures (guided NB201 generation, generated MBV3 subnets,
benchmark-ranked and random baselines) trained at equal budget through the image trainer, and their
summaries (mean and 95% Student-t interval, ``nagkit.stats.summarise_t``).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from nagkit.diffusion.population import sample_population
from nagkit.executor import Executor, get_executor
from nagkit.stats import summarise_t
from nagkit.training.trainer import SEEDS, ImageTrainConfig, TrainJob, run_job


def train_many(archs: list[str], dataset: str, config: ImageTrainConfig, seeds: Iterable[int] = SEEDS,
               executor: Executor | None = None, **job_fields) -> list[dict]:
    """Every (arch, seed) pair through ``executor`` (default: local processes); input order kept."""
    jobs = [TrainJob(a, s, dataset, config, **job_fields) for a in archs for s in seeds]
    return (executor or get_executor()).map(run_job, jobs, desc=f"train on {dataset}")


def by_arch(results: list[dict], metric: str = "test_acc") -> dict[str, dict]:
    """Per-architecture ``summarise_t`` of a metric over seeds."""
    out: dict[str, list[float]] = {}
    for r in results:
        out.setdefault(r["arch"], []).append(r[metric])
    return {a: summarise_t(v) for a, v in out.items()}


def train_groups(groups: dict[str, list[str]], dataset: str, config: ImageTrainConfig, seeds: Iterable[int] = SEEDS,
                 executor: Executor | None = None, **job_fields) -> dict[str, dict]:
    """Train every group of cells at the same budget; per group: the runs, per-arch and group summaries.

    The group summary pools the per-architecture seed means (one value per architecture).
    """
    seeds = list(seeds)
    names = list(groups)
    flat = [a for g in names for a in groups[g]]
    results = train_many(flat, dataset, config, seeds, executor, **job_fields)
    out, i = {}, 0
    for g in names:
        runs = results[i: i + len(groups[g]) * len(seeds)]
        i += len(runs)
        per_arch = by_arch(runs)
        out[g] = {"archs": groups[g], "runs": runs, "per_arch": per_arch,
                  "test_acc": summarise_t(s["mean"] for s in per_arch.values()),
                  "valid_acc": summarise_t(s["mean"] for s in by_arch(runs, "valid_acc").values())}
    return out


def top_by_benchmark(pool: list[str], k: int, dataset: str = "cifar10", metric: str = "val_acc") -> list[str]:
    """The ``k`` cells of ``pool`` with the highest NB201 benchmark value (ties keep pool order)."""
    from nagkit.benchmarks import NB201Benchmark

    bench = NB201Benchmark()
    values = [bench.query(a, dataset, metric) for a in pool]
    order = sorted(range(len(pool)), key=lambda i: -values[i])
    return [pool[i] for i in order[:k]]


def baseline_groups(k: int, pool_size: int, seed: int) -> dict[str, list[str]]:
    """Two groups of ``k`` NB201 cells drawn from one seeded stream: ``CIFAR-10-ranked`` = the top
    ``k`` by CIFAR-10 validation accuracy among ``pool_size`` random cells, ``random`` = the next ``k``
    random cells. Further groups (e.g. guided generation) are added to the dict by the caller."""
    from nagkit.spaces.nb201 import NB201Space

    cells = NB201Space().sample(pool_size + k, torch.Generator().manual_seed(seed))
    return {"CIFAR-10-ranked": top_by_benchmark(cells[:pool_size], k), "random": cells[pool_size:]}


NB201_SOURCES: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")


@dataclass(frozen=True)
class GuidedNB201Config:
    """DiffusionNAG's candidate generation on NB201 for a dataset outside the benchmark: the packaged
    score net, guided (constant scale ``w``, maximise) by a noise-aware surrogate of the ``sources``'
    accuracies; rounds of ``batch`` samples until ``min_unique`` functionally distinct valid cells
    (at most ``max_rounds``); ``w = 0`` samples without guidance."""

    w: float = 10.0
    batch: int = 100
    min_unique: int = 10
    max_rounds: int = 5
    sources: tuple[str, ...] = NB201_SOURCES
    steps: int = 20  # predictor-corrector steps (nagkit's fast sampler; the authors use 1000)


def guided_nb201_cells(k: int, seed: int, surrogate=None, config: GuidedNB201Config = GuidedNB201Config(),
                       cache_dir: str | Path | None = None) -> dict:
    """Generate NB201 cells as ``config`` says, rank the distinct valid ones with the *clean*
    surrogate (trained on the same sources) and return the top ``k`` with the generation record.

    ``surrogate``: a ``nagkit.predictors.fit.SurrogateConfig`` (default: its quick profile); both
    surrogates are cached in ``cache_dir`` (default ``<cache root>/surrogates``). Samples are drawn by
    ``nagkit.diffusion.population.sample_population`` (distinct = ``space.canonical``). Keys of the
    result: ``cells`` (top ``k``, best first), ``ranked`` ((cell, clean score) of every distinct valid
    cell, best first), ``valid_cells`` (every valid sample, duplicates kept), ``generated``, ``valid``,
    ``unique``, ``rounds``.
    """
    from nagkit.diffusion.sample import SamplerConfig, generate
    from nagkit.diffusion.train import scorenet_and_sde
    from nagkit.guidance import Objective, Schedule, make_guidance
    from nagkit.predictors.fit import SurrogateConfig, predict
    from nagkit.spaces.nb201 import NB201Space
    from nagkit.transfer.lodo import train_surrogate

    surrogate = surrogate or SurrogateConfig()
    space = NB201Space()
    model, sde = scorenet_and_sde("nb201")
    if (getattr(sde, "sigma_min", None), getattr(sde, "sigma_max", None)) != (surrogate.sigma_min, surrogate.sigma_max):
        raise ValueError("the noise-aware surrogate must be trained at the score network's noise levels")
    clean = train_surrogate(config.sources, False, surrogate, seed, cache_dir)
    guidance = None
    if config.w:
        noise = train_surrogate(config.sources, True, surrogate, seed, cache_dir)
        guidance = make_guidance([Objective(noise.predict)], sde, Schedule("constant", config.w))
    generator = torch.Generator().manual_seed(seed)
    sampler = SamplerConfig("pc", config.steps)
    population = sample_population(
        lambda _: generate(space, model, sde, config.batch, generator, sampler, guidance=guidance),
        max(k, config.min_unique), config.max_rounds, key=space.canonical)
    if population.n_valid_unique < k:
        raise RuntimeError(f"only {population.n_valid_unique} distinct valid cells in {population.n_drawn} samples; "
                           f"need {k}")
    candidates = population.archs  # the first generated string of each functionally distinct cell
    scores = predict(clean, space.encode_batch(candidates)).tolist()
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    ranked = [(candidates[i], scores[i]) for i in order]
    return {"cells": [c for c, _ in ranked[:k]], "ranked": ranked, "valid_cells": population.valid,
            "generated": population.n_drawn, "valid": population.n_valid, "unique": population.n_valid_unique,
            "rounds": population.n_batches}


def generated_mbv3_subnets(k: int, seed: int, n: int = 100, resolution: int = 32, n_classes: int = 10,
                           steps: int = 20) -> dict:
    """``n`` samples of the packaged MBV3 score net (unguided); of the distinct valid subnets the ``k``
    with the most MFLOPs at ``resolution`` (a capacity proxy: no MBV3 accuracy predictor works
    offline). Keys: ``subnets`` (best first), ``generated``, ``valid``, ``unique``."""
    from nagkit.diffusion.sample import SamplerConfig, generate
    from nagkit.diffusion.train import scorenet_and_sde
    from nagkit.spaces import mbv3

    space = mbv3.MBV3Space()
    model, sde = scorenet_and_sde("mbv3")
    generator = torch.Generator().manual_seed(seed)
    population = sample_population(lambda _: generate(space, model, sde, n, generator, SamplerConfig("pc", steps)),
                                   max(k, 1), 1)  # one batch of n samples, distinct strings
    if population.n_valid_unique < k:
        raise RuntimeError(f"only {population.n_valid_unique} distinct valid subnets in {n} samples; need {k}")
    ranked = sorted(population.archs, key=lambda a: -mbv3.flops(a, resolution, n_classes))
    return {"subnets": ranked[:k], "generated": n, "valid": population.n_valid, "unique": population.n_valid_unique}


def best_by_valid(group: dict) -> tuple[str, dict]:
    """The group's architecture with the best mean validation accuracy, and its test-accuracy summary
    (the paper's protocol: train candidates, keep the best on validation, report its test mean +- CI)."""
    valid = by_arch(group["runs"], "valid_acc")
    arch = max(group["archs"], key=lambda a: valid[a]["mean"])
    return arch, group["per_arch"][arch]
