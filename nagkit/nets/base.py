"""What a search space declares to be trainable: a net builder with one signature."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn


@dataclass(frozen=True)
class NetBuilder:
    """``builder(arch, n_classes, in_channels, config, seed, ofa_weights=None)``: a freshly initialised
    network for ``arch`` (initialisation seeded by ``seed``; ``config`` supplies the size fields the
    net uses, e.g. an image-trainer config's ``C`` / ``N`` / ``dropout``). Each builder validates its
    own arguments (e.g. whether it accepts pretrained ``ofa_weights``).

    ``fixed_in_channels``: the number of input channels the net always takes, whatever the data
    has (images are repeated to it); ``None``: the net is built for the data's channels.
    """

    build: Callable[..., nn.Module]
    fixed_in_channels: int | None = None

    def __call__(self, arch: str, n_classes: int, in_channels: int, config, seed: int,
                 ofa_weights: str | Path | None = None) -> nn.Module:
        return self.build(arch, n_classes, in_channels, config, seed, ofa_weights)

    def input_channels(self, data_channels: int) -> int:
        """The channels to feed the net for data with ``data_channels`` channels."""
        return data_channels if self.fixed_in_channels is None else self.fixed_in_channels
