"""MobileNetV3 / Once-for-All search space (method.md section 1) and its analytic cost model.

String form: five stages separated by ``|``; a stage is its 2-4 layers joined by ``-``; a
layer is ``k<kernel>e<expand>`` with kernel in {3, 5, 7} and expand ratio in {3, 4, 6}, e.g.
``k3e3-k5e6|k3e4-k3e4-k7e6|k5e3-k5e3|k7e4-k3e6-k3e6-k3e6|k5e4-k5e4-k5e4``.
Matrix form: 20 slots (stage-major, 4 per stage) x 9 types, type index ``3*idx(k) + idx(e)``;
a stage of depth d uses its first d slots, unused slots are all-zero rows.
"""
from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import NamedTuple

import torch

from nagkit.spaces.base import DiffusionDefaults, SearchSpace

KERNELS: tuple[int, ...] = (3, 5, 7)
EXPANDS: tuple[int, ...] = (3, 4, 6)
VOCAB: tuple[str, ...] = tuple(f"k{k}e{e}" for k in KERNELS for e in EXPANDS)
N_STAGES = 5
MAX_DEPTH = 4
DEPTHS: tuple[int, ...] = (2, 3, 4)

# OFA MobileNetV3-Large macro structure, width multiplier 1.0.
STEM_WIDTH = 16
STAGE_WIDTHS: tuple[int, ...] = (24, 40, 80, 112, 160)
STAGE_STRIDES: tuple[int, ...] = (2, 2, 2, 1, 2)
STAGE_ACTS: tuple[str, ...] = ("relu", "relu", "h_swish", "h_swish", "h_swish")
STAGE_SE: tuple[bool, ...] = (False, True, False, True, True)
FINAL_EXPAND_WIDTH = 960
FEATURE_MIX_WIDTH = 1280
SE_REDUCTION = 4
CHANNEL_DIVISIBLE = 8


def parse(arch: str) -> list[list[str]]:
    """String -> per-stage lists of layer types; ``ValueError`` naming the bad token and its position."""
    if not isinstance(arch, str):
        raise TypeError(f"MBV3 architecture must be a str, got {type(arch).__name__}")
    stages = arch.split("|")
    if len(stages) != N_STAGES:
        raise ValueError(f"MBV3 string must have {N_STAGES} '|'-separated stages, got {len(stages)}: {arch!r}")
    parsed: list[list[str]] = []
    for s, stage in enumerate(stages, start=1):
        layers = stage.split("-")
        if len(layers) not in DEPTHS:
            raise ValueError(f"stage {s} of {arch!r} has {len(layers)} layers; depth must be one of {DEPTHS}")
        for l, token in enumerate(layers, start=1):
            if token not in VOCAB:
                raise ValueError(
                    f"bad token {token!r} at stage {s}, layer {l} of {arch!r}: expected one of {VOCAB}"
                )
        parsed.append(layers)
    return parsed


def to_string(stages: list[list[str]]) -> str:
    """Per-stage layer types -> string (inverse of :func:`parse`)."""
    return "|".join("-".join(layers) for layers in stages)


def kernel_expand(token: str) -> tuple[int, int]:
    """``"k5e6"`` -> ``(5, 6)``."""
    k, e = divmod(VOCAB.index(token), len(EXPANDS))
    return KERNELS[k], EXPANDS[e]


