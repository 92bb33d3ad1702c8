"""The tabular-benchmark interface (NASLib-style ``query(arch, dataset, metric)``) every search,
ledger, transfer and CLI module is written against.

A benchmark declares its space, datasets, metrics (with units), benchmark seeds and its cost; a
subclass supplies only :meth:`TabularBenchmark.table` (every architecture's value, in
``space.enumerate()`` order) and :meth:`TabularBenchmark.index`.
"""
from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from enum import Enum

import numpy as np

from nagkit.spaces.base import SearchSpace


class Metric(str, Enum):
    """Metric names a benchmark may publish (a ``str`` enum: plain strings compare equal)."""

    VAL_ACC = "val_acc"
    TEST_ACC = "test_acc"
    TRAIN_TIME = "train_time"
    LATENCY = "latency"
    PARAMS = "params"

    def __str__(self) -> str:
        return self.value


class BenchmarkNames:
    """The name checks of anything a :class:`~nagkit.benchmarks.ledger.Ledger` queries: ``name``,
    ``datasets``, ``metrics`` and ``seeds`` as :class:`TabularBenchmark` declares them."""

    name: str
    datasets: tuple[str, ...]
    metrics: tuple[Metric, ...]
    seeds: tuple[int, ...] = ()  # benchmark seeds of per-seed metrics; () when only means are published

    def check(self, dataset: str, metric: str | None = None) -> None:
        """``KeyError`` naming the valid choices for an unknown dataset or metric."""
        if dataset not in self.datasets:
            raise KeyError(f"unknown {self.name} dataset {dataset!r}; valid: {list(self.datasets)}")
        if metric is not None and metric not in self.metrics:
            raise KeyError(f"unknown {self.name} metric {metric!r}; valid: {[str(m) for m in self.metrics]}")

    def check_seed(self, seed: int | None) -> None:
        if seed is not None and seed not in self.seeds:
            valid = f"{list(self.seeds)} or None for the mean" if self.seeds else "None (no seeds: only means are published)"
            raise KeyError(f"unknown {self.name} seed {seed!r}; valid: {valid}")


class TabularBenchmark(BenchmarkNames, ABC):
    """A finite space whose architectures all have looked-up values.

    ``units[metric]`` is ``(unit, factor)``: the factor turns a stored value into that unit (e.g.
    latency stored in seconds, shown in ms). ``cost_metric`` is what training one architecture costs
    (``None``: the benchmark records no training cost; each training then costs 1, in ``cost_unit``).
    """

    space: SearchSpace
    units: dict[str, tuple[str, float]]  # keyed by the metric's value
    cost_metric: Metric | None = Metric.TRAIN_TIME
    cost_unit: str = "s"

    @abstractmethod
    def table(self, dataset: str, metric: str, seed: int | None = None) -> np.ndarray:
        """Every architecture's value in ``space.enumerate()`` order (NaN where the benchmark has none)."""

    @abstractmethod
    def index(self, arch: str) -> int:
        """Position of ``arch`` in ``space.enumerate()``; ``ValueError`` on a malformed string."""

    def query(self, arch: str, dataset: str, metric: str, seed: int | None = None) -> float:
        """One benchmark value; ``ValueError`` on a malformed string, ``KeyError`` on bad names."""
        self.check(dataset, metric)
        value = float(self.table(dataset, metric, seed)[self.index(arch)])
        if np.isnan(value):
            raise KeyError(f"the {self.name} benchmark has no {metric} of {arch} on {dataset}"
                           + (f" for seed {seed}" if seed is not None else ""))
        return value

    def cost(self, arch: str, dataset: str, seed: int | None = None) -> float:
        """What training ``arch`` costs, in ``cost_unit``."""
        return 1.0 if self.cost_metric is None else self.query(arch, dataset, self.cost_metric, seed)

    def optimum(self, dataset: str, metric: str = Metric.TEST_ACC) -> tuple[str, float]:
        """Best architecture string and its value (highest ``metric``)."""
        values = self.table(dataset, metric)
        i = int(np.nanargmax(values))
        return self.space.enumerate()[i], float(values[i])

    @staticmethod
    def seed_mean(values: np.ndarray) -> np.ndarray:
        """Mean over the seed axis, NaN where no seed has a value."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(values, axis=1)
