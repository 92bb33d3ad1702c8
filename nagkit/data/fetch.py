"""``nagkit fetch``: download a dataset's official archives, verify checksums, resume, extract.

Checksums are the MD5s torchvision publishes for the same files; FGVC-Aircraft has none
(torchvision downloads it unverified), so its MD5 / SHA-256 are reported for the user to check.
Partial downloads are kept as ``<file>.part`` and resumed with an HTTP ``Range`` request.
Offline, ``fetch`` fails within ``timeout`` seconds with ``NetworkUnavailable`` saying which URL
to download by hand and where to put it.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tarfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from tqdm.auto import tqdm

from nagkit.data.datasets import default_root, find_fashion_mnist, get_spec

_FMNIST = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_PETS = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"


class NetworkUnavailable(ConnectionError):
    """The download host cannot be reached; the message says what to fetch by hand."""


# What the opener raises when there is no network: URLError (name resolution, refused connection),
# TimeoutError (= socket.timeout), ConnectionError and other OSErrors (network unreachable).
_NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, OSError)


def _reason(err: BaseException) -> str:
    reason = getattr(err, "reason", None) if isinstance(err, urllib.error.URLError) else None
    return f"{type(err).__name__}: {reason if reason is not None else err}"


@dataclass(frozen=True)
class Resource:
    """One file: where it comes from, its MD5 (``None`` = none published), where it goes."""

    url: str
    md5: str | None
    subdir: str = ""  # below the data root; archives are extracted there
    extract: bool = True

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


RESOURCES: dict[str, tuple[Resource, ...]] = {
    "cifar10": (Resource("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                         "c58f30108f718f92721af3b95e74349a"),),
    "cifar100": (Resource("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                          "eb9058c3a382ffc7106e4002c42a8d85"),),
    "aircraft": (Resource("https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz",
                          None),),
    "pets": (Resource(_PETS + "images.tar.gz", "5c4f3ee8e5d25df40f4fd59a7f44e54c", "oxford-iiit-pet"),
             Resource(_PETS + "annotations.tar.gz", "95a8c909bbe2e81eed6a22bccdf3f68f", "oxford-iiit-pet")),
    "fashion-mnist": tuple(
        Resource(_FMNIST + name, md5, "fashion-mnist", extract=False)
        for name, md5 in (("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                          ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                          ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                          ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"))),
}


def file_digest(path: Path, algorithm: str = "md5") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manual_instructions(name: str, root: Path) -> str:
    """Where to download ``name``'s files by hand and where to put them."""
    parts = []
    for r in RESOURCES[name]:
        check = f" (md5 {r.md5})" if r.md5 else " (no published checksum)"
        action = "extract it in" if r.extract else "put it in"
        parts.append(f"download {r.url}{check} and {action} {Path(root) / r.subdir}")
    return "; ".join(parts)


def check_online(url: str, timeout: float) -> None:
    """Raise ``NetworkUnavailable`` unless a TCP connection to ``url``'s host opens within ``timeout``
    seconds (name resolution included: it runs in a thread we stop waiting for)."""
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    errors: list[BaseException] = []

    def connect() -> None:
        try:
            socket.create_connection((parsed.hostname, port), timeout=timeout).close()
        except OSError as err:
            errors.append(err)

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive() or errors:
        reason = errors[0] if errors else f"no answer within {timeout:g} s"
        raise NetworkUnavailable(f"cannot reach {parsed.hostname}:{port} ({reason})")


def download(url: str, dest: Path, md5: str | None, timeout: float = 30.0, progress: bool = True) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` with an HTTP Range request.

    A complete ``dest`` whose MD5 matches is kept as is. On a checksum mismatch the partial file
    is deleted and ``ValueError`` is raised (a rerun starts afresh).
    """
    dest = Path(dest)
    if dest.exists() and (md5 is None or file_digest(dest) == md5):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code != 416:  # 416: nothing left to send, the part file is already complete
            raise ValueError(f"{url}: the server answered HTTP {err.code} ({err.reason}); download it by hand "
                             f"and put it at {dest}") from None
        response = None
    except _NETWORK_ERRORS as err:  # URLError (DNS, refused), socket timeouts, unreachable network
        raise NetworkUnavailable(f"cannot download {url} ({_reason(err)}); offline? Download it by hand and "
                                 f"put it at {dest}") from None
    if response is not None:
        with response:
            resumed = response.status == 206 and response.headers.get("Content-Range", "").startswith(
                f"bytes {offset}-")
            start = offset if resumed else 0
            total = response.headers.get("Content-Length")
            total = int(total) + start if total else None
            with open(part, "ab" if resumed else "wb") as f, tqdm(
                total=total, initial=start, unit="B", unit_scale=True, desc=dest.name, disable=not progress
            ) as bar:
                while True:
                    try:
                        block = response.read(1 << 20)
                    except (*_NETWORK_ERRORS, http.client.HTTPException) as err:
                        raise NetworkUnavailable(f"download of {url} broke off ({_reason(err)}); {part} is kept: "
                                                 "rerun to resume, or download the file by hand and put it at "
                                                 f"{dest}") from None
                    if not block:
                        break
                    f.write(block)
                    bar.update(len(block))
    if md5 is not None and (got := file_digest(part)) != md5:
        part.unlink()
        raise ValueError(f"checksum mismatch for {url}: md5 {got}, expected {md5}; partial file removed, rerun")
    os.replace(part, dest)
    return dest


def _present(name: str, root: Path) -> Path | None:
    """Where ``name`` already is (Fashion-MNIST: also the Debian package's folder), else ``None``."""
    if name == "fashion-mnist":
        try:
            return find_fashion_mnist(root)
        except FileNotFoundError:
            return None
    folder = root / get_spec(name).folder
    if name == "pets":  # two archives: both must have been extracted
        done = (folder / "images").is_dir() and (folder / "annotations").is_dir()
    else:
        done = folder.is_dir() and any(folder.iterdir())
    return folder if done else None


def fetch(name: str, root: str | Path | None = None, timeout: float = 5.0, progress: bool = True) -> dict:
    """Download, verify and extract ``name`` under ``root`` (default ``default_root()``)."""
    get_spec(name)
    root = Path(root) if root is not None else default_root()
    target = root / get_spec(name).folder
    if (found := _present(name, root)) is not None:
        return {"dataset": name, "path": str(found), "downloaded": [], "text": f"{name} already in {found}"}
    files = []
    try:
        check_online(RESOURCES[name][0].url, timeout)
        paths = [download(r.url, root / r.subdir / r.filename, r.md5, timeout=max(timeout, 30.0), progress=progress)
                 for r in RESOURCES[name]]
    except NetworkUnavailable as err:
        raise NetworkUnavailable(f"{err}. To fetch {name} by hand: {manual_instructions(name, root)}") from None
    for r, path in zip(RESOURCES[name], paths):
        files.append({"file": str(path), "md5": file_digest(path), "sha256": file_digest(path, "sha256"),
                      "verified": r.md5 is not None})
        if r.extract:
            with tarfile.open(path) as tar:
                tar.extractall(root / r.subdir, filter="data")
    unverified = [f["file"] for f in files if not f["verified"]]
    text = f"{name} ready in {target}" + (
        f" (no published checksum for {', '.join(unverified)}: compare md5/sha256 by hand)" if unverified else "")
    return {"dataset": name, "path": str(target), "downloaded": files, "text": text}
