"""MetaD2A meta-training data for the dataset-aware predictor f(X, D) (method.md section 4).

The authors ship torch pickles (``meta_train_tasks_predictor.pt`` and friends; the ImageNet-32
class features ``imgnet32bylabel.pt`` are a separate download). Pickles can run code when
loaded, so nagkit reads them only on explicit opt-in (``trust_pickles=True``), with an
unpickler that allows tensors, numpy arrays and builtins (igraph graphs become a placeholder
that is dropped), validates every record and converts once into plain-tensor files that load
with ``torch.load(weights_only=True)``. Meta-training (10k steps in the paper) runs once per setting:
:func:`cached_meta_predictor` keeps the trained predictor under ``<cache root>/metad2a``.
"""
from __future__ import annotations

import _codecs
import collections
import hashlib
import json
import math
import pickle
import types
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from nagkit.data.artifacts import (  # the release's file names, defined once with their sizes and checksums
    FEATURES_FILE, FEATURES_URL, IDX_FILE, RECORDS_FILE, RIDX_FILE, SAFE_FEATURES, TASKS_FILE)
from nagkit.diffusion.sde import SDE
from nagkit.data.fetch import file_digest
from nagkit.paths import cache_dir, data_root
from nagkit.predictors.fit import N_VALID, Device, MetaTrainConfig, as_device, fit_predictor, noised, rank_correlation
from nagkit.predictors.model import Predictor, PredictorConfig
from nagkit.predictors.set_encoder import SetEncoderConfig
from nagkit.resources import METAD2A_RECORDS
from nagkit.spaces import get_space
from nagkit.spaces.nb201 import NB201Space
from nagkit.storage import atomic_torch_save, cached

SAFE_RECORDS = "metad2a_nb201.pt"
RECORDS_FORMAT = "nagkit-metad2a-nb201-v1"
FEATURES_FORMAT = "nagkit-class-features-v1"
METAD2A_REPO = "https://github.com/HayeonLee/MetaD2A"
META_VERSION = 1


class DroppedGraph:
    """Stands in for ``igraph.Graph`` while unpickling: accepts anything, keeps nothing."""

    def __init__(self, *args, **kwargs) -> None:
        pass

    def __setstate__(self, state) -> None:
        pass


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("numpy", "dtype"): np.dtype,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy.core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("_codecs", "encode"): _codecs.encode,
    ("igraph", "Graph"): DroppedGraph,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals the MetaD2A files need (torch storages are resolved by torch)."""

    def find_class(self, module: str, name: str):  # noqa: ANN201
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from an untrusted pickle") from None


_RESTRICTED_PICKLE = types.ModuleType("nagkit_restricted_pickle")  # the pickle_module torch.load uses
_RESTRICTED_PICKLE.Unpickler = RestrictedUnpickler
_RESTRICTED_PICKLE.load = lambda f, **kwargs: RestrictedUnpickler(f, **kwargs).load()


def load_untrusted(path: Path | str):  # noqa: ANN201
    """``torch.load`` of an untrusted torch pickle through :class:`RestrictedUnpickler`."""
    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RESTRICTED_PICKLE)


def default_source_dir() -> Path:
    """``<data root>/metad2a`` (:mod:`nagkit.paths`): where MetaD2A's released files are put."""
    return data_root() / "metad2a"


def _risk(src: Path) -> str:
    return (
        f"{src} holds torch pickles from MetaD2A's data release; unpickling untrusted files can run "
        "arbitrary code. nagkit reads them only through a restricted unpickler (tensors, numpy arrays, "
        "builtins; igraph graphs dropped), but only do so for files you got from the authors' release: "
        "call convert_metad2a(src_dir, out_dir, trust_pickles=True) to accept this risk."
    )


