"""The NB201 robustness dataset (Jung, Lukasik & Keuper, "Neural Architecture Design and Robustness: A
Dataset", ICLR 2023) as a NASLib-style table: ``RobustnessData().query(arch, "cifar10", "apgd@1.0")``.

The release (download: http://data.robustness.vision/, linked from the README of
github.com/steffen-jung/robustness-dataset) is a folder, here ``<data root>/robustness``
(:func:`nagkit.paths.data_root`), holding:

* ``meta.json``: ``{"ids": {id: {"nb201-string": str, "isomorph": id}, ...}, "epsilons": {key: [eps, ...]}}``
  where ``id`` is the official NB201 index as a string and ``isomorph`` the id of the evaluated
  architecture the cell is isomorphic to (6,466 of the 15,625 are evaluated);
* ``<dataset>/<key>_<measure>.json`` for ``dataset`` in cifar10 / cifar100 / ImageNet16-120 and
  ``measure`` in accuracy / confidence / cm, each ``{dataset: {key: {measure: {id: value}}}}`` keyed by
  evaluated ids only. Accuracies are fractions: ``clean`` one number per id, an adversarial key
  (``aa_apgd-ce@Linf``, ``aa_square@Linf``, ``fgsm@Linf``, ``pgd@Linf``) one per entry of
  ``meta["epsilons"][key]`` (in 1/255), a corruption key (``glass_blur``, ... 15 of them; not evaluated
  on ImageNet16-120) one per severity 1..5.

Where each detail was verified (repository steffen-jung/robustness-dataset, commit faf7c8c):
``robustness_dataset.py`` (``RobustnessDataset.__init__``: ``meta.json``, ``meta["ids"][i]["nb201-string"]``
and ``["isomorph"]``; ``query``: the path ``<root>/<d>/<k>_<m>.json``, the nesting ``r[d][k][m]``, the key
lists ``KEYS_CLEAN`` / ``KEYS_ADV`` / ``KEYS_CC`` and that ImageNet16-120 has no corruption keys;
``get_uid``: ids are strings, results are keyed by the isomorph id); ``README.md`` and ``dataset.ipynb``
(outputs: clean accuracy of #13433 on cifar10 is the scalar ``0.893``; pgd is a list indexed by
``meta["epsilons"]["pgd@Linf"].index(1.0)``; id 50 is the NB201 string of official index 50; 6,466
non-isomorphic ids). Corruption values as a list of 5 severities and the epsilon grids
(fgsm 0.1, 0.5, 1-8, 255; pgd / apgd / square 0.1, 0.5, 1, 2, 3, 4, 8) come from third-party users of
the files (scripts that loop ``for level, acc in enumerate(cc_accs)`` over 5 levels and list the
columns ``"aa_apgd-ce@Linf, eps=0.1"`` ...), not from the authors; the loader reads the grids from
``meta.json`` and checks every list's length, so a different release fails loudly, not silently.
Archive names (``meta.zip``, ``<dataset>-accuracies.zip``) are the README's; no sizes or checksums
are published.

Metrics (``query``/``table``): ``clean``; ``<attack>@<eps>`` with attack ``apgd`` / ``square`` / ``fgsm`` /
``pgd`` and ``eps`` one of the release's epsilons (``apgd@1``); ``<corruption>@<severity>``
(``glass_blur@5``); a bare attack or corruption name is the mean over its levels (as the dataset
paper's "mean adversarial robust accuracy"). Values are returned in % (x100), like nagkit's NB201 table.
"""
from __future__ import annotations

import json
import math
from functools import cached_property
from pathlib import Path

import numpy as np

from nagkit.paths import data_root
from nagkit.spaces.nb201 import NB201Space, parse, to_string

DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")
ATTACKS: dict[str, str] = {"apgd": "aa_apgd-ce@Linf", "square": "aa_square@Linf", "fgsm": "fgsm@Linf",
                           "pgd": "pgd@Linf"}
CORRUPTIONS: tuple[str, ...] = (
    "brightness", "contrast", "defocus_blur", "elastic_transform", "fog", "frost", "gaussian_noise", "glass_blur",
    "impulse_noise", "jpeg_compression", "motion_blur", "pixelate", "shot_noise", "snow", "zoom_blur")
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
NO_CORRUPTIONS = ("ImageNet16-120",)  # the release evaluates corruptions on CIFAR-10/100 only
FOLDER = "robustness"  # below the data root
MEASURE = "accuracy"
URL = "http://data.robustness.vision/"


def default_root() -> Path:
    """``<data root>/robustness``."""
    return data_root() / FOLDER


def download_hint(root: Path, dataset: str = "cifar10") -> str:
    """What to download from where, and where to unpack it (the missing-data message)."""
    return (f"download meta.zip and {dataset}-accuracies.zip from {URL} (Jung et al., ICLR 2023; "
            f"github.com/steffen-jung/robustness-dataset) and unzip them into {root} so that "
            f"{root / 'meta.json'} and {root / dataset / ('clean_' + MEASURE + '.json')} exist")


