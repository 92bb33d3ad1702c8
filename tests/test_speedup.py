"""Speed-up table: censored means, ratio kinds, grouping of runs and of notebook 05's summary."""
from __future__ import annotations

import pytest

from nagkit.search.speedup import (CostEntry, cost_table, entries_from_runs, entries_from_transfer, format_ratio,
                                   speedup, speedup_table)


def _run(label, seed, until, seconds, budget=50, spent=5000.0):
    return {"label": label, "dataset": "cifar10", "seed": seed, "budget": budget, "trained_until_optimum": until,
            "seconds_until_optimum": seconds, "seconds_spent": spent}


def test_stats_and_censoring():
    e = CostEntry("BO", "cifar10", (10, None, 20), (100.0, None, 300.0), budget=50, spent=(900.0, 800.0, 700.0))
    t = e.stats("trained")
    assert (t["runs"], t["found"], t["mean"]) == (3, 2, 15.0) and t["censored"]
    assert t["censored_mean"] == pytest.approx((10 + 50 + 20) / 3)
    assert e.stats("seconds")["censored_mean"] == pytest.approx((100 + 800 + 300) / 3)
    full = CostEntry("X", "cifar10", (4, 6), (40.0, 60.0))
    assert full.stats("trained")["censored_mean"] == 5.0 and not full.stats("trained")["censored"]
    assert CostEntry("Y", "cifar10", (None,), (None,)).stats("trained")["censored_mean"] is None


def test_speedup_kinds():
    fast = CostEntry("fast", "cifar10", (2, 4), (20.0, 40.0), 50)
    slow_full = CostEntry("slow", "cifar10", (30, 30), (300.0, 600.0), 50)
    slow_miss = CostEntry("slow", "cifar10", (30, None), (300.0, None), 50, (300.0, 900.0))
    exact = speedup(fast, slow_full)
    assert exact["ratio"] == pytest.approx(10.0) and exact["kind"] == "exact"
    lo, hi = exact["ci95"]  # resampled means: fast in [2, 4], slow fixed at 30
    assert 7.5 - 1e-9 <= lo <= 10 <= hi <= 15 + 1e-9
    assert format_ratio(exact, interval=True) == f"10.00x [{lo:.2f}, {hi:.2f}]"
    assert speedup(fast, slow_full, "seconds")["ratio"] == pytest.approx(15.0)
    r = speedup(fast, slow_miss)
    assert r["kind"] == "lower bound" and r["ratio"] == pytest.approx(40 / 3)
    assert format_ratio(r) == "≥ 13.33x"
    missing = CostEntry("m", "cifar10", (2, None), (20.0, None), 50)
    upper = speedup(missing, slow_full)
    assert upper["ratio"] == pytest.approx(30 / 26) and upper["kind"] == "upper bound"
    assert format_ratio(speedup(missing, slow_full)).startswith("≤ ")
    both = speedup(missing, slow_miss)
    assert both["ratio"] == pytest.approx(40 / 26) and both["kind"] == "restricted"
    assert format_ratio(both) == "1.54x (restricted)"
    assert speedup(missing, slow_miss, "seconds") == {"ratio": None, "kind": "unknown", "ci95": None}
    other_budget = CostEntry("slow", "cifar10", (30, None), (300.0, None), 80)
    assert format_ratio(speedup(missing, other_budget)) == "n/a"
    no_budget = CostEntry("t", "cifar10", (1, None), (10.0, None))
    assert speedup(no_budget, slow_full)["kind"] == "unknown"


def test_grouping_and_tables():
    runs = [_run("A", 0, 5, 50.0), _run("A", 1, 7, 70.0), _run("B", 0, None, None), _run("B", 1, None, None)]
    entries = entries_from_runs(runs)
    assert [(e.method, e.trained) for e in entries] == [("A", (5, 7)), ("B", (None, None))]
    rows = cost_table(entries)
    assert rows[1]["trained to optimum"] == "> 50 (0/2)" and rows[0]["trained to optimum"].endswith("(2/2)")
    sp = speedup_table(entries, ["A"], ["B"])
    assert sp[0]["trained"] == {"ratio": pytest.approx(50 / 6), "kind": "lower bound", "ci95": [50 / 7, 10.0]}
    summary = {"cifar10": {"lodo": {"n_seeds": 2, "trained_to_optimum": [1, 3],
                                    "simulated_seconds_to_optimum": [10.0, 30.0]}}}
    (t,) = entries_from_transfer(summary, {"lodo": "DiffusionNAG", "imagenet16": "DiffusionNAG (IN16)"})
    assert t.method == "DiffusionNAG" and t.stats("trained")["mean"] == 2.0 and t.budget is None
