"""Regression checks of notebook results against the stored ones, with stated tolerances.

Numbers that come out of training (score nets, surrogates, networks) differ in the last bits between
CPUs, and a last-bit difference can flip a discrete choice (an argmax, a ranking, the next
architecture a search trains), after which a run behaves like one under another seed. Such numbers are
therefore not compared as text by nbval; each notebook collects its headline numbers in a flat dict,
compares them with the same dict in its stored results file (``results/NN_name.json``, key
``regression``) using a :class:`Tolerance` per group of numbers, and stores the new ones.

A tolerance is an absolute bound with the reason it is that wide (usually a multiple of the
seed-to-seed spread of that number); a check that finds a number outside it raises ``AssertionError``
listing every offender, which fails the notebook under nbval and papermill alike.
"""
from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tolerance:
    """``abs``: largest allowed ``|new - stored|``; ``why``: how that bound was chosen."""

    abs: float
    why: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.abs) and self.abs >= 0):
            raise ValueError(f"a tolerance must be finite and >= 0, got {self.abs}")
        if not self.why:
            raise ValueError("a tolerance needs its justification ('why')")


def tolerance_for(name: str, tolerances: dict[str, Tolerance]) -> Tolerance:
    """The first tolerance whose ``fnmatch`` pattern matches ``name`` (``KeyError`` if none does)."""
    for pattern, tol in tolerances.items():
        if fnmatch.fnmatchcase(name, pattern):
            return tol
    raise KeyError(f"no tolerance pattern matches the checked quantity {name!r}")


def stored_values(path: str | Path) -> dict[str, float] | None:
    """The ``regression`` dict of a stored results file, or ``None`` when there is none yet."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        payload = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"stored results {path} are not valid JSON: {err}") from None
    return payload.get("regression")


def check(values: dict[str, float], stored: dict[str, float] | None,
          tolerances: dict[str, Tolerance]) -> list[dict]:
    """One record per quantity: name, stored, new, tolerance, ok. Quantities new or gone since the
    stored results are failures too (the set of checked numbers is part of the result)."""
    names = sorted(set(values) | set(stored or {}))
    out = []
    for name in names:
        tol = tolerance_for(name, tolerances)
        new, old = values.get(name), (stored or {}).get(name)
        ok = new is not None and old is not None and math.isfinite(new) and abs(new - old) <= tol.abs
        out.append({"quantity": name, "stored": old, "new": new, "tolerance": tol.abs, "ok": ok})
    return out


def assert_matches_stored(path: str | Path, values: dict[str, float], tolerances: dict[str, Tolerance]) -> str:
    """Compare ``values`` with the stored results at ``path``; ``AssertionError`` listing every number
    outside its tolerance. Returns a one-line summary that does not depend on the numbers."""
    values = {k: float(v) for k, v in values.items()}
    stored = stored_values(path)
    if stored is None:
        return f"no stored regression values in {Path(path).name} yet: {len(values)} quantities recorded"
    records = check(values, stored, tolerances)
    bad = [r for r in records if not r["ok"]]
    if bad:
        lines = [f"  {r['quantity']}: stored {r['stored']}, now {r['new']}, tolerance {r['tolerance']}" for r in bad]
        raise AssertionError(f"{len(bad)} of {len(records)} results drifted from {Path(path).name}:\n" + "\n".join(lines))
    return "every checked quantity is within tolerance of the stored results"


def tolerance_table(tolerances: dict[str, Tolerance]) -> dict[str, dict]:
    """Tolerances as plain dicts, for the results file."""
    return {pattern: asdict(tol) for pattern, tol in tolerances.items()}
