"""Generation-quality metrics: validity, uniqueness, novelty (method.md section 5).

Generated samples are architecture strings, ``None`` (a sample that did not decode), or discrete
matrices (decoded with the space). Denominators, as in the paper:

- validity   = valid / generated
- uniqueness = distinct valid / valid
- novelty    = distinct valid not in the training set / valid

Each is computed at the ``"string"`` level (the paper's definition: distinct architecture strings)
and the ``"canonical"`` level (distinct ``space.canonical`` keys, i.e. distinct functions).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from nagkit.spaces.base import SearchSpace

LEVELS = ("string", "canonical")


def valid_strings(space: SearchSpace, generated: Sequence[str | None] | torch.Tensor) -> list[str]:
    """The valid samples as normalised strings (``decode(encode(s))``), in order, duplicates kept."""
    out = []
    for item in generated:
        if item is None:
            continue
        if isinstance(item, str):
            try:
                item = space.encode(item)
            except ValueError:
                continue
        arch = space.decode_or_none(item)
        if arch is not None:
            out.append(arch)
    return out


def _keys(space: SearchSpace, archs: Iterable[str], level: str) -> list[str]:
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    return list(archs) if level == "string" else [space.canonical(a) for a in archs]


def validity(space: SearchSpace, generated: Sequence[str | None] | torch.Tensor) -> float:
    """Fraction of generated samples that are valid architectures."""
    return len(valid_strings(space, generated)) / len(generated) if len(generated) else 0.0


def uniqueness(space: SearchSpace, generated: Sequence[str | None] | torch.Tensor, level: str = "string") -> float:
    """Distinct valid samples / valid samples."""
    keys = _keys(space, valid_strings(space, generated), level)
    return len(set(keys)) / len(keys) if keys else 0.0


def novelty(space: SearchSpace, generated: Sequence[str | None] | torch.Tensor, train: Iterable[str],
            level: str = "string") -> float:
    """Distinct valid samples absent from ``train`` (strings in the space's standard form, as
    ``decode`` writes them) / valid samples."""
    keys = _keys(space, valid_strings(space, generated), level)
    seen = set(_keys(space, train, level))
    return len(set(keys) - seen) / len(keys) if keys else 0.0


def generation_quality(space: SearchSpace, generated: Sequence[str | None] | torch.Tensor,
                       train: Iterable[str]) -> dict[str, float]:
    """All three metrics at both levels, as fractions: ``validity``, ``uniqueness``, ``novelty``,
    ``uniqueness_canonical``, ``novelty_canonical``."""
    valid = valid_strings(space, generated)
    out = {"n": len(generated), "valid": len(valid), "validity": len(valid) / len(generated) if len(generated) else 0.0}
    train = list(train)
    for level in LEVELS:
        suffix = "" if level == "string" else "_canonical"
        keys = _keys(space, valid, level)
        distinct = set(keys)
        out["uniqueness" + suffix] = len(distinct) / len(keys) if keys else 0.0
        out["novelty" + suffix] = len(distinct - set(_keys(space, train, level))) / len(keys) if keys else 0.0
    return out
