"""Image datasets as in-memory uint8 tensors, with the paper's train / valid / test splits.

Splits (``load_splits``; every random split is a seeded permutation, ``split_seed``):

- ``cifar10``: train / valid = the two halves (25k / 25k) of the 50k training set; test = the
  10k test set. (NB201's ``cifar10-valid``; NB201's own split file is not shipped offline, so
  the halves are ours, not bit-identical to the benchmark's.)
- ``cifar100``: train = the 50k training set; valid / test = the two halves (5k / 5k) of the test
  set (NB201's ``cifar100`` convention).
- ``imagenet16-120`` (NAS-Bench-201's ImageNet16-120, :func:`read_imagenet16`): train = the
  downsampled ImageNet training batches restricted to classes 1..120; valid / test = the two halves
  of its ``val_data`` (as NB201, which splits the validation images into its valid / test halves;
  NB201's split file is not shipped, so the halves are ours). 16 px images.
- ``aircraft`` (FGVC-Aircraft 2013b, *manufacturer* level = 30 classes, as MetaD2A / DiffusionNAG),
  ``pets`` (Oxford-IIIT Pets, 37 breeds), ``fashion-mnist``: train = the official train
  (``trainval``) split; valid / test = the two halves of the official test split.

Aircraft and Pets JPEGs are squashed to ``resolution`` x ``resolution`` when read (32 for NB201,
as MetaD2A's ``Resize((32, 32))``) and cached under ``<root>/nagkit-cache``; CIFAR, ImageNet16 and
Fashion-MNIST keep their native 32 / 16 / 28 px and the trainer resizes batches to ``Splits.resolution``.
"""
from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from nagkit.paths import data_root
from nagkit.storage import atomic_torch_save, cached

FASHION_MNIST_SYSTEM = Path("/usr/share/datasets/fashion-mnist")
_IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# NB201 / AutoDL-Projects (get_datasets): mean [122.68, 116.66, 104.01] / 255, std [63.22, 61.26, 65.09] / 255
_IMAGENET16_STATS = (tuple(v / 255 for v in (122.68, 116.66, 104.01)), tuple(v / 255 for v in (63.22, 61.26, 65.09)))
IMAGENET16_CLASSES = 120
IMAGENET16_README = "https://github.com/D-X-Y/AutoDL-Projects/blob/main/docs/NAS-Bench-201.md"


@dataclass(frozen=True)
class DatasetSpec:
    """Facts about one dataset: classes, channels, normalisation, default augmentation."""

    name: str
    n_classes: int
    in_channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: bool  # random crop (pad 4) + horizontal flip, as NB201 does for CIFAR
    folder: str  # where the data lives under the data root


SPECS: dict[str, DatasetSpec] = {
    "cifar10": DatasetSpec("cifar10", 10, 3, (0.4914, 0.4824, 0.4467), (0.2471, 0.2435, 0.2616), True,
                           "cifar-10-batches-py"),
    "cifar100": DatasetSpec("cifar100", 100, 3, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), True,
                            "cifar-100-python"),
    # augment False: NB201 crops ImageNet16 with padding 2, not the trainer's CIFAR padding 4
    "imagenet16-120": DatasetSpec("imagenet16-120", IMAGENET16_CLASSES, 3, *_IMAGENET16_STATS, False, "ImageNet16"),
    "aircraft": DatasetSpec("aircraft", 30, 3, *_IMAGENET_STATS, False, "fgvc-aircraft-2013b"),
    "pets": DatasetSpec("pets", 37, 3, *_IMAGENET_STATS, False, "oxford-iiit-pet"),
    "fashion-mnist": DatasetSpec("fashion-mnist", 10, 1, (0.2860,), (0.3530,), False, "fashion-mnist"),
}


def get_spec(name: str) -> DatasetSpec:
    if name not in SPECS:
        raise KeyError(f"unknown dataset {name!r}; valid: {list(SPECS)}")
    return SPECS[name]


