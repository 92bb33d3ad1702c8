"""``nagkit fetch``: download a dataset's official archives, verify checksums, resume, extract.

Checksums are the MD5s torchvision publishes for the same files; FGVC-Aircraft has none
(torchvision downloads it unverified), so its MD5 / SHA-256 are reported for the user to check.

Nothing is reported complete that is not:

* a transfer that ends before the size the server announced (``Content-Length`` /
  ``Content-Range``), breaks off or stalls for ``timeout`` seconds raises ``NetworkUnavailable``
  and keeps ``<file>.part``; the next call resumes it with an HTTP ``Range`` request (from zero when
  the server ignores the range). A file whose MD5 does not match is deleted (``ValueError``).
* archives are extracted into a temporary folder beside their destination and then moved into
  place; a bad archive (truncated, corrupt gzip) is deleted so the next call downloads it again.
* a dataset is present only when its completion marker (:data:`MARKER`, JSON naming each archive,
  its size and digests, and what it extracted to) is there and matches :data:`RESOURCES`; it is
  written last, so a half-extracted or marker-less folder is extracted again.

Offline, ``fetch`` fails within ``timeout`` seconds with ``NetworkUnavailable`` saying which URL
to download by hand and where to put it.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import tarfile
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse


from nagkit.data.datasets import find_fashion_mnist, get_spec
from nagkit.paths import data_root
from nagkit.progress import enabled, progress_bar as tqdm
from nagkit.storage import atomic_write_json, entry_lock

_FMNIST = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_PETS = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"
MARKER = ".nagkit-complete"  # in the dataset's folder, written once everything is extracted
MAX_TIMEOUT = 86400.0


class NetworkUnavailable(ConnectionError):
    """The download host cannot be reached or the transfer broke off; the message says what to do."""


# What the opener and reads raise without (a working) network: URLError (name resolution, refused
# connection), TimeoutError, ConnectionError, other OSErrors, and http.client's protocol errors
# (IncompleteRead: a chunked body cut short).
_NETWORK_ERRORS = (OSError, http.client.HTTPException)
# What a truncated or corrupt tar / zip / gzip raises while being read.
_ARCHIVE_ERRORS = (tarfile.TarError, zipfile.BadZipFile, gzip.BadGzipFile, EOFError, zlib.error)


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
    def checksum(self) -> str | None:
        return f"md5:{self.md5}" if self.md5 else None

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def source(self, base_url: str | None = None) -> str:
        """The official URL, or ``<base_url>/<filename>`` for a mirror."""
        return self.url if base_url is None else f"{base_url.rstrip('/')}/{self.filename}"


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


def check_timeout(timeout: float) -> float:
    """``timeout`` as float seconds; ``ValueError`` unless it is a finite number in (0, MAX_TIMEOUT]."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"--timeout must be a number of seconds with 0 < timeout <= {MAX_TIMEOUT:g}, "
                         f"got {timeout!r}")
    return float(timeout)


def manual_instructions(name: str, root: Path, base_url: str | None = None) -> str:
    """Where to download ``name``'s files by hand and where to put them."""
    parts = []
    for r in RESOURCES[name]:
        check = f" (md5 {r.md5})" if r.md5 else " (no published checksum)"
        action = "extract it in" if r.extract else "put it in"
        parts.append(f"download {r.source(base_url)}{check} and {action} {Path(root) / r.subdir}")
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


