"""Every downloaded artifact the ``paper`` profile needs, and whether it is there (``nagkit data status``).

:data:`ARTIFACTS` lists each file or folder by the path its loader reads below the data root
(:func:`nagkit.paths.data_root`, ``$NAGKIT_DATA``; the ResNet-18 weights live in torch's hub cache
instead), what it is, its size and checksum where they are known (``None``: not published; nothing
here is guessed), the one command that gets it (``nagkit fetch NAME`` where :mod:`nagkit.data.fetch`
has it, else the URL and where to put the file) and the notebook / report rows it enables.

:func:`status` checks presence without reading file contents: a file of a known size is compared by
size only; ``verify=True`` also computes checksums (files, and the archives ``nagkit fetch`` keeps).

Sources of the facts below:

* datasets: URLs and MD5s are :data:`nagkit.data.fetch.RESOURCES`, folders :data:`nagkit.data.datasets.SPECS`;
  the files inside a folder are the ones its reader opens (:func:`~nagkit.data.datasets.read_cifar`,
  torchvision's ``FGVCAircraft(annotation_level="manufacturer")`` / ``OxfordIIITPet``);
* MetaD2A: the release's file names are defined here (:mod:`nagkit.predictors.metad2a` imports them;
  this module must not import torch_geometric); sizes and SHA-256 of
  the four meta-training files as recorded in ``nagkit/resources/PROVENANCE.md`` (the same bytes are
  in DiffusionNAG's repository, ``NAS-Bench-201/data/transfer_nag/``); the ``*bylabel.pt`` URLs are the
  authors' (``get_files/get_preprocessed_data.py`` of MetaD2A and DiffusionNAG), no checksum published;
* NATS-Bench: :mod:`nagkit.benchmarks.nats`; OFA: ``ofa.model_zoo.ofa_net``'s download location.
"""
from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nagkit.benchmarks.nats import SIMPLE_NAME
from nagkit.data.datasets import IMAGENET16_README, SPECS, find_fashion_mnist
from nagkit.data.features import RESNET18_FILE
from nagkit.data.fetch import RESOURCES, NetworkUnavailable, _complete, check_online, download, fetch, matches
from nagkit.paths import data_root

METAD2A = "metad2a"  # <data root>/metad2a: nagkit.predictors.metad2a.default_source_dir()
# MetaD2A's release files (read by nagkit.predictors.metad2a) and nagkit's weights_only copy of the features.
RECORDS_FILE = "meta_train_tasks_predictor.pt"
TASKS_FILE = "meta_train_task_lst.pt"
IDX_FILE = "meta_train_tasks_predictor_idx.pt"
RIDX_FILE = "ridx.pt"
FEATURES_FILE = "imgnet32bylabel.pt"
SAFE_FEATURES = "imagenet32_resnet18_features.pt"
FEATURES_URL = "https://www.dropbox.com/s/7r3hpugql8qgi9d/imgnet32bylabel.pt?dl=1"
_TRANSFER_NAG = "https://raw.githubusercontent.com/CownowAn/DiffusionNAG/main/NAS-Bench-201/data/transfer_nag/"
OFA_NET = "ofa_mbv3_d234_e346_k357_w1.0"
OFA_DB = "ofa/predictor"  # MetaD2A's MobileNetV3 predictor database: database_219152_14.0K_{train,val}.pt
BO_MBV3 = "BO on MBV3 / ImageNet-1K (paper Figs. 3-4): `nagkit bo-mbv3` [needs data]"
TABLE2 = "Table 2 MBV3 transfer NAS: `nagkit mbv3-transfer --profile paper` [needs data/GPU]"
SAFE_OFA_RECORDS = "metad2a_mbv3.pt"  # nagkit.predictors.ofa_records writes it
NOT_PUBLISHED = "not published"

# Report rows (results/REPORT.md "section: row") and notebook uses the artifacts enable.
META_ROW = ("04 Surrogates (NB201): meta-predictor f(X, D) on MetaD2A data: Spearman (400 validation records) "
            "[needs data/GPU]")
TABLE1 = ("05 NB201 transfer NAG (paper Table 1): MetaD2A meta-predictor guidance and ranking [needs data, paper "
          "profile; also `nagkit transfer --profile paper`]")