def _validate(raw: dict, tasks: torch.Tensor, idx: torch.Tensor, ridx: torch.Tensor) -> None:
    space = NB201Space()
    keys = ("task", "str", "acc", "x", "flops", "params", "latency")
    missing = [k for k in keys if k not in raw]
    if missing:
        raise ValueError(f"{RECORDS_FILE}: missing keys {missing}; has {sorted(raw)}")
    n = len(raw["str"])
    if any(len(raw[k]) != n for k in keys):
        raise ValueError(f"{RECORDS_FILE}: lists differ in length: { {k: len(raw[k]) for k in keys} }")
    for i, (arch, x, acc, task) in enumerate(zip(raw["str"], raw["x"], raw["acc"], raw["task"])):
        x = torch.as_tensor(x, dtype=torch.float32)
        if tuple(x.shape) != space.shape or not torch.equal(x, space.encode(arch)):
            raise ValueError(f"{RECORDS_FILE}: record {i}: x {tuple(x.shape)} does not match the encoding of {arch!r}")
        if not (math.isfinite(acc) and 0.0 <= acc <= 100.0):
            raise ValueError(f"{RECORDS_FILE}: record {i}: accuracy {acc!r} is not a percentage")
        if not 0 <= int(task) < len(tasks):
            raise ValueError(f"{RECORDS_FILE}: record {i}: task {task} outside the {len(tasks)} tasks")
    if tasks.dim() != 2 or tasks.min() < 1:
        raise ValueError(f"{TASKS_FILE}: expected (n_tasks, n_classes) 1-based class ids, got {tuple(tasks.shape)}")
    if not torch.equal(idx.sort().values, torch.arange(n)):
        raise ValueError(f"{IDX_FILE}: not a permutation of the {n} records")
    if not torch.equal(ridx.sort().values, torch.arange(len(ridx))):
        raise ValueError(f"{RIDX_FILE}: not a permutation")


def convert_metad2a(src_dir: Path | str, out_dir: Path | str, trust_pickles: bool = False) -> dict[str, Path]:
    """Validate the MetaD2A pickles in ``src_dir`` and write safe copies to ``out_dir``.

    Writes ``metad2a_nb201.pt`` (records, tasks, index permutations) and, when ``imgnet32bylabel.pt``
    is present, ``imagenet32_resnet18_features.pt``. Both load with ``torch.load(weights_only=True)``.
    Refuses (``ValueError``) without ``trust_pickles=True``. Returns the written paths.
    """
    src, out = Path(src_dir), Path(out_dir)
    if not trust_pickles:
        raise ValueError(_risk(src))
    missing = [f for f in (RECORDS_FILE, TASKS_FILE, IDX_FILE, RIDX_FILE) if not (src / f).exists()]
    if missing:
        raise FileNotFoundError(f"missing MetaD2A files in {src}: {missing} (MetaD2A data release, {METAD2A_REPO})")
    raw = load_untrusted(src / RECORDS_FILE)
    tasks = torch.as_tensor(load_untrusted(src / TASKS_FILE), dtype=torch.long)
    idx = torch.as_tensor(load_untrusted(src / IDX_FILE), dtype=torch.long)
    ridx = torch.as_tensor(load_untrusted(src / RIDX_FILE), dtype=torch.long)
    _validate(raw, tasks, idx, ridx)
    out.mkdir(parents=True, exist_ok=True)
    records = {
        "format": RECORDS_FORMAT,
        "source": f"{RECORDS_FILE}, {TASKS_FILE}, {IDX_FILE}, {RIDX_FILE} of the MetaD2A data release ({METAD2A_REPO})",
        "arch": [str(a) for a in raw["str"]],
        "task": torch.tensor([int(t) for t in raw["task"]], dtype=torch.long),
        "acc": torch.tensor([float(a) for a in raw["acc"]], dtype=torch.float64),
        **{k: torch.tensor([float(v) for v in raw[k]], dtype=torch.float64) for k in ("flops", "params", "latency")},
        "task_classes": tasks,
        "idx": idx,
        "ridx": ridx,
    }
    written = {"records": out / SAFE_RECORDS}
    atomic_torch_save(records, written["records"])
    if (src / FEATURES_FILE).exists():
        per_class = load_untrusted(src / FEATURES_FILE)
        feats = [torch.as_tensor(entry[0], dtype=torch.float32) for entry in per_class]
        written["features"] = out / SAFE_FEATURES
        save_class_features(feats, written["features"], source=f"{FEATURES_FILE} of the MetaD2A data release")
    return written


