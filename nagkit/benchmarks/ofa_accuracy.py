"""MobileNetV3 subnets on ImageNet-1K through OFA's accuracy predictor: the surrogate "benchmark" of the
paper's BO experiments on MBV3 (Figs. 3-4), where every query is the predictor's top-1 accuracy.

The predictor is the one of OFA's tutorial (``acc_predictor.pth``, ``nagkit fetch ofa-acc-predictor``): an
MLP 128 -> 400 -> 400 -> 400 -> 1 (``torch.nn.Sequential`` keys ``0``, ``2``, ``4``, ``6``) on a 128-d
encoding of a subnet: one-hot kernel size (3 per slot) of the 20 slots, one-hot expand ratio (3 per slot),
zero for slots past a stage's depth, and a one-hot input resolution among 112, 128, ..., 224. It outputs
top-1 accuracy as a fraction; nagkit reports %.

:class:`OFAAccuracyBenchmark` offers what :class:`~nagkit.benchmarks.ledger.Ledger` and the search
strategies use (``space``, ``datasets``, the checks of :class:`~nagkit.benchmarks.base.BenchmarkNames`, ``query``, ``cost``)
without a table: the space has about 10^19 subnets. One prediction stands for both validation and test accuracy, and each
"training" costs 1 (``cost_unit = "trainings"``).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from nagkit.benchmarks.base import BenchmarkNames, Metric
from nagkit.paths import data_root
from nagkit.spaces import mbv3

OFA_PREDICTOR = "ofa/acc_predictor.pth"  # below the data root
RESOLUTIONS: tuple[int, ...] = tuple(range(112, 225, 16))  # the predictor's resolution one-hot
N_FEATURES = 2 * 3 * mbv3.N_STAGES * mbv3.MAX_DEPTH + len(RESOLUTIONS)  # 128


def resolution_onehot(resolution: int) -> torch.Tensor:
    """The predictor's resolution one-hot; ``ValueError`` for a resolution it was not trained at."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution}")
    return torch.eye(len(RESOLUTIONS))[RESOLUTIONS.index(resolution)]


def ofa_features(arch: str, resolution: int = 224) -> torch.Tensor:
    """The predictor's 128-d encoding of an MBV3 string at ``resolution`` (``ValueError`` on a bad one)."""
    r = resolution_onehot(resolution)
    n = mbv3.N_STAGES * mbv3.MAX_DEPTH
    ks, ex = torch.zeros(n, 3), torch.zeros(n, 3)
    for s, stage in enumerate(mbv3.parse(arch)):
        for l, token in enumerate(stage):
            k, e = (int(v) for v in token[1:].split("e"))
            ks[s * mbv3.MAX_DEPTH + l, mbv3.KERNELS.index(k)] = 1
            ex[s * mbv3.MAX_DEPTH + l, mbv3.EXPANDS.index(e)] = 1
    return torch.cat([ks.flatten(), ex.flatten(), r])


def accuracy_mlp() -> nn.Sequential:
    """OFA's accuracy-predictor layout (load its state dict into this)."""
    return nn.Sequential(nn.Linear(N_FEATURES, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(),
                         nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 1))


def load_accuracy_predictor(path: str | Path | None = None) -> nn.Sequential:
    """The predictor from ``path`` (default ``<data root>/ofa/acc_predictor.pth``), in eval mode;
    ``FileNotFoundError`` naming the fetch, ``ValueError`` when the file is another layout."""
    path = Path(path) if path is not None else data_root() / OFA_PREDICTOR
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `nagkit fetch ofa-acc-predictor` (OFA's ImageNet accuracy "
                                "predictor)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = accuracy_mlp()
    try:
        model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
    except (RuntimeError, AttributeError, TypeError) as err:
        raise ValueError(f"{path}: not OFA's accuracy predictor (128-400-400-400-1 MLP): {err}") from None
    return model.eval()


class OFAAccuracyBenchmark(BenchmarkNames):
    """MBV3 subnets queried on ImageNet-1K through OFA's accuracy predictor at ``resolution`` px."""

    name = "ofa-imagenet"
    datasets: tuple[str, ...] = ("imagenet",)
    metrics: tuple[Metric, ...] = (Metric.VAL_ACC, Metric.TEST_ACC)
    cost_metric = None
    cost_unit = "trainings"

    def __init__(self, path: str | Path | None = None, resolution: int = 224) -> None:
        self.space = mbv3.MBV3Space()
        self.model = load_accuracy_predictor(path)
        resolution_onehot(resolution)  # ValueError before any query
        self.resolution = resolution
        self._memo: dict[str, float] = {}

    def query(self, arch: str, dataset: str, metric: str, seed: int | None = None) -> float:
        """The predicted top-1 accuracy (%) of ``arch`` (validation and test alike)."""
        self.check(dataset, metric)
        self.check_seed(seed)
        if arch not in self._memo:
            with torch.no_grad():
                self._memo[arch] = 100.0 * float(self.model(ofa_features(arch, self.resolution)[None]))
        return self._memo[arch]

    def cost(self, arch: str, dataset: str, seed: int | None = None) -> float:
        return 1.0
