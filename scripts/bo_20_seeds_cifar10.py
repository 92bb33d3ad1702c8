"""BANANAS vs DiffusionNAG-BO on NB201 CIFAR-10, 20 seeds, budget 60 (an ad-hoc check beside the quick notebooks).

Usage: OMP_NUM_THREADS=1 .venv/bin/python scripts/bo_20_seeds_cifar10.py   (about 10 minutes on 2 cores)
Writes runs/bo_20_seeds_cifar10.json and prints the cost table and the speed-up with its basis.
"""
import json
from pathlib import Path

import torch

from nagkit.executor import get_executor
from nagkit.search.anytime import run_grid, summarise_runs
from nagkit.search.speedup import cost_table, entries_from_runs, format_ratio, speedup

torch.set_num_threads(1)
METHODS = {"BANANAS": {"name": "bananas"}, "DiffusionNAG-BO": {"name": "diffusionnag-bo"}}
runs = run_grid(METHODS, ["cifar10"], list(range(20)), 60, get_executor("serial", progress=False))
for r in runs:
    r["seconds_spent"] = r["seconds"][-1]
keep = ("label", "seed", "trained_until_optimum", "seconds_until_optimum", "seconds_spent", "wall_seconds")
Path("runs").mkdir(exist_ok=True)
Path("runs/bo_20_seeds_cifar10.json").write_text(json.dumps([{k: r[k] for k in keep} for r in runs], indent=1))
entries = entries_from_runs(runs)
for row in cost_table(entries):
    print(row)
print("speed-up of DiffusionNAG-BO over BANANAS:", format_ratio(speedup(entries[1], entries[0])),
      format_ratio(speedup(entries[1], entries[0], "seconds")))
for label, s in summarise_runs(runs)["cifar10"].items():
    print(label, s["final_test_acc"], s["trained_until_optimum"], s["wall_seconds"])
