"""Fixture writers for the smoke profile, in the real on-disk formats of the paper profile's downloads:
MetaD2A's data release (torch pickles with igraph graphs and numpy values), torchvision's ResNet-18 hub
checkpoint, NATS-Bench tss files and OFA supernet checkpoints (the last two: the writers of
``tests/test_nats.py`` and ``tests/test_mbv3.py``). Image datasets: ``tests/fixtures.py``."""
from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from nagkit.data.features import RESNET18_FILE
from nagkit.predictors.metad2a import FEATURES_FILE, IDX_FILE, RECORDS_FILE, RIDX_FILE, TASKS_FILE
from nagkit.spaces.nb201 import EDGES, OPS, NB201Space, parse
from tests.test_mbv3 import _fake_supernet
from tests.test_nats import write_fake_nats

__all__ = ["write_fake_nats", "write_metad2a_release", "write_ofa_supernet", "write_resnet18_weights"]


class _Graph:
    """Pickles as ``igraph.Graph`` does (class, constructor arguments, attribute state) without python-igraph."""

    def __init__(self, n: int, edges: list[tuple[int, int]], directed: bool = True) -> None:
        self.n, self.edges, self.directed = n, edges, directed

    def __reduce__(self) -> tuple:
        return _Graph, (self.n, self.edges, self.directed), {"vertex_attrs": {"type": list(range(self.n))}}


@contextlib.contextmanager
def _as_igraph() -> Iterator[None]:
    """While writing: :class:`_Graph` is ``igraph.Graph`` to the pickler (a stand-in module when igraph is absent)."""
    saved = sys.modules.get("igraph")
    module = types.ModuleType("igraph")
    module.Graph = _Graph
    _Graph.__module__, _Graph.__qualname__ = "igraph", "Graph"
    sys.modules["igraph"] = module
    try:
        yield
    finally:
        _Graph.__module__, _Graph.__qualname__ = __name__, "_Graph"
        if saved is None:
            del sys.modules["igraph"]
        else:
            sys.modules["igraph"] = saved


def _cell_matrix(arch: str) -> np.ndarray:
    """MetaD2A's 4 x 4 cell matrix: ``[to, from]`` holds the op index (in ``OPS``) of that edge."""
    m = np.zeros((4, 4))
    for (to, frm), op in zip(EDGES, parse(arch)):
        m[to, frm] = OPS.index(op)
    return m


def write_metad2a_release(folder: Path, n_classes: int, per_class: int = 20, dim: int = 512, n_tasks: int = 8,
                          n_records: int = 24, seed: int = 0) -> dict:
    """MetaD2A's four meta-training pickles and ``imgnet32bylabel.pt`` (``n_classes`` ImageNet-32 classes,
    ``per_class`` feature rows of ``dim`` each) in ``folder``; returns what was written."""
    space = NB201Space()
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    archs = space.sample(n_records, g)
    adj = space.adjacency.float()
    records = {
        "acc": [float(a) for a in rng.uniform(30, 95, n_records)],
        "task": [i % n_tasks for i in range(n_records)],
        "g": [_Graph(8, [(int(j), int(i)) for i, j in adj.nonzero().tolist()]) for _ in archs],
        "x": [space.encode(a) for a in archs],
        "adj": [adj.clone() for _ in archs],
        "flops": [np.float64(v) for v in rng.uniform(10, 200, n_records)],
        "latency": [np.float64(v) for v in rng.uniform(0.005, 0.03, n_records)],
        "params": [np.float64(v) for v in rng.uniform(0.1, 1.5, n_records)],
        "str": archs,
        "matrix": [_cell_matrix(a) for a in archs],
    }
    tasks = [[int(c) for c in torch.randperm(n_classes, generator=g)[:20] + 1] for _ in range(n_tasks)]
    features = [[torch.randn(per_class, dim, generator=g), torch.full((per_class,), c)] for c in range(n_classes)]
    folder.mkdir(parents=True, exist_ok=True)
    with _as_igraph():
        torch.save(records, folder / RECORDS_FILE)
    torch.save(tasks, folder / TASKS_FILE)
    torch.save(torch.randperm(n_records, generator=g), folder / IDX_FILE)
    torch.save(torch.randperm(len(space.enumerate()), generator=g), folder / RIDX_FILE)
    torch.save(features, folder / FEATURES_FILE)
    return {"records": records, "tasks": tasks, "features": [f for f, _ in features]}


def write_resnet18_weights(torch_home: Path, seed: int = 0) -> Path:
    """A random-init ResNet-18 state dict where torchvision's ``IMAGENET1K_V1`` download lands
    (``<TORCH_HOME>/hub/checkpoints/resnet18-f37072fd.pth``)."""
    from torchvision.models import resnet18

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        state = resnet18().state_dict()
    path = torch_home / "hub" / "checkpoints" / RESNET18_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def write_ofa_supernet(path: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """An OFA MobileNetV3 supernet checkpoint (``{"state_dict": ...}`` in OFA's key layout, as
    ``ofa_mbv3_d234_e346_k357_w1.0``); returns the state dict."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        state = _fake_supernet()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state}, path)
    return state
