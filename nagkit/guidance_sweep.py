"""Guidance ablations: sample under several guidance settings and judge the samples by TRUE values.

A :class:`Setting` is one way to guide (no guidance, a constant / annealed / linear-per-batch scale,
optionally its own objectives). :func:`run_sweep` draws the same number of samples per setting from the
same seed, and records validity, uniqueness and the true property values (``truths``: name ->
``arch -> float``) of the valid samples. :func:`summarise` turns the runs into a table;
:func:`plot_distributions` and :func:`plot_scatter` draw them.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from nagkit.diffusion.sample import SamplerConfig, decode_all, discretize, sample_features
from nagkit.diffusion.scorenet import ScoreNet
from nagkit.diffusion.sde import SDE
from nagkit.figures import save_figure
from nagkit.guidance import Objective, Schedule, make_guidance
from nagkit.metrics import uniqueness, valid_strings
from nagkit.spaces.base import SearchSpace

Truth = Callable[[str], float]


@dataclass(frozen=True)
class Setting:
    """One guidance setting; ``schedule=None`` samples without guidance; ``objectives=None`` uses the
    sweep's default objectives."""

    label: str
    schedule: Schedule | None = None
    objectives: tuple[Objective, ...] | None = None


@dataclass(frozen=True)
class SweepConfig:
    """``n`` samples per setting drawn in batches of ``sampler.batch_size`` (batch ``b`` of a linear
    schedule uses ``w - decrement * b``); ``max_norm`` clips each sample's guidance gradient."""

    n: int = 500
    sampler: SamplerConfig = field(default_factory=lambda: SamplerConfig(batch_size=250))
    max_norm: float | None = None
    seed: int = 0


def constant_sweep(scales: Sequence[float]) -> list[Setting]:
    """``w = 0`` (no guidance) and a constant schedule for every other scale."""
    return [Setting("w=0 (none)") if w == 0 else Setting(f"w={w:g}", Schedule("constant", float(w))) for w in scales]


def run_setting(space: SearchSpace, model: ScoreNet, sde: SDE, objectives: Sequence[Objective], setting: Setting,
                truths: Mapping[str, Truth], config: SweepConfig = SweepConfig()) -> dict:
    """Samples of one setting: validity, uniqueness, true values of the valid samples per truth,
    ``error`` (the message when sampling diverged, e.g. non-finite guidance; then no samples) and
    ``seconds`` (wall clock, varies between runs)."""
    objs = setting.objectives if setting.objectives is not None else tuple(objectives)
    gen = torch.Generator().manual_seed(config.seed)
    allow = space.optional_rows
    start, archs, error = time.perf_counter(), [], None
    try:
        for b, first in enumerate(range(0, config.n, config.sampler.batch_size)):
            size = min(config.sampler.batch_size, config.n - first)
            guidance = None
            if setting.schedule is not None:
                guidance = make_guidance(objs, sde, setting.schedule, batch=b, max_norm=config.max_norm)
            x = sample_features(model, sde, size, config.sampler, gen, guidance)
            archs += decode_all(space, discretize(x, "argmax", allow))
    except FloatingPointError as err:
        archs, error = [], str(err)
    valid = valid_strings(space, archs)
    return {
        "label": setting.label, "schedule": _describe(setting.schedule), "n": config.n,
        "kind": setting.schedule.kind if setting.schedule is not None else "none",
        "w": setting.schedule.w if setting.schedule is not None else 0.0,
        "validity": len(valid) / config.n, "uniqueness": uniqueness(space, archs) if valid else 0.0,
        "n_valid": len(valid), "archs": valid, "values": {k: [float(f(a)) for a in valid] for k, f in truths.items()},
        "error": error, "seconds": time.perf_counter() - start,
    }


def _describe(schedule: Schedule | None) -> str:
    if schedule is None:
        return "none"
    if schedule.kind == "linear":
        return f"linear w={schedule.w:g} -{schedule.decrement:g}/batch"
    return f"{schedule.kind} w={schedule.w:g}"


def run_sweep(space: SearchSpace, model: ScoreNet, sde: SDE, objectives: Sequence[Objective],
              settings: Sequence[Setting], truths: Mapping[str, Truth], config: SweepConfig = SweepConfig()) -> list[dict]:
    """:func:`run_setting` for every setting, all from ``config.seed`` (same prior draws)."""
    labels = [s.label for s in settings]
    if len(set(labels)) != len(labels):
        raise ValueError(f"setting labels must be distinct, got {labels}")
    return [run_setting(space, model, sde, objectives, s, truths, config) for s in settings]


def pick_scale(runs: Sequence[dict], min_validity: float = 0.99, min_uniqueness: float = 0.8) -> dict:
    """The run of the largest constant scale whose samples stay valid and diverse (no property values
    are read, so the choice does not peek at the true target); the unguided run if no guided one
    qualifies, ``ValueError`` if not even that one does."""
    ok = [r for r in runs if r["kind"] in ("constant", "none") and r["error"] is None
          and r["validity"] >= min_validity and r["uniqueness"] >= min_uniqueness]
    if not ok:
        raise ValueError(f"no constant-scale run reaches validity {min_validity} and uniqueness {min_uniqueness}")
    return max(ok, key=lambda r: r["w"])