def make_divisible(v: float, divisor: int = CHANNEL_DIVISIBLE) -> int:
    """Round ``v`` to the nearest multiple of ``divisor`` (>= divisor), never more than 10% down."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


class Block(NamedTuple):
    """One inverted-residual (MBConv) block of a subnet; ``se_mid == 0`` means no squeeze-excite."""

    in_ch: int
    out_ch: int
    kernel: int
    expand: int
    mid: int
    stride: int
    act: str
    se_mid: int
    residual: bool


def blocks(arch: str) -> list[Block]:
    """All MBConv blocks of the subnet, the fixed first block (expand 1, k3, 16->16) included."""
    out = [Block(STEM_WIDTH, STEM_WIDTH, 3, 1, STEM_WIDTH, 1, "relu", 0, True)]
    in_ch = STEM_WIDTH
    for s, layers in enumerate(parse(arch)):
        for l, token in enumerate(layers):
            k, e = kernel_expand(token)
            stride = STAGE_STRIDES[s] if l == 0 else 1
            mid = make_divisible(round(in_ch * e))
            se_mid = make_divisible(mid // SE_REDUCTION) if STAGE_SE[s] else 0
            out_ch = STAGE_WIDTHS[s]
            out.append(Block(in_ch, out_ch, k, e, mid, stride, STAGE_ACTS[s], se_mid, stride == 1 and in_ch == out_ch))
            in_ch = out_ch
    return out


class Op(NamedTuple):
    """A conv or linear layer: output side ``hw`` (1 for linear), ``bn``: followed by BatchNorm."""

    cin: int
    cout: int
    kernel: int
    groups: int
    bias: bool
    bn: bool
    hw: int


def _out_side(side: int, stride: int) -> int:
    """Output side of a 'same'-padded odd-kernel conv (padding k // 2)."""
    return (side - 1) // stride + 1


def ops(arch: str, resolution: int = 224, n_classes: int = 1000) -> list[Op]:
    """Every conv / linear layer of the subnet in forward order, with its output side length."""
    if not isinstance(resolution, int) or resolution < 1:
        raise ValueError(f"resolution must be a positive int, got {resolution!r}")
    side = _out_side(resolution, 2)
    out = [Op(3, STEM_WIDTH, 3, 1, False, True, side)]
    for b in blocks(arch):
        if b.expand != 1:
            out.append(Op(b.in_ch, b.mid, 1, 1, False, True, side))
        side = _out_side(side, b.stride)
        out.append(Op(b.mid, b.mid, b.kernel, b.mid, False, True, side))
        if b.se_mid:
            out += [Op(b.mid, b.se_mid, 1, 1, True, False, 1), Op(b.se_mid, b.mid, 1, 1, True, False, 1)]
        out.append(Op(b.mid, b.out_ch, 1, 1, False, True, side))
    last = STAGE_WIDTHS[-1]
    return out + [
        Op(last, FINAL_EXPAND_WIDTH, 1, 1, False, True, side),
        Op(FINAL_EXPAND_WIDTH, FEATURE_MIX_WIDTH, 1, 1, False, False, 1),
        Op(FEATURE_MIX_WIDTH, n_classes, 1, 1, True, False, 1),
    ]


def params(arch: str, n_classes: int = 1000) -> float:
    """Trainable parameters in millions: conv/linear weights and biases plus BN weight and bias
    (running statistics are buffers, not counted)."""
    total = sum(
        o.cin // o.groups * o.cout * o.kernel**2 + o.cout * o.bias + 2 * o.cout * o.bn
        for o in ops(arch, 1, n_classes)
    )
    return total / 1e6


def flops(arch: str, resolution: int = 224, n_classes: int = 1000) -> float:
    """MFLOPs as multiply-adds of conv and linear layers for one image (the OFA convention).

    Counted: ``cin / groups * k * k`` per output element of every conv (SE convs at 1x1) and
    ``in * out`` per linear. Not counted: biases, BatchNorm, activations, pooling, SE scaling,
    residual additions.
    """
    return sum(o.cin // o.groups * o.kernel**2 * o.cout * o.hw**2 for o in ops(arch, resolution, n_classes)) / 1e6


class MBV3Space(SearchSpace):
    """OFA MobileNetV3 subnets (about 10^19); node features: 20 slots x 9 kernel/expand types."""

    name = "mbv3"
    surrogate_encoding = "onehot"  # paths through 20 slots of 9 types: about 10^19 path features
    vocab = VOCAB
    optional_rows = True
    # Authors' sigma_max and 1M paper iterations; the quick net (resources/SCORENET.md) learns "layer 4
    # only after layer 3" far faster with the categorical output, neighbour attention and a narrower net.
    diffusion = DiffusionDefaults(
        sigma_max=1.0, quick_steps=4000, paper_steps=1_000_000, guidance_decrement=500.0,
        quick_net={"width": 32, "ffn": 64, "mask": "adjacency", "param": "categorical"},
        quick_train={"lr": 2e-3, "checkpoint_every": 500})
    analytic_properties = MappingProxyType({"flops": "MFLOPs", "params": "M"})

    def __init__(self) -> None:
        n = N_STAGES * MAX_DEPTH
        self.adjacency = torch.zeros(n, n, dtype=torch.bool)
        self.adjacency[torch.arange(n - 1), torch.arange(1, n)] = True

    def stage_layout(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Position (0-3) within its stage and stage index (0-4) of each of the 20 slots."""
        slots = torch.arange(self.n_nodes)
        return slots % MAX_DEPTH, slots // MAX_DEPTH

    def property_values(self, archs: Sequence[str], name: str, resolution: int = 224) -> list[float]:
        """``flops`` (MFLOPs at ``resolution``) or ``params`` (millions) of each subnet."""
        if name == "flops":
            return [flops(a, resolution) for a in archs]
        if name == "params":
            return [params(a) for a in archs]
        return super().property_values(archs, name)

    def encode(self, arch: str) -> torch.Tensor:
        x = torch.zeros(self.shape)
        for s, layers in enumerate(parse(arch)):
            for l, token in enumerate(layers):
                x[s * MAX_DEPTH + l, VOCAB.index(token)] = 1.0
        return x

    def validate(self, x: torch.Tensor) -> str | None:
        """Rows active where > 0.5; at most one type per row, layers 1-2 of every stage used,
        layer 4 empty when layer 3 is."""
        self.check_shape(x)
        if x.dim() != 2:
            raise ValueError(f"validate takes one matrix of shape {self.shape}, got {tuple(x.shape)}")
        if (reason := self.non_finite_row(x)) is not None:
            return reason
        counts = (x > 0.5).sum(dim=1).tolist()
        for row, c in enumerate(counts):
            if c > 1:
                where = f"stage {row // MAX_DEPTH + 1}, layer {row % MAX_DEPTH + 1}"
                return f"row {row} ({where}) has {c} active types (at most 1)"
        for s in range(N_STAGES):
            used = [counts[s * MAX_DEPTH + l] == 1 for l in range(MAX_DEPTH)]
            for l in range(min(DEPTHS)):
                if not used[l]:
                    row = s * MAX_DEPTH + l
                    return f"stage {s + 1}, layer {l + 1} (row {row}) is empty; layers 1-{min(DEPTHS)} must be used"
            if used[3] and not used[2]:
                return f"stage {s + 1}, layer 4 (row {s * MAX_DEPTH + 3}) is used while layer 3 is empty"
        return None

    def enumerate(self) -> list[str]:
        n = sum(len(VOCAB) ** d for d in DEPTHS) ** N_STAGES
        raise NotImplementedError(f"the mbv3 space has {n:.2e} architectures, too many to enumerate")

    def decode(self, x: torch.Tensor) -> str:
        reason = self.validate(x)
        if reason is not None:
            raise ValueError(f"invalid MBV3 matrix: {reason}")
        active = (x > 0.5).tolist()
        stages = [
            [VOCAB[row.index(True)] for row in active[s * MAX_DEPTH : (s + 1) * MAX_DEPTH] if any(row)]
            for s in range(N_STAGES)
        ]
        return to_string(stages)

    def canonical(self, arch: str) -> str:
        """The string itself (checked): every valid matrix has exactly one string."""
        return to_string(parse(arch))

    def sample(self, n: int, generator: torch.Generator | None = None) -> list[str]:
        """OFA's sampler: uniform depth per stage, uniform type per used layer.

        Uniform per decision, not over the set of architectures (a depth-4 stage has 9x more
        variants than a depth-3 one but is drawn equally often).
        """
        depths = torch.randint(0, len(DEPTHS), (n, N_STAGES), generator=generator).tolist()
        types = torch.randint(0, len(VOCAB), (n, N_STAGES, MAX_DEPTH), generator=generator).tolist()
        return [
            to_string([[VOCAB[t] for t in types[i][s][: DEPTHS[depths[i][s]]]] for s in range(N_STAGES)])
            for i in range(n)
        ]
