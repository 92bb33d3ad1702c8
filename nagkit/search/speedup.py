"""Speed-up table (notebook 09): architectures trained and simulated GPU seconds until the NB201
optimum is first trained, per method and dataset, and the speed-up of a method over baselines.

Runs that never trained the optimum are *censored*: their cost is only known to exceed the
budget. Means are given over the runs that found it, and, where a budget is known, as the
censored mean counting every miss at the budget (for simulated seconds: at the seconds the
whole run spent), a lower bound of the true mean. A speed-up is
``baseline mean / method mean`` on the censored means; its ``kind`` says what it is:
``exact`` (no misses), ``lower bound`` (only the baseline missed), ``upper bound`` (only the
method missed), ``restricted`` (both missed, same budget: the ratio of the means of
``min(cost, budget)``, the restricted mean of survival analysis), ``unknown`` (otherwise). A 95%
bootstrap interval of the ratio (runs of each side resampled independently, seeded) says how
firmly a speed-up above 1 is established by the seeds at hand.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nagkit.stats import summarise


@dataclass(frozen=True)
class CostEntry:
    """Per-seed cost to the optimum of one method on one dataset (``None``: not found)."""

    method: str
    dataset: str
    trained: tuple[int | None, ...]
    seconds: tuple[float | None, ...]
    budget: int | None = None  # trained-architecture budget per run, when known
    spent: tuple[float | None, ...] = ()  # simulated seconds of each whole run, when known

    def _miss_cost(self, which: str, i: int) -> float | None:
        """What a run that missed the optimum is known to exceed (budget or its spent seconds)."""
        if which == "trained":
            return self.budget
        return self.spent[i] if i < len(self.spent) else None

    def filled(self, which: str) -> list[float | None]:
        """Per-run cost with each miss counted at what it is known to exceed (``None``: unknown)."""
        values = self.trained if which == "trained" else self.seconds
        return [v if v is not None else self._miss_cost(which, i) for i, v in enumerate(values)]

    def stats(self, which: str) -> dict:
        """Mean / 95% CI over the runs that found the optimum, found count and censored mean."""
        values = self.trained if which == "trained" else self.seconds
        found = [v for v in values if v is not None]
        out = {"runs": len(values), "found": len(found),
               **(summarise(found) if found else {"mean": None, "ci95": None, "n": 0})}
        if len(found) == len(values):
            out["censored_mean"], out["censored"] = out["mean"], False
            return out
        filled = self.filled(which)
        out["censored"] = True
        out["censored_mean"] = None if None in filled else sum(filled) / len(filled)
        return out


def entries_from_runs(runs: Sequence[dict]) -> list[CostEntry]:
    """Group anytime runs (dicts with label, dataset, budget, trained_until_optimum,
    seconds_until_optimum, optionally seconds_spent) by (method, dataset), in first-seen order."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        groups.setdefault((r["label"], r["dataset"]), []).append(r)
    return [CostEntry(m, d, tuple(r["trained_until_optimum"] for r in g), tuple(r["seconds_until_optimum"] for r in g),
                      g[0]["budget"], tuple(r.get("seconds_spent") for r in g)) for (m, d), g in groups.items()]


def entries_from_transfer(summary: dict, labels: dict[str, str]) -> list[CostEntry]:
    """Entries from notebook 05's ``summary[dataset][source]`` (``trained_to_optimum``,
    ``simulated_seconds_to_optimum`` per seed; ``budget`` = pool size and per-seed ``seconds_spent``
    when present); ``labels`` maps source -> method label."""
    out = []
    for dataset, by_source in summary.items():
        for source, label in labels.items():
            if source in by_source:
                s = by_source[source]
                out.append(CostEntry(label, dataset, tuple(s["trained_to_optimum"]),
                                     tuple(s["simulated_seconds_to_optimum"]), s.get("budget"),
                                     tuple(s.get("seconds_spent", ()))))
    return out


