"""NAS-Bench-Graph macro cells (Qin et al., NeurIPS 2022) in a fixed-adjacency representation.

A cell has four computing nodes; node ``i`` (1..4) applies one of nine GNN operations to the output
of one earlier node ``link[i-1]`` (0 = the cell input, ``1..i-1`` = a computing node). Every node
nobody consumes (a leaf) feeds the cell output. String form, one ``op~source`` token per computing
node, e.g. ``gcn~0|gat~1|skip~1|fc~2``.

Matrix form (see ``resources/NBGRAPH.md``): the adjacency is the same for every architecture, the
complete DAG over ``[input, op1, op2, op3, op4, output]``; the wiring lives in the node types. The
type of computing node ``i`` is the pair (operation, source), vocabulary ``"<op>@<source>"``
(9 ops x 4 sources) plus ``"input"`` / ``"output"`` for the first / last row: 6 x 38 one-hot rows.
A matrix is valid iff row 0 is ``input``, row 5 ``output``, every computing row has exactly one
active type, the source of row ``i`` is ``< i``, and not all four ops are ``skip``.

``canonical`` maps a wiring to the benchmark's stored architecture computing the same function
(:func:`function_key`); ``enumerate`` lists the 26,206 stored architectures.
"""
from __future__ import annotations

import collections
import io
import pickle
from functools import cache, cached_property
from importlib import resources as importlib_resources

import numpy as np
import torch

from nagkit.spaces.base import DiffusionDefaults, SearchSpace

# The benchmark's ``gnn_list`` order (its keys are base-10 digits of these indices).
OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
# The five operations of the ogbn-proteins table (the bench file's entries, not ``runnni.py``'s list).
PROTEIN_OPS: tuple[str, ...] = ("gcn", "sage", "arma", "fc", "skip")
N_OPS = 4  # computing nodes per cell
VOCAB: tuple[str, ...] = ("input", "output", *(f"{op}@{src}" for op in OPS for src in range(N_OPS)))
# The benchmark's nine canonical link patterns (``link_list``); a key is ``pattern * 10**4 + op digits``.
LINK_PATTERNS: tuple[tuple[int, ...], ...] = (
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3),
    (0, 1, 1, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 2, 3),
)
DATASETS: tuple[str, ...] = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv", "proteins")
N_ARCHS = 26_206

Cell = tuple[tuple[int, ...], tuple[str, ...]]  # (links, ops)


def type_index(op: str, source: int) -> int:
    """Vocabulary index of computing-node type ``op@source``."""
    return 2 + OPS.index(op) * N_OPS + source


def parse(arch: str) -> Cell:
    """String -> ``(links, ops)``; ``ValueError`` naming the bad token."""
    if not isinstance(arch, str):
        raise TypeError(f"NAS-Bench-Graph architecture must be a str, got {type(arch).__name__}")
    tokens = arch.split("|")
    if len(tokens) != N_OPS:
        raise ValueError(f"NAS-Bench-Graph string must have {N_OPS} '|'-separated 'op~source' tokens, "
                         f"got {len(tokens)}: {arch!r}")
    links: list[int] = []
    ops: list[str] = []
    for node, token in enumerate(tokens, start=1):
        op, sep, src = token.partition("~")
        sources = [str(s) for s in range(node)]
        if not sep or op not in OPS or src not in sources:
            raise ValueError(f"bad token {token!r} at node {node} of {arch!r}: expected <op>~<source> with <op> in "
                             f"{OPS} and <source> in {{{', '.join(sources)}}} (0 = cell input, k = node k)")
        links.append(int(src))
        ops.append(op)
    if all(op == "skip" for op in ops):
        raise ValueError(f"{arch!r}: all four ops are 'skip' (the cell would output its raw input); "
                         "NAS-Bench-Graph has no such architecture")
    return tuple(links), tuple(ops)


def to_string(links: tuple[int, ...] | list[int], ops: tuple[str, ...] | list[str]) -> str:
    """``(links, ops)`` -> string (inverse of :func:`parse`)."""
    return "|".join(f"{op}~{src}" for op, src in zip(ops, links))