@dataclass(frozen=True)
class ImageSet:
    """``images`` uint8 (N, C, H, W) and ``labels`` int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index])


@dataclass(frozen=True)
class Splits:
    """Train / valid / test image sets of one dataset, and how they were made."""

    spec: DatasetSpec
    train: ImageSet
    valid: ImageSet
    test: ImageSet
    resolution: int
    note: str

    def subset(self, n_train: int | None, n_eval: int | None, seed: int = 0) -> Splits:
        """A seeded random subset (``None`` keeps a split whole), e.g. for quick CPU runs."""
        g = torch.Generator().manual_seed(seed)

        def pick(s: ImageSet, n: int | None) -> ImageSet:
            return s if n is None or n >= len(s) else s.subset(torch.randperm(len(s), generator=g)[:n])

        note = f"{self.note}; subset train {n_train}, valid/test {n_eval} (seed {seed})"
        return replace(self, train=pick(self.train, n_train), valid=pick(self.valid, n_eval),
                       test=pick(self.test, n_eval), note=note)


def halves(images: ImageSet, seed: int) -> tuple[ImageSet, ImageSet]:
    """Split into two halves by a seeded permutation (first half gets the smaller share if odd)."""
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    mid = len(images) // 2
    return images.subset(perm[:mid].sort().values), images.subset(perm[mid:].sort().values)


class _ArrayUnpickler(pickle.Unpickler):
    """Loads CIFAR's and ImageNet16's python batches: containers, numbers and numpy arrays only."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
                ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset batch")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return _ArrayUnpickler(f, encoding="latin1").load()


def _missing(name: str, path: Path) -> FileNotFoundError:
    return FileNotFoundError(f"{name} not found at {path}; run `nagkit fetch {name} --root {path.parent}`")


def read_cifar(name: str, root: Path) -> tuple[ImageSet, ImageSet]:
    """Official (train, test) sets from the CIFAR python batches under ``root``."""
    folder = Path(root) / get_spec(name).folder
    if name == "cifar10":
        files, test_files, key = [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], "labels"
    else:
        files, test_files, key = ["train"], ["test"], "fine_labels"
    if not all((folder / f).exists() for f in files + test_files):
        raise _missing(name, folder)

    def load(names: list[str]) -> ImageSet:
        batches = [_unpickle(folder / f) for f in names]
        data = np.concatenate([np.asarray(b["data"], dtype=np.uint8) for b in batches])
        labels = np.concatenate([np.asarray(b[key], dtype=np.int64) for b in batches])
        return ImageSet(torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels))

    return load(files), load(test_files)


IMAGENET16_TRAIN = tuple(f"train_data_batch_{i}" for i in range(1, 11))
IMAGENET16_VAL = "val_data"


def read_imagenet16(root: Path, n_classes: int = IMAGENET16_CLASSES) -> tuple[ImageSet, ImageSet]:
    """(train, val) of NAS-Bench-201's downsampled ImageNet (16 px) under ``root/ImageNet16``, keeping
    classes ``1..n_classes`` (ImageNet16-120), as 0-based labels.

    The format is AutoDL-Projects' ``ImageNet16`` loader (``xautodl/datasets/DownsampledImageNet.py``):
    python pickles ``train_data_batch_1`` ... ``train_data_batch_10`` and ``val_data``, each a dict with
    ``data`` (N x 768 uint8, channel-first 3 x 16 x 16 like CIFAR) and ``labels`` (1-based ints 1..1000);
    ``use_num_of_class_only=120`` keeps ``1 <= label <= 120`` and the label fed to the net is ``label - 1``.
    The pickles are untrusted: read with the restricted unpickler (containers and numpy arrays only).
    """
    folder = Path(root) / get_spec("imagenet16-120").folder
    missing = [f for f in (*IMAGENET16_TRAIN, IMAGENET16_VAL) if not (folder / f).exists()]
    if missing:
        raise FileNotFoundError(
            f"ImageNet16 not found at {folder} (lacks {', '.join(missing)}): it has no direct download; get the "
            f"downsampled ImageNet 16x16 folder ImageNet16/ (train_data_batch_1..10, val_data) from the Google Drive "
            f"link in the NAS-Bench-201 README ({IMAGENET16_README}) and put it at {folder}")

    def batch(name: str) -> tuple[np.ndarray, np.ndarray]:  # filtered per file: the full set is ~1 GB
        b = _unpickle(folder / name)
        data = np.asarray(b["data"], dtype=np.uint8).reshape(-1, 3, 16, 16)
        labels = np.asarray(b["labels"], dtype=np.int64)
        if len(data) != len(labels) or labels.min(initial=1) < 1:
            raise ValueError(f"{folder / name}: expected one 1-based label per image, got {len(labels)} labels "
                             f"for {len(data)} images (smallest {labels.min(initial=1)})")
        keep = labels <= n_classes
        return data[keep], labels[keep] - 1

    def load(names: tuple[str, ...]) -> ImageSet:
        data, labels = zip(*(batch(f) for f in names))
        return ImageSet(torch.from_numpy(np.concatenate(data)), torch.from_numpy(np.concatenate(labels)))

    return load(IMAGENET16_TRAIN), load((IMAGENET16_VAL,))


