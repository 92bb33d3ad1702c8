"""Fixture writers: tiny datasets in the real on-disk formats (CIFAR pickles, FGVC-Aircraft and
Oxford-IIIT Pets folders, Fashion-MNIST idx files), with seeded random pixels and labels."""
from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
from PIL import Image


def _pickle(path: Path, obj: dict) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=2))


def make_cifar(root: Path, name: str, per_batch: int = 6, seed: int = 0) -> None:
    """CIFAR python batches: dicts with ``data`` (N x 3072 uint8) and ``labels`` / ``fine_labels``."""
    rng = np.random.default_rng(seed)
    if name == "cifar10":
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            _pickle(folder / f, {"batch_label": f, "labels": rng.integers(0, 10, per_batch).tolist(),
                                 "data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                                 "filenames": [f"{i}.png" for i in range(per_batch)]})
        _pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)], "num_cases_per_batch": 6})
    else:
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True)
        for f, n in (("train", 5 * per_batch), ("test", per_batch)):
            _pickle(folder / f, {"fine_labels": rng.integers(0, 100, n).tolist(),
                                 "coarse_labels": rng.integers(0, 20, n).tolist(),
                                 "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8)})
        _pickle(folder / "meta", {"fine_label_names": [f"f{i}" for i in range(100)],
                                  "coarse_label_names": [f"c{i}" for i in range(20)]})


def _jpg(path: Path, size: tuple[int, int], rng: np.random.Generator) -> None:
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def make_aircraft(root: Path, seed: int = 0) -> None:
    """fgvc-aircraft-2013b/data: images/*.jpg, class lists, images_<level>_<split>.txt."""
    rng = np.random.default_rng(seed)
    data = root / "fgvc-aircraft-2013b" / "data"
    (data / "images").mkdir(parents=True)
    makers = ["Airbus", "Boeing", "de Havilland"]
    (data / "manufacturers.txt").write_text("\n".join(makers) + "\n")
    (data / "families.txt").write_text("A320\n737\nDHC-8\n")
    (data / "variants.txt").write_text("A320\n737-800\nDHC-8-100\n")
    ids = {"trainval": [f"{1000000 + i:07d}" for i in range(6)], "test": [f"{2000000 + i:07d}" for i in range(4)]}
    ids["train"], ids["val"] = ids["trainval"][:3], ids["trainval"][3:]
    for split, names in ids.items():
        lines = [f"{n} {makers[i % 3]}" for i, n in enumerate(names)]
        (data / f"images_manufacturer_{split}.txt").write_text("\n".join(lines) + "\n")
        (data / f"images_variant_{split}.txt").write_text("\n".join(f"{n} A320" for n in names) + "\n")
        (data / f"images_family_{split}.txt").write_text("\n".join(f"{n} A320" for n in names) + "\n")
    for names in (ids["trainval"], ids["test"]):
        for n in names:
            _jpg(data / "images" / f"{n}.jpg", (60, 40), rng)


def make_pets(root: Path, seed: int = 0) -> None:
    """oxford-iiit-pet: images/<Breed>_<n>.jpg, annotations/{trainval,test}.txt ("id class species breed")."""
    rng = np.random.default_rng(seed)
    base = root / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations").mkdir()
    breeds = [("Abyssinian", 1, 1), ("american_bulldog", 2, 2), ("Bengal", 3, 1)]
    for split, start in (("trainval", 1), ("test", 100)):
        lines = []
        for b, (breed, cls, species) in enumerate(breeds):
            for k in range(2):
                image_id = f"{breed}_{start + k}"
                lines.append(f"{image_id} {cls} {species} {b + 1}")
                _jpg(base / "images" / f"{image_id}.jpg", (50, 70), rng)
        (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")


def idx_bytes(array: np.ndarray) -> bytes:
    """An unsigned-byte idx file (the (Fashion-)MNIST format) holding ``array``."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_fashion_mnist(root: Path, compressed: bool = True, seed: int = 0) -> None:
    """``<root>/fashion-mnist``: 20 training and 10 test 28x28 images, labels ``i % 10``."""
    rng = np.random.default_rng(seed)
    folder = root / "fashion-mnist"
    folder.mkdir(parents=True)
    for prefix, n in (("train", 20), ("t10k", 10)):
        for kind, arr in (("images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28))),
                          ("labels-idx1-ubyte", np.arange(n) % 10)):
            raw = idx_bytes(arr)
            path = folder / f"{prefix}-{kind}"
            if compressed:
                Path(f"{path}.gz").write_bytes(gzip.compress(raw))
            else:
                path.write_bytes(raw)


def make_imagenet16(root: Path, per_class: int = 2, n_classes: int = 120, extra: tuple[int, ...] = (121, 500, 1000),
                    val_per_class: int = 1) -> None:
    """``<root>/ImageNet16``: NAS-Bench-201's downsampled ImageNet, ``train_data_batch_1..10`` and ``val_data``,
    dicts with ``data`` (N x 768 uint8, channel-first) and 1-based ``labels``. Classes ``1..n_classes`` get
    ``per_class`` training images (spread over the ten files) and ``val_per_class`` validation images; the
    labels in ``extra`` (outside ImageNet16-120) one of each. Pixel planes: R = label % 256, G = 7, B = file number."""
    folder = root / "ImageNet16"
    folder.mkdir(parents=True)
    train = [c for c in range(1, n_classes + 1) for _ in range(per_class)] + list(extra)
    files = {f"train_data_batch_{i}": train[i - 1::10] for i in range(1, 11)}
    files["val_data"] = [c for c in range(1, n_classes + 1) for _ in range(val_per_class)] + list(extra)
    for number, (name, labels) in enumerate(files.items(), start=1):
        planes = np.stack([np.asarray(labels) % 256, np.full(len(labels), 7), np.full(len(labels), number)], 1)
        data = np.repeat(planes[:, :, None], 256, axis=2).reshape(len(labels), 768).astype(np.uint8)
        entry = {"data": data, "labels": labels}
        if name != "val_data":
            entry["mean"] = data.mean(axis=0)
        _pickle(folder / name, entry)


def make_aircraft_classes(root: Path, per_class: int = 2, n_classes: int = 30, seed: int = 0) -> None:
    """fgvc-aircraft-2013b/data with ``n_classes`` manufacturers (FGVC's 30 at manufacturer level), each with
    ``per_class`` trainval and one test image (small 40 x 30 JPEGs)."""
    rng = np.random.default_rng(seed)
    data = root / "fgvc-aircraft-2013b" / "data"
    (data / "images").mkdir(parents=True)
    makers = [f"Maker{i:02d}" for i in range(n_classes)]
    (data / "manufacturers.txt").write_text("\n".join(makers) + "\n")
    (data / "families.txt").write_text("F\n")
    (data / "variants.txt").write_text("V\n")
    ids = {"trainval": [(f"{1000000 + i:07d}", makers[i % n_classes]) for i in range(per_class * n_classes)],
           "test": [(f"{2000000 + i:07d}", makers[i]) for i in range(n_classes)]}
    ids["train"], ids["val"] = ids["trainval"][::2], ids["trainval"][1::2]
    for split, rows in ids.items():
        (data / f"images_manufacturer_{split}.txt").write_text("\n".join(f"{n} {m}" for n, m in rows) + "\n")
        (data / f"images_variant_{split}.txt").write_text("\n".join(f"{n} V" for n, _ in rows) + "\n")
        (data / f"images_family_{split}.txt").write_text("\n".join(f"{n} F" for n, _ in rows) + "\n")
    for n, _ in ids["trainval"] + ids["test"]:
        _jpg(data / "images" / f"{n}.jpg", (40, 30), rng)
