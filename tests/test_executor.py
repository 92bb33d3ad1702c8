"""Executors: serial, local process pool and Ray give the same ordered results; errors, progress, devices."""
import importlib.util
import os
import subprocess
import sys
import time

import pytest
import torch

from nagkit.executor import LocalExecutor, RayExecutor, SerialExecutor, TaskError, get_executor, worker_pins

GRID = {"RS": {"name": "rs"}, "REA": {"name": "rea"}}


def square(x: int) -> int:
    return x * x


def cuda_visible(_: int) -> str | None:
    return os.environ.get("CUDA_VISIBLE_DEVICES")


def fail_on_seed_3(item: dict) -> int:
    if item["seed"] == 3:
        raise ValueError(f"bad seed {item['seed']}")
    return item["seed"]


def nap(x: int) -> int:
    time.sleep(0.5)
    return x


def grid(executor) -> list[dict]:
    """A tiny real workload: RS and REA, 2 seeds, budget 10 (table lookups); wall times dropped."""
    from nagkit.search.anytime import run_grid

    runs = run_grid(GRID, ["cifar10"], [0, 1], 10, executor)
    return [{k: v for k, v in r.items() if k != "wall_seconds"} for r in runs]


@pytest.fixture(scope="module")
def serial_grid() -> list[dict]:
    return grid(SerialExecutor(progress=False))


