"""Build nagkit/resources/nb201_tss.npz from the NATS-Bench CSV (see resources/PROVENANCE.md).

Usage: python scripts/build_nb201_table.py ../shared/data/nb201/nats_tss_test_acc_200ep.csv
"""
from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

import numpy as np

from nagkit.spaces.nb201 import code_of, parse

COLUMNS = ("CIFAR10TestAccuracy200Epochs", "CIFAR100TestAccuracy200Epochs", "ImageNetTestAccuracy200Epochs")


def main(csv_path: str) -> None:
    rows = list(csv.DictReader(open(csv_path, newline="")))
    codes = np.array([code_of(parse(r["ArchitectureString"])) for r in rows], dtype=np.int16)
    acc = np.array([[float(r[c]) for c in COLUMNS] for r in rows], dtype=np.float64)
    classes: dict[str, int] = {}
    unique_id = np.array([classes.setdefault(r["UniqueString"], len(classes)) for r in rows], dtype=np.int16)
    assert len(rows) == 15625 and len(set(codes.tolist())) == 15625
    out = Path(__file__).resolve().parents[1] / "nagkit" / "resources" / "nb201_tss.npz"
    np.savez_compressed(out, code=codes, test_acc=acc, nb201_unique_id=unique_id)
    sha = hashlib.sha256(open(csv_path, "rb").read()).hexdigest()
    print(f"wrote {out} from {csv_path} (sha256 {sha}); {len(classes)} NB201 unique strings")


if __name__ == "__main__":
    main(sys.argv[1])