def ratio_interval(method: CostEntry, baseline: CostEntry, which: str = "trained", n_boot: int = 2000,
                   seed: int = 0) -> list[float] | None:
    """95% percentile-bootstrap interval of ``mean(baseline) / mean(method)`` over the filled
    per-run costs (``None`` when a cost is unknown or a side has fewer than 2 runs)."""
    fast, slow = method.filled(which), baseline.filled(which)
    if None in fast or None in slow or len(fast) < 2 or len(slow) < 2:
        return None
    rng = np.random.default_rng(seed)
    fast_a, slow_a = np.asarray(fast, dtype=float), np.asarray(slow, dtype=float)
    f = fast_a[rng.integers(len(fast_a), size=(n_boot, len(fast_a)))].mean(1)
    b = slow_a[rng.integers(len(slow_a), size=(n_boot, len(slow_a)))].mean(1)
    lo, hi = np.percentile(b / f, [2.5, 97.5])
    return [float(lo), float(hi)]


def speedup(method: CostEntry, baseline: CostEntry, which: str = "trained") -> dict:
    """``baseline / method`` on the censored means of ``which`` (trained or seconds), with its kind
    and (``ci95``) its bootstrap interval."""
    fast, slow = method.stats(which), baseline.stats(which)
    if fast["censored_mean"] is None or slow["censored_mean"] is None:
        return {"ratio": None, "kind": "unknown", "ci95": None}
    if fast["censored"] and slow["censored"]:
        if which == "trained" and method.budget == baseline.budget:  # same cap: restricted means compare
            return {"ratio": slow["censored_mean"] / fast["censored_mean"], "kind": "restricted",
                    "ci95": ratio_interval(method, baseline, which)}
        return {"ratio": None, "kind": "unknown", "ci95": None}
    kind = "upper bound" if fast["censored"] else "lower bound" if slow["censored"] else "exact"
    return {"ratio": slow["censored_mean"] / fast["censored_mean"], "kind": kind,
            "ci95": ratio_interval(method, baseline, which)}


def format_cost(stats: dict, budget: int | None, digits: int = 1) -> str:
    """``mean ± ci (found/runs)``; ``> budget`` when no run found the optimum."""
    if stats["found"] == 0:
        return f"> {budget} (0/{stats['runs']})" if budget is not None else f"not found (0/{stats['runs']})"
    return f"{stats['mean']:.{digits}f} ± {stats['ci95']:.{digits}f} ({stats['found']}/{stats['runs']})"


def cost_table(entries: Sequence[CostEntry]) -> list[dict]:
    """One display row per entry: trained and simulated GPU-hours until the optimum."""
    rows = []
    for e in entries:
        t, s = e.stats("trained"), e.stats("seconds")
        hours = {**s, "mean": None if s["mean"] is None else s["mean"] / 3600,
                 "ci95": None if s["ci95"] is None else s["ci95"] / 3600}
        rows.append({"dataset": e.dataset, "method": e.method, "seeds": t["runs"],
                     "budget": "-" if e.budget is None else e.budget,
                     "trained to optimum": format_cost(t, e.budget),
                     "censored mean trained": "-" if t["censored_mean"] is None else round(t["censored_mean"], 1),
                     "sim. GPU-hours to optimum": format_cost(hours, e.budget, 2)})
    return rows


def speedup_table(entries: Sequence[CostEntry], methods: Sequence[str], baselines: Sequence[str]) -> list[dict]:
    """Speed-up of each of ``methods`` over each of ``baselines`` per dataset (both bases)."""
    index = {(e.method, e.dataset): e for e in entries}
    rows = []
    for dataset in dict.fromkeys(e.dataset for e in entries):
        for m in methods:
            for b in baselines:
                if (m, dataset) in index and (b, dataset) in index:
                    fast, slow = index[(m, dataset)], index[(b, dataset)]
                    rows.append({"dataset": dataset, "method": m, "baseline": b,
                                 "trained": speedup(fast, slow, "trained"),
                                 "seconds": speedup(fast, slow, "seconds")})
    return rows


def format_ratio(r: dict, interval: bool = False) -> str:
    """``12.3x``; ``≥ 12.3x`` / ``≤ 12.3x`` for lower / upper bounds; ``12.3x (restricted)``;
    ``n/a`` when unknown; with ``interval``, `` [lo, hi]`` (95% bootstrap) when known."""
    if r["ratio"] is None:
        return "n/a"
    text = {"lower bound": "≥ ", "upper bound": "≤ "}.get(r["kind"], "") + f"{r['ratio']:.2f}x"
    text += " (restricted)" if r["kind"] == "restricted" else ""
    if interval and r.get("ci95"):
        text += f" [{r['ci95'][0]:.2f}, {r['ci95'][1]:.2f}]"
    return text
