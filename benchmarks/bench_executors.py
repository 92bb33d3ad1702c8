"""Serial vs local process pool vs Ray on one small search grid (a script, not a test).

    .venv/bin/python benchmarks/bench_executors.py [--seeds 5] [--budget 40] [--workers 2] [--tasks 200] [--repeat 3]

Runs RS, REA, LS and BANANAS on NB201 cifar10 (``--seeds`` seeds each, ``--budget`` architectures)
through ``run_grid`` with each executor, checks that the results are identical (apart from each run's
own wall time) and prints the wall time of each (the best of ``--repeat``) and its ratio to serial.
Ray is a local instance on ``--workers`` CPUs bound to 127.0.0.1; its grid is timed once right after
start-up (workers start, import torch, load the tables), then on the warm workers. Then Ray's start-up
time and the throughput of ``--tasks`` trivial tasks on each executor (per-task overhead, best of
``--repeat``).
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read when ray is imported: loopback only

from nagkit.executor import Executor, LocalExecutor, RayExecutor, SerialExecutor  # noqa: E402
from nagkit.search.anytime import run_grid  # noqa: E402

METHODS = {"RS": {"name": "rs"}, "REA": {"name": "rea"}, "LS": {"name": "ls"}, "BANANAS": {"name": "bananas"}}


def trivial(x: int) -> int:
    return x


def timed(f: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    """The last result of ``repeat`` calls of ``f`` and the shortest wall time."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - start)
    return out, best


def grid(executor: Executor, seeds: int, budget: int) -> list[dict]:
    runs = run_grid(METHODS, ["cifar10"], range(seeds), budget, executor)
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in runs]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--budget", type=int, default=40)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--tasks", type=int, default=200)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args()

    serial, local = SerialExecutor(progress=False), LocalExecutor(args.workers, progress=False)
    ray_executor = RayExecutor(num_cpus=args.workers, progress=False)
    n_runs = len(METHODS) * args.seeds
    print(f"grid: {', '.join(METHODS)} x {args.seeds} seeds on NB201 cifar10, budget {args.budget} "
          f"({n_runs} runs); {args.workers} workers; {os.cpu_count()} cores; best of {args.repeat}", flush=True)

    reference, t_serial = timed(lambda: grid(serial, args.seeds, args.budget), args.repeat)
    print(f"  serial:                {t_serial:6.1f} s", flush=True)
    runs, t_local = timed(lambda: grid(local, args.seeds, args.budget), args.repeat)
    print(f"  local ({args.workers} processes):   {t_local:6.1f} s   serial / local = {t_serial / t_local:.2f}",
          flush=True)
    same = {"local": runs == reference}

    _, t_start = timed(ray_executor.connect)
    runs, t_cold = timed(lambda: grid(ray_executor, args.seeds, args.budget))
    same["ray"] = runs == reference
    print(f"  ray, first grid:       {t_cold:6.1f} s   serial / ray = {t_serial / t_cold:.2f}   "
          f"(+ {t_start:.1f} s ray.init)", flush=True)
    runs, t_warm = timed(lambda: grid(ray_executor, args.seeds, args.budget), args.repeat)
    same["ray warm"] = runs == reference
    print(f"  ray, warm workers:     {t_warm:6.1f} s   serial / ray = {t_serial / t_warm:.2f}", flush=True)
    print("  results identical to serial: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same.items()))

    print(f"overhead: ray.init (local instance) {t_start:.1f} s; {args.tasks} trivial tasks:", flush=True)
    items = list(range(args.tasks))
    for name, executor in [("serial", serial), ("local", local), ("ray", ray_executor)]:
        out, t = timed(lambda: executor.map(trivial, items), args.repeat)
        assert out == items
        print(f"  {name:6s} {t:6.2f} s  {args.tasks / t:8.0f} tasks/s  {1e3 * t / args.tasks:7.2f} ms/task",
              flush=True)
    if not all(same.values()):
        raise SystemExit("results differ between executors")


if __name__ == "__main__":
    main()