TABLE5 = "Table 5 guidance toward robustness (APGD, glass blur): `nagkit robustness` [needs data]"
ROBUSTNESS_SITE = "http://data.robustness.vision/"
CONVERT = f"the conversion to {METAD2A}/{SAFE_FEATURES} (convert_metad2a needs all five MetaD2A files)"
BYLABEL = ("not read by nagkit (it computes these ResNet-18 features from the images): MetaD2A's own encoding of "
           "the target, to cross-check nagkit's")


@dataclass(frozen=True)
class Artifact:
    """One downloaded file or folder.

    ``path`` is relative to the data root (``base="data"``) or to torch's hub cache (``base="torch-hub"``).
    ``size`` (bytes) and ``checksum`` (``"sha256:<hex>"`` / ``"md5:<hex>"``) are ``None`` where not
    published. ``fetch`` names the :data:`~nagkit.data.fetch.RESOURCES` entry ``nagkit fetch`` downloads
    (its archives carry the checksums); otherwise ``command`` is the manual instruction, with ``{dest}``
    (this artifact's absolute path) and ``{root}`` (the data root) filled in, or, when empty, a ``curl`` of
    ``url`` to ``{dest}``. A folder is complete when every path in ``needs`` exists inside it.
    ``optional``: no notebook or report row of the paper profile reads it. ``made_from``: artifacts
    ``nagkit fetch`` gets first, then ``make(data root)`` builds this one from them.
    """

    name: str
    path: str
    what: str
    enables: tuple[str, ...]
    folder: bool = False
    needs: tuple[str, ...] = ()
    size: int | None = None
    checksum: str | None = None
    url: str | None = None
    fetch: str | None = None
    command: str = ""
    optional: bool = False
    base: str = "data"
    made_from: tuple[str, ...] = ()
    make: Callable[[Path], object] | None = None

    @property
    def fetchable(self) -> bool:
        """Whether ``nagkit fetch NAME`` gets it: a dataset of :data:`~nagkit.data.fetch.RESOURCES`, a
        single file with a download URL and no manual step, or a file made from fetchable ones."""
        single = self.url is not None and not self.command and not self.folder and self.base == "data"
        return self.fetch is not None or single or self.make is not None

    def location(self, root: Path, hub: Path) -> Path:
        return (hub if self.base == "torch-hub" else root) / self.path

    def how(self, root: Path, hub: Path) -> str:
        """The one command (or manual instruction) that gets this artifact under ``root``."""
        if self.fetchable:
            flag = "" if root == data_root() else f" --root {shlex.quote(str(root))}"
            return f"nagkit fetch {self.name}{flag}"
        return self.command.format(dest=shlex.quote(str(self.location(root, hub))), root=shlex.quote(str(root)))


def _convert_metad2a(root: Path) -> object:
    """MetaD2A's ImageNet-32 feature pickle (and records) -> nagkit's weights_only files, in place."""
    from nagkit.predictors.metad2a import convert_metad2a

    return convert_metad2a(root / METAD2A, root / METAD2A, trust_pickles=True)


def _convert_ofa_records(root: Path) -> object:
    """MetaD2A's MobileNetV3 predictor database (copied by the user) -> nagkit's weights_only records."""
    from nagkit.predictors.ofa_records import convert_ofa_records

    return convert_ofa_records(root / OFA_DB, root / "ofa", trust_pickles=True)


def _dataset(name: str, what: str, enables: tuple[str, ...], needs: tuple[str, ...]) -> Artifact:
    urls = ", ".join(r.url for r in RESOURCES[name])
    return Artifact(name, SPECS[name].folder, what, enables, folder=True, needs=needs, url=urls, fetch=name)


def _metad2a(name: str, file: str, what: str, size: int, sha256: str) -> Artifact:
    return Artifact(name, f"{METAD2A}/{file}", f"{what} (MetaD2A data release, torch pickle: untrusted)",
                    (CONVERT, META_ROW, TABLE1), size=size, checksum=f"sha256:{sha256}", url=_TRANSFER_NAG + file)


def _bylabel(dataset: str, url: str) -> Artifact:
    return Artifact(f"{dataset}-bylabel", f"{METAD2A}/{dataset}bylabel.pt",
                    f"MetaD2A's ResNet-18 features of {dataset}, per class (torch pickle: untrusted)", (BYLABEL,),
                    url=url, optional=True)


_FMNIST = tuple(r.filename.removesuffix(".gz") for r in RESOURCES["fashion-mnist"])