def parse_metric(metric: str) -> tuple[str, float | None]:
    """``metric`` -> (release key, level or ``None`` for the mean over levels; ``clean`` has none)."""
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a str, got {type(metric).__name__}")
    name, sep, level = metric.partition("@")
    valid = f"clean, <attack>[@eps] with attack in {list(ATTACKS)}, or <corruption>[@severity] in {list(CORRUPTIONS)}"
    if name == "clean" and not sep:
        return "clean", None
    if name not in ATTACKS and name not in CORRUPTIONS:
        raise ValueError(f"unknown robustness metric {metric!r}; valid: {valid}")
    key = ATTACKS.get(name, name)
    if not sep:
        return key, None
    try:
        value = float(level)
    except ValueError:
        raise ValueError(f"bad level in robustness metric {metric!r}: expected a number after '@'") from None
    if not math.isfinite(value):
        raise ValueError(f"bad level in robustness metric {metric!r}: must be finite")
    if name in CORRUPTIONS and value not in SEVERITIES:
        raise ValueError(f"corruption severity must be one of {list(SEVERITIES)}, got {level!r} in {metric!r}")
    return key, value


class RobustnessData:
    """The release under ``root`` (default :func:`default_root`); files are read on first use, once."""

    datasets = DATASETS

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        self.space = NB201Space()
        self._files: dict[tuple[str, str], dict[str, object]] = {}
        self._tables: dict[tuple[str, str], np.ndarray] = {}

    def _load_json(self, path: Path, dataset: str = "cifar10") -> dict:
        if not path.is_file():
            raise FileNotFoundError(f"robustness dataset file {path} is missing: {download_hint(self.root, dataset)}")
        with open(path) as f:
            return json.load(f)

    @cached_property
    def meta(self) -> dict:
        meta = self._load_json(self.root / "meta.json")
        if not isinstance(meta.get("ids"), dict) or not isinstance(meta.get("epsilons"), dict):
            raise ValueError(f"{self.root / 'meta.json'}: expected 'ids' and 'epsilons' objects")
        return meta

    @cached_property
    def _uid_of_string(self) -> dict[str, str]:
        """Normalised NB201 string -> id of the evaluated architecture it is isomorphic to."""
        return {to_string(parse(m["nb201-string"])): str(m["isomorph"]) for m in self.meta["ids"].values()}

    def check(self, dataset: str, metric: str) -> tuple[str, float | None]:
        if dataset not in DATASETS:
            raise KeyError(f"unknown robustness dataset {dataset!r}; valid: {list(DATASETS)}")
        key, level = parse_metric(metric)
        if key in CORRUPTIONS and dataset in NO_CORRUPTIONS:
            raise ValueError(f"the robustness dataset has no corruption results on {dataset}; use cifar10 or cifar100")
        return key, level

    def levels(self, dataset: str, metric: str) -> tuple[float, ...]:
        """The epsilons (1/255) of an attack as ``meta.json`` lists them, the severities of a corruption."""
        key, _ = self.check(dataset, metric)
        if key == "clean":
            return ()
        if key in CORRUPTIONS:
            return tuple(float(s) for s in SEVERITIES)
        if key not in self.meta["epsilons"]:
            raise ValueError(f"{self.root / 'meta.json'} lists no epsilons for {key!r}")
        return tuple(float(e) for e in self.meta["epsilons"][key])

    def _results(self, dataset: str, key: str) -> dict[str, object]:
        if (dataset, key) not in self._files:
            path = self.root / dataset / f"{key}_{MEASURE}.json"
            raw = self._load_json(path, dataset)
            try:
                self._files[dataset, key] = raw[dataset][key][MEASURE]
            except (KeyError, TypeError):
                nesting = f"{{{dataset!r}: {{{key!r}: {{{MEASURE!r}: {{id: value}}}}}}}}"
                raise ValueError(f"{path}: expected {nesting}") from None
        return self._files[dataset, key]

    def _value(self, results: dict, uid: str, key: str, levels: tuple[float, ...], level: float | None) -> float:
        v = results.get(uid)
        if v is None:
            return math.nan
        if key == "clean":
            return 100.0 * float(v)
        if len(v) != len(levels):
            raise ValueError(f"{key} of id {uid} has {len(v)} values, expected one per level {list(levels)}")
        if level is None:
            return 100.0 * float(np.mean(v))
        return 100.0 * float(v[levels.index(level)])

    def query(self, arch: str, dataset: str, metric: str) -> float:
        """``metric`` of the NB201 cell ``arch`` on ``dataset`` in % (NaN if the release lacks it)."""
        key, level = self.check(dataset, metric)
        levels = self._checked_levels(dataset, metric, level)
        ops = parse(arch)
        uid = self._uid_of_string.get(to_string(ops))
        if uid is None:
            raise KeyError(f"{arch!r} is not in {self.root / 'meta.json'}")
        return self._value(self._results(dataset, key), uid, key, levels, level)

    def _checked_levels(self, dataset: str, metric: str, level: float | None) -> tuple[float, ...]:
        levels = self.levels(dataset, metric)
        if level is not None and level not in levels:
            raise ValueError(f"{metric!r}: level {level:g} is not in the release's {list(levels)}")
        return levels

    def table(self, dataset: str, metric: str) -> np.ndarray:
        """``metric`` for all 15,625 cells in official NB201 index order (``space.enumerate()``), in %
        (read-only; built once per instance)."""
        key, level = self.check(dataset, metric)
        if (dataset, metric) not in self._tables:
            levels = self._checked_levels(dataset, metric, level)
            results = self._results(dataset, key)
            uids = self._uid_of_string
            table = np.array([self._value(results, uids[a], key, levels, level) if a in uids else math.nan
                              for a in self.space.enumerate()])
            table.setflags(write=False)
            self._tables[dataset, metric] = table
        return self._tables[dataset, metric]

    def values(self, archs: list[str], dataset: str, metric: str) -> np.ndarray:
        """``metric`` of each of ``archs`` (in %)."""
        return np.array([self.query(a, dataset, metric) for a in archs], dtype=float)
