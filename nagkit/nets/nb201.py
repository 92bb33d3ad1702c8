"""The NAS-Bench-201 network for one cell string (the benchmark's macro skeleton).

Stem 3x3 conv (C channels) + BN; three stages of N cells with C, 2C, 4C channels, separated by
residual reduction blocks (stride 2); BN-ReLU, global average pool, linear classifier. Cell ops:
``nor_conv_kxk`` = ReLU-Conv-BN, ``avg_pool_3x3`` (stride 1, no padding counted), ``skip_connect``
= identity, ``none`` = zero. With C=16, N=5 and 10 classes the parameter count equals the
benchmark's ``params`` column (see ``tests/test_nets.py``).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nagkit.nets.base import NetBuilder
from nagkit.spaces.nb201 import EDGES, parse


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(op: str, channels: int) -> nn.Module:
    """One cell edge (stride 1, ``channels`` in and out)."""
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if op == "skip_connect":
        return nn.Identity()
    if op == "none":
        return Zero()
    raise ValueError(f"unknown NB201 op {op!r}")


class Cell(nn.Module):
    """Four nodes; node j is the sum of op(node i) over the edges (j <- i) of the string."""

    def __init__(self, ops: list[str], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(make_op(op, channels) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in (1, 2, 3):
            nodes.append(sum(self.edges[k](nodes[i]) for k, (to, i) in enumerate(EDGES) if to == j))
        return nodes[3]


class ResidualReduction(nn.Module):
    """ResNet basic block with stride 2: two ReLU-Conv-BN plus an avg-pool + 1x1 conv shortcut."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """``NB201Network(arch, n_classes, C=16, N=5, in_channels=3)``; forward returns logits."""

    def __init__(self, arch: str, n_classes: int, C: int = 16, N: int = 5, in_channels: int = 3) -> None:
        super().__init__()
        ops = parse(arch)
        self.arch = arch
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        for stage, channels in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                layers.append(ResidualReduction(channels // 2, channels))
            layers.extend(Cell(ops, channels) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(4 * C, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.cells(self.stem(x))))


def build_nb201(arch: str, n_classes: int, C: int = 16, N: int = 5, in_channels: int = 3) -> NB201Network:
    """The benchmark network (defaults) or a reduced one (smaller ``C`` / ``N``)."""
    return NB201Network(arch, n_classes, C, N, in_channels)


def build_for_training(arch: str, n_classes: int, in_channels: int, config, seed: int,
                       ofa_weights: str | Path | None = None) -> NB201Network:
    """The :class:`~nagkit.nets.base.NetBuilder` of NB201: the ``config.C`` / ``config.N`` skeleton on
    ``in_channels`` input channels, initialised under ``seed`` (the global RNG is left as it was).
    No pretrained weights exist for NB201 networks: ``ofa_weights`` is refused."""
    if ofa_weights is not None:
        raise ValueError("ofa_weights are OFA MobileNetV3 supernet weights: only for space 'mbv3'")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_nb201(arch, n_classes, config.C, config.N, in_channels)


NET = NetBuilder(build_for_training)  # registered in nagkit.nets.NETS


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters (the benchmark reports this in millions)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
