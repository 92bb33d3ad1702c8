"""MetaD2A's MobileNetV3 (OFA) meta-training records, converted for the MBV3 meta-predictor.

The authors' predictor database (``predictor/processed/database_219152_14.0K_{train,val}.pt`` of the
MetaD2A / DiffusionNAG MobileNetV3 data) holds, per record, an OFA subnet setting (``net``: ``ks`` and
``e`` per slot of 20, ``d`` per stage of 5), its top-1 accuracy (%) on an ImageNet task with the OFA
supernet's weights, the task's ImageNet class ids (0-based, as many as the task has) and its FLOPs.
:func:`convert_ofa_records` validates both splits and writes one ``weights_only`` file in nagkit's
MetaD2A records format (``space = "mbv3"``, class ids made 1-based, 0 pads narrower tasks; the
validation split first), which :func:`nagkit.predictors.metad2a.cached_meta_predictor` meta-trains on
with ``space="mbv3"`` and the same ImageNet-32 class features as on NB201.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from nagkit.data.artifacts import SAFE_OFA_RECORDS
from nagkit.predictors.metad2a import RECORDS_FORMAT, load_untrusted
from nagkit.spaces import mbv3
from nagkit.storage import atomic_torch_save

OFA_RECORDS = "database_219152_14.0K"  # + _train.pt / _val.pt
KEYS = ("net", "acc", "class", "flops")


def net_to_arch(net: dict) -> str:
    """An OFA subnet setting ``{"ks": [20], "e": [20], "d": [5]}`` -> MBV3 string (slots past a
    stage's depth are ignored, as OFA does); ``ValueError`` on anything else."""
    try:
        ks, es, ds = list(net["ks"]), list(net["e"]), list(net["d"])
    except (KeyError, TypeError) as err:
        raise ValueError(f"not an OFA subnet setting (needs ks, e, d): {net!r}") from err
    n = mbv3.N_STAGES * mbv3.MAX_DEPTH
    if len(ks) != n or len(es) != n or len(ds) != mbv3.N_STAGES:
        raise ValueError(f"OFA setting needs {n} ks, {n} e and {mbv3.N_STAGES} d values, got "
                         f"{len(ks)}, {len(es)}, {len(ds)}")
    stages = [[f"k{int(ks[s * mbv3.MAX_DEPTH + l])}e{int(es[s * mbv3.MAX_DEPTH + l])}" for l in range(int(d))]
              for s, d in enumerate(ds)]
    arch = mbv3.to_string(stages)
    mbv3.parse(arch)  # ValueError naming a bad kernel, expand ratio or depth
    return arch


def _records(path: Path) -> dict:
    raw = load_untrusted(path)
    missing = [k for k in KEYS if k not in raw] if isinstance(raw, dict) else list(KEYS)
    if missing:
        raise ValueError(f"{path}: not an OFA predictor database (missing {missing})")
    if len({len(raw[k]) for k in KEYS}) != 1:
        raise ValueError(f"{path}: lists differ in length: { {k: len(raw[k]) for k in KEYS} }")
    archs, classes = [], []
    for i, (net, acc, cls) in enumerate(zip(raw["net"], raw["acc"], raw["class"])):
        try:
            archs.append(net_to_arch(net))
        except ValueError as err:
            raise ValueError(f"{path}: record {i}: {err}") from None
        if not (math.isfinite(float(acc)) and 0.0 <= float(acc) <= 100.0):
            raise ValueError(f"{path}: record {i}: accuracy {acc!r} is not a percentage")
        ids = torch.as_tensor(cls, dtype=torch.long).flatten()
        if len(ids) == 0 or ids.min() < 0:
            raise ValueError(f"{path}: record {i}: class ids must be a non-empty list of 0-based ids")
        classes.append(ids + 1)
    return {"arch": archs, "acc": [float(a) for a in raw["acc"]], "flops": [float(f) for f in raw["flops"]],
            "classes": classes}


def convert_ofa_records(src_dir: Path | str, out_dir: Path | str, trust_pickles: bool = False) -> Path:
    """Validate ``<src_dir>/database_219152_14.0K_{train,val}.pt`` (torch pickles: refused without
    ``trust_pickles=True``; read through the restricted unpickler) and write ``<out_dir>/metad2a_mbv3.pt``."""
    src = Path(src_dir)
    if not trust_pickles:
        raise ValueError(f"{src} holds torch pickles of the authors' MobileNetV3 data; unpickling untrusted files "
                         "can run code (nagkit restricts what they may load). Pass trust_pickles=True for files "
                         "from the authors' release.")
    paths = {m: src / f"{OFA_RECORDS}_{m}.pt" for m in ("val", "train")}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise FileNotFoundError(f"missing MetaD2A MobileNetV3 predictor database files: {missing} (from the "
                                "MetaD2A / DiffusionNAG MobileNetV3 data release; see `nagkit data status`)")
    val, train = (_records(p) for p in paths.values())
    classes = val["classes"] + train["classes"]
    width = max(len(c) for c in classes)
    task_classes = torch.zeros(len(classes), width, dtype=torch.long)
    for i, c in enumerate(classes):
        task_classes[i, : len(c)] = c
    n = len(classes)
    records = {
        "format": RECORDS_FORMAT, "space": "mbv3",
        "source": f"{OFA_RECORDS}_val.pt (first {len(val['arch'])} records: validation) and _train.pt of the "
                  "MetaD2A MobileNetV3 predictor database",
        "arch": val["arch"] + train["arch"],
        "task": torch.arange(n),  # one task per record
        "acc": torch.tensor(val["acc"] + train["acc"], dtype=torch.float64),
        "flops": torch.tensor(val["flops"] + train["flops"], dtype=torch.float64),
        "params": torch.full((n,), math.nan, dtype=torch.float64),
        "latency": torch.full((n,), math.nan, dtype=torch.float64),
        "task_classes": task_classes,
        "idx": torch.arange(n),
        "ridx": torch.zeros(0, dtype=torch.long),
    }
    out = Path(out_dir) / SAFE_OFA_RECORDS
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_torch_save(records, out)
