"""``nagkit fetch`` under injected faults, against a loopback HTTP server serving small archives in the
datasets' real formats: dropped connections (with and without Content-Length, with and without MD5),
wrong checksums, servers ignoring Range, truncated / corrupt archives, stalls, half-extracted folders.
Every test checks what is left on disk and that the next call completes. Nothing leaves 127.0.0.1."""
from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import socket
import tarfile
import threading
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import torch

from nagkit.cli import main as cli_main
from nagkit.data import artifacts, fetch
from tests.fixtures import make_aircraft, make_pets

AIRCRAFT = "fgvc-aircraft-2013b.tar.gz"  # no published checksum
LOOPBACK = ("127.0.0.1", "localhost")


# --- a loopback server with fault injection --------------------------------------------------

@dataclass
class Route:
    """One served file and the faults to inject; ``requests`` records each request's Range header."""

    body: bytes
    cuts: list[int] = field(default_factory=list)  # per request, in order: send only this many body bytes
    length: bool = True  # send Content-Length (else an HTTP/1.0 body ended by closing the connection)
    chunked: bool = False  # HTTP/1.1 chunked body instead
    ranges: str = "honour"  # "ignore": always 200 and the whole body; "wrong": 206 from byte 0
    stall: bool = False  # at a cut, stall (until the test ends) instead of closing
    requests: list[str | None] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, Route]
    stop: threading.Event

    def do_GET(self) -> None:  # noqa: N802
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        route.requests.append(rng)
        start = int(rng.removeprefix("bytes=").split("-")[0]) if rng and route.ranges == "honour" else 0
        size = len(route.body)
        if start >= size > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload, cut = route.body[start:], route.cuts.pop(0) if route.cuts else None
        if route.chunked:
            self.protocol_version = "HTTP/1.1"
        self.send_response(206 if rng and route.ranges != "ignore" else 200)
        if rng and route.ranges != "ignore":
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        if route.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif route.length:
            self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        data = payload[:cut]
        self.wfile.write(f"{len(payload):x}\r\n".encode() + data if route.chunked else data)
        if route.chunked and cut is None:
            self.wfile.write(b"\r\n0\r\n\r\n")
        if cut is not None and route.stall:
            self.wfile.flush()
            self.stop.wait(10)
        self.close_connection = True

    def log_message(self, *args) -> None:
        pass


