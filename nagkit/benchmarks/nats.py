"""NB201 tables read from the official NATS-Bench topology (``tss``) files, for users who have them.

Download ``NATS-tss-v1_0-3ffb9-simple.tar`` from the NATS-Bench release
(https://github.com/D-X-Y/NATS-Bench), extract it, and pass the folder
``NATS-tss-v1_0-3ffb9-simple/`` (``meta.pickle.pbz2`` + one ``{index}.pickle.pbz2`` per cell), or pass
the single ``*.pickle.pbz2`` file of the whole benchmark. The files are pickles: load only ones you trust.

Values follow the 200-epoch schedule (``hp='200'``): test accuracy is the benchmark's mean over seeds;
validation accuracy, training time (``train-all-time``), latency and parameter count are per seed
(777, 888, 999). As NB201 intends, CIFAR-10 validation and its cost come from the ``cifar10-valid``
runs (trained on the train split), test accuracy from ``cifar10`` (trained on train + valid).
"""
from __future__ import annotations

from pathlib import Path

import nats_bench
import numpy as np

from nagkit.benchmarks.nb201 import DATASETS, SEEDS, NB201Benchmark, NB201Tables
from nagkit.spaces.nb201 import NB201Space

HP = "200"
SIMPLE_NAME = "NATS-tss-v1_0-3ffb9-simple"
PER_SEED: tuple[str, ...] = ("val_acc", "train_time", "latency", "params")
SEARCH_SPLIT = {"cifar10": "cifar10-valid", "cifar100": "cifar100", "ImageNet16-120": "ImageNet16-120"}
_EXT = nats_bench.api_utils.PICKLE_EXT


def _open(path: Path):  # noqa: ANN202 - a nats_bench NATStopology
    if not path.exists():
        raise FileNotFoundError(
            f"no NATS-Bench file at {path}: download {SIMPLE_NAME}.tar from the NATS-Bench release "
            f"(https://github.com/D-X-Y/NATS-Bench), extract it (e.g. to ~/.torch/{SIMPLE_NAME}) and pass "
            f"that folder, or pass the benchmark's single .{_EXT} file"
        )
    if path.is_dir() and not (path / f"meta.{_EXT}").is_file():
        raise FileNotFoundError(f"{path} has no meta.{_EXT}: pass the extracted {SIMPLE_NAME} folder")
    return nats_bench.create(str(path), "tss", fast_mode=path.is_dir(), verbose=False)


def check_order(meta_archs: list[str], official: list[str]) -> None:
    """``ValueError`` unless the file's architecture strings follow the ``official`` index order."""
    if len(meta_archs) > len(official):
        raise ValueError(f"the file lists {len(meta_archs)} architectures; NB201 has {len(official)}")
    for i, (got, want) in enumerate(zip(meta_archs, official)):
        if got != want:
            raise ValueError(
                f"index order differs from NB201Space().enumerate() at index {i}: the file has {got!r}, "
                f"nagkit expects {want!r}; is this the NATS-Bench topology (tss) benchmark?"
            )


def _load_cell(api, root: Path, i: int):  # noqa: ANN001, ANN202 - nats_bench objects
    """The 200-epoch ``ArchResults`` of cell ``i``, with a clear error when the file lacks it."""
    if api.fast_mode:
        names = (f"{i:06d}.{_EXT}", f"{i}.{_EXT}")
        if not any((root / n).is_file() for n in names):
            raise FileNotFoundError(f"{root} has no {names[1]}; pass n_archs <= {i} to read the cells before it")
        api.reload(str(root), i)
    elif i not in api.arch2infos_dict:
        raise ValueError(f"{root} has no results for cell {i}; pass n_archs <= {i} to read the cells before it")
    if HP not in api.arch2infos_dict[i]:
        raise ValueError(f"cell {i} in {root} has no hp={HP!r} results, only {list(api.arch2infos_dict[i])}")
    return api.arch2infos_dict[i][HP]


def _read_cell(api, results, i: int, values: dict[str, dict[str, np.ndarray]]) -> None:  # noqa: ANN001
    """Fill row ``i`` of every table from the 200-epoch ``results`` of cell ``i``.

    ``results`` is the object the API reads from; ``api.get_cost_info`` is its ``get_compute_costs``
    behind a deep copy per call, which would dominate the load time.
    """
    for dataset in DATASETS:
        row, split = values[dataset], SEARCH_SPLIT[dataset]
        row["test_acc"][i] = api.get_more_info(i, dataset, hp=HP, is_random=False)["test-accuracy"]
        params = results.get_compute_costs(split)["params"]
        for seed in results.get_dataset_seeds(split):
            if seed not in SEEDS:
                continue
            s = SEEDS.index(seed)
            info = api.get_more_info(i, split, hp=HP, is_random=seed)
            latency = results.query(split, seed).get_latency()  # -1 when not measured
            row["val_acc"][i, s] = info["valid-accuracy"]
            row["train_time"][i, s] = np.nan if info["train-all-time"] is None else info["train-all-time"]
            row["latency"][i, s] = latency if latency > 0 else np.nan
            row["params"][i, s] = params


def load_nats_tables(path: str | Path, n_archs: int | None = None) -> NB201Tables:
    """Tables of the first ``n_archs`` cells (default: all the file lists), NaN-padded to 15,625 rows."""
    root = Path(path).expanduser()
    api = _open(root)
    official = NB201Space().enumerate()
    check_order(api.meta_archs, official)
    n = len(api.meta_archs) if n_archs is None else n_archs
    if not 0 <= n <= len(api.meta_archs):
        raise ValueError(f"n_archs must be in [0, {len(api.meta_archs)}] for {root}, got {n_archs}")
    total = len(official)
    values = {
        d: {"test_acc": np.full(total, np.nan), **{m: np.full((total, len(SEEDS)), np.nan) for m in PER_SEED}}
        for d in DATASETS
    }
    for i in range(n):
        _read_cell(api, _load_cell(api, root, i), i, values)
        # The API keeps every cell it has read (several MB each); drop it once its rows are filled.
        api.arch2infos_dict.pop(i, None)
        api.evaluated_indexes.discard(i)
    return NB201Tables(values, source=f"NATS-Bench tss hp={HP} at {root} ({n} of {total} cells)")


def nats_benchmark(path: str | Path, n_archs: int | None = None) -> NB201Benchmark:
    """An :class:`NB201Benchmark` over the official NATS-Bench files (see :func:`load_nats_tables`)."""
    return NB201Benchmark(load_nats_tables(path, n_archs))
