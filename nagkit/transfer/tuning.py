"""Choosing transfer NAG's guidance scale without the target's labels, and evaluating a ranking predictor.

A pseudo-task is built from a target's sources only: (pseudo-target, its sources) = (the first
source, the rest); each grid scale runs the full protocol on it and the best pseudo-target
outcome picks the scale.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch

from nagkit.executor import get_executor
from nagkit.transfer.lodo import BenchmarkLike, as_benchmark, lodo_sources, space_matrices
from nagkit.transfer.protocol import TransferConfig, run_seed, summarise_runs


def pseudo_task(sources: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """A stand-in task built from the sources only: (pseudo-target, its sources) = (the first
    source, the rest). Tuning on it never reads the real target's labels."""
    if len(sources) < 2:
        raise ValueError(f"a pseudo-task needs at least two source datasets, got {sources}")
    return sources[0], sources[1:]


def scale_score(runs: Sequence[dict], min_validity: float = 0.99) -> tuple[bool, float]:
    """Sort key of one guidance scale on a pseudo-task: validity >= ``min_validity`` first, then the
    mean pseudo-target accuracy of the pools (smoother over few seeds than "#trained to the optimum")."""
    s = summarise_runs(runs)
    return (s["validity"] >= min_validity, s["population"]["mean"])


def optimum_rank(scorer: Callable[[torch.Tensor], torch.Tensor], dataset: str,
                 benchmark: BenchmarkLike = "nb201") -> int:
    """Position of ``dataset``'s optimum among all the benchmark's architectures ordered by ``scorer``
    (1 = top); an evaluation of a ranking predictor, never used to tune one."""
    bench = as_benchmark(benchmark)
    scores = scorer(space_matrices(bench)).detach().numpy()
    acc = np.asarray(bench.table(dataset, "test_acc"))[np.argsort(-scores, kind="stable")]
    return int(np.argmax(acc >= acc.max() - 1e-6)) + 1


def choose_scale(target: str, grid: Sequence[float], seeds: Sequence[int], config: TransferConfig,
                 executor=None, space: str = "nb201", profile: str = "quick") -> tuple[float, list[dict]]:
    """Guidance scale for ``target`` (a dataset of the benchmark of ``space``) chosen on the
    pseudo-task of its LODO sources (largest :func:`scale_score`; the smaller scale on ties), sampling
    from the score net of ``profile``. Returns the scale and one row per grid value."""
    pseudo_target, pseudo_sources = pseudo_task(lodo_sources(target, space))
    items = [{"dataset": pseudo_target, "sources": pseudo_sources, "seed": s, "config": replace(config, scale=w),
              "space": space, "profile": profile} for w in grid for s in seeds]
    runs = (executor or get_executor()).map(run_seed, items, desc=f"scale for {target}")
    table, best = [], None
    for i, w in enumerate(grid):
        part = runs[i * len(seeds):(i + 1) * len(seeds)]
        key = scale_score(part)
        s = summarise_runs(part)
        table.append({"target": target, "pseudo_target": pseudo_target, "pseudo_sources": pseudo_sources, "scale": w,
                      "validity": s["validity"], "uniqueness": s["uniqueness"],
                      "reached_within_3": s["reached_within_3"],
                      "acc_after_1": s["acc_after_1_summary"]["mean"], "population_mean": s["population"]["mean"]})
        if best is None or key > best[0]:
            best = (key, w)
    return best[1], table
