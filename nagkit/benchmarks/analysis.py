"""Statistics of a tabular benchmark: distributions, cross-dataset rank correlation, optima."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from nagkit.benchmarks.nb201 import DATASETS, NB201Benchmark
from nagkit.figures import save_figure


def accuracy_frame(bench: NB201Benchmark, metric: str = "test_acc") -> pd.DataFrame:
    """One row per cell (official index), one column per dataset, plus the string and canonical key."""
    archs = bench.space.enumerate()
    frame = pd.DataFrame({d: bench.table(d, metric) for d in DATASETS})
    frame.insert(0, "arch", archs)
    frame.insert(1, "function", [bench.space.canonical(a) for a in archs])
    return frame


def distribution_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Max / mean / median / min per dataset, over all cells and over distinct functions."""
    rows = []
    for d in DATASETS:
        for subset, part in (("all cells", frame), ("distinct functions", frame.drop_duplicates("function"))):
            v = part[d]
            rows.append({"dataset": d, "over": subset, "n": len(v), "max": v.max(), "mean": v.mean(),
                         "median": v.median(), "min": v.min()})
    return pd.DataFrame(rows)


def rank_correlations(frame: pd.DataFrame) -> pd.DataFrame:
    """Spearman and Kendall correlations between datasets over all cells."""
    rows = []
    for i, a in enumerate(DATASETS):
        for b in DATASETS[i + 1 :]:
            rows.append({"pair": f"{a} vs {b}", "spearman": stats.spearmanr(frame[a], frame[b]).statistic,
                         "kendall": stats.kendalltau(frame[a], frame[b]).statistic})
    return pd.DataFrame(rows)


def top_architectures(frame: pd.DataFrame, dataset: str, k: int = 5) -> pd.DataFrame:
    """The ``k`` best cells on ``dataset`` (official index as the frame index)."""
    return frame.sort_values(dataset, ascending=False, kind="stable").head(k)[["arch", *DATASETS]]


def trained_to_reach(frame: pd.DataFrame, order_by: str, target: str) -> int:
    """How many cells one trains, in descending order of ``order_by`` accuracy, until the
    ``target`` optimum is among them (the oracle transfer calibration of method.md)."""
    order = frame.sort_values(order_by, ascending=False, kind="stable")[target].to_numpy()
    return int(np.argmax(order >= frame[target].max()) + 1)


def transfer_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """``trained_to_reach`` for every (order_by, target) pair of datasets."""
    return pd.DataFrame({t: {o: trained_to_reach(frame, o, t) for o in DATASETS} for t in DATASETS}).rename_axis(
        "ordered by true accuracy on")


def plot_distributions(frame: pd.DataFrame, path: str | Path) -> Path:
    """Histogram of test accuracy per dataset (all cells), saved to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(DATASETS), figsize=(12, 3.2))
    for ax, d in zip(axes, DATASETS):
        ax.hist(frame[d], bins=60, color="tab:blue", alpha=0.8)
        ax.axvline(frame[d].max(), color="tab:red", lw=1, label=f"max {frame[d].max():.2f}")
        ax.set_title(d)
        ax.set_xlabel("test accuracy (%)")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("cells")
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, Path(path).parent, Path(path).stem, dpi=110)
    plt.close(fig)
    return path


def nb201_unique_classes() -> pd.Series:
    """NB201's own ``UniqueString`` class of each cell (official index order)."""
    from nagkit.resources import nb201_table

    return pd.Series(nb201_table()["nb201_unique_id"], name="nb201_unique")


def refines(fine: pd.Series, coarse: pd.Series) -> bool:
    """True when every class of ``fine`` lies inside a single class of ``coarse``."""
    return bool((pd.DataFrame({"f": fine.to_numpy(), "c": coarse.to_numpy()}).groupby("f")["c"].nunique() == 1).all())