def summarise(runs: Sequence[dict], truth: str, above: float | None = None,
              within: Mapping[str, float] | None = None, targets: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per run: validity, uniqueness and mean / median / max / min of ``truth`` over the valid
    samples. ``above``: share of ALL samples (invalid ones count as misses) with ``truth`` >= it;
    ``within`` (truth name -> budget): share of all samples within every budget (and also >= ``above``),
    and the mean and best ``truth`` among them; ``targets`` (run label -> value): mean absolute deviation of ``truth`` from the run's target."""
    stats = {"mean": np.mean, "median": np.median, "max": np.max, "min": np.min}
    rows = []
    for r in runs:
        v = np.asarray(r["values"][truth], dtype=float)
        row = {"setting": r["label"], "validity": r["validity"], "uniqueness": r["uniqueness"], "valid": r["n_valid"]}
        row.update({f"{truth} {k}": float(f(v)) if len(v) else float("nan") for k, f in stats.items()})
        if above is not None:
            row[f"share >= {above:g}"] = float((v >= above).sum() / r["n"])
        if within:
            ok = np.ones(len(v), dtype=bool)
            for name, budget in within.items():
                ok &= np.asarray(r["values"][name], dtype=float) <= budget
            row["share within budget"] = float(ok.sum() / r["n"])
            if above is not None:
                row[f"share >= {above:g} within budget"] = float((ok & (v >= above)).sum() / r["n"])
            row[f"{truth} mean within budget"] = float(v[ok].mean()) if ok.any() else float("nan")
            row[f"best {truth} within budget"] = float(v[ok].max()) if ok.any() else float("nan")
        if targets is not None and r["label"] in targets:
            row["mean |error|"] = float(np.abs(v - targets[r["label"]]).mean()) if len(v) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def records(table: pd.DataFrame) -> list[dict]:
    """A summary table as JSON-safe rows (NaN -> None)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in table.to_dict("records")]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_distributions(runs: Sequence[dict], truth: str, path: str | Path, xlabel: str | None = None,
                       reference: Mapping[str, float] | None = None, title: str = "",
                       ymin: float | None = None) -> Path:
    """Box plot (with jittered points) of ``truth`` over the valid samples of each run, validity in the
    tick labels; ``reference``: named horizontal lines (e.g. the optimum or a FLOPs target); ``ymin``:
    lower axis limit, the number of samples below it is given in the tick labels."""
    path, plt = Path(path), _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(runs) + 2), 4.2))
    data = [np.asarray(r["values"][truth], dtype=float) for r in runs]
    positions = np.arange(1, len(runs) + 1)
    shown = [(p, d) for p, d in zip(positions, data) if len(d)]
    if shown:
        ax.boxplot([d for _, d in shown], positions=[p for p, _ in shown], widths=0.6, showfliers=False)
    rng = np.random.default_rng(0)
    for p, d in shown:
        ax.scatter(p + rng.uniform(-0.2, 0.2, len(d)), d, s=3, alpha=0.25, color="tab:blue")
    for i, (name, value) in enumerate((reference or {}).items()):
        ax.axhline(value, ls="--", lw=1, color=f"C{i + 1}", label=name)
    if reference:
        ax.legend(fontsize=8, loc="lower left")
    labels = [f"{r['label']}\nvalid {r['validity']:.0%}" for r in runs]
    if ymin is not None:
        top = max([ymin, *(float(d.max()) for d in data if len(d)), *(reference or {}).values()])
        ax.set_ylim(ymin, top + 0.05 * (top - ymin) + 1e-9)
        labels = [f"{lab}\n{int((d < ymin).sum())} below axis" for lab, d in zip(labels, data)]
    ax.set_xticks(positions, labels, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel=xlabel or truth, title=title)
    fig.tight_layout()
    save_figure(fig, Path(path).parent, Path(path).stem, dpi=110)
    plt.close(fig)
    return path


def plot_scatter(runs: Sequence[dict], x: str, y: str, path: str | Path, xlabel: str | None = None,
                 ylabel: str | None = None, vline: float | None = None, title: str = "",
                 ymin: float | None = None) -> Path:
    """Scatter of two truths of the valid samples, one colour per run; ``vline``: e.g. a budget;
    ``ymin``: lower axis limit (samples below it are not drawn; the title says how many)."""
    path, plt = Path(path), _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, r in enumerate(runs):
        ax.scatter(r["values"][x], r["values"][y], s=6, alpha=0.4, color=f"C{i}", label=r["label"])
    if vline is not None:
        ax.axvline(vline, ls="--", lw=1, color="k", label="budget")
    if ymin is not None:
        ys = [np.asarray(r["values"][y], dtype=float) for r in runs]
        below = sum(int((v < ymin).sum()) for v in ys)
        top = max([ymin, *(float(v.max()) for v in ys if len(v))])
        ax.set_ylim(ymin, top + 0.05 * (top - ymin) + 1e-9)
        title = f"{title}\n({below} samples below {ymin:g} not shown)"
    ax.set(xlabel=xlabel or x, ylabel=ylabel or y, title=title)
    ax.legend(fontsize=8, markerscale=2)
    fig.tight_layout()
    save_figure(fig, Path(path).parent, Path(path).stem, dpi=110)
    plt.close(fig)
    return path
