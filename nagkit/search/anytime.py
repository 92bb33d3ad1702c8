"""Anytime curves: incumbent test accuracy (incumbent chosen by validation accuracy) versus the
number of trained architectures and versus simulated training time, over seeds and methods.

A *method* is a label with a spec ``{"name": <strategy>, **config}`` (optionally ``"budget"``
overriding the common budget); a task names the search space whose benchmark it runs on
(``"space"``, default ``"nb201"``). Runs fan out through ``nagkit.executor``; results are plain
dicts of lists, ready for JSON. With a ``cache_dir`` every finished run is stored at once, so an
interrupted grid resumes where it stopped (keys: the task and a fingerprint of the code a run
depends on, so editing that code invalidates the cache).
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from nagkit.benchmarks import Ledger, get_benchmark
from nagkit.executor import Executor, get_executor
from nagkit.search.base import get_strategy
from nagkit.stats import band, summarise
from nagkit.storage import atomic_write_json, cached

DEFAULT_SPACE = "nb201"


def run_one(task: dict) -> dict:
    """One search run; ``task``: label, spec, dataset, seed, budget, val_seed (benchmark seed for
    validation accuracy, ``None``: mean over the benchmark's seeds), optionally space (the search
    space whose registered benchmark is searched, default ``"nb201"``). Picklable, top-level."""
    bench = get_benchmark(task.get("space", DEFAULT_SPACE))
    spec = dict(task["spec"])
    strategy = get_strategy(spec.pop("name"), **spec)
    ledger = Ledger(bench, task["dataset"], seed=task.get("val_seed"))
    start = time.perf_counter()
    strategy.run(ledger, task["budget"], torch.Generator().manual_seed(task["seed"]))
    wall = time.perf_counter() - start
    traj = ledger.trajectory()
    optimum = bench.optimum(task["dataset"])[1]
    until = ledger.trained_until(optimum)
    return {
        "label": task["label"], "dataset": task["dataset"], "seed": task["seed"], "budget": task["budget"],
        "n_trained": [t["n_trained"] for t in traj], "seconds": [t["seconds"] for t in traj],
        "val_acc": [t["val_acc"] for t in traj], "test_acc": [t["test_acc"] for t in traj],
        "final_arch": traj[-1]["arch"], "optimum": optimum,
        "trained_until_optimum": until,
        "seconds_until_optimum": None if until is None else ledger.history[until - 1].total_seconds,
        "wall_seconds": wall,
    }


# Package parts a search run's result depends on (strategies, transfer priors, sampler, predictors, benchmarks,
# checkpoints, summary statistics); post-processing (this module's summaries and plots, the speed-up table) is
# left out. Bump RUN_RECORD when run_one records something new.
RUN_DEPENDENCIES = ("search", "transfer", "diffusion", "guidance.py", "predictors", "benchmarks", "spaces",
                    "resources", "stats.py")
NOT_RUN_DEPENDENCIES = ("search/anytime.py", "search/speedup.py")
RUN_RECORD = 1
# Keys of a run_one record: a cached record lacking one is corrupt.
RUN_FIELDS = ("label", "dataset", "seed", "budget", "n_trained", "seconds", "val_acc", "test_acc", "final_arch",
              "optimum", "trained_until_optimum", "seconds_until_optimum", "wall_seconds")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Hash of the files under :data:`RUN_DEPENDENCIES` in the installed ``nagkit`` package."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha1(str(RUN_RECORD).encode())
    for part in RUN_DEPENDENCIES:
        path = root / part
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for f in files:
            name = f.relative_to(root).as_posix()
            if name not in NOT_RUN_DEPENDENCIES:
                digest.update(name.encode())
                digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def task_key(task: dict) -> str:
    """Cache key of a run: everything that determines it (not its label) plus the code fingerprint.
    NB201 tasks predate other spaces: their key carries no space name."""
    spec = {k: task.get(k) for k in ("spec", "dataset", "seed", "budget", "val_seed")}
    if task.get("space", DEFAULT_SPACE) != DEFAULT_SPACE:
        spec["space"] = task["space"]
    return hashlib.sha1(json.dumps([spec, code_fingerprint()], sort_keys=True).encode()).hexdigest()[:20]


def load_run(path: Path) -> dict:
    """A cached run record; ``ValueError`` when it is not a JSON object with every field of :func:`run_one`."""
    record = json.loads(path.read_text())
    missing = [k for k in RUN_FIELDS if k not in record] if isinstance(record, dict) else list(RUN_FIELDS)
    if missing:
        raise ValueError(f"not a search-run record (missing {missing})")
    return record


def run_cached(task: dict) -> dict:
    """:func:`run_one`, reading / writing ``task["cache"]/<key>.json`` when ``task["cache"]`` is set;
    concurrent workers run a task once, and a corrupt record is reported and rerun (:func:`nagkit.storage.cached`)."""
    if not task.get("cache"):
        return run_one(task)
    path = Path(task["cache"]) / f"{task_key(task)}.json"
    result = cached(path, load_run, lambda: run_one(task), lambda r, p: atomic_write_json(p, r))
    return {**result, "label": task["label"]}


def make_tasks(methods: dict[str, dict], datasets: Sequence[str], seeds: Sequence[int], budget: int,
               val_seed: int | None = None, space: str = DEFAULT_SPACE) -> list[dict]:
    """Every (method, dataset, seed) run on the benchmark of ``space`` as a task dict for :func:`run_one`."""
    tasks = []
    for label, spec in methods.items():
        spec = dict(spec)
        b = int(spec.pop("budget", budget))
        tasks += [{"label": label, "spec": spec, "space": space, "dataset": d, "seed": int(s), "budget": b,
                   "val_seed": val_seed} for d in datasets for s in seeds]
    return tasks


def run_grid(methods: dict[str, dict], datasets: Sequence[str], seeds: Sequence[int], budget: int,
             executor: Executor | None = None, val_seed: int | None = None,
             cache_dir: str | Path | None = None, space: str = DEFAULT_SPACE) -> list[dict]:
    """Run every method on every dataset (of the benchmark of ``space``) for every seed (through
    ``executor``, default local); finished runs are kept in ``cache_dir`` (resume by calling again)
    when it is given."""
    executor = executor or get_executor("local", progress=False)
    tasks = make_tasks(methods, datasets, seeds, budget, val_seed, space)
    if cache_dir is not None:
        tasks = [{**t, "cache": str(cache_dir)} for t in tasks]
    return executor.map(run_cached, tasks, desc="search runs")


def curve_by_count(runs: list[dict]) -> dict:
    """Incumbent test accuracy after 1..budget trained architectures (mean, 95% CI)."""
    length = min(len(r["test_acc"]) for r in runs)
    curves = np.array([r["test_acc"][:length] for r in runs])
    return {"n_trained": list(range(1, length + 1)), **band(curves)}


def curve_by_time(runs: list[dict], points: int = 60) -> dict:
    """Incumbent test accuracy on a log grid of simulated seconds where every run is defined."""
    lo = max(r["seconds"][0] for r in runs)
    hi = min(r["seconds"][-1] for r in runs)
    grid = np.geomspace(lo, max(hi, lo), points)
    curves = np.array([np.asarray(r["test_acc"])[np.searchsorted(r["seconds"], grid, side="right") - 1]
                       for r in runs])
    return {"seconds": grid.tolist(), **band(curves)}


def summarise_runs(runs: list[dict]) -> dict:
    """Per dataset and method label: curves, final accuracy and trained-until-optimum counts."""
    out: dict[str, dict] = {}
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        for label in dict.fromkeys(r["label"] for r in runs):
            group = [r for r in runs if r["dataset"] == dataset and r["label"] == label]
            if not group:
                continue
            reached = [r["trained_until_optimum"] for r in group if r["trained_until_optimum"] is not None]
            out.setdefault(dataset, {})[label] = {
                "by_count": curve_by_count(group),
                "by_time": curve_by_time(group),
                "final_test_acc": summarise([r["test_acc"][-1] for r in group]),
                "trained_until_optimum": {**(summarise(reached) if reached else {"mean": None, "ci95": None}),
                                          "n": len(reached), "runs": len(group),
                                          "median": float(np.median(reached)) if reached else None},
                "wall_seconds": summarise([r["wall_seconds"] for r in group]),
                "budget": group[0]["budget"],
            }
    return out


def accuracy_at(summary: dict, n_trained: int) -> dict[str, float]:
    """Mean and CI of the incumbent test accuracy after ``n_trained`` trainings."""
    curve = summary["by_count"]
    i = min(n_trained, len(curve["mean"])) - 1
    return {"mean": curve["mean"][i], "ci95": curve["ci95"][i]}


def compare_row(entry: dict, paper_acc: float, paper_trained: int | None = None) -> tuple[str, str]:
    """``(nagkit text, status)`` for a report row: accuracy reproduces when within
    ``max(95% CI, 0.1)`` points of the paper; a paper count of trained architectures is met when
    every run trained the optimum and their mean count is at most 1.5x the paper's."""
    acc = entry["final_test_acc"]
    until = entry["trained_until_optimum"]
    counts = f"{until['mean']:.0f}" if until["mean"] is not None else "-"
    text = f"{acc['mean']:.2f} ± {acc['ci95']:.2f} ({counts} trained; optimum in {until['n']}/{until['runs']} runs)"
    ok = abs(acc["mean"] - paper_acc) <= max(acc["ci95"], 0.1)
    if paper_trained is not None:
        ok = ok and until["n"] == until["runs"] and until["mean"] <= 1.5 * paper_trained
    return text, "reproduced" if ok else "deviates"


def plot_anytime(summary: dict, dataset: str, ax, axis: str = "count", labels: Sequence[str] | None = None) -> None:
    """Mean incumbent test accuracy with 95% CI bands per method on a matplotlib axis."""
    key, xkey = ("by_count", "n_trained") if axis == "count" else ("by_time", "seconds")
    for label in labels or list(summary[dataset]):
        curve = summary[dataset][label][key]
        x = np.asarray(curve[xkey]) / (1 if axis == "count" else 3600)
        mean, half = np.asarray(curve["mean"]), np.asarray(curve["ci95"])
        ax.plot(x, mean, label=label)
        ax.fill_between(x, mean - half, mean + half, alpha=0.2)
    ax.set_xlabel("architectures trained" if axis == "count" else "simulated training time (hours)")
    if axis != "count":
        ax.set_xscale("log")
    ax.set_ylabel("incumbent test accuracy (%)")
    ax.set_title(dataset)
    ax.legend(fontsize=8)
