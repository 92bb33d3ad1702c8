"""Trainable networks built from architectures: NB201 cells (nb201.py), MobileNetV3 subnets (mbv3.py).

``NETS`` maps a search space's name to its :class:`~nagkit.nets.base.NetBuilder` (one signature:
``(arch, n_classes, in_channels, config, seed, ofa_weights=None)``); the trainer dispatches through it
and never branches on a space's name. A new space registers its builder here.
"""
from __future__ import annotations

from nagkit.nets import mbv3, nb201
from nagkit.nets.base import NetBuilder

NETS: dict[str, NetBuilder] = {"nb201": nb201.NET, "mbv3": mbv3.NET}


def get_net(space: str) -> NetBuilder:
    """The builder registered for ``space``; ``KeyError`` listing the valid spaces."""
    try:
        return NETS[space]
    except KeyError:
        raise KeyError(f"unknown space {space!r}; valid: {sorted(NETS)}") from None


__all__ = ["NETS", "NetBuilder", "get_net"]