class Server:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.stop = threading.Event()
        handler = type("Handler", (_Handler,), {"routes": self.routes, "stop": self.stop})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def serve(self, name: str, body: bytes, **faults) -> Route:
        self.routes[f"/{name}"] = route = Route(body, **faults)
        return route

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch) -> None:
    """Any connection beyond 127.0.0.1 fails (urllib and ``check_online`` both go through here)."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):
        if address[0] not in LOOPBACK:
            raise OSError(f"test: no network beyond 127.0.0.1 (asked for {address[0]})")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


# --- archives in the datasets' formats -------------------------------------------------------

def _targz(src: Path, name: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / name, arcname=name)
    return buf.getvalue()


def _zip(src: Path, name: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted((src / name).rglob("*")):
            z.write(path, path.relative_to(src))
    return buf.getvalue()


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` and its bytes; the completion marker and downloaded archives left out."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != fetch.MARKER and not p.name.endswith(".tar.gz")}


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict:
    """FGVC-Aircraft (``fgvc-aircraft-2013b/`` as tar.gz and zip) and Oxford-IIIT Pets (``images/``,
    ``annotations/``), with the trees they extract to."""
    src = tmp_path_factory.mktemp("src")
    make_aircraft(src)
    make_pets(src)
    pets = src / "oxford-iiit-pet"
    return {AIRCRAFT: _targz(src, "fgvc-aircraft-2013b"), "fgvc-aircraft-2013b.zip": _zip(src, "fgvc-aircraft-2013b"),
            "images.tar.gz": _targz(pets, "images"), "annotations.tar.gz": _targz(pets, "annotations"),
            "aircraft": tree(src / "fgvc-aircraft-2013b"), "pets": tree(pets)}


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def pets_md5(monkeypatch, archives: dict, wrong: bool = False) -> None:
    """Give the Pets resources the MD5s of the test archives (or a wrong one)."""
    monkeypatch.setitem(fetch.RESOURCES, "pets", tuple(
        replace(r, md5="0" * 32 if wrong else md5(archives[r.filename])) for r in fetch.RESOURCES["pets"]))


def get(name: str, root: Path, server: Server, timeout: float = 2.0) -> dict:
    return fetch.fetch(name, root, timeout=timeout, progress=False, base_url=server.url)


def assert_complete(root: Path, archives: dict, name: str = "aircraft") -> None:
    folder = root / ("fgvc-aircraft-2013b" if name == "aircraft" else "oxford-iiit-pet")
    assert tree(folder) == archives[name]
    marker = json.loads((folder / fetch.MARKER).read_text())
    assert [a["file"] for a in marker["archives"]] == [r.filename for r in fetch.RESOURCES[name]]
    assert not list(root.rglob("*.part")) and not list(root.rglob("*.extract"))
    # present: answered without contacting any host (nothing listens on port 9)
    assert "already in" in fetch.fetch(name, root, progress=False, base_url="http://127.0.0.1:9")["text"]


def assert_not_complete(root: Path, folder: str = "fgvc-aircraft-2013b") -> None:
    assert not (root / folder / fetch.MARKER).exists()
    assert not list(root.rglob("*.extract"))


# --- dropped connections: the .part is kept and the next call resumes -------------------------

@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_drop_without_checksum_keeps_part_and_resumes(server, archives, tmp_path: Path, chunked: bool) -> None:
    body = archives[AIRCRAFT]
    route = server.serve(AIRCRAFT, body, cuts=[10_000], chunked=chunked)
    with pytest.raises(fetch.NetworkUnavailable, match=r"broke off after 10000 of .*rerun to resume") as err:
        get("aircraft", tmp_path, server)
    assert "\n" not in str(err.value) and "To fetch aircraft by hand" in str(err.value)
    assert (tmp_path / f"{AIRCRAFT}.part").read_bytes() == body[:10_000]
    assert not (tmp_path / AIRCRAFT).exists() and not (tmp_path / "fgvc-aircraft-2013b").exists()
    out = get("aircraft", tmp_path, server)
    assert route.requests == [None, "bytes=10000-"]
    assert (tmp_path / AIRCRAFT).read_bytes() == body and out["downloaded"][0]["md5"] == md5(body)
    assert_complete(tmp_path, archives)


def test_drop_with_checksum_keeps_part_and_resumes(server, archives, tmp_path: Path, monkeypatch) -> None:
    pets_md5(monkeypatch, archives)
    images = server.serve("images.tar.gz", archives["images.tar.gz"], cuts=[5_000])
    server.serve("annotations.tar.gz", archives["annotations.tar.gz"])
    with pytest.raises(fetch.NetworkUnavailable, match="broke off after 5000 of"):
        get("pets", tmp_path, server)
    part = tmp_path / "oxford-iiit-pet" / "images.tar.gz.part"
    assert part.read_bytes() == archives["images.tar.gz"][:5_000]  # not deleted as a checksum mismatch
    assert_not_complete(tmp_path, "oxford-iiit-pet")
    assert all(f["verified"] for f in get("pets", tmp_path, server)["downloaded"])
    assert images.requests == [None, "bytes=5000-"]
    assert_complete(tmp_path, archives, "pets")


def test_drop_through_cli_is_one_line_and_keeps_part(server, archives, tmp_path: Path, capsys) -> None:
    server.serve(AIRCRAFT, archives[AIRCRAFT], cuts=[3_000])
    assert cli_main(["fetch", "aircraft", "--root", str(tmp_path), "--base-url", server.url, "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nagkit fetch: error: download of") and AIRCRAFT in err
    assert (tmp_path / f"{AIRCRAFT}.part").stat().st_size == 3_000


def test_close_delimited_drop_without_checksum_is_caught_as_bad_archive(server, archives, tmp_path: Path) -> None:
    """Without Content-Length an early close looks like the end: the archive check catches it."""
    route = server.serve(AIRCRAFT, archives[AIRCRAFT], cuts=[10_000], length=False)
    with pytest.raises(ValueError, match=rf"cannot extract .*{AIRCRAFT}.*archive was removed"):
        get("aircraft", tmp_path, server)
    assert not (tmp_path / AIRCRAFT).exists() and not (tmp_path / f"{AIRCRAFT}.part").exists()
    assert not (tmp_path / "fgvc-aircraft-2013b").exists()
    get("aircraft", tmp_path, server)
    assert route.requests == [None, None]  # downloaded afresh
    assert_complete(tmp_path, archives)


def test_close_delimited_drop_with_checksum_is_a_mismatch(server, archives, tmp_path: Path, monkeypatch) -> None:
    pets_md5(monkeypatch, archives)
    server.serve("images.tar.gz", archives["images.tar.gz"], cuts=[5_000], length=False)
    server.serve("annotations.tar.gz", archives["annotations.tar.gz"])
    with pytest.raises(ValueError, match="checksum mismatch for images.tar.gz"):
        get("pets", tmp_path, server)
    assert not list((tmp_path / "oxford-iiit-pet").glob("images.tar.gz*"))
    assert_not_complete(tmp_path, "oxford-iiit-pet")
    get("pets", tmp_path, server)
    assert_complete(tmp_path, archives, "pets")


def test_stall_times_out_keeps_part_and_resumes(server, archives, tmp_path: Path, capsys) -> None:
    body = archives[AIRCRAFT]
    server.serve(AIRCRAFT, body, cuts=[4_000], stall=True)
    start = time.perf_counter()
    code = cli_main(["fetch", "aircraft", "--root", str(tmp_path), "--base-url", server.url, "--timeout", "0.5",
                     "--json"])
    assert code == 2 and time.perf_counter() - start < 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "timed out" in err and "rerun to resume" in err
    assert (tmp_path / f"{AIRCRAFT}.part").read_bytes() == body[:4_000]
    assert_not_complete(tmp_path)
    get("aircraft", tmp_path, server, timeout=0.5)
    assert_complete(tmp_path, archives)


# --- checksums and Range misbehaviour ------------------------------------------------------------

def test_wrong_checksum_names_file_and_digests_and_removes_part(server, archives, tmp_path: Path, monkeypatch,
                                                                capsys) -> None:
    pets_md5(monkeypatch, archives, wrong=True)
    server.serve("images.tar.gz", archives["images.tar.gz"])
    server.serve("annotations.tar.gz", archives["annotations.tar.gz"])
    assert cli_main(["fetch", "pets", "--root", str(tmp_path), "--base-url", server.url, "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checksum mismatch for images.tar.gz" in err
    assert f"got md5 {md5(archives['images.tar.gz'])}, expected {'0' * 32}" in err
    assert not list((tmp_path / "oxford-iiit-pet").glob("images.tar.gz*"))
    assert_not_complete(tmp_path, "oxford-iiit-pet")


@pytest.mark.parametrize("ranges", ["ignore", "wrong"])
def test_server_not_honouring_range_restarts_from_zero(server, archives, tmp_path: Path, ranges: str) -> None:
    body = archives[AIRCRAFT]
    route = server.serve(AIRCRAFT, body, ranges=ranges)
    (tmp_path / f"{AIRCRAFT}.part").write_bytes(b"\xff" * 1000)  # not a prefix of the file
    get("aircraft", tmp_path, server)
    assert route.requests == (["bytes=1000-"] if ranges == "ignore" else ["bytes=1000-", None])
    assert (tmp_path / AIRCRAFT).read_bytes() == body
    assert_complete(tmp_path, archives)


@pytest.mark.parametrize("extra", [0, 7], ids=["complete", "too-long"])
def test_part_at_or_past_the_end(server, archives, tmp_path: Path, extra: int) -> None:
    """416: a complete ``.part`` is used as is; a longer one (sizes disagree) is downloaded again."""
    body = archives[AIRCRAFT]
    route = server.serve(AIRCRAFT, body)
    (tmp_path / f"{AIRCRAFT}.part").write_bytes(body + b"x" * extra)
    get("aircraft", tmp_path, server)
    assert route.requests == [f"bytes={len(body) + extra}-"] + ([None] if extra else [])
    assert_complete(tmp_path, archives)


# --- bad archives, half-extracted folders ----------------------------------------------------------

def _corrupt_gzip(data: bytes) -> bytes:
    mid = len(data) // 2
    return data[:mid] + bytes(b ^ 0x55 for b in data[mid:mid + 64]) + data[mid + 64:]


@pytest.mark.parametrize("name, damage", [
    (AIRCRAFT, lambda d: d[: len(d) // 2]),
    (AIRCRAFT, _corrupt_gzip),
    (AIRCRAFT, lambda d: b"<html>not found</html>"),
    ("fgvc-aircraft-2013b.zip", lambda d: d[: len(d) // 2]),
], ids=["truncated-tar.gz", "corrupt-gzip", "not-an-archive", "truncated-zip"])
def test_bad_archive_is_removed_and_refetched(server, archives, tmp_path: Path, monkeypatch, name, damage) -> None:
    monkeypatch.setitem(fetch.RESOURCES, "aircraft", (fetch.Resource(f"https://host.invalid/{name}", None),))
    route = server.serve(name, damage(archives[name]))  # served whole: the transfer itself is fine
    with pytest.raises(ValueError, match=rf"cannot extract {tmp_path / name} .*archive was removed") as err:
        get("aircraft", tmp_path, server)
    assert "\n" not in str(err.value)
    assert not (tmp_path / name).exists() and not (tmp_path / "fgvc-aircraft-2013b").exists()
    assert_not_complete(tmp_path)
    route.body = archives[name]
    get("aircraft", tmp_path, server)
    assert_complete(tmp_path, archives)


def test_archive_without_the_dataset_folder_is_refused(server, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("something-else/readme.txt")
        tar.addfile(info, io.BytesIO(b""))
    server.serve(AIRCRAFT, buf.getvalue())
    with pytest.raises(ValueError, match="did not contain fgvc-aircraft-2013b/"):
        get("aircraft", tmp_path, server)
    assert not (tmp_path / AIRCRAFT).exists() and not (tmp_path / "fgvc-aircraft-2013b").exists()


def test_half_extracted_or_markerless_folder_is_extracted_again(server, archives, tmp_path: Path) -> None:
    route = server.serve(AIRCRAFT, archives[AIRCRAFT])
    stale = tmp_path / "fgvc-aircraft-2013b" / "data" / "images"
    stale.mkdir(parents=True)
    (stale / "1000000.jpg").write_bytes(b"\xff\xd8 half a jpeg")  # what the old code left: folder not empty
    (tmp_path / f".{AIRCRAFT}.k1ll3d.extract" / "fgvc-aircraft-2013b").mkdir(parents=True)  # killed extraction
    get("aircraft", tmp_path, server)
    assert_complete(tmp_path, archives)
    (tmp_path / "fgvc-aircraft-2013b" / fetch.MARKER).unlink()  # marker-less: extracted again, not downloaded
    (tmp_path / "fgvc-aircraft-2013b" / "data" / "manufacturers.txt").unlink()
    get("aircraft", tmp_path, server)
    assert route.requests == [None]
    assert_complete(tmp_path, archives)


def test_marker_that_does_not_match_is_not_present(server, archives, tmp_path: Path, monkeypatch) -> None:
    pets_md5(monkeypatch, archives)
    server.serve("images.tar.gz", archives["images.tar.gz"])
    server.serve("annotations.tar.gz", archives["annotations.tar.gz"])
    get("pets", tmp_path, server)
    marker = tmp_path / "oxford-iiit-pet" / fetch.MARKER
    saved = json.loads(marker.read_text())
    for bad in ({**saved, "archives": saved["archives"][:1]}, "{not json",
                {"archives": [{**a, "md5": "1" * 32} for a in saved["archives"]]}):
        marker.write_text(bad if isinstance(bad, str) else json.dumps(bad))
        assert "ready in" in get("pets", tmp_path, server)["text"]
        assert json.loads(marker.read_text())["archives"] == saved["archives"]


# --- timeout validation, offline, progress bars -------------------------------------------------------

@pytest.mark.parametrize("value", ["inf", "0", "-1", "nan", "1e12"])
def test_timeout_is_validated(tmp_path: Path, capsys, value: str) -> None:
    assert cli_main(["fetch", "cifar10", "--root", str(tmp_path), "--timeout", value]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--timeout" in err and "86400" in err
    with pytest.raises(ValueError, match="--timeout"):
        fetch.download("http://127.0.0.1:9/x", tmp_path / "x", None, timeout=float(value), progress=False)
    assert not list(tmp_path.iterdir())


def test_refused_connection_is_one_clear_error(tmp_path: Path, capsys) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert cli_main(["fetch", "aircraft", "--root", str(tmp_path), "--base-url", f"http://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach 127.0.0.1" in err and f"127.0.0.1:{port}/{AIRCRAFT}" in err
    assert not (tmp_path / "fgvc-aircraft-2013b").exists()


@pytest.mark.parametrize("env, shown", [(None, True), ("1", False)])
def test_progress_bar_respects_tqdm_disable(server, tmp_path: Path, monkeypatch, capsys, env, shown) -> None:
    server.serve("f.gz", gzip.compress(b"x" * 1000))
    if env is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", env)
    fetch.download(f"{server.url}/f.gz", tmp_path / "f.gz", None, timeout=2, progress=True)
    assert ("f.gz" in capsys.readouterr().err) is shown


# --- single-file artifacts (`nagkit fetch metad2a-ridx`, ofa-mbv3, ...) ----------------------------

def _with_artifact(monkeypatch, name: str, **changes) -> artifacts.Artifact:
    """Replace artifact ``name`` in the registry (e.g. its checksum, for a served stand-in file)."""
    new = replace(artifacts.get_artifact(name), **changes)
    monkeypatch.setattr(artifacts, "ARTIFACTS", tuple(new if a.name == name else a for a in artifacts.ARTIFACTS))
    return new


def test_single_file_artifact_is_downloaded_verified_and_kept(server, tmp_path: Path, monkeypatch, capsys) -> None:
    body = bytes(range(256)) * 40
    a = _with_artifact(monkeypatch, "metad2a-ridx", size=len(body),
                       checksum="sha256:" + hashlib.sha256(body).hexdigest())
    route = server.serve("ridx.pt", body, cuts=[3000])  # the first transfer breaks off: resumed by the rerun
    args = ["fetch", "metad2a-ridx", "--root", str(tmp_path), "--base-url", server.url, "--json"]
    assert cli_main(args) == 2 and "broke off" in capsys.readouterr().err
    assert cli_main(args) == 0
    out = json.loads(capsys.readouterr().out)
    dest = tmp_path / a.path
    assert out["path"] == str(dest) and dest.read_bytes() == body and out["downloaded"][0]["verified"] is True
    assert route.requests == [None, "bytes=3000-"]
    assert artifacts.status(tmp_path, verify=True, hub=tmp_path)[[r.name for r in artifacts.ARTIFACTS].index(
        "metad2a-ridx")]["verified"] is True
    assert cli_main(args) == 0 and len(route.requests) == 2  # present and verified: not downloaded again
    assert json.loads(capsys.readouterr().out)["downloaded"] == []


def test_single_file_with_a_wrong_checksum_is_removed(server, tmp_path: Path, monkeypatch) -> None:
    a = _with_artifact(monkeypatch, "metad2a-idx", size=None, checksum="sha256:" + "0" * 64)
    server.serve(Path(a.path).name, b"not the release file")
    with pytest.raises(ValueError, match="checksum mismatch for meta_train_tasks_predictor_idx.pt"):
        artifacts.fetch_artifact("metad2a-idx", tmp_path, timeout=2, progress=False, base_url=server.url)
    assert not list((tmp_path / "metad2a").iterdir())


def test_single_file_offline_names_the_url_and_the_destination(tmp_path: Path, capsys) -> None:
    assert cli_main(["fetch", "ofa-mbv3", "--root", str(tmp_path), "--timeout", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    a = artifacts.get_artifact("ofa-mbv3")
    assert err.count("\n") == 0 and a.url in err and str(tmp_path / a.path) in err


def test_fetchable_artifacts_are_named_by_their_status_command(tmp_path: Path) -> None:
    for row in artifacts.status(tmp_path, hub=tmp_path):
        a = artifacts.get_artifact(row["name"])
        assert (row["command"] == f"nagkit fetch {a.name} --root {tmp_path}") == (a.name in artifacts.FETCHABLE)
    assert {"metad2a-records", "imagenet32-features", "ofa-mbv3", *fetch.RESOURCES} <= set(artifacts.FETCHABLE)
    with pytest.raises(ValueError, match="not downloadable by nagkit"):
        artifacts.fetch_artifact("nats-tss", tmp_path)


def test_imagenet32_features_are_fetched_from_the_release_files_and_converted(server, tmp_path: Path,
                                                                              monkeypatch, capsys) -> None:
    """`nagkit fetch imagenet32-features`: the five MetaD2A files (served in the release's format), then the
    conversion into the weights_only file the meta-predictor loads."""
    from nagkit.predictors.metad2a import load_class_features
    from tests.smoke_fixtures import write_metad2a_release

    src = tmp_path / "release"
    written = write_metad2a_release(src, n_classes=6, per_class=3, dim=8)
    features = artifacts.get_artifact("imagenet32-features")
    for name in features.made_from:
        a = artifacts.get_artifact(name)
        body = (src / Path(a.path).name).read_bytes()
        server.serve(Path(a.path).name, body)
        if a.checksum is not None:  # the stand-ins are not the release's bytes: their own size and digest
            _with_artifact(monkeypatch, name, size=len(body), checksum="sha256:" + hashlib.sha256(body).hexdigest())
    root = tmp_path / "data"
    assert cli_main(["fetch", "imagenet32-features", "--root", str(root), "--base-url", server.url, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["path"] == str(root / features.path) and len(out["downloaded"]) == len(features.made_from)
    loaded = load_class_features(root / features.path)
    assert len(loaded) == 6 and all(torch.equal(a, b) for a, b in zip(loaded, written["features"]))
    rows = {r["name"]: r for r in artifacts.status(root, hub=tmp_path)}
    assert all(rows[n]["ok"] for n in (*features.made_from, "imagenet32-features"))