ARTIFACTS: tuple[Artifact, ...] = (
    _dataset("cifar10", "CIFAR-10 python batches (50k train / 10k test, 32 px)",
             (TABLE1 + ": the target's features", "`nagkit train --dataset cifar10`"),
             tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)),
    _dataset("cifar100", "CIFAR-100 python batches (50k train / 10k test, 32 px)",
             (TABLE1 + ": the target's features", "`nagkit train --dataset cifar100`"), ("train", "test")),
    _dataset("aircraft", "FGVC-Aircraft 2013b images and annotations (manufacturer level, 30 classes)",
             ("06 Transfer NAS on NB201 (trained from scratch): Aircraft [needs data/GPU]",),
             ("data/images", "data/manufacturers.txt", "data/images_manufacturer_trainval.txt",
              "data/images_manufacturer_test.txt")),
    _dataset("pets", "Oxford-IIIT Pets images and annotations (37 breeds)",
             ("06 Transfer NAS on NB201 (trained from scratch): Pets [needs data/GPU]",),
             ("images", "annotations/trainval.txt", "annotations/test.txt")),
    Artifact("imagenet16-120", SPECS["imagenet16-120"].folder,
             "NAS-Bench-201's downsampled ImageNet, 16 px (train_data_batch_1 ... train_data_batch_10, val_data; "
             "python pickles: untrusted), read as ImageNet16-120 (classes 1-120)",
             ("the ImageNet16-120 target's ResNet-18 features for the MetaD2A meta-predictor "
              "(`nagkit transfer --profile paper --dataset ImageNet16-120`)",),
             folder=True, needs=tuple(f"train_data_batch_{i}" for i in range(1, 11)) + ("val_data",),
             url=IMAGENET16_README,
             command=("no direct download: get the ImageNet16 folder from the Google Drive link in the NAS-Bench-201 "
                      f"README ({IMAGENET16_README}) and put it at {{dest}}"),
             optional=True),
    _dataset("fashion-mnist", "Fashion-MNIST idx files (also found in the Debian package dataset-fashion-mnist)",
             ("06 Training from scratch, offline check: the Fashion-MNIST rows and the MBV3 subnets (quick profile)",),
             tuple(f"{f}.gz" for f in _FMNIST)),
    _metad2a("metad2a-records", RECORDS_FILE, "4,630 (task, NB201 cell, accuracy) records over 3,031 tasks",
             4_101_859, "0da4ed96b88f9151de0ffce3a63c54741bca5337451bab6c10d10f6c5d7137a4"),
    _metad2a("metad2a-tasks", TASKS_FILE, "5,000 meta-training tasks of 20 ImageNet-32 class ids",
             296_710, "0debce65d5084841e5ce43cf6f229bdb5574074ae8e30c51f28cefbc25b8ce3e"),
    _metad2a("metad2a-idx", IDX_FILE, "MetaD2A's record permutation (first 400: validation split)",
             37_378, "4bd2f1bf566efe5d316bc1a17801d5e196a98f5b9a888109664ac10826f98e3a"),
    _metad2a("metad2a-ridx", RIDX_FILE, "a permutation of the NB201 indices",
             125_338, "f6afb3b887159c7a1df298176fd4e2572b5cbc268bf52152a21a2ef23b36cd07"),
    Artifact("imagenet32-bylabel", f"{METAD2A}/{FEATURES_FILE}",
             "ResNet-18 features of the 1,000 ImageNet-32 classes (MetaD2A data release, torch pickle: untrusted)",
             (CONVERT, META_ROW, TABLE1), url=FEATURES_URL),
    Artifact("imagenet32-features", f"{METAD2A}/{SAFE_FEATURES}",
             f"{FEATURES_FILE} converted by nagkit into a weights_only file (what the meta-predictor loads)",
             (META_ROW, TABLE1), made_from=("metad2a-records", "metad2a-tasks", "metad2a-idx", "metad2a-ridx",
                                            "imagenet32-bylabel"), make=_convert_metad2a),
    Artifact("resnet18-imagenet", f"checkpoints/{RESNET18_FILE}",
             "torchvision's ImageNet ResNet-18 weights (IMAGENET1K_V1), in torch's hub cache, not the data root",
             (TABLE1 + ": the target's features",),
             url=f"https://download.pytorch.org/models/{RESNET18_FILE}", base="torch-hub",
             command="python -c \"import torchvision; torchvision.models.resnet18(weights='IMAGENET1K_V1')\""),
    _bylabel("cifar10", "https://www.dropbox.com/s/wt1pcwi991xyhwr/cifar10bylabel.pt?dl=1"),
    _bylabel("cifar100", "https://www.dropbox.com/s/y0xahxgzj29kffk/cifar100bylabel.pt?dl=1"),
    _bylabel("aircraft", "https://www.dropbox.com/s/mb66kitv20ykctp/aircraftbylabel.pt?dl=1"),
    _bylabel("pets", "https://www.dropbox.com/s/mxh6qz3grhy7wcn/petsbylabel.pt?dl=1"),
    Artifact("nats-tss", SIMPLE_NAME,
             "NATS-Bench topology (tss) benchmark, fast-mode folder: meta.pickle.pbz2 + one pickle per cell "
             "(pickles: untrusted)",
             ("`nagkit.benchmarks.nats.nats_benchmark(PATH)`: the NB201 tables from the official files, a "
              "cross-check of the packaged table (no report row reads it)",),
             folder=True, needs=("meta.pickle.pbz2",), url="https://github.com/D-X-Y/NATS-Bench", optional=True,
             command=(f"download {SIMPLE_NAME}.tar from the NATS-Bench release (links in the README of "
                      f"https://github.com/D-X-Y/NATS-Bench), then: tar -xf {SIMPLE_NAME}.tar -C {{root}}")),
    Artifact("robustness-meta", "robustness/meta.json",
             "NB201 robustness dataset (Jung et al., ICLR 2023): id -> NB201 string and isomorph id, attack "
             "epsilons (JSON)", (TABLE5,), url=ROBUSTNESS_SITE,
             command=f"download meta.zip from {ROBUSTNESS_SITE} and unzip it into {{root}}/robustness so that "
                     "{dest} exists"),
    Artifact("robustness-cifar10", "robustness/cifar10",
             "NB201 robustness dataset, CIFAR-10 accuracies: clean, 4 attacks x epsilons, 15 corruptions x 5 "
             "severities (JSON)", (TABLE5,), folder=True,
             needs=("clean_accuracy.json", "aa_apgd-ce@Linf_accuracy.json", "glass_blur_accuracy.json"),
             url=ROBUSTNESS_SITE,
             command=f"download cifar10-accuracies.zip from {ROBUSTNESS_SITE} and unzip it into {{root}}/robustness"),
    Artifact("ofa-mbv3", f"ofa/{OFA_NET}",
             "OFA MobileNetV3 supernet weights (width 1.0, torch checkpoint with a state_dict)",
             ("06 MBV3 subnets from OFA weights (`ofa_weights = PATH`; `nagkit train --space mbv3 --ofa-weights "
              "PATH`)", TABLE2), url=f"https://raw.githubusercontent.com/han-cai/files/master/ofa/ofa_nets/{OFA_NET}"),
    Artifact("ofa-acc-predictor", "ofa/acc_predictor.pth",
             "OFA's ImageNet top-1 accuracy predictor of MobileNetV3 subnets (tutorial MLP, torch state dict)",
             (BO_MBV3,), url="https://hanlab.mit.edu/files/OnceForAll/tutorial/acc_predictor.pth"),
    Artifact("ofa-predictor-db", OFA_DB,
             "MetaD2A's MobileNetV3 predictor database: (OFA subnet, ImageNet task, accuracy, FLOPs) records, "
             "validation and training split (torch pickles: untrusted)", (TABLE2,), folder=True,
             needs=("database_219152_14.0K_train.pt", "database_219152_14.0K_val.pt"),
             command=("no direct download: the MetaD2A / DiffusionNAG MobileNetV3 data expects it in "
                      "data/ofa/predictor/processed/ and no script of theirs downloads it; copy "
                      "database_219152_14.0K_{{train,val}}.pt into {dest}")),
    Artifact("ofa-records", f"ofa/{SAFE_OFA_RECORDS}",
             "the MobileNetV3 predictor database converted by nagkit into a weights_only records file "
             "(`nagkit fetch ofa-records` trusts the copied pickles)", (TABLE2,), make=_convert_ofa_records),
)


