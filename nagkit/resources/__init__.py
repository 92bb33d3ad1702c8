"""Small data files committed with nagkit; provenance in PROVENANCE.md beside this file."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

RESOURCES = Path(__file__).resolve().parent
NB201_TABLE = RESOURCES / "nb201_tss.npz"
METAD2A_RECORDS = RESOURCES / "metad2a_nb201.pt"  # MetaD2A records, converted to a weights_only format


@lru_cache(maxsize=1)
def nb201_table() -> dict[str, np.ndarray]:
    """Arrays ``code`` (base-5 op code per official index), ``test_acc`` (15625 x 3: cifar10,
    cifar100, ImageNet16-120, %) and ``nb201_unique_id`` (NB201's own equivalence classes)."""
    with np.load(NB201_TABLE) as data:
        return {k: data[k] for k in data.files}