def read_idx(path: Path) -> np.ndarray:
    """An idx file (optionally gzipped), as used by (Fashion-)MNIST."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {data.size} bytes")
    return data.reshape(shape)


_FMNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte")


def find_fashion_mnist(root: Path) -> Path:
    """The folder holding the four idx files: ``<root>/fashion-mnist``, torchvision's
    ``<root>/FashionMNIST/raw`` or the Debian package's ``/usr/share/datasets/fashion-mnist``."""
    for folder in (Path(root) / "fashion-mnist", Path(root) / "FashionMNIST" / "raw", FASHION_MNIST_SYSTEM):
        if all((folder / f).exists() or (folder / f"{f}.gz").exists() for f in _FMNIST_FILES):
            return folder
    raise FileNotFoundError(
        f"Fashion-MNIST not found under {root} or {FASHION_MNIST_SYSTEM}: install the Debian package "
        "dataset-fashion-mnist (`apt-get install dataset-fashion-mnist`) or run `nagkit fetch fashion-mnist`")


def read_fashion_mnist(root: Path) -> tuple[ImageSet, ImageSet]:
    folder = find_fashion_mnist(root)

    def idx(name: str) -> np.ndarray:
        path = folder / name
        return read_idx(path if path.exists() else folder / f"{name}.gz")

    def load(prefix: str) -> ImageSet:
        images = torch.from_numpy(idx(f"{prefix}-images-idx3-ubyte").copy()).unsqueeze(1)
        return ImageSet(images, torch.from_numpy(idx(f"{prefix}-labels-idx1-ubyte").astype(np.int64)))

    return load("train"), load("t10k")


def _from_torchvision(dataset, resolution: int) -> ImageSet:
    """Decode a torchvision image-folder dataset, squashing every image to ``resolution``^2."""
    from PIL import Image

    images, labels = [], []
    for image, label in dataset:
        image = image.convert("RGB").resize((resolution, resolution), Image.BILINEAR)
        images.append(torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1))
        labels.append(label)
    return ImageSet(torch.stack(images), torch.tensor(labels, dtype=torch.int64))


def read_folder_dataset(name: str, root: Path, resolution: int) -> tuple[ImageSet, ImageSet]:
    """(trainval, test) of ``aircraft`` or ``pets``, cached as tensors under ``<root>/nagkit-cache``."""
    from torchvision import datasets

    root = Path(root)
    if not (root / get_spec(name).folder).is_dir():
        raise _missing(name, root / get_spec(name).folder)
    if name == "aircraft":
        make = lambda split: datasets.FGVCAircraft(root, split=split, annotation_level="manufacturer")  # noqa: E731
    else:
        make = lambda split: datasets.OxfordIIITPet(root, split=split)  # noqa: E731

    def decode() -> tuple[ImageSet, ImageSet]:
        return _from_torchvision(make("trainval"), resolution), _from_torchvision(make("test"), resolution)

    def load(path: Path) -> tuple[ImageSet, ImageSet]:
        saved = torch.load(path, weights_only=True)
        sets = ImageSet(*saved["trainval"]), ImageSet(*saved["test"])
        if any(s.images.dim() != 4 or len(s.images) != len(s.labels) for s in sets):
            raise ValueError("not two (N, C, H, W) image sets with one label per image")
        return sets

    def save(sets: tuple[ImageSet, ImageSet], path: Path) -> None:
        trainval, test = sets
        atomic_torch_save({"trainval": [trainval.images, trainval.labels], "test": [test.images, test.labels]}, path)

    return cached(root / "nagkit-cache" / f"{name}_{resolution}px.pt", load, decode, save)


def dataset_folder(name: str, root: str | Path | None = None) -> Path:
    """The folder :func:`load_splits` reads ``name`` from (its files identify the data)."""
    root = Path(root) if root is not None else data_root()
    return find_fashion_mnist(root) if name == "fashion-mnist" else root / get_spec(name).folder


def load_splits(name: str, root: str | Path | None = None, resolution: int = 32, split_seed: int = 0) -> Splits:
    """Train / valid / test of ``name`` with the conventions in this module's docstring."""
    spec = get_spec(name)
    root = Path(root) if root is not None else data_root()
    if name in ("cifar10", "cifar100"):
        train, test = read_cifar(name, root)
    elif name == "imagenet16-120":
        train, test = read_imagenet16(root)
    elif name == "fashion-mnist":
        train, test = read_fashion_mnist(root)
    else:
        train, test = read_folder_dataset(name, root, resolution)
    if name == "cifar10":
        train, valid = halves(train, split_seed)
        note = f"cifar10: train/valid = halves of the training set (seed {split_seed}), test = test set"
    else:
        valid, test = halves(test, split_seed)
        note = f"{name}: train = official train split, valid/test = halves of the test set (seed {split_seed})"
    return Splits(spec, train, valid, test, resolution, note)
