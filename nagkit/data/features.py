"""Dataset encodings for the set encoder: per-class sets of images -> ResNet-18 512-d features.

As MetaD2A / DiffusionNAG: 20 images per class at the stored 32 px, normalised with the dataset's
statistics (grayscale repeated to 3 channels), through an ImageNet-pretrained ResNet-18 without
its classifier. The weights are never downloaded here: they are read from a given file or from
torch's hub cache (``<torch.hub.get_dir()>/checkpoints/resnet18-f37072fd.pth``, where
``torchvision.models.resnet18(weights="IMAGENET1K_V1")`` leaves them). Without them,
``load_resnet18`` raises, unless ``allow_random_init=True`` (features then flagged as such).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from nagkit.data.datasets import DatasetSpec, ImageSet

RESNET18_FILE = "resnet18-f37072fd.pth"


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
                     batch_size: int = 256) -> DatasetFeatures:
    """ResNet-18 features of ``per_class`` images from each of ``spec.n_classes`` classes."""
    model, source = load_resnet18(weights, allow_random_init)
    sets = class_sets(images, spec.n_classes, per_class, seed)
    flat = sets.flatten(0, 1).float().div(255)
    mean = torch.tensor(spec.mean).view(1, -1, 1, 1)
    std = torch.tensor(spec.std).view(1, -1, 1, 1)
    flat = (flat - mean) / std
    if flat.shape[1] == 1:
        flat = flat.expand(-1, 3, -1, -1)
    out = torch.cat([model(flat[i: i + batch_size]) for i in range(0, len(flat), batch_size)])
    return DatasetFeatures(out.view(spec.n_classes, per_class, -1), source.startswith("pretrained"), source)