def _content_range(value: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a ``Content-Range`` header; ``None`` where absent or ``*``."""
    match = re.fullmatch(r"bytes (?:(\d+)-\d+|\*)/(\d+|\*)", (value or "").strip())
    if match is None:
        return None, None
    first, total = match.groups()
    return (int(first) if first else None), (int(total) if total != "*" else None)


def _receive(url: str, part: Path, offset: int, dest: Path, timeout: float, progress: bool) -> bool:
    """Write ``url``'s bytes from ``offset`` on to ``part`` (from zero when the server ignores the
    range). ``False``: the server's answer to the range request is unusable, restart from zero."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # nothing left to send: complete if the sizes agree
            return _content_range(err.headers.get("Content-Range"))[1] == offset
        raise ValueError(f"{url}: the server answered HTTP {err.code} ({err.reason}); download it by hand "
                         f"and put it at {dest}") from None
    except _NETWORK_ERRORS as err:
        raise NetworkUnavailable(f"cannot download {url} ({_reason(err)}); offline? Download it by hand and "
                                 f"put it at {dest}") from None
    with response:
        first, total = _content_range(response.headers.get("Content-Range"))
        if offset and response.status == 206 and first != offset:
            return False
        start = offset if response.status == 206 else 0  # 200: the server ignored the range
        length = response.length  # Content-Length; None when absent or chunked
        if start and total is not None:
            expected = total
        else:
            expected = None if length is None else start + length
        received, broken = start, None
        bar = tqdm(total=expected, initial=start, unit="B", unit_scale=True, desc=dest.name,
                   disable=not enabled(progress))
        with open(part, "ab" if start else "wb") as f, bar:
            while True:
                try:
                    block = response.read1(1 << 20)  # what has arrived: nothing lost when cut short
                except _NETWORK_ERRORS as err:  # reset, socket timeout, chunked body cut short
                    broken = _reason(err)
                    break
                if not block:
                    break
                f.write(block)
                received += len(block)
                bar.update(len(block))
    if broken is None and expected in (None, received):
        return True
    raise NetworkUnavailable(f"download of {url} broke off after {received} of {expected or 'unknown'} bytes "
                             f"({broken or 'the server closed the connection early'}); {part} is kept: rerun to "
                             f"resume, or download the file by hand and put it at {dest}")


def matches(path: Path, checksum: str) -> bool:
    """Whether ``path``'s digest is ``checksum`` (``"md5:<hex>"`` or ``"sha256:<hex>"``)."""
    algorithm, _, want = checksum.partition(":")
    if algorithm not in ("md5", "sha256") or not want:
        raise ValueError(f"checksum must be 'md5:<hex>' or 'sha256:<hex>', got {checksum!r}")
    return file_digest(path, algorithm) == want.lower()


