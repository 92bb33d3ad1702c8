"""Caches under concurrency and corruption: atomic writes, one compute per entry, corrupt entries named, recomputed."""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import re
import threading
import time
import warnings
from pathlib import Path

import pytest
import torch

import nagkit.transfer.lodo as lodo_module
import nagkit.search.anytime as anytime
from nagkit.data.datasets import load_splits
from nagkit.predictors.fit import FitConfig, SurrogateConfig
from nagkit.transfer.lodo import surrogate_key, train_surrogate
from nagkit.predictors.model import EncoderConfig, PredictorConfig
from nagkit.search.anytime import RUN_FIELDS, run_cached, run_one, task_key
from nagkit.storage import CorruptEntryWarning, atomic_torch_save, atomic_write, atomic_write_json, cached
from tests.fixtures import make_aircraft

# Fork: children inherit the parent's imports and monkeypatches (the compute counters below).
FORK = mp.get_context("fork")
TINY = SurrogateConfig(
    n_train=200, predictor=PredictorConfig(encoder=EncoderConfig(hidden=16, layers=2)),
    fit=FitConfig(steps=40, batch_size=32, progress=False),
    noise_fit=FitConfig(steps=40, batch_size=32, progress=False),
)
SOURCES = ("cifar100", "ImageNet16-120")
TASK = {"label": "RS", "spec": {"name": "rs"}, "dataset": "cifar10", "seed": 0, "budget": 12, "val_seed": None}