@pytest.fixture(scope="module")
def ray_executor():
    """A local Ray instance on 2 CPUs, bound to loopback, shut down after the module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("RAY_ADDRESS", raising=False)
        mp.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read when ray is imported: node address 127.0.0.1
        ray = pytest.importorskip("ray")
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Ray workers cannot import this file
        executor = RayExecutor(num_cpus=2, progress=False)
        executor.connect()
        assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")
        yield executor
        ray.shutdown()


def test_executors_agree_and_keep_order():
    items = list(range(7))
    assert SerialExecutor(progress=False).map(square, items) == [x * x for x in items]
    assert LocalExecutor(2, progress=False).map(square, items) == [x * x for x in items]


def test_unknown_executor():
    with pytest.raises(KeyError, match="valid"):
        get_executor("dask")


def test_importing_the_module_leaves_ray_out():
    code = "import sys, nagkit.executor; assert 'ray' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_ray_missing_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RuntimeError, match=r"pip install -e \.\[ray\]"):
        get_executor("ray")


def test_ray_address_defaults_to_the_environment(ray_executor, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    assert RayExecutor().address == "auto"
    monkeypatch.delenv("RAY_ADDRESS")
    assert RayExecutor().address is None and RayExecutor("ray://head:10001").address == "ray://head:10001"


def test_worker_pins_round_robin():
    assert worker_pins(["cuda:0", "cuda:1"], 5) == ["0", "1", "0", "1", "0"]
    assert worker_pins(["cuda", "cpu"], 3) == ["0", "", "0"]
    # indices count among the GPUs this process already sees
    assert worker_pins(["cuda:0", "cuda:1"], 2, inherited="4,6") == ["4", "6"]
    with pytest.raises(ValueError, match="not among"):
        worker_pins(["cuda:2"], 1, inherited="4,6")
    with pytest.raises(ValueError, match="unknown device"):
        worker_pins(["gpu0"], 1)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only case")
def test_auto_devices_on_a_cpu_machine():
    executor = LocalExecutor(progress=False, devices="auto")
    assert executor.devices is None and executor.pins is None


def test_gpu_tasks_option_maps_to_each_backend(monkeypatch):
    import nagkit.executor as ex

    monkeypatch.setattr(ex, "visible_gpus", lambda: ["cuda:0", "cuda:1"])
    local = get_executor("local", progress=False, gpu_tasks=True)
    assert local.devices == ["cuda:0", "cuda:1"] and local.workers == 2
    assert get_executor("local", progress=False).devices is None
    if importlib.util.find_spec("ray") is not None:
        assert get_executor("ray", workers=2, gpu_tasks=True).num_gpus_per_task == 1
        assert get_executor("ray", workers=2).num_gpus_per_task == 0
    assert isinstance(get_executor("serial", gpu_tasks=True), ex.SerialExecutor)


def test_local_workers_pin_their_device(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    executor = LocalExecutor(progress=False, devices=["cuda:3"])
    assert executor.workers == 1
    assert executor.map(cuda_visible, [0, 1]) == ["3", "3"]
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_ray_agrees_with_serial_and_keeps_order(ray_executor):
    items = list(range(9))
    assert ray_executor.map(square, items) == [x * x for x in items]
    assert ray_executor.map(square, []) == []


def test_search_grid_local_matches_serial(serial_grid):
    assert [r["label"] for r in serial_grid] == ["RS", "RS", "REA", "REA"]
    assert grid(LocalExecutor(2, progress=False)) == serial_grid


def test_search_grid_ray_matches_serial(serial_grid, ray_executor):
    assert grid(ray_executor) == serial_grid


def test_ray_failure_names_the_item(ray_executor):
    items = [{"label": "RS", "seed": s} for s in range(5)]
    with pytest.raises(TaskError, match=r"^search runs: task 3 \(label='RS', seed=3\) failed: "
                                        r"ValueError: bad seed 3$") as info:
        ray_executor.map(fail_on_seed_3, items, desc="search runs")
    assert type(info.value.cause) is ValueError and info.value.index == 3


def test_ray_interrupt_cancels_outstanding_tasks(ray_executor, monkeypatch):
    import ray

    cancelled = []

    def interrupted_wait(*args, **kwargs):
        raise KeyboardInterrupt

    def cancel(ref, **kwargs):
        cancelled.append(ref)
        real_cancel(ref, **kwargs)

    real_cancel = ray.cancel
    monkeypatch.setattr(ray, "wait", interrupted_wait)
    monkeypatch.setattr(ray, "cancel", cancel)
    with pytest.raises(KeyboardInterrupt):
        ray_executor.map(nap, list(range(4)))
    assert len(cancelled) == 4


@pytest.mark.parametrize("kind", ["serial", "local", "ray"])
def test_progress_bar_respects_tqdm_disable(kind, request, capsys, monkeypatch):
    if kind == "ray":
        request.getfixturevalue("ray_executor")
    executor = RayExecutor(progress=True) if kind == "ray" else get_executor(kind, workers=2)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    executor.map(square, [1, 2, 3], desc="squares")
    assert "squares" in capsys.readouterr().err
    monkeypatch.setenv("TQDM_DISABLE", "1")
    executor.map(square, [1, 2, 3], desc="squares")
    assert "squares" not in capsys.readouterr().err


def _bar_class(_: int) -> str:
    from nagkit.progress import progress_bar

    bar = progress_bar(range(1), disable=True)
    getattr(bar, "close", lambda: None)()
    return type(bar).__module__


def test_worker_processes_get_text_bars_the_main_process_tqdm_auto(monkeypatch) -> None:
    """Widget bars cannot be sent from forked workers of a notebook kernel: workers use tqdm.std."""
    import multiprocessing

    from tqdm import auto

    from nagkit.progress import TEXT_BARS

    monkeypatch.delenv(TEXT_BARS, raising=False)  # conftest.py sets it for nbval's kernels

    assert _bar_class(0) == auto.tqdm.__module__
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map(_bar_class, [0]) == ["tqdm.std"]


def test_batch_runs_get_text_bars(monkeypatch) -> None:
    """``python -m nagkit.notebooks --profile paper`` sets $NAGKIT_TEXT_PROGRESS: bars papermill's log can show."""
    from nagkit.progress import TEXT_BARS

    monkeypatch.delenv(TEXT_BARS, raising=False)
    monkeypatch.setattr("tqdm.auto.tqdm", type("Widget", (), {"__init__": lambda self, *a, **k: None}))
    assert _bar_class(0) == __name__  # the stand-in "widget" class, defined in this module
    monkeypatch.setenv(TEXT_BARS, "1")
    assert _bar_class(0) == "tqdm.std"
