"""Summary statistics shared by every experiment: means with 95% confidence half-widths.

``normal``: 1.96 standard errors (search and transfer runs, many seeds); ``t``: Student-t quantile
(few trained networks per group, where the normal approximation is too narrow).
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

Z95 = 1.96


def summarise(values: Iterable[float]) -> dict[str, float]:
    """Mean and 95% normal-approximation CI half-width of repeated measurements (0 for one value)."""
    a = np.asarray(list(values), dtype=float)
    if len(a) == 0:
        raise ValueError("summarise needs at least one value")
    half = Z95 * a.std(ddof=1) / np.sqrt(len(a)) if len(a) > 1 else 0.0
    return {"mean": float(a.mean()), "ci95": float(half), "n": int(len(a))}


def summarise_t(values: Iterable[float], confidence: float = 0.95) -> dict:
    """Mean, sample std and the half-width of the Student-t confidence interval (``None`` for one value)."""
    from scipy import stats

    v = np.asarray(list(values), dtype=float)
    if len(v) == 0:
        raise ValueError("summarise_t needs at least one value")
    half = None
    if len(v) > 1:
        half = float(stats.t.ppf(0.5 + confidence / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "ci95": half,
            "n": len(v), "values": v.tolist()}


def band(curves: np.ndarray) -> dict[str, list[float]]:
    """Per-column mean and 95% normal CI half-width of ``curves`` (runs x points)."""
    n = curves.shape[0]
    half = Z95 * curves.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(curves.shape[1])
    return {"mean": curves.mean(axis=0).tolist(), "ci95": half.tolist()}
