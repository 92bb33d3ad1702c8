"""Dataset readers on fixtures in the real on-disk formats (tests/fixtures.py), downloads against a
local HTTP server, offline failures with a monkeypatched opener."""
from __future__ import annotations

import hashlib
import http.server
import io
import pickle
import socket
import tarfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from nagkit.cli import main as cli_main
from nagkit.data import datasets, features, fetch
from nagkit.data.datasets import load_splits, read_idx
from tests.fixtures import idx_bytes, make_aircraft, make_cifar, make_fashion_mnist, make_pets

RNG = np.random.default_rng(0)


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
    path.write_bytes(idx_bytes(np.zeros((3, 2, 2)))[:-1])
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
    path = fetch.download(f"{base}/f.bin", tmp_path / "f.bin", f"md5:{md5}", timeout=5, progress=False)
    assert path.read_bytes() == body and not (tmp_path / "f.bin.part").exists()
    with pytest.raises(ValueError, match="checksum mismatch"):
        fetch.download(f"{base}/f.bin", tmp_path / "g.bin", "md5:" + "0" * 32, timeout=5, progress=False)
    assert not (tmp_path / "g.bin.part").exists() and not (tmp_path / "g.bin").exists()


def test_download_resumes_partial_file(server, tmp_path: Path) -> None:
    _, base = server
    body = RNG.integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    _RangeHandler.payloads["/big.tar.gz"] = body
    (tmp_path / "big.tar.gz.part").write_bytes(body[:40_000])
    path = fetch.download(f"{base}/big.tar.gz", tmp_path / "big.tar.gz", "md5:" + hashlib.md5(body).hexdigest(),
                          timeout=5, progress=False)
    assert path.read_bytes() == body
    assert _RangeHandler.ranges == ["bytes=40000-"]
    (tmp_path / "done.part").write_bytes(body)  # complete part file: server answers 416
    fetch.download(f"{base}/big.tar.gz", tmp_path / "done", "md5:" + hashlib.md5(body).hexdigest(), timeout=5, progress=False)
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


# --- offline: the opener fails ---------------------------------------------------------------

@pytest.mark.parametrize("error", [urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution")),
                                   ConnectionRefusedError(111, "Connection refused"),
                                   socket.timeout("timed out"), OSError(101, "Network is unreachable")])
def test_download_offline_raises_one_clear_error(tmp_path: Path, monkeypatch, error: Exception) -> None:
    def opener(*args, **kwargs):
        raise error

    monkeypatch.setattr(urllib.request, "urlopen", opener)
    with pytest.raises(fetch.NetworkUnavailable) as err:
        fetch.download("https://host.invalid/a.tar.gz", tmp_path / "a.tar.gz", None, progress=False)
    message = str(err.value)
    assert "offline" in message and "https://host.invalid/a.tar.gz" in message
    assert str(tmp_path / "a.tar.gz") in message and "\n" not in message
    assert not list(tmp_path.iterdir())


def test_fetch_cli_exits_2_with_one_line_when_opener_fails(tmp_path: Path, monkeypatch, capsys) -> None:
    def opener(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(fetch, "check_online", lambda url, timeout: None)  # the host "answers", the download not
    monkeypatch.setattr(urllib.request, "urlopen", opener)
    assert cli_main(["fetch", "cifar10", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nagkit fetch: error:")
    assert "name resolution" in err and "cifar-10-python.tar.gz" in err and str(tmp_path) in err


class _BrokenResponse:
    """A response that delivers one block, then loses the connection."""

    status, headers, length = 200, {"Content-Length": "200"}, 200  # length: what http.client parsed

    def __init__(self) -> None:
        self.calls = 0

    def read1(self, n: int) -> bytes:
        self.calls += 1
        if self.calls > 1:
            raise ConnectionResetError(104, "Connection reset by peer")
        return b"x" * 100

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def test_interrupted_download_keeps_part_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: _BrokenResponse())
    with pytest.raises(fetch.NetworkUnavailable, match="broke off.*rerun to resume"):
        fetch.download("http://h/b.bin", tmp_path / "b.bin", None, progress=False)
    assert (tmp_path / "b.bin.part").read_bytes() == b"x" * 100


def test_http_error_is_reported_as_bad_input(server, tmp_path: Path) -> None:
    _, base = server
    with pytest.raises(ValueError, match="HTTP 404"):
        fetch.download(f"{base}/missing.bin", tmp_path / "m.bin", None, timeout=5, progress=False)


def test_fashion_mnist_missing_names_debian_package(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(datasets, "FASHION_MNIST_SYSTEM", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="Debian package dataset-fashion-mnist"):
        load_splits("fashion-mnist", tmp_path)
    system = tmp_path / "system"
    make_fashion_mnist(system)
    monkeypatch.setattr(datasets, "FASHION_MNIST_SYSTEM", system / "fashion-mnist")
    assert len(load_splits("fashion-mnist", tmp_path / "empty").train) == 20
    out = fetch.fetch("fashion-mnist", tmp_path / "empty", progress=False)
    assert out["path"] == str(system / "fashion-mnist") and not out["downloaded"]
