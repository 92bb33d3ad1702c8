"""Tabular benchmarks (NASLib-style ``query(arch, dataset, metric)``) and the cost ledger."""
from nagkit.benchmarks.ledger import Ledger, TrainRecord
from nagkit.benchmarks.nats import load_nats_tables, nats_benchmark
from nagkit.benchmarks.nb201 import DATASETS, METRICS, NB201Benchmark, NB201Tables

__all__ = ["DATASETS", "METRICS", "Ledger", "NB201Benchmark", "NB201Tables", "TrainRecord", "load_nats_tables", "nats_benchmark"]
