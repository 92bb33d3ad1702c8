"""Dataset encodings for the set encoder: per-class sets of images -> ResNet-18 512-d features.

As MetaD2A / DiffusionNAG: 20 images per class at the stored 32 px, normalised with the dataset's
statistics (grayscale repeated to 3 channels), through an ImageNet-pretrained ResNet-18 without
its classifier. The weights are never downloaded here: they are read from a given file or from
torch's hub cache (``<torch.hub.get_dir()>/checkpoints/resnet18-f37072fd.pth``, where
``torchvision.models.resnet18(weights="IMAGENET1K_V1")`` leaves them). Without them,
``load_resnet18`` raises, unless ``allow_random_init=True`` (features then flagged as such).
:func:`target_features` caches a dataset's features under ``<cache root>/features``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from nagkit.data.datasets import DatasetSpec, ImageSet, dataset_folder, get_spec, load_splits
from nagkit.data.fetch import file_digest
from nagkit.device import resolve_device
from nagkit.paths import cache_dir
from nagkit.storage import atomic_torch_save, cached

RESNET18_FILE = "resnet18-f37072fd.pth"
FEATURES_VERSION = 1


def default_weights_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE


@dataclass(frozen=True)
class DatasetFeatures:
    """``features`` (n_classes, per_class, 512); ``pretrained`` False means random-init features."""

    features: torch.Tensor
    pretrained: bool
    source: str


def class_sets(images: ImageSet, n_classes: int, per_class: int = 20, seed: int = 0) -> torch.Tensor:
    """uint8 (n_classes, per_class, C, H, W): a seeded random draw of ``per_class`` images per class."""
    g = torch.Generator().manual_seed(seed)
    sets = []
    for c in range(n_classes):
        idx = (images.labels == c).nonzero().flatten()
        if len(idx) < per_class:
            raise ValueError(f"class {c} has {len(idx)} images, fewer than per_class={per_class}")
        sets.append(images.images[idx[torch.randperm(len(idx), generator=g)[:per_class]]])
    return torch.stack(sets)


def load_resnet18(weights: str | Path | None = None, allow_random_init: bool = False) -> tuple[nn.Module, str]:
    """ResNet-18 feature extractor (512-d output) and a description of its weights."""
    from torchvision.models import resnet18

    model = resnet18()
    path = Path(weights) if weights is not None else default_weights_path()
    if path.exists():
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        source = f"pretrained ImageNet weights from {path}"
    elif allow_random_init:
        source = f"RANDOM-INIT ResNet-18 (no weights at {path}): not the paper's features"
    else:
        raise FileNotFoundError(
            f"no ResNet-18 weights at {path}; with a network run `python -c \"import torchvision; "
            f"torchvision.models.resnet18(weights='IMAGENET1K_V1')\"` (fills the torch hub cache) or pass a "
            "weights file; allow_random_init=True gives clearly flagged random features")
    model.fc = nn.Identity()
    return model.eval(), source


@torch.no_grad()
def dataset_features(images: ImageSet, spec: DatasetSpec, per_class: int = 20, seed: int = 0,
                     weights: str | Path | None = None, allow_random_init: bool = False,
                     batch_size: int = 256, device: str | torch.device = "cpu") -> DatasetFeatures:
    """ResNet-18 features (on the CPU) of ``per_class`` images from each of ``spec.n_classes`` classes,
    computed on ``device``."""
    device = device if isinstance(device, torch.device) else resolve_device(device)
    model, source = load_resnet18(weights, allow_random_init)
    model.to(device)
    sets = class_sets(images, spec.n_classes, per_class, seed)
    flat = sets.flatten(0, 1).float().div(255)
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    flat = (flat - mean) / std
    if flat.shape[1] == 1:
        flat = flat.expand(-1, 3, -1, -1)
    out = torch.cat([model(flat[i: i + batch_size].to(device)) for i in range(0, len(flat), batch_size)]).cpu()
    return DatasetFeatures(out.view(spec.n_classes, per_class, -1), source.startswith("pretrained"), source)


def folder_identity(folder: Path) -> list[tuple[str, int, int]]:
    """``(relative name, size, mtime in ns)`` of every file below ``folder``, sorted: what identifies a
    dataset's copy without reading it (a re-download, an edited or added file changes it)."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
    return [(p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in files]


def target_features(name: str, root: str | Path | None = None, per_class: int = 20, seed: int = 0,
                    weights: str | Path | None = None, allow_random_init: bool = False,
                    cache: str | Path | None = None, device: str | torch.device = "cpu") -> DatasetFeatures:
    """:func:`dataset_features` of the training split of dataset ``name`` (:func:`load_splits` under
    ``root``), cached as ``<cache root>/features/<key>.pt`` (``cache`` overrides the folder).

    The key hashes the dataset's folder (:func:`folder_identity`: file names, sizes, times), its spec,
    ``per_class``, ``seed`` and the SHA-256 of the weights file (``"random-init"`` without one); the
    device is not part of it. The images are only read when the entry is missing.
    """
    spec = get_spec(name)
    folder = dataset_folder(name, root)
    if not folder.is_dir():  # the reader's message says where to get the data
        load_splits(name, root)
    path = Path(weights) if weights is not None else default_weights_path()
    if not path.exists() and not allow_random_init:
        load_resnet18(path)  # raises, naming the weights file
    spec_key = {
        "version": FEATURES_VERSION, "spec": asdict(spec), "files": folder_identity(folder), "per_class": per_class,
        "seed": seed, "weights": f"sha256:{file_digest(path, 'sha256')}" if path.exists() else "random-init",
    }
    key = hashlib.sha1(json.dumps(spec_key, sort_keys=True).encode()).hexdigest()[:16]

    def load(p: Path) -> DatasetFeatures:
        d = torch.load(p, weights_only=True)
        return DatasetFeatures(d["features"], bool(d["pretrained"]), str(d["source"]))

    def compute() -> DatasetFeatures:
        return dataset_features(load_splits(name, root).train, spec, per_class, seed, path, allow_random_init,
                                device=device)

    def save(f: DatasetFeatures, p: Path) -> None:
        atomic_torch_save({"features": f.features, "pretrained": f.pretrained, "source": f.source}, p)

    return cached(Path(cache or cache_dir("features")) / f"{name}-{key}.pt", load, compute, save)