@dataclass(frozen=True)
class MetaD2AData:
    """Records ``(task, arch, acc)`` of ImageNet-32 tasks (20 classes on NB201); ``task_classes[task]``
    holds the task's 1-based ImageNet-32 class ids (0 pads a task with fewer classes than the widest);
    ``idx`` is MetaD2A's record permutation (the first 400 records are its validation split);
    ``ridx`` a permutation of the NB201 indices they ship (empty for other spaces)."""

    arch: list[str]
    task: torch.Tensor
    acc: torch.Tensor
    flops: torch.Tensor
    params: torch.Tensor
    latency: torch.Tensor
    task_classes: torch.Tensor
    idx: torch.Tensor
    ridx: torch.Tensor
    source: str = ""
    space: str = "nb201"  # the search space of ``arch`` (nagkit.spaces.SPACES)

    def __len__(self) -> int:
        return len(self.arch)

    def x(self) -> torch.Tensor:
        """One-hot matrices of the records in their space (``(n, 8, 7)`` on NB201)."""
        return get_space(self.space).encode_batch(self.arch)

    def split(self, n_valid: int = N_VALID) -> tuple[torch.Tensor, torch.Tensor]:
        """MetaD2A's (train, valid) record indices."""
        return self.idx[n_valid:], self.idx[:n_valid]


def load_metad2a(path: Path | str | None = None) -> MetaD2AData:
    """Load converted records (a ``metad2a_nb201.pt`` file or the folder holding it); by default
    the copy packaged with nagkit (converted from the offline release, see resources/PROVENANCE.md)."""
    path = Path(path) if path is not None else METAD2A_RECORDS
    path = path / SAFE_RECORDS if path.is_dir() else path
    if not path.exists():
        raise FileNotFoundError(
            f"missing {path}: convert MetaD2A's files first with "
            f"convert_metad2a(src_dir, {path.parent}, trust_pickles=True)"
        )
    d = torch.load(path, weights_only=True)
    if d.get("format") != RECORDS_FORMAT:
        raise ValueError(f"{path}: not a {RECORDS_FORMAT} file (format {d.get('format')!r})")
    return MetaD2AData(**{k: d[k] for k in MetaD2AData.__dataclass_fields__ if k != "space"},
                       space=d.get("space", "nb201"))


def save_class_features(features: list[torch.Tensor], path: Path | str, source: str = "") -> Path:
    """Write per-class image features (list index = 0-based class id; each ``(n_images, dim)``)."""
    dims = {int(f.shape[-1]) for f in features}
    if not features or len(dims) != 1 or any(f.dim() != 2 for f in features):
        raise ValueError(f"need a non-empty list of (n_images, dim) tensors of one dim, got dims {sorted(dims)}")
    return atomic_torch_save({"format": FEATURES_FORMAT, "source": source,
                              "features": [f.float().contiguous() for f in features]}, path)