def function_key(links: tuple[int, ...] | list[int], ops: tuple[str, ...] | list[str]) -> str:
    """Canonical key of the cell's computation (our own code; equal iff same function).

    ``skip`` is the identity, so skip nodes are contracted: each parametrised node hangs under its
    nearest parametrised ancestor (or the input), giving a rooted tree of GNN layers. The output sums
    the leaves; a skip leaf outputs its nearest parametrised ancestor, so a node carries the number of
    times it reaches the output. A leaf that is the raw input (all-skip path) is dropped, as in the
    benchmark (``Arch.move_skip_op``: input-dimension outputs are not combined). The key is the tree
    with children sorted (isomorphic wirings / node orders coincide); separate layers stay separate
    (two ``gcn`` siblings are not one ``gcn``: they have their own weights).
    """

    def parametrised(j: int) -> int:
        while j and ops[j - 1] == "skip":
            j = links[j - 1]
        return j

    consumed = set(links)
    children: dict[int, list[int]] = collections.defaultdict(list)
    outputs: collections.Counter[int] = collections.Counter()
    for i in range(1, N_OPS + 1):
        if ops[i - 1] != "skip":
            children[parametrised(links[i - 1])].append(i)
        if i not in consumed:
            outputs[parametrised(i)] += 1

    def tree(j: int) -> str:
        inner = ",".join(sorted(tree(c) for c in children[j]))
        if j == 0:
            return f"in({inner})"
        mark = f"*{outputs[j]}" if outputs[j] else ""
        return f"{ops[j - 1]}{mark}({inner})"

    return tree(0)


def bench_key(links: tuple[int, ...], ops: tuple[str, ...]) -> int:
    """The benchmark's integer key of a stored (canonical-pattern) cell (``Arch.hash_arch``)."""
    key = LINK_PATTERNS.index(tuple(links))
    for op in ops:
        key = key * 10 + OPS.index(op)
    return key


def cell_of_key(key: int) -> Cell:
    """Inverse of :func:`bench_key`."""
    digits = []
    for _ in range(N_OPS):
        key, d = divmod(key, 10)
        digits.append(d)
    return LINK_PATTERNS[key], tuple(OPS[d] for d in reversed(digits))


# --- the benchmark files ------------------------------------------------------------------------


def _float64_dtype(name: str, align: bool = False, copy: bool = True) -> np.dtype:
    if name != "f8":
        raise pickle.UnpicklingError(f"refusing numpy dtype {name!r} in a benchmark table (only 'f8')")
    return np.dtype("f8", align=False, copy=True)  # a copy: the pickle's BUILD then sets its byte order


def _float64_scalar(dtype: np.dtype, data: bytes) -> float:
    if not (isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize == 8
            and isinstance(data, bytes) and len(data) == 8):
        raise pickle.UnpicklingError(f"refusing numpy scalar of {dtype!r} in a benchmark table")
    return float(np.frombuffer(data, dtype=dtype)[0])


class _BenchUnpickler(pickle.Unpickler):
    """Plain containers and numbers, plus float64 numpy scalars (all the ``.bench`` files hold)."""

    _ALLOWED = {("numpy.core.multiarray", "scalar"): _float64_scalar,
                ("numpy._core.multiarray", "scalar"): _float64_scalar,
                ("numpy", "dtype"): _float64_dtype}

    def find_class(self, module: str, name: str):  # noqa: ANN201
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a benchmark table") from None


def load_bench_bytes(data: bytes) -> dict[int, dict[str, float]]:
    """Parse one ``.bench`` pickle with the restricted unpickler and check its layout."""
    raw = _BenchUnpickler(io.BytesIO(data)).load()
    if not isinstance(raw, dict):
        raise ValueError(f"a NAS-Bench-Graph table must be a dict, got {type(raw).__name__}")
    out = {}
    for key, entry in raw.items():
        if not isinstance(key, int) or not isinstance(entry, dict):
            raise ValueError(f"bad NAS-Bench-Graph entry {key!r}: {entry!r}")
        out[key] = {k: float(v) for k, v in entry.items()}
    return out


@cache
def read_bench(dataset: str) -> dict[int, dict[str, float]]:
    """``{benchmark key: {'valid_perf', 'perf', 'latency', 'para'}}`` of one dataset, read from the
    installed ``nas-bench-graph`` package (``nas_bench_graph/light/<dataset>.bench``)."""
    if dataset not in DATASETS:
        raise KeyError(f"unknown NAS-Bench-Graph dataset {dataset!r}; valid: {list(DATASETS)}")
    path = importlib_resources.files("nas_bench_graph") / "light" / f"{dataset}.bench"
    return load_bench_bytes(path.read_bytes())


