"""GPU cost of a NAS method with the generator charged, as EDNAG's cost table does (notebook 12).

A method that trains ``n`` architectures pays ``n`` times the benchmark's mean training time of one
architecture on the dataset (NB201: the recorded 200-epoch GPU time; the mean over all cells, since
the paper does not say which cells its baselines trained). A generator-based method also pays its
own models: the score network's training, the predictors' training and the sampling of its batches,
each charged at the hours given (``None``: not reported, shown and left out of the total).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nagkit.benchmarks.base import Metric, TabularBenchmark


def mean_train_hours(bench: TabularBenchmark, dataset: str) -> float:
    """Mean training cost of one architecture of ``bench`` on ``dataset``, in hours (cost unit: seconds)."""
    if bench.cost_metric is None or bench.cost_unit != "s":
        raise ValueError(f"the {bench.name} benchmark charges {bench.cost_unit!r}, not GPU seconds")
    return float(np.nanmean(bench.table(dataset, Metric.TRAIN_TIME))) / 3600


@dataclass(frozen=True)
class MethodCost:
    """``trained`` architectures plus the generator's parts (hours; ``None`` = not reported)."""

    method: str
    trained: int
    generator: dict[str, float | None] = field(default_factory=dict)

    def hours(self, per_arch_hours: float) -> dict[str, float]:
        """Architecture training, generator (reported parts only) and total GPU hours."""
        arch = self.trained * per_arch_hours
        gen = sum(v for v in self.generator.values() if v is not None)
        return {"architectures": arch, "generator": gen, "total": arch + gen}


def cost_table(methods: list[MethodCost], per_arch_hours: float, reference: str) -> list[dict]:
    """One row per method: its hours and the speed-up of ``reference`` over it, by architectures
    trained and by total GPU time (> 1: ``reference`` is cheaper)."""
    by_name = {m.method: m for m in methods}
    if reference not in by_name:
        raise KeyError(f"reference {reference!r} is not among {list(by_name)}")
    ref = by_name[reference]
    ref_hours = ref.hours(per_arch_hours)["total"]
    rows = []
    for m in methods:
        h = m.hours(per_arch_hours)
        rows.append({"method": m.method, "trained": m.trained, **{f"{k} GPU-h": v for k, v in h.items()},
                     "not reported": sorted(k for k, v in m.generator.items() if v is None),
                     "speed-up (#trained)": m.trained / ref.trained,
                     "speed-up (GPU-h)": h["total"] / ref_hours})
    return rows