def load_class_features(path: Path | str) -> list[torch.Tensor]:
    """Per-class ResNet-18 features of ImageNet-32 (``features[c - 1]`` for MetaD2A class id ``c``)."""
    path = Path(path)
    path = path / SAFE_FEATURES if path.is_dir() else path
    if not path.exists():
        raise FileNotFoundError(
            f"missing {path}: the ResNet-18 features of the ImageNet-32 classes are not shipped offline. "
            f"Download {FEATURES_FILE} from MetaD2A's data release ({FEATURES_URL}, listed in "
            f"MetaD2A_nas_bench_201/get_files/get_preprocessed_data.py of {METAD2A_REPO}), place it next to "
            f"{RECORDS_FILE} in the data root's metad2a folder ($NAGKIT_DATA/metad2a, nagkit.paths) and run "
            f"convert_metad2a(that_folder, {path.parent}, trust_pickles=True)"
        )
    d = torch.load(path, weights_only=True)
    if d.get("format") != FEATURES_FORMAT:
        raise ValueError(f"{path}: not a {FEATURES_FORMAT} file (format {d.get('format')!r})")
    return d["features"]


class TaskFeatureSampler:
    """``(record indices, generator) -> (batch, n_classes, n_per_class, dim)``: for each record,
    ``n_per_class`` random images of every class of its task (MetaD2A's 20 per class)."""

    def __init__(self, data: MetaD2AData, features: list[torch.Tensor], n_per_class: int = 20) -> None:
        top = int(data.task_classes.max())
        if top > len(features):
            raise ValueError(f"tasks use class id {top} but the features cover {len(features)} classes")
        short = min(len(f) for f in features)
        if short < n_per_class:
            raise ValueError(f"a class has {short} images, fewer than n_per_class={n_per_class}")
        self.data, self.features, self.n_per_class = data, features, n_per_class

    def __call__(self, records: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = []
        for task in self.data.task[records].tolist():
            classes = self.data.task_classes[task].tolist()
            used = [c for c in classes if c > 0]  # a narrower task's own classes fill its padding, in turn
            classes = [used[i % len(used)] for i in range(len(classes))]
            out.append(torch.stack([self._draw(self.features[c - 1], generator) for c in classes]))
        return torch.stack(out)

    def _draw(self, feats: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return feats[torch.randperm(len(feats), generator=generator)[: self.n_per_class]]


def _meta_config(feature_dim: int, predictor: PredictorConfig | None) -> PredictorConfig:
    predictor = predictor or PredictorConfig(dataset=SetEncoderConfig(feature_dim=feature_dim))
    if predictor.dataset is None:
        raise ValueError("meta-training needs a dataset-aware PredictorConfig (dataset=SetEncoderConfig(...))")
    return predictor


def _meta_model(predictor: PredictorConfig, seed: int, space: str = "nb201") -> Predictor:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return Predictor(get_space(space), predictor)


def _meta_fit(model: Predictor, data: MetaD2AData, features: list[torch.Tensor], config: MetaTrainConfig,
              sde: SDE | None, device: Device) -> dict:
    """Train ``model`` on MetaD2A's training records; its rank correlation on the valid split."""
    sampler = TaskFeatureSampler(data, features, config.n_per_class)
    train, valid = data.split(config.n_valid)
    x, y = data.x(), data.acc.float()
    losses = fit_predictor(model, x[train], y[train], config.fit, sde,
                           dataset_sampler=lambda i, g: sampler(train[i], g), device=device)
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(config.fit.seed + 1)
    preds = []
    with torch.no_grad():
        for chunk in torch.split(valid, 64):
            xb, sigma = x[chunk].to(device), None
            if model.config.noise_aware:  # validated at the smallest training noise level
                xb, sigma = noised(xb, sde, torch.full((len(chunk),), config.fit.eps), gen)
            preds.append(model.predict(xb, sigma, sampler(chunk, gen).to(device)))
    return {"losses": losses, "valid": rank_correlation(torch.cat(preds).cpu(), y[valid])}


def meta_train_predictor(data: MetaD2AData, features: list[torch.Tensor], config: MetaTrainConfig = MetaTrainConfig(),
                         predictor: PredictorConfig | None = None, sde: SDE | None = None,
                         device: Device = "cpu") -> tuple[Predictor, dict]:
    """Meta-train f(X, D) on MetaD2A's training records (on ``device``); report rank correlation on
    its valid split.

    ``predictor`` defaults to a dataset-aware config whose set encoder matches the feature
    dimension; pass a noise-aware config (and ``sde``) for the guidance copy.
    """
    predictor = _meta_config(int(features[0].shape[-1]), predictor)
    model = _meta_model(predictor, config.fit.seed, data.space)
    return model, _meta_fit(model, data, features, config, sde, device)


def default_cache_dir() -> Path:
    """``<cache root>/metad2a`` (:mod:`nagkit.paths`): meta-trained predictors."""
    return cache_dir("metad2a")


def meta_predictor_key(records_digest: str, features_digest: str, config: MetaTrainConfig,
                       predictor: PredictorConfig, sde: SDE | None, seed: int) -> str:
    """Hash of everything that determines a meta-trained predictor (progress bars and device excluded)."""
    fit = {k: v for k, v in config.fit.to_dict().items() if k != "progress"}
    spec = {
        "version": META_VERSION, "records": records_digest, "features": features_digest, "seed": seed,
        "meta": {"n_per_class": config.n_per_class, "n_valid": config.n_valid, "fit": fit},
        "predictor": predictor.to_dict(), "sde": None if sde is None else [type(sde).__name__, vars(sde)],
    }
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:  # size and time: a changed file is hashed again
    return file_digest(Path(path), "sha256")


def file_sha256(path: Path) -> str:
    """SHA-256 of ``path``, computed once per process while its size and modification time stay the same."""
    stat = path.stat()
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def cached_meta_predictor(records: Path | str, features: Path | str, config: MetaTrainConfig = MetaTrainConfig(),
                          predictor: PredictorConfig | None = None, sde: SDE | None = None, seed: int = 0,
                          cache_dir: Path | str | None = None, device: Device = "cpu",
                          space: str = "nb201") -> tuple[Predictor, dict]:
    """:func:`meta_train_predictor` on the converted ``records`` and ``features`` files, trained once and
    cached as ``cache_dir/<key>.pt`` (weights, losses and valid correlation; ``weights_only=True``).
    ``space``: the search space of the records (``ValueError`` when the file holds another).

    ``predictor`` defaults to the dataset-aware config for 512-d (ResNet-18) features. The key
    (:func:`meta_predictor_key`) hashes both files' SHA-256, the configs, the SDE and ``seed`` (which
    overrides ``config.fit.seed``); the features are only loaded to train. Concurrent callers train it
    once, a corrupt entry is retrained (:func:`nagkit.storage.cached`). The model is returned on ``device``.
    """
    records, features = Path(records), Path(features)
    records = records / SAFE_RECORDS if records.is_dir() else records
    features = features / SAFE_FEATURES if features.is_dir() else features
    if not features.exists():
        load_class_features(features)  # FileNotFoundError naming the download
    config = replace(config, fit=replace(config.fit, seed=seed))
    predictor = _meta_config(SetEncoderConfig().feature_dim, predictor)
    key = meta_predictor_key(file_sha256(records), file_sha256(features), config, predictor, sde, seed)

    def load(path: Path) -> tuple[Predictor, dict]:
        entry = torch.load(path, weights_only=True)
        model = _meta_model(predictor, seed, space)
        model.load_state_dict(entry["state_dict"])
        return model, entry["info"]

    def compute() -> tuple[Predictor, dict]:
        data = load_metad2a(records)
        if data.space != space:
            raise ValueError(f"{records} holds {data.space} records, not {space}")
        model = _meta_model(predictor, seed, space)
        return model, _meta_fit(model, data, load_class_features(features), config, sde, device)

    def save(value: tuple[Predictor, dict], path: Path) -> None:
        model, info = value
        state = {k: v.cpu() for k, v in model.state_dict().items()}
        atomic_torch_save({"state_dict": state, "info": info}, path)

    model, info = cached(Path(cache_dir or default_cache_dir()) / f"{key}.pt", load, compute, save)
    return model.to(as_device(device)).eval(), info
