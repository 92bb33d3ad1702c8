"""Dataset readers on fixtures in the real on-disk formats, downloads against a local HTTP server."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nagkit.cli import main as cli_main
from nagkit.data import datasets, features, fetch
from nagkit.data.datasets import load_splits, read_idx

RNG = np.random.default_rng(0)


def _pickle(path: Path, obj: dict) -> None:
    path.write_bytes(pickle.dumps(obj, protocol=2))


def make_cifar(root: Path, name: str, per_batch: int = 6) -> None:
    """CIFAR python batches: dicts with ``data`` (N x 3072 uint8) and ``labels`` / ``fine_labels``."""
    if name == "cifar10":
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for f in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            _pickle(folder / f, {"batch_label": f, "labels": RNG.integers(0, 10, per_batch).tolist(),
                                 "data": RNG.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                                 "filenames": [f"{i}.png" for i in range(per_batch)]})
        _pickle(folder / "batches.meta", {"label_names": [f"c{i}" for i in range(10)], "num_cases_per_batch": 6})
    else:
        folder = root / "cifar-100-python"
        folder.mkdir(parents=True)
        for f, n in (("train", 5 * per_batch), ("test", per_batch)):
            _pickle(folder / f, {"fine_labels": RNG.integers(0, 100, n).tolist(),
                                 "coarse_labels": RNG.integers(0, 20, n).tolist(),
                                 "data": RNG.integers(0, 256, (n, 3072), dtype=np.uint8)})
        _pickle(folder / "meta", {"fine_label_names": [f"f{i}" for i in range(100)],
                                  "coarse_label_names": [f"c{i}" for i in range(20)]})


def _jpg(path: Path, size: tuple[int, int]) -> None:
    Image.fromarray(RNG.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)


def make_aircraft(root: Path) -> None:
    """fgvc-aircraft-2013b/data: images/*.jpg, class lists, images_<level>_<split>.txt."""
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
            _jpg(data / "images" / f"{n}.jpg", (60, 40))


def make_pets(root: Path) -> None:
    """oxford-iiit-pet: images/<Breed>_<n>.jpg, annotations/{trainval,test}.txt ("id class species breed")."""
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
                _jpg(base / "images" / f"{image_id}.jpg", (50, 70))
        (base / "annotations" / f"{split}.txt").write_text("\n".join(lines) + "\n")


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_fashion_mnist(root: Path, compressed: bool = True) -> None:
    folder = root / "fashion-mnist"
    folder.mkdir(parents=True)
    for prefix, n in (("train", 20), ("t10k", 10)):
        for kind, arr in (("images-idx3-ubyte", RNG.integers(0, 256, (n, 28, 28))),
                          ("labels-idx1-ubyte", np.arange(n) % 10)):
            raw = _idx(arr)
            path = folder / f"{prefix}-{kind}"
            if compressed:
                Path(f"{path}.gz").write_bytes(gzip.compress(raw))
            else:
                path.write_bytes(raw)


def test_cifar10_batches_and_nb201_split(tmp_path: Path) -> None:
    make_cifar(tmp_path, "cifar10")
    s = load_splits("cifar10", tmp_path)
    assert (len(s.train), len(s.valid), len(s.test)) == (15, 15, 6)
    assert s.train.images.shape == (15, 3, 32, 32) and s.train.images.dtype == torch.uint8
    train, _ = datasets.read_cifar("cifar10", tmp_path)
    both = torch.cat([s.train.images, s.valid.images]).flatten(1)
    assert sorted(map(bytes, both.numpy())) == sorted(map(bytes, train.images.flatten(1).numpy()))
    again, other = load_splits("cifar10", tmp_path), load_splits("cifar10", tmp_path, split_seed=1)
    assert torch.equal(again.valid.images, s.valid.images)
    assert not torch.equal(other.valid.images, s.valid.images)


def test_cifar100_fine_labels_and_test_halves(tmp_path: Path) -> None:
    make_cifar(tmp_path, "cifar100")
    s = load_splits("cifar100", tmp_path)
    assert (len(s.train), len(s.valid), len(s.test)) == (30, 3, 3)
    assert s.spec.n_classes == 100 and int(s.train.labels.max()) < 100


def test_cifar_reader_refuses_code_in_pickles(tmp_path: Path) -> None:
    make_cifar(tmp_path, "cifar10")
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({"data": Path("x")}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        datasets.read_cifar("cifar10", tmp_path)


def test_aircraft_manufacturer_level_resized_and_cached(tmp_path: Path) -> None:
    make_aircraft(tmp_path)
    s = load_splits("aircraft", tmp_path, resolution=32)
    assert (len(s.train), len(s.valid), len(s.test)) == (6, 2, 2)
    assert s.train.images.shape == (6, 3, 32, 32)
    assert s.train.labels.tolist() == [0, 1, 2, 0, 1, 2]
    assert (tmp_path / "nagkit-cache" / "aircraft_32px.pt").exists()
    cached = load_splits("aircraft", tmp_path, resolution=32)
    assert torch.equal(cached.test.images, s.test.images)


def test_pets_trainval_and_test_halves(tmp_path: Path) -> None:
    make_pets(tmp_path)
    s = load_splits("pets", tmp_path, resolution=16)
    assert (len(s.train), len(s.valid), len(s.test)) == (6, 3, 3)
    assert s.train.images.shape[1:] == (3, 16, 16)
    assert sorted(s.train.labels.tolist()) == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("compressed", [True, False])
def test_fashion_mnist_idx(tmp_path: Path, compressed: bool) -> None:
    make_fashion_mnist(tmp_path, compressed)
    s = load_splits("fashion-mnist", tmp_path)
    assert (len(s.train), len(s.valid), len(s.test)) == (20, 5, 5)
    assert s.train.images.shape == (20, 1, 28, 28)
    assert s.train.labels.tolist() == [i % 10 for i in range(20)]


def test_idx_reader_rejects_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(_idx(np.zeros((3, 2, 2)))[:-1])
    with pytest.raises(ValueError, match="header says"):
        read_idx(path)


def test_missing_dataset_says_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nagkit fetch pets"):
        load_splits("pets", tmp_path)
    with pytest.raises(KeyError, match="unknown dataset"):
        load_splits("mnist", tmp_path)


def test_subset_is_seeded(tmp_path: Path) -> None:
    make_fashion_mnist(tmp_path)
    s = load_splits("fashion-mnist", tmp_path)
    a, b = s.subset(8, 3, seed=1), s.subset(8, 3, seed=1)
    assert len(a.train) == 8 and len(a.test) == 3
    assert torch.equal(a.train.labels, b.train.labels)


# --- downloads ----------------------------------------------------------------------------

class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``payloads[path]`` with HTTP Range support; records the Range headers it saw."""

    payloads: dict[str, bytes] = {}
    ranges: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802
        body = self.payloads.get(self.path)
        if body is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        type(self).ranges.append(rng)
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    _RangeHandler.payloads, _RangeHandler.ranges = {}, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_verifies_checksum(server, tmp_path: Path) -> None:
    _, base = server
    body = bytes(range(256)) * 1000
    _RangeHandler.payloads["/f.bin"] = body
    md5 = hashlib.md5(body).hexdigest()
    path = fetch.download(f"{base}/f.bin", tmp_path / "f.bin", md5, timeout=5, progress=False)
    assert path.read_bytes() == body and not (tmp_path / "f.bin.part").exists()
    with pytest.raises(ValueError, match="checksum mismatch"):
        fetch.download(f"{base}/f.bin", tmp_path / "g.bin", "0" * 32, timeout=5, progress=False)
    assert not (tmp_path / "g.bin.part").exists() and not (tmp_path / "g.bin").exists()


def test_download_resumes_partial_file(server, tmp_path: Path) -> None:
    _, base = server
    body = RNG.integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    _RangeHandler.payloads["/big.tar.gz"] = body
    (tmp_path / "big.tar.gz.part").write_bytes(body[:40_000])
    path = fetch.download(f"{base}/big.tar.gz", tmp_path / "big.tar.gz", hashlib.md5(body).hexdigest(),
                          timeout=5, progress=False)
    assert path.read_bytes() == body
    assert _RangeHandler.ranges == ["bytes=40000-"]
    (tmp_path / "done.part").write_bytes(body)  # complete part file: server answers 416
    fetch.download(f"{base}/big.tar.gz", tmp_path / "done", hashlib.md5(body).hexdigest(), timeout=5, progress=False)
    assert (tmp_path / "done").read_bytes() == body


def test_fetch_downloads_and_extracts_cifar(server, tmp_path: Path, monkeypatch) -> None:
    _, base = server
    src = tmp_path / "src"
    make_cifar(src, "cifar10")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    archive = buf.getvalue()
    _RangeHandler.payloads["/cifar-10-python.tar.gz"] = archive
    resource = fetch.Resource(f"{base}/cifar-10-python.tar.gz", hashlib.md5(archive).hexdigest())
    monkeypatch.setitem(fetch.RESOURCES, "cifar10", (resource,))
    out = fetch.fetch("cifar10", tmp_path / "data", timeout=2, progress=False)
    assert out["downloaded"][0]["verified"]
    assert len(load_splits("cifar10", tmp_path / "data").test) == 6
    assert "already" in fetch.fetch("cifar10", tmp_path / "data", timeout=2, progress=False)["text"]


def test_fetch_offline_fails_fast_with_instructions(tmp_path: Path, monkeypatch, capsys) -> None:
    def no_network(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    start = time.perf_counter()
    with pytest.raises(fetch.NetworkUnavailable) as err:
        fetch.fetch("pets", tmp_path, timeout=2, progress=False)
    assert time.perf_counter() - start < 2
    message = str(err.value)
    assert "images.tar.gz" in message and "annotations.tar.gz" in message
    assert str(tmp_path / "oxford-iiit-pet") in message
    assert cli_main(["fetch", "cifar100", "--root", str(tmp_path)]) == 2
    assert "cifar-100-python.tar.gz" in capsys.readouterr().err


def test_check_online_is_bounded_when_connect_hangs(monkeypatch) -> None:
    def hang(*args, **kwargs):
        time.sleep(3)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    with pytest.raises(fetch.NetworkUnavailable, match="no answer"):
        fetch.check_online("https://example.org/x", timeout=0.3)
    assert time.perf_counter() - start < 1.5


# --- set-encoder features ---------------------------------------------------------------------

def test_features_need_weights_unless_random_is_explicit(tmp_path: Path) -> None:
    make_fashion_mnist(tmp_path)
    s = load_splits("fashion-mnist", tmp_path)
    missing = tmp_path / "none.pth"
    with pytest.raises(FileNotFoundError, match="no ResNet-18 weights"):
        features.dataset_features(s.train, s.spec, per_class=2, weights=missing)
    rand = features.dataset_features(s.train, s.spec, per_class=2, weights=missing, allow_random_init=True)
    assert rand.features.shape == (10, 2, 512) and not rand.pretrained and "RANDOM" in rand.source
    from torchvision.models import resnet18

    weights = tmp_path / "resnet18.pth"
    torch.manual_seed(0)
    torch.save(resnet18().state_dict(), weights)
    a = features.dataset_features(s.train, s.spec, per_class=2, seed=3, weights=weights)
    b = features.dataset_features(s.train, s.spec, per_class=2, seed=3, weights=weights)
    assert a.pretrained and torch.equal(a.features, b.features)
    with pytest.raises(ValueError, match="fewer than per_class"):
        features.class_sets(s.train, 10, per_class=3)
