"""NAS-Bench-Graph (Qin et al., NeurIPS 2022) as a table, from the PyPI package ``nas-bench-graph``.

Source (see ``nagkit/resources/NBGRAPH.md``): the "light" tables shipped in the ``nas-bench-graph==1.4.0``
wheel (Apache-2.0), ``nas_bench_graph/light/<dataset>.bench``, read through a restricted unpickler
(:func:`nagkit.spaces.nbgraph.read_bench`). Each entry holds one value per architecture (the
benchmark's light files publish no per-seed values and no training time): ``valid_perf`` and ``perf``
(fractions; reported here x100, in %), ``latency`` (seconds; shown in ms) and ``para`` (millions of
parameters). ``proteins`` covers only the 2,021 architectures built from its five operations
(``PROTEIN_OPS``); every other architecture is NaN there.
"""
from __future__ import annotations

import numpy as np

from nagkit.benchmarks.base import Metric, TabularBenchmark
from nagkit.spaces.nbgraph import DATASETS, NBGraphSpace, read_bench

METRICS: tuple[Metric, ...] = (Metric.VAL_ACC, Metric.TEST_ACC, Metric.LATENCY, Metric.PARAMS)
# metric -> (bench field, factor applied when the table is built)
_FIELDS = {"val_acc": ("valid_perf", 100.0), "test_acc": ("perf", 100.0), "latency": ("latency", 1.0),
           "params": ("para", 1.0)}


class NBGraphBenchmark(TabularBenchmark):
    """``query(arch, dataset, metric)`` over the 26,206 NAS-Bench-Graph architectures.

    Any wiring of an architecture is accepted (it is mapped to the stored architecture computing the
    same function). ``seed`` must be ``None``: the light tables hold a single value per architecture.
    """

    name = "nbgraph"
    datasets = DATASETS
    metrics = METRICS
    units = {"val_acc": ("%", 1.0), "test_acc": ("%", 1.0), "latency": ("ms", 1000.0), "params": ("M", 1.0)}
    seeds = ()
    cost_metric = None  # no training time is recorded: each training costs 1
    cost_unit = "trainings"

    def __init__(self) -> None:
        self.space = NBGraphSpace()
        self._tables: dict[str, dict[str, np.ndarray]] = {}  # dataset -> metric -> values, loaded on first use

    def table(self, dataset: str, metric: str, seed: int | None = None) -> np.ndarray:
        """All 26,206 values in ``space.enumerate()`` order (NaN where ``dataset`` lacks the architecture)."""
        self.check(dataset, metric)
        self.check_seed(seed)
        tables = self._tables.get(dataset)
        if tables is None:
            tables = self._tables[dataset] = self._load(dataset)
        return tables[str(metric)]

    def _load(self, dataset: str) -> dict[str, np.ndarray]:
        bench = read_bench(dataset)
        keys = self.space._keys
        out = {}
        for metric, (field, factor) in _FIELDS.items():
            values = np.full(len(keys), np.nan)
            for i, key in enumerate(keys):
                entry = bench.get(key)
                if entry is not None:
                    values[i] = entry[field] * factor
            values.setflags(write=False)
            out[metric] = values
        unknown = set(bench) - set(keys)
        if unknown:
            raise ValueError(f"NAS-Bench-Graph {dataset} has {len(unknown)} keys outside the space, e.g. {min(unknown)}")
        return out

    def index(self, arch: str) -> int:
        return self.space.index(arch)

    def key(self, arch: str) -> int:
        """The benchmark's own key (``Arch.valid_hash()``) of ``arch``."""
        return self.space.key(arch)


def cross_dataset_spearman(bench: NBGraphBenchmark | None = None, metric: str = "test_acc") -> dict[str, float]:
    """Spearman correlation, per dataset, between its ``metric`` and the mean ``metric`` of the other
    datasets, over the architectures it has; the mean is over the other datasets that have every one
    of those architectures (for the eight full datasets: the other seven, proteins left out; for
    proteins: all eight, on its 2,021 architectures)."""
    from scipy.stats import spearmanr

    bench = bench or NBGraphBenchmark()
    tables = np.stack([bench.table(d, metric) for d in bench.datasets])
    out = {}
    for d, dataset in enumerate(bench.datasets):
        rows = ~np.isnan(tables[d])
        others = [j for j in range(len(bench.datasets)) if j != d and not np.isnan(tables[j, rows]).any()]
        mean = tables[others][:, rows].mean(axis=0)
        out[dataset] = float(spearmanr(tables[d, rows], mean).statistic)
    return out


def pairwise_spearman(bench: NBGraphBenchmark | None = None, metric: str = "test_acc") -> dict[str, dict[str, float]]:
    """Spearman correlation of ``metric`` between every two datasets, over the architectures both have."""
    from scipy.stats import spearmanr

    bench = bench or NBGraphBenchmark()
    tables = {d: bench.table(d, metric) for d in bench.datasets}
    out: dict[str, dict[str, float]] = {}
    for a, ta in tables.items():
        out[a] = {}
        for b, tb in tables.items():
            both = ~np.isnan(ta) & ~np.isnan(tb)
            out[a][b] = float(spearmanr(ta[both], tb[both]).statistic)
    return out