class NBGraphSpace(SearchSpace):
    """The 26,206 NAS-Bench-Graph architectures; 6 nodes x 38 (op, source) types, complete-DAG adjacency."""

    name = "nbgraph"
    vocab = VOCAB
    # sigma_max 5: the largest distance between two encodings (four computing rows differing, each
    # by two +-1 -> -+1 flips in [-1, 1]) is sqrt(32) = 5.7 (the VE rule sigma_max ~ max pairwise
    # distance), as for NB201 (the authors' 5); with 1 the prior would not cover the data.
    # the wiring lives in the node types: the path encoding over the complete DAG would have 155,520 features
    surrogate_encoding = "onehot"
    # Quick nets (resources/SCORENET.md): the categorical output with a cross-entropy term, so the 27 / 18 / 9
    # (operation, source) types that rows 1 / 2 / 3 never take get probability ~0 (without the term: 97.5%
    # validity after 4,000 steps).
    diffusion = DiffusionDefaults(sigma_max=5.0, quick_steps=4000, paper_steps=250_000, guidance_decrement=300.0,
                                  quick_net={"param": "categorical"}, quick_train={"ce_weight": 0.3})

    def __init__(self) -> None:
        n = N_OPS + 2
        self.adjacency = torch.ones(n, n, dtype=torch.bool).triu(diagonal=1)

    def encode(self, arch: str) -> torch.Tensor:
        links, ops = parse(arch)
        x = torch.zeros(self.shape)
        x[0, 0] = 1.0
        x[-1, 1] = 1.0
        for i, (op, src) in enumerate(zip(ops, links), start=1):
            x[i, type_index(op, src)] = 1.0
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
        ops = []
        for row in range(1, N_OPS + 1):
            t = types[row]
            if t in (0, 1):
                return f"row {row} is {VOCAB[t]!r}; only row 0 / row {self.n_nodes - 1} may be input / output"
            op, src = divmod(t - 2, N_OPS)
            if src >= row:
                return (f"row {row} is {VOCAB[t]!r}: node {row} must take its input from an earlier node "
                        f"(source < {row})")
            ops.append(OPS[op])
        if all(op == "skip" for op in ops):
            return "all four computing nodes are 'skip' (the cell would output its raw input)"
        return None

    def decode(self, x: torch.Tensor) -> str:
        reason = self.validate(x)
        if reason is not None:
            raise ValueError(f"invalid NAS-Bench-Graph matrix: {reason}")
        types = (x[1:-1] > 0.5).float().argmax(dim=1).tolist()
        return "|".join(f"{OPS[(t - 2) // N_OPS]}~{(t - 2) % N_OPS}" for t in types)

    def canonical(self, arch: str) -> str:
        """The benchmark's stored architecture (string form) computing the same function as ``arch``."""
        return self._strings[self.index(arch)]

    def index(self, arch: str) -> int:
        """Position in :meth:`enumerate` of the stored architecture with ``arch``'s function."""
        key = function_key(*parse(arch))
        try:
            return self._index_of_function[key]
        except KeyError:  # every parseable wiring is covered (NBGRAPH.md); kept for a corrupted table
            raise ValueError(f"NAS-Bench-Graph has no architecture computing {arch!r} ({key})") from None

    def sample(self, n: int, generator: torch.Generator | None = None) -> list[str]:
        """``n`` draws, uniform over the 26,206 benchmark architectures (canonical strings)."""
        idx = torch.randint(0, len(self._strings), (n,), generator=generator)
        return [self._strings[i] for i in idx.tolist()]

    def enumerate(self) -> list[str]:
        """The 26,206 benchmark architectures, by increasing benchmark key."""
        return list(self._strings)

    def key(self, arch: str) -> int:
        """The benchmark's integer key (``Arch.valid_hash()``) of ``arch``'s function."""
        return self._keys[self.index(arch)]

    @cached_property
    def _keys(self) -> tuple[int, ...]:
        keys = tuple(sorted(read_bench("cora")))
        if len(keys) != N_ARCHS:
            raise ValueError(f"NAS-Bench-Graph cora table has {len(keys)} architectures, expected {N_ARCHS}")
        return keys

    @cached_property
    def _strings(self) -> tuple[str, ...]:
        return tuple(to_string(*cell_of_key(k)) for k in self._keys)

    @cached_property
    def _index_of_function(self) -> dict[str, int]:
        index = {function_key(*cell_of_key(k)): i for i, k in enumerate(self._keys)}
        if len(index) != N_ARCHS:
            raise ValueError(f"NAS-Bench-Graph table has {N_ARCHS - len(index)} duplicate functions")
        return index
