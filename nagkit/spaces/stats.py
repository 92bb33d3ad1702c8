"""Summary statistics of a search space."""
from __future__ import annotations

from nagkit.spaces.base import SearchSpace


def space_stats(space: SearchSpace) -> dict:
    """Size, vocabulary and, for finite spaces, the number of distinct functions."""
    stats: dict = {"space": space.name, "nodes": space.n_nodes, "vocabulary": list(space.vocab)}
    try:
        archs = space.enumerate()
    except NotImplementedError:
        return stats
    stats["cells"] = len(archs)
    stats["distinct_functions"] = len({space.canonical(a) for a in archs})
    return stats