FETCHABLE: tuple[str, ...] = tuple(a.name for a in ARTIFACTS if a.fetchable)  # `nagkit fetch` choices


def get_artifact(name: str) -> Artifact:
    for a in ARTIFACTS:
        if a.name == name:
            return a
    raise KeyError(f"unknown artifact {name!r}; valid: {[a.name for a in ARTIFACTS]}")


def fetch_artifact(name: str, root: str | Path | None = None, timeout: float = 30.0, progress: bool = True,
                   base_url: str | None = None) -> dict:
    """``nagkit fetch NAME``: a dataset (:func:`nagkit.data.fetch.fetch`), one file (downloaded to its
    path under ``root``, resumed, its checksum verified where published), or a file made from others.
    ``base_url``: a mirror holding the files under their own names. Offline: ``FileNotFoundError``
    saying what to download by hand and where to put it."""
    a, root = get_artifact(name), Path(root) if root is not None else data_root()
    if not a.fetchable:
        raise ValueError(f"{name} is not downloadable by nagkit: {a.how(root, hub_dir())}")
    try:
        if a.fetch is not None:
            return fetch(a.fetch, root, timeout, progress, base_url)
        if a.make is not None:
            parts = [fetch_artifact(p, root, timeout, progress, base_url) for p in a.made_from]
            a.make(root)
            return {"artifact": name, "path": str(root / a.path), "downloaded": [f for p in parts for f in p["downloaded"]],
                    "text": f"{name} made in {root / a.path} from {', '.join(a.made_from)}"}
        dest = root / a.path
        url = a.url if base_url is None else f"{base_url.rstrip('/')}/{Path(a.path).name}"
        if dest.is_file() and (a.checksum is None or matches(dest, a.checksum)):
            return {"artifact": name, "path": str(dest), "downloaded": [], "text": f"{name} already in {dest}"}
        check_online(url, timeout)
        download(url, dest, a.checksum, timeout, progress)
    except NetworkUnavailable as err:  # offline: a missing input, with the manual route
        if a.fetch is not None or a.make is not None:  # the message already names the file to get by hand
            raise FileNotFoundError(str(err)) from None
        raise FileNotFoundError(f"{err}. To get {name} by hand: download {a.url} and put it at {dest}") from None
    if a.size is not None and dest.stat().st_size != a.size:
        raise ValueError(f"{dest}: {dest.stat().st_size:,} bytes, expected {a.size:,}")
    note = "" if a.checksum else " (no published checksum: compare its sha256 by hand)"
    return {"artifact": name, "path": str(dest), "downloaded": [{"file": str(dest), "size": dest.stat().st_size,
                                                                 "verified": a.checksum is not None}],
            "text": f"{name} ready in {dest}{note}"}


