"""Search spaces: small objects with encode / decode / validate / canonical / sample."""
from __future__ import annotations

from nagkit.spaces.base import SearchSpace
from nagkit.spaces.mbv3 import MBV3Space
from nagkit.spaces.nb201 import NB201Space
from nagkit.spaces.nbgraph import NBGraphSpace

SPACES: dict[str, type[SearchSpace]] = {"nb201": NB201Space, "mbv3": MBV3Space, "nbgraph": NBGraphSpace}


def get_space(name: str) -> SearchSpace:
    """Instantiate a registered space by name; ``KeyError`` lists the valid names."""
    if name not in SPACES:
        raise KeyError(f"unknown search space {name!r}; valid: {sorted(SPACES)}")
    return SPACES[name]()


__all__ = ["SearchSpace", "NB201Space", "MBV3Space", "SPACES", "get_space"]
