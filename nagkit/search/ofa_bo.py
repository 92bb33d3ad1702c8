"""BO on MobileNetV3 / ImageNet-1K (paper Figs. 3-4): the BO loop with guided generation as acquisition
optimiser (``diffusionnag-bo``) against the same loop with random and mutation candidate pools, every
"training" a query of OFA's accuracy predictor (:mod:`nagkit.benchmarks.ofa_accuracy`). Needs the predictor
(``nagkit fetch ofa-acc-predictor``); generation uses the MBV3 score net of :func:`~nagkit.diffusion.train.scorenet_and_sde`.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from nagkit.benchmarks.ledger import Ledger
from nagkit.benchmarks.ofa_accuracy import OFAAccuracyBenchmark
from nagkit.executor import Executor, get_executor
from nagkit.search.base import get_strategy
from nagkit.stats import summarise_t

# The compared acquisition optimisers of one BO loop (ensemble surrogate, ITS acquisition).
METHODS: dict[str, dict] = {
    "guided generation (DiffusionNAG-BO)": {"name": "diffusionnag-bo"},
    "mutation pool": {"name": "bananas", "optimiser": "mutation"},
    "random pool": {"name": "bananas", "optimiser": "random"},
}


def run_mbv3_bo(task: dict) -> dict:
    """Executor task ``{"label", "spec", "seed", "budget"[, "predictor"]}``: one BO run on the OFA surrogate;
    the incumbent (by predicted accuracy) after each query."""
    torch.set_num_threads(1)
    spec = dict(task["spec"])
    strategy = get_strategy(spec.pop("name"), **spec)  # KeyError listing the methods before the predictor loads
    ledger = Ledger(OFAAccuracyBenchmark(task.get("predictor")), "imagenet")
    strategy.run(ledger, task["budget"], torch.Generator().manual_seed(task["seed"]))
    traj = ledger.trajectory()
    return {"label": task["label"], "seed": task["seed"], "budget": task["budget"],
            "acc": [t["test_acc"] for t in traj], "final_arch": traj[-1]["arch"], "final_acc": traj[-1]["test_acc"]}


def compare_mbv3_bo(budget: int, seeds: Sequence[int], predictor: str | None = None,
                    methods: dict[str, dict] = METHODS, executor: Executor | None = None) -> dict:
    """Every method x seed through ``executor``; per method: the runs and the final accuracy's mean and
    95% t interval. ``FileNotFoundError`` before any work when the predictor is missing."""
    OFAAccuracyBenchmark(predictor)
    tasks = [{"label": label, "spec": spec, "seed": s, "budget": budget, "predictor": predictor}
             for label, spec in methods.items() for s in seeds]
    runs = (executor or get_executor()).map(run_mbv3_bo, tasks, desc="BO on MBV3 / ImageNet")
    return {label: {"runs": [r for r in runs if r["label"] == label],
                    "final_acc": summarise_t(r["final_acc"] for r in runs if r["label"] == label)}
            for label in methods}