def hub_dir() -> Path:
    """torch's hub cache (``torch.hub.get_dir()``: ``$TORCH_HOME/hub``, default ``~/.cache/torch/hub``)."""
    import torch.hub

    return Path(torch.hub.get_dir())


def _check_file(a: Artifact, path: Path, verify: bool) -> dict:
    if not path.is_file():
        return {"state": "missing" if not path.exists() else "not a file", "size": None, "verified": None}
    size = path.stat().st_size
    if a.size is not None and size != a.size:
        return {"state": "wrong size", "size": size, "verified": None}
    verified = matches(path, a.checksum) if verify and a.checksum else None
    return {"state": "bad checksum" if verified is False else "present", "size": size, "verified": verified}


def _check_folder(a: Artifact, root: Path, path: Path, verify: bool) -> dict:
    found = path
    if a.name == "fashion-mnist":  # the reader also accepts uncompressed files, torchvision's and Debian's folders
        try:
            found = find_fashion_mnist(root)
        except FileNotFoundError:
            pass
    if not found.is_dir():
        state, missing = ("missing" if not found.exists() else "not a folder"), list(a.needs)
    elif a.name == "fashion-mnist":
        missing = [f for f in _FMNIST if not (found / f).exists() and not (found / f"{f}.gz").exists()]
        state = "incomplete" if missing else "present"
    else:
        missing = [n for n in a.needs if not (found / n).exists()]
        state = "incomplete" if missing else "present"
    out = {"state": state, "path": str(found), "size": None, "verified": None, "missing_files": missing}
    if a.fetch is not None:
        archives = []
        for r in RESOURCES[a.fetch]:
            archive = root / r.subdir / r.filename
            ok = matches(archive, r.checksum) if verify and r.md5 and archive.is_file() else None
            archives.append({"file": str(archive), "url": r.url, "md5": r.md5 or NOT_PUBLISHED,
                             "present": archive.is_file(), "verified": ok})
        checked = [x["verified"] for x in archives if x["verified"] is not None]
        fetched = None if a.fetch == "fashion-mnist" else _complete(a.fetch, root)  # no marker for fashion-mnist
        out |= {"archives": archives, "fetched": fetched,
                "verified": all(checked) if checked else None}
        if state == "present" and False in checked:
            out["state"] = "bad checksum"
    return out