def leftovers(folder: Path) -> list[str]:
    """Temporary files left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def digest(model: torch.nn.Module) -> str:
    return hashlib.sha1(b"".join(v.numpy().tobytes() for v in model.state_dict().values())).hexdigest()


def count_calls(monkeypatch, module, name: str, counter: Path) -> None:
    """Wrap ``module.name`` to append a line to ``counter`` per call (and take long enough to overlap)."""
    real = getattr(module, name)

    def wrapped(*args, **kwargs):
        with open(counter, "a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)


def calls(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def together(target, args: tuple, n: int) -> list:
    """Run ``target(barrier, queue, *args)`` in ``n`` forked processes released at once; their queued results."""
    barrier, queue = FORK.Barrier(n), FORK.Queue()
    procs = [FORK.Process(target=target, args=(barrier, queue, *args)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert not any(isinstance(r, BaseException) for r in results), results
    return results


def _report(queue, fn, *args) -> None:
    try:
        queue.put(fn(*args))
    except BaseException as err:  # the parent shows it
        queue.put(RuntimeError(repr(err)))


# --- atomic writes ---------------------------------------------------------------------------

def test_atomic_write_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "entry.json"
    atomic_write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1} and leftovers(path.parent) == []

    def fail(f) -> None:
        f.write(b'{"half": ')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, fail)
    assert json.loads(path.read_text()) == {"a": 1}  # the old entry is untouched
    assert leftovers(path.parent) == []
    with pytest.raises(ValueError):  # NaN is not JSON
        atomic_write_json(path, {"a": float("nan")})
    assert json.loads(path.read_text()) == {"a": 1} and leftovers(path.parent) == []


# --- pure storage: one compute per entry ------------------------------------------------------

def _count_and_save(counter: Path, key: int) -> int:
    with open(counter, "a") as f:  # O_APPEND: concurrent lines do not interleave
        f.write(f"{key}\n")
    time.sleep(0.002)
    return key * key


def _storage_worker(barrier, queue, folder: Path, keys: int) -> None:
    barrier.wait()
    load = lambda p: int(p.read_text())  # noqa: E731
    save = lambda v, p: atomic_write(p, lambda f: f.write(str(v).encode()))  # noqa: E731
    _report(queue, lambda: [cached(folder / f"{k}.txt", load, lambda k=k: _count_and_save(folder / "calls", k), save)
                            for k in range(keys)])


def test_cached_computes_each_entry_once_across_processes(tmp_path: Path) -> None:
    keys = 40
    results = together(_storage_worker, (tmp_path, keys), 4)
    assert results == [[k * k for k in range(keys)]] * 4
    assert sorted(int(k) for k in (tmp_path / "calls").read_text().split()) == list(range(keys))
    assert leftovers(tmp_path) == []


def test_cached_computes_once_across_threads(tmp_path: Path) -> None:
    counter, out = tmp_path / "calls", []
    load = lambda p: int(p.read_text())  # noqa: E731
    save = lambda v, p: atomic_write(p, lambda f: f.write(str(v).encode()))  # noqa: E731
    threads = [threading.Thread(target=lambda: out.append(cached(tmp_path / "e.txt", load,
                                                                 lambda: _count_and_save(counter, 7), save)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [49] * 4 and calls(counter) == 1


# --- real cache sites under concurrency --------------------------------------------------------

def _surrogate_worker(barrier, queue, cache_dir: Path) -> None:
    barrier.wait()
    _report(queue, lambda: digest(train_surrogate(SOURCES, True, TINY, 0, cache_dir)))


def test_concurrent_surrogate_training_runs_once(tmp_path: Path, monkeypatch) -> None:
    counter = tmp_path / "fits"
    count_calls(monkeypatch, lodo_module, "fit_predictor", counter)
    cache = tmp_path / "cache"
    digests = together(_surrogate_worker, (cache,), 3)
    assert calls(counter) == 1 and len(set(digests)) == 1
    assert [p.name for p in cache.glob("*.pt")] == [f"{surrogate_key(SOURCES, True, TINY, 0)}.pt"]
    assert leftovers(cache) == []
    assert digest(train_surrogate(SOURCES, True, TINY, 0, cache)) == digests[0] and calls(counter) == 1


def _run_worker(barrier, queue, task: dict) -> None:
    barrier.wait()
    _report(queue, run_cached, task)


def test_concurrent_search_runs_run_once(tmp_path: Path, monkeypatch) -> None:
    counter = tmp_path / "runs"
    count_calls(monkeypatch, anytime, "run_one", counter)
    task = {**TASK, "cache": str(tmp_path / "cache")}
    results = together(_run_worker, (task,), 3)
    assert calls(counter) == 1 and all(r == results[0] for r in results)
    assert set(results[0]) == set(RUN_FIELDS)  # RUN_FIELDS lists exactly what run_one records
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1 and leftovers(tmp_path / "cache") == []


# --- corrupt entries -----------------------------------------------------------------------------

@pytest.mark.parametrize("damage", ["truncate", "foreign"])
def test_corrupt_surrogate_is_named_and_retrained(tmp_path: Path, monkeypatch, damage: str) -> None:
    fresh = digest(train_surrogate(SOURCES, False, TINY, 0, tmp_path))
    path = tmp_path / f"{surrogate_key(SOURCES, False, TINY, 0)}.pt"
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        atomic_torch_save({"encoder.weight": torch.zeros(3)}, path)  # readable, but not this model's weights
    counter = tmp_path / "fits"
    count_calls(monkeypatch, lodo_module, "fit_predictor", counter)
    with pytest.warns(CorruptEntryWarning, match=re.escape(str(path))):
        model = train_surrogate(SOURCES, False, TINY, 0, tmp_path)
    assert calls(counter) == 1 and digest(model) == fresh
    assert digest(train_surrogate(SOURCES, False, TINY, 0, tmp_path)) == fresh and calls(counter) == 1


@pytest.mark.parametrize("damage", ["truncate", "missing field", "not an object"])
def test_corrupt_search_run_is_named_and_rerun(tmp_path: Path, damage: str) -> None:
    fresh = run_one(TASK)
    task = {**TASK, "cache": str(tmp_path)}
    path = tmp_path / f"{task_key(task)}.json"
    text = json.dumps(fresh)
    path.write_text({"truncate": text[: len(text) // 2],
                     "missing field": json.dumps({k: v for k, v in fresh.items() if k != "test_acc"}),
                     "not an object": "[1, 2]"}[damage])
    with pytest.warns(CorruptEntryWarning, match=re.escape(str(path))):
        result = run_cached(task)
    timed = {"wall_seconds"}
    assert {k: v for k, v in result.items() if k not in timed} == {k: v for k, v in fresh.items() if k not in timed}
    assert json.loads(path.read_text()) == result


def test_corrupt_image_cache_is_named_and_rebuilt(tmp_path: Path) -> None:
    make_aircraft(tmp_path)
    fresh = load_splits("aircraft", tmp_path, resolution=32)
    path = tmp_path / "nagkit-cache" / "aircraft_32px.pt"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(CorruptEntryWarning, match=re.escape(str(path))):
        again = load_splits("aircraft", tmp_path, resolution=32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rebuilt cache is valid
        cached_splits = load_splits("aircraft", tmp_path, resolution=32)
    for split in (again, cached_splits):
        assert torch.equal(split.train.images, fresh.train.images) and torch.equal(split.test.labels, fresh.test.labels)
