"""NAS-Bench-201 cells as 8-node op-on-node DAGs (method.md section 1)."""
from __future__ import annotations

from functools import cached_property

import numpy as np
import torch

from nagkit.resources import nb201_table
from nagkit.spaces.base import DiffusionDefaults, SearchSpace

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
VOCAB: tuple[str, ...] = ("input", "output", *OPS)
# Edge slots of the string, in order, as (to_node, from_node) of the 4-node cell.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
_SHORT = {"nor_conv_1x1": "c1", "nor_conv_3x3": "c3", "avg_pool_3x3": "ap"}


def slot_adjacency() -> torch.Tensor:
    """8x8 op-on-node adjacency derived from the edge-slot order.

    Op node k (1..6) for edge (j <- i) receives from every op node whose edge ends at cell
    node i (from the input node 0 when i == 0) and feeds every op node whose edge starts at
    cell node j (the output node 7 when j == 3).
    """
    n = len(EDGES) + 2
    adj = torch.zeros(n, n, dtype=torch.bool)
    for k, (to_k, from_k) in enumerate(EDGES, start=1):
        if from_k == 0:
            adj[0, k] = True
        if to_k == 3:
            adj[k, n - 1] = True
        for m, (_, from_m) in enumerate(EDGES, start=1):
            if from_m == to_k:
                adj[k, m] = True
    return adj


def parse(arch: str) -> list[str]:
    """NB201 string -> the six ops in slot order; ``ValueError`` naming the bad token."""
    if not isinstance(arch, str):
        raise TypeError(f"NB201 architecture must be a str, got {type(arch).__name__}")
    nodes = arch.split("+")
    if len(nodes) != 3:
        raise ValueError(f"NB201 string must have 3 '+'-separated nodes, got {len(nodes)}: {arch!r}")
    ops: list[str] = []
    position = 0
    for node, part in enumerate(nodes, start=1):
        if not (part.startswith("|") and part.endswith("|") and len(part) > 2):
            raise ValueError(f"node {node} of {arch!r} must look like '|op~i|...|', got {part!r}")
        tokens = part[1:-1].split("|")
        if len(tokens) != node:
            raise ValueError(f"node {node} of {arch!r} must have {node} edges, got {len(tokens)}")
        for src, token in enumerate(tokens):
            op, sep, idx = token.partition("~")
            if not sep or op not in OPS or idx != str(src):
                expected = f"<op>~{src} with <op> in {OPS}"
                raise ValueError(f"bad token {token!r} at edge {position} (node {node}) of {arch!r}: expected {expected}")
            ops.append(op)
            position += 1
    return ops


def to_string(ops: list[str] | tuple[str, ...]) -> str:
    """Six ops in slot order -> NB201 string."""
    if len(ops) != 6 or any(op not in OPS for op in ops):
        raise ValueError(f"need six ops from {OPS}, got {list(ops)}")
    return "+".join(
        "|" + "|".join(f"{ops[k]}~{EDGES[k][1]}" for k in range(6) if EDGES[k][0] == node) + "|"
        for node in (1, 2, 3)
    )


def function_key(ops: list[str]) -> str:
    """Canonical key of the cell's computation.

    Each cell node's value is a multiset of terms; a term is the input ``x`` or ``op(value)``
    for a parametrised/pooling op. ``none`` edges and all-zero nodes contribute nothing,
    ``skip_connect`` adds its source's terms unchanged. Sums are order-free (sorted), but no
    op is distributed over a sum: conv(a + b) stays distinct from conv(a) + conv(b).
    """
    values: list[list[str]] = [["x"]]
    for node in (1, 2, 3):
        terms: list[str] = []
        for k, (to_k, from_k) in enumerate(EDGES):
            if to_k != node or ops[k] == "none" or not values[from_k]:
                continue
            if ops[k] == "skip_connect":
                terms.extend(values[from_k])
            else:
                terms.append(f"{_SHORT[ops[k]]}({'+'.join(values[from_k])})")
        values.append(sorted(terms))
    return "+".join(values[3]) or "zero"


class NB201Space(SearchSpace):
    """The 15,625 NAS-Bench-201 cells; node features are one-hot over ``VOCAB`` (8 x 7)."""

    name = "nb201"
    vocab = VOCAB
    n_ops = len(OPS)
    # The authors' sigma_max (5.0), 250k paper iterations, guidance w = 10,000 - 300 per batch.
    diffusion = DiffusionDefaults(sigma_max=5.0, quick_steps=1500, paper_steps=250_000, guidance_decrement=300.0)

    def __init__(self) -> None:
        self.adjacency = slot_adjacency()

    def encode(self, arch: str) -> torch.Tensor:
        x = torch.zeros(self.shape)
        x[0, VOCAB.index("input")] = 1.0
        x[-1, VOCAB.index("output")] = 1.0
        for k, op in enumerate(parse(arch), start=1):
            x[k, VOCAB.index(op)] = 1.0
        return x

    def validate(self, x: torch.Tensor) -> str | None:
        self.check_shape(x)
        if x.dim() != 2:
            raise ValueError(f"validate takes one matrix of shape {self.shape}, got {tuple(x.shape)}")
        if (reason := self.non_finite_row(x)) is not None:
            return reason
        active = x > 0.5
        counts = active.sum(dim=1)
        for row in range(self.n_nodes):
            if counts[row] != 1:
                return f"row {row} has {int(counts[row])} active types (needs exactly 1)"
        types = active.float().argmax(dim=1).tolist()
        if types[0] != 0:
            return f"row 0 must be 'input', got {VOCAB[types[0]]!r}"
        if types[-1] != 1:
            return f"row {self.n_nodes - 1} must be 'output', got {VOCAB[types[-1]]!r}"
        for row in range(1, self.n_nodes - 1):
            if types[row] in (0, 1):
                return f"row {row} is {VOCAB[types[row]]!r}; only row 0 / row 7 may be input / output"
        return None

    def decode(self, x: torch.Tensor) -> str:
        reason = self.validate(x)
        if reason is not None:
            raise ValueError(f"invalid NB201 matrix: {reason}")
        return to_string([VOCAB[t] for t in x[1:-1].argmax(dim=1).tolist()])

    def canonical(self, arch: str) -> str:
        return function_key(parse(arch))

    def sample(self, n: int, generator: torch.Generator | None = None) -> list[str]:
        codes = torch.randint(0, self.n_ops, (n, 6), generator=generator)
        return [to_string([OPS[i] for i in row]) for row in codes.tolist()]

    def enumerate(self) -> list[str]:
        """All 15,625 cells in the official NAS-Bench-201 / NATS-Bench index order."""
        return list(self._official_strings)

    def index(self, arch: str) -> int:
        """Official NB201 / NATS-Bench index of a cell."""
        return self._index_of_code[code_of(parse(arch))]

    @cached_property
    def _official_strings(self) -> tuple[str, ...]:
        return tuple(to_string(ops_of_code(int(c))) for c in nb201_table()["code"])

    @cached_property
    def _index_of_code(self) -> dict[int, int]:
        return {int(c): i for i, c in enumerate(nb201_table()["code"])}


def code_of(ops: list[str]) -> int:
    """Base-5 integer of the six op indices (slot 0 most significant)."""
    code = 0
    for op in ops:
        code = code * 5 + OPS.index(op)
    return code


def ops_of_code(code: int) -> list[str]:
    """Inverse of :func:`code_of`."""
    digits = np.base_repr(code, 5).zfill(6)
    return [OPS[int(d)] for d in digits]