def status(root: str | Path | None = None, verify: bool = False, hub: str | Path | None = None) -> list[dict]:
    """One dict per artifact of :data:`ARTIFACTS`, in order: where it was looked for (``path``), its
    ``state`` (``present``, ``missing``, ``incomplete`` (a folder without some of its ``needs``),
    ``wrong size``, ``bad checksum``, ``not a file`` / ``not a folder``), ``ok``, the size found, the
    expected size and checksum (``"not published"`` where unknown), what it enables and the command
    that gets it. ``root``: the data root (default :func:`nagkit.paths.data_root`); ``hub``: torch's hub
    cache (default :func:`hub_dir`); ``verify``: compute checksums where one is known (slow for big files).
    """
    root = Path(root) if root is not None else data_root()
    hub = Path(hub) if hub is not None else hub_dir()
    rows = []
    for a in ARTIFACTS:
        path = a.location(root, hub)
        check = _check_folder(a, root, path, verify) if a.folder else _check_file(a, path, verify)
        rows.append({
            "name": a.name, "path": str(path), "expected_path": str(path), "relative": a.path,
            "base": "torch hub" if a.base == "torch-hub" else "data root", "kind": "folder" if a.folder else "file",
            "what": a.what, "optional": a.optional, **check, "ok": check["state"] == "present",
            "expected_size": a.size, "checksum": a.checksum or (None if a.fetch else NOT_PUBLISHED),
            "url": a.url, "enables": list(a.enables), "command": a.how(root, hub),
        })
    return rows


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return "-"


def format_status(rows: list[dict], root: Path, hub: Path) -> str:
    """A table (name, state, size, enables; the command for each artifact not present) and a summary line."""
    width = max(len(r["name"]) for r in rows) + 2
    lines = [f"{'name':<{width}}{'state':<14}{'size':<12}enables / command", "-" * (width + 60)]
    for r in rows:
        size = _size(r["size"] if r["size"] is not None else r["expected_size"])
        state = r["state"] + (" *" if r["optional"] else "")
        lines.append(f"{r['name']:<{width}}{state:<14}{size:<12}{r['enables'][0]}")
        pad = " " * (width + 26)
        lines += [pad + e for e in r["enables"][1:]]
        if r["ok"] and r["path"] != r["expected_path"]:
            lines.append(pad + "found at " + r["path"])
        if r["state"] == "wrong size":
            lines.append(pad + f"{r['size']:,} bytes, expected {r['expected_size']:,}: a partial or different file")
        if r.get("missing_files") and r["state"] == "incomplete":
            lines.append(pad + "lacks: " + ", ".join(r["missing_files"]))
        if not r["ok"]:
            lines.append(pad + "get: " + r["command"])
    required = [r for r in rows if not r["optional"]]
    missing = [r["name"] for r in required if not r["ok"]]
    lines += ["", "* optional: no notebook or report row of the paper profile reads it",
              f"{sum(r['ok'] for r in rows)} of {len(rows)} artifacts present "
              f"({sum(r['ok'] for r in required)} of {len(required)} required) under {root} (torch hub: {hub}); "
              + (f"missing or unusable: {', '.join(missing)}" if missing else "nothing required is missing")]
    return "\n".join(lines)


def summary(root: str | Path | None = None, verify: bool = False, hub: str | Path | None = None) -> dict:
    """:func:`status` with totals and the formatted ``text`` (what ``nagkit data status`` prints)."""
    root = Path(root) if root is not None else data_root()
    hub = Path(hub) if hub is not None else hub_dir()
    rows = status(root, verify, hub)
    required = [r for r in rows if not r["optional"]]
    return {"root": str(root), "torch_hub": str(hub), "verified": verify, "artifacts": rows,
            "present": sum(r["ok"] for r in rows), "total": len(rows),
            "required_present": sum(r["ok"] for r in required), "required_total": len(required),
            "missing": [r["name"] for r in rows if not r["ok"]],
            "text": format_status(rows, root, hub)}


__all__ = ["ARTIFACTS", "FETCHABLE", "NOT_PUBLISHED", "Artifact", "fetch_artifact", "format_status", "get_artifact",
           "hub_dir", "status", "summary"]
