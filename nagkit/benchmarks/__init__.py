"""Tabular benchmarks (NASLib-style ``query(arch, dataset, metric)``), their registry and the cost ledger.

A benchmark is registered under the name of its search space; :func:`get_benchmark` builds one per
process (its tables load once).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from nagkit.benchmarks.base import Metric, TabularBenchmark
from nagkit.benchmarks.ledger import Ledger, TrainRecord
from nagkit.benchmarks.nb201 import NB201Benchmark
from nagkit.benchmarks.nbgraph import NBGraphBenchmark

BENCHMARKS: dict[str, Callable[[], TabularBenchmark]] = {
    "nb201": NB201Benchmark,
    "nbgraph": NBGraphBenchmark,
}


@lru_cache(maxsize=None)
def get_benchmark(name: str) -> TabularBenchmark:
    """The benchmark of space ``name`` (one instance per process); ``KeyError`` lists the valid names."""
    if name not in BENCHMARKS:
        raise KeyError(f"no tabular benchmark for space {name!r}; valid: {sorted(BENCHMARKS)}")
    return BENCHMARKS[name]()


__all__ = ["BENCHMARKS", "Ledger", "Metric", "NB201Benchmark", "TabularBenchmark", "TrainRecord", "get_benchmark"]
