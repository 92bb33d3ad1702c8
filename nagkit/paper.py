"""Every number the DiffusionNAG paper (An, Lee et al., ICLR 2024, arXiv 2305.16943) reports that nagkit
is judged against, in one place (notebooks and the report read them from here, never retype them).

Accuracies are test accuracy in %; a pair ``(acc, n)`` is (accuracy, architectures trained to reach it),
``n = None`` where the paper prints "> 500" or no count.
"""
from __future__ import annotations

# NB201 benchmark optimum (test accuracy of the best cell; the paper's "global optimum").
NB201_OPTIMUM: dict[str, float] = {"cifar10": 94.37, "cifar100": 73.51, "ImageNet16-120": 47.31}

# Transfer NAS on NB201 (accuracy, trained); Aircraft / Pets as (mean, 95% CI, trained), from scratch.
TRANSFER_NB201: dict[str, dict[str, tuple[float, int | None]]] = {
    "DiffusionNAG": {"cifar10": (94.37, 1), "cifar100": (73.51, 2)},
    "MetaD2A": {"cifar10": (94.37, 100), "cifar100": (73.34, 100)},
    "TNAS": {"cifar10": (94.37, 29), "cifar100": (73.51, 59)},
    "BANANAS": {"cifar10": (94.37, 46), "cifar100": (73.51, 88)},
    "REA": {"cifar10": (93.92, None)},
    "RS": {"cifar10": (93.70, None)},
}
TRANSFER_NB201_SCRATCH: dict[str, tuple[float, float, int]] = {"aircraft": (58.83, 3.75, 3), "pets": (41.80, 3.82, 2)}

# Transfer NAS on MobileNetV3 (CIFAR-10, CIFAR-100, Aircraft, Pets).
TRANSFER_MBV3: dict[str, dict[str, float]] = {
    "DiffusionNAG": {"cifar10": 97.39, "cifar100": 85.74, "aircraft": 81.47, "pets": 94.75},
    "MetaD2A": {"cifar10": 97.28, "cifar100": 85.56, "aircraft": 81.19, "pets": 94.55},
    "TNAS": {"cifar10": 97.22, "cifar100": 85.30, "aircraft": 80.86, "pets": 94.47},
}

# Generated-population quality on NB201: max / mean / min test accuracy of one guided generation run.
POPULATION_NB201: dict[str, tuple[float, float, float]] = {"cifar10": (94.37, 93.13, 86.44),
                                                           "cifar100": (73.51, 70.34, 58.09)}

# Generation quality of 1,000 unguided samples (%).
GENERATION_QUALITY: dict[tuple[str, str], float] = {
    ("nb201", "validity"): 98.97, ("nb201", "uniqueness"): 98.70, ("nb201", "novelty"): 49.20,
    ("mbv3", "validity"): 99.09,
}
# Positional-embedding ablation: validity (%) without the positional embedding, and of GDSS.
VALIDITY_NO_POS: dict[str, float] = {"nb201": 100.0, "mbv3": 42.17}
VALIDITY_GDSS: dict[str, float] = {"nb201": 4.56, "mbv3": 0.00}

# Cost of the generator (V100): score-net training hours, minutes per 256-sample batch.
SCORENET_TRAIN_V100_HOURS: dict[str, float] = {"nb201": 3.43, "mbv3": 21.33}
SAMPLE_BATCH_V100_MINUTES = 2.02

# The headline claim: "up to 35x" fewer architectures trained than the BO baselines (abstract).
SPEEDUP_UP_TO = 35


def trained_counts(dataset: str) -> dict[str, int]:
    """Architectures each transfer/BO method trained to reach its NB201 accuracy on ``dataset``."""
    return {method: row[dataset][1] for method, row in TRANSFER_NB201.items()
            if dataset in row and row[dataset][1] is not None}