def download(url: str, dest: Path, checksum: str | None, timeout: float = 30.0, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming it with an HTTP Range request.

    ``checksum``: ``"md5:<hex>"``, ``"sha256:<hex>"`` or ``None`` (none published). ``timeout`` is the
    socket timeout (connecting, and each read). A complete ``dest`` whose checksum matches is kept as
    is. A transfer that breaks off raises ``NetworkUnavailable`` and keeps the partial file; on a
    checksum mismatch it is deleted and ``ValueError`` is raised.
    """
    timeout = check_timeout(timeout)
    dest = Path(dest)
    if dest.exists() and (checksum is None or matches(dest, checksum)):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    if not _receive(url, part, offset, dest, timeout, progress):
        _receive(url, part, 0, dest, timeout, progress)
    if checksum is not None and not matches(part, checksum):
        algorithm, _, want = checksum.partition(":")
        got = file_digest(part, algorithm)
        part.unlink()
        raise ValueError(f"checksum mismatch for {dest.name} from {url}: got {algorithm} {got}, expected {want}; "
                         f"the download was removed, rerun to fetch it again")
    os.replace(part, dest)
    return dest


def extract(archive: Path, into: Path) -> list[str]:
    """Extract ``archive`` (tar, optionally compressed, or ``.zip``) into a temporary folder in
    ``into``, then move each top-level entry into place, replacing a stale one; returns their names.

    A bad archive is deleted (the next ``fetch`` downloads it again) and ``ValueError`` raised.
    """
    archive, into = Path(archive), Path(into)
    into.mkdir(parents=True, exist_ok=True)
    for stale in into.glob(f".{archive.name}.*.extract"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{archive.name}.", suffix=".extract", dir=into))
    try:
        try:
            if archive.suffix == ".zip":
                with zipfile.ZipFile(archive) as z:
                    z.extractall(tmp)
            else:
                with tarfile.open(archive) as tar:
                    tar.extractall(tmp, filter="data")
                    while tar.fileobj.read(1 << 20):  # to the end: gzip checks its CRC there, tarfile does not
                        pass
        except _ARCHIVE_ERRORS as err:
            archive.unlink(missing_ok=True)
            reason = " ".join(f"{type(err).__name__}: {err}".split())
            raise ValueError(f"cannot extract {archive} ({reason}); the archive was removed, rerun `nagkit fetch` "
                             "to download it again") from None
        entries = sorted(p.name for p in tmp.iterdir())
        for entry in entries:
            final = into / entry
            if final.is_dir() and not final.is_symlink():
                shutil.rmtree(final)
            elif final.exists() or final.is_symlink():
                final.unlink()
            os.replace(tmp / entry, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entries


def _complete(name: str, root: Path) -> bool:
    """Whether ``name``'s completion marker exists and matches ``RESOURCES`` (archive names,
    published MD5s) and what it says was extracted is there."""
    try:
        archives = json.loads((root / get_spec(name).folder / MARKER).read_text())["archives"]
        return len(archives) == len(RESOURCES[name]) and all(
            a["file"] == r.filename and (r.md5 is None or a["md5"] == r.md5)
            and all((root / r.subdir / entry).exists() for entry in a["entries"])
            for r, a in zip(RESOURCES[name], archives))
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _present(name: str, root: Path) -> Path | None:
    """Where ``name`` already is (Fashion-MNIST: also the Debian package's folder), else ``None``."""
    if name == "fashion-mnist":
        try:
            return find_fashion_mnist(root)
        except FileNotFoundError:
            return None
    return root / get_spec(name).folder if _complete(name, root) else None


def fetch(name: str, root: str | Path | None = None, timeout: float = 5.0, progress: bool = True,
          base_url: str | None = None) -> dict:
    """Download, verify and extract ``name`` under ``root`` (default :func:`nagkit.paths.data_root`).

    ``timeout``: seconds to wait for the host (connectivity check, socket timeout of the transfer).
    ``base_url``: download ``<base_url>/<archive name>`` from a mirror instead of the official hosts.
    """
    spec, timeout = get_spec(name), check_timeout(timeout)
    root = Path(root) if root is not None else data_root()
    target = root / spec.folder
    with entry_lock(target):  # one fetch of a dataset at a time; the second finds it present
        if (found := _present(name, root)) is not None:
            return {"dataset": name, "path": str(found), "downloaded": [], "text": f"{name} already in {found}"}
        try:
            check_online(RESOURCES[name][0].source(base_url), timeout)
            paths = [download(r.source(base_url), root / r.subdir / r.filename, r.checksum, timeout, progress)
                     for r in RESOURCES[name]]
        except NetworkUnavailable as err:
            raise NetworkUnavailable(f"{err}. To fetch {name} by hand: "
                                     f"{manual_instructions(name, root, base_url)}") from None
        files = [{"file": str(path), "size": path.stat().st_size, "md5": file_digest(path),
                  "sha256": file_digest(path, "sha256"), "verified": r.md5 is not None}
                 for r, path in zip(RESOURCES[name], paths)]
        if name != "fashion-mnist":
            (target / MARKER).unlink(missing_ok=True)
            archives = [{**f, "file": r.filename, "entries": extract(path, root / r.subdir)}
                        for r, path, f in zip(RESOURCES[name], paths, files)]
            if not target.is_dir():  # only possible for an archive without a published checksum
                for path in paths:
                    path.unlink()
                raise ValueError(f"{', '.join(map(str, paths))} did not contain {target.name}/; removed, rerun "
                                 "`nagkit fetch` to download again")
            atomic_write_json(target / MARKER, {"dataset": name, "archives": archives}, indent=1)
    unverified = [f["file"] for f in files if not f["verified"]]
    text = f"{name} ready in {target}" + (
        f" (no published checksum for {', '.join(unverified)}: compare md5/sha256 by hand)" if unverified else "")
    return {"dataset": name, "path": str(target), "downloaded": files, "text": text}
