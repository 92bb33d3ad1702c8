"""Bad input: no lost work, no silently wrong results, no tracebacks (issue 11).

The flags come from ``build_parser()`` introspection, so a new numeric or path flag is covered as
soon as it is added (and fails ``test_every_flag_is_covered`` until it has a range below). Bad
values must fail at parse time: exit 2, one stderr line naming the flag, the handler never called.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import nagkit.cli.diffusion as cli_diffusion
import nagkit.diffusion.train as dtrain
from nagkit.cli import build_parser, common, main
from nagkit.diffusion.checkpoint import load_checkpoint, packaged_checkpoint
from nagkit.diffusion.sample import SamplerConfig, sample_features
from nagkit.diffusion.scorenet import ScoreNetConfig
from nagkit.guidance import Objective, Schedule
from nagkit.progress import enabled
from nagkit.cli.transfer import parse_guide
from nagkit.transfer.protocol import TransferConfig
from nagkit.spaces import get_space
from nagkit.device import resolve_device
from nagkit.profiles import PROFILES
from nagkit.training.trainer import PROFILE_CONFIGS, ImageTrainConfig, TrainJob
from tests.fixtures import make_fashion_mnist

NB, MB = get_space("nb201"), get_space("mbv3")
ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
SEED = (0, 2**63 - 1)
# Minimal valid argv of every subcommand; "{out}" is replaced by a fresh file path.
BASE = {
    "info": [], "space": ["nb201"], "query": ["nb201", ARCH, "--dataset", "cifar10"], "report": [],
    "train-scorenet": ["--space", "nb201", "--out", "{out}"], "generate": ["--space", "nb201", "--out", "{out}"],
    "search": ["--method", "rs"], "fetch": ["cifar10"], "train": [ARCH], "transfer": ["--dataset", "cifar10"],
    "data": ["status"], "robustness": [], "mbv3-transfer": ["--dataset", "cifar10"], "bo-mbv3": [], "gdss": ["--space", "nb201"],
}
# Allowed [lo, hi] of every numeric flag.
RANGES = {
    ("train-scorenet", "--seed"): SEED,
    ("generate", "--n"): (1, 1_000_000), ("generate", "--seed"): SEED, ("generate", "--steps"): (1, 100_000),
    ("generate", "--guidance-scale"): (0.0, 1e6),
    ("search", "--budget"): (1, 1_000_000), ("search", "--seed"): SEED,
    ("train", "--epochs"): (1, 10_000), ("train", "--seed"): SEED, ("train", "--C"): (1, 1024),
    ("train", "--N"): (1, 64), ("train", "--batch-size"): (1, 65_536), ("train", "--resolution"): (8, 1024),
    ("train", "--n-train"): (1, 10**9), ("train", "--n-eval"): (1, 10**9),
    ("transfer", "--seed"): SEED, ("transfer", "--guidance-scale"): (0.0, 1e6), ("transfer", "--n-unique"): (1, 1_000_000),
    ("fetch", "--timeout"): (0.01, 86_400.0),
    ("robustness", "--seed"): SEED, ("robustness", "--guidance-scale"): (0.0, 1e6),
    ("gdss", "--seed"): SEED, ("gdss", "--samples"): (1, 1_000_000),
    ("bo-mbv3", "--seed"): SEED, ("bo-mbv3", "--budget"): (1, 1_000_000),
    ("mbv3-transfer", "--seed"): SEED, ("mbv3-transfer", "--top-k"): (1, 1_000_000),
}
CHOICES = {("query", "--seed"): (777, 888, 999), ("search", "--val-seed"): (777, 888)}
PATHS = {
    ("train-scorenet", "--out"): common.output_file, ("generate", "--out"): common.output_file,
    ("generate", "--checkpoint"): common.input_file, ("report", "--results"): common.input_dir,
    ("train", "--root"): common.data_root, ("train", "--checkpoint-dir"): common.output_dir,
    ("train", "--ofa-weights"): common.input_file, ("fetch", "--root"): common.data_root,
    ("robustness", "--root"): common.data_root, ("transfer", "--checkpoint"): common.input_file,
    ("mbv3-transfer", "--checkpoint"): common.input_file, ("bo-mbv3", "--weights"): common.input_file,
}
DEVICES = {("train", "--device"), ("train-scorenet", "--device"), ("generate", "--device"), ("transfer", "--device"),
           ("robustness", "--device"), ("gdss", "--device"), ("mbv3-transfer", "--device")}
PATHLIKE = re.compile(r"(^|_)(out|root|dir|checkpoint|weights|results|path|file)($|_)")


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def flags() -> dict[tuple[str, str], argparse.Action]:
    return {(name, a.option_strings[-1]): a for name, p in subparsers().items() for a in p._actions if a.option_strings}


def numeric(a: argparse.Action) -> bool:
    return hasattr(a.type, "bounds") or a.type in (int, float)


FLAGS = flags()


def argv_for(cmd: str, tmp: Path, *extra: str) -> list[str]:
    return [cmd, *(str(tmp / "out.txt") if v == "{out}" else v for v in BASE[cmd]), *extra]


@pytest.fixture
def no_work(monkeypatch):
    """Every subcommand handler fails the test if it is reached."""
    for p in subparsers().values():
        func = p.get_default("func")
        monkeypatch.setattr(sys.modules[func.__module__], func.__name__,
                            lambda args, _n=func.__name__: pytest.fail(f"{_n} ran: work started"))


@pytest.fixture
def recorder(monkeypatch):
    """Every handler records its parsed args instead of working."""
    seen: list[argparse.Namespace] = []
    for p in subparsers().values():
        func = p.get_default("func")
        monkeypatch.setattr(sys.modules[func.__module__], func.__name__, lambda args: seen.append(args) or {})
    return seen


def one_line_error(capsys, *needles: str) -> str:
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.count("\n") == 1 and "error" in out.err and "Traceback" not in out.err, out.err
    for n in needles:
        assert n in out.err, (n, out.err)
    return out.err


def allowed_text(lo, hi) -> str:
    return f"[{lo:g}, {hi:g}]" if isinstance(lo, float) else f"[{lo}, {hi}]"


# ---------------------------------------------------------------------------------------------- coverage


def test_every_flag_is_covered():
    """Each subcommand has a base argv; each numeric / path-like flag has a checked type and a table entry."""
    assert set(subparsers()) == set(BASE)
    found_numeric = {k for k, a in FLAGS.items() if numeric(a)}
    assert found_numeric == set(RANGES) | set(CHOICES)
    for key in RANGES:
        assert FLAGS[key].type.bounds == RANGES[key], key
    for key, choices in CHOICES.items():
        assert tuple(FLAGS[key].choices) == choices, key
    pathlike = {k for k, a in FLAGS.items() if PATHLIKE.search(a.dest) and a.nargs != 0}
    assert pathlike == set(PATHS)
    for key, kind in PATHS.items():
        assert FLAGS[key].type is kind, key
    assert {k for k, a in FLAGS.items() if a.type is common.device} == DEVICES
    assert all(a.type not in (int, float) or a.choices for a in FLAGS.values())


# ------------------------------------------------------------------------------------- numeric flags


def bad_values(lo, hi) -> list[str]:
    values = [str(lo - 1), "-5", "nan", "NaN", "inf", "-inf", "1e400", "abc", "", " ", "0x10", "1,5"]
    if lo > 0:
        values.append("0")
    values += [str(hi + 1), str(hi * 10**6)]
    if isinstance(lo, int):
        values += ["1.5", "1e3", str(2**64), "9" * 5000, str(-2**63)]
    else:
        values += ["-0.5", "-1e-9", "1e308"]
    return list(dict.fromkeys(values))


NUMERIC_CASES = [(cmd, flag, v) for (cmd, flag), (lo, hi) in RANGES.items() for v in bad_values(lo, hi)]
NUMERIC_CASES += [(cmd, flag, v) for (cmd, flag), choices in CHOICES.items()
                  for v in ["5", "0", "-1", "1000", "nan", "abc", "", str(2**64)] + ([] if 999 in choices else ["999"])]


@pytest.mark.parametrize("cmd,flag,value", NUMERIC_CASES)
def test_bad_number_fails_before_work(cmd, flag, value, tmp_path, capsys, no_work):
    assert main(argv_for(cmd, tmp_path, flag, value)) == 2
    err = one_line_error(capsys, flag)
    if (cmd, flag) in RANGES and "must be" in err:
        assert allowed_text(*RANGES[(cmd, flag)]) in err


def good_values(lo, hi) -> list:
    if isinstance(lo, float):
        return [lo, 0.5, 3.0, hi]
    return [lo, lo + 1, (lo + hi) // 2, hi]


@pytest.mark.parametrize("cmd,flag,value", [(c, f, v) for (c, f), r in RANGES.items() for v in good_values(*r)])
def test_numbers_in_range_are_accepted(cmd, flag, value, tmp_path, recorder):
    assert main(argv_for(cmd, tmp_path, flag, str(value))) == 0
    assert getattr(recorder[0], FLAGS[(cmd, flag)].dest) == value


# ---------------------------------------------------------------------------------------- path flags


@pytest.fixture
def unwritable(tmp_path) -> Path:
    """A directory this process cannot write to (root ignores permission bits: a read-only mount then)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    if os.access(folder, os.W_OK):
        folder = Path("/proc/sys")
        if not folder.is_dir() or os.access(folder, os.W_OK):
            pytest.skip("no unwritable directory available")
    yield folder
    (tmp_path / "ro").chmod(0o700)


BAD_PATHS = {
    common.output_file: ("dir", "parent_is_file", "unwritable_parent", "empty"),
    common.output_dir: ("file", "parent_is_file", "unwritable_parent", "unwritable"),
    common.input_file: ("dir", "empty"),
    common.input_dir: ("missing", "file"),
    common.data_root: ("file",),
}


def bad_path(kind: str, tmp_path: Path, request) -> str:
    (tmp_path / "file").write_text("x")
    if kind.startswith("unwritable"):
        folder = request.getfixturevalue("unwritable")
        return str(folder / "sub" if kind == "unwritable_parent" else folder)
    return {"dir": str(tmp_path), "file": str(tmp_path / "file"), "parent_is_file": str(tmp_path / "file" / "x"),
            "empty": "", "missing": str(tmp_path / "missing")}[kind]


@pytest.mark.parametrize("cmd,flag,kind", [(c, f, k) for (c, f), t in PATHS.items() for k in BAD_PATHS[t]])
def test_bad_path_fails_before_work(cmd, flag, kind, tmp_path, capsys, no_work, request):
    assert main(argv_for(cmd, tmp_path, flag, bad_path(kind, tmp_path, request))) == 2
    err = one_line_error(capsys, flag)
    if kind == "dir":
        assert "is a directory" in err and "does not exist" not in err


@pytest.mark.parametrize("value", ["cuda:99", "bogus", "", "cpu:x", "cuda:-1"]
                         + ([] if torch.cuda.is_available() else ["cuda"]))
def test_bad_device_fails_before_work(value, tmp_path, capsys, no_work):
    assert main(argv_for("train", tmp_path, "--device", value)) == 2
    err = one_line_error(capsys, "--device")
    if value == "cuda":
        assert "CUDA requested but not available" in err


# ------------------------------------------------------------------------------- no lost work


TINY_NET = ScoreNetConfig(layers=1, width=16, heads=2, ffn=32)
TINY = dtrain.TrainConfig(steps=1000, batch_size=16, lr=1e-3, warmup=4, ema=0.9, checkpoint_every=500)


def tiny_profile(monkeypatch, steps: int) -> None:
    monkeypatch.setattr(cli_diffusion, "profile",
                        lambda space, name, pos_emb=True, seed=0: (TINY_NET, replace(TINY, steps=steps, seed=seed)))


def test_train_scorenet_refuses_to_overwrite(tmp_path, capsys, monkeypatch):
    out = tmp_path / "ckpt.pt"
    out.write_bytes(b"a 300-step run")
    monkeypatch.setattr(cli_diffusion, "train", lambda *a, **k: pytest.fail("training started"))
    argv = ["train-scorenet", "--space", "nb201", "--out", str(out)]
    assert main(argv) == 2
    one_line_error(capsys, "--out", "exists", "--resume", "--force")
    assert main(argv + ["--resume", "--force"]) == 2
    one_line_error(capsys, "--resume", "--force")
    assert out.read_bytes() == b"a 300-step run"
    monkeypatch.undo()
    tiny_profile(monkeypatch, 3)
    assert main(argv + ["--force", "--json"]) == 0
    assert load_checkpoint(out, NB)["step"] == 3


def test_generate_refuses_to_overwrite_then_force_replaces_atomically(tmp_path, capsys, monkeypatch):
    out = tmp_path / "archs.txt"
    out.write_text("precious\n")
    argv = ["generate", "--space", "nb201", "--n", "4", "--steps", "2", "--out", str(out)]
    monkeypatch.setattr(cli_diffusion, "load_scorenet", lambda *a: pytest.fail("work started"))
    assert main(argv) == 2
    one_line_error(capsys, "--out", "exists", "--force")
    monkeypatch.undo()
    # A failing write (disk full) leaves the old file whole and no temporary file behind.
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("nagkit.storage.os.fsync", disk_full)
    assert main(argv + ["--force"]) == 2
    one_line_error(capsys, "No space left on device")
    assert out.read_text() == "precious\n" and sorted(p.name for p in tmp_path.iterdir()) == ["archs.txt"]
    monkeypatch.undo()
    assert main(argv + ["--force", "--json"]) == 0
    lines = out.read_text().splitlines()
    assert "precious" not in lines and all(NB.validate(NB.encode(a)) is None for a in lines)
    assert json.loads(capsys.readouterr().out)["n"] == 4


@pytest.mark.parametrize("signum,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_signal_saves_a_checkpoint_that_resume_continues_bit_identically(signum, code, tmp_path, capsys, monkeypatch):
    out = tmp_path / "ckpt.pt"
    real, calls = dtrain.dsm_loss, []
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def loss(*args):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signum)
        return real(*args)

    monkeypatch.setattr(dtrain, "dsm_loss", loss)
    tiny_profile(monkeypatch, 1000)
    argv = ["train-scorenet", "--space", "nb201", "--out", str(out), "--json"]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err and "step 3 of 1000" in err and "--resume" in err
    assert load_checkpoint(out, NB)["step"] == 3
    monkeypatch.setattr(dtrain, "dsm_loss", real)
    tiny_profile(monkeypatch, 7)
    assert main(argv + ["--resume"]) == 0
    resumed = load_checkpoint(out, NB)
    full = dtrain.train(NB, TINY_NET, replace(TINY, steps=7), tmp_path / "full.pt", progress=False)
    assert resumed["step"] == 7 and resumed["losses"].tolist() == full.losses
    assert all(torch.equal(resumed["model"][k], v) for k, v in full.model.state_dict().items())
    assert {s: signal.getsignal(s) for s in handlers} == handlers  # restored


MAIN = "import sys; from nagkit.cli import main; sys.exit(main(sys.argv[1:]))"
# train-scorenet with the tiny config and a million steps; prints "training" once the loop runs.
SCRIPT = """
import sys
import nagkit.cli.diffusion as d, nagkit.diffusion.train as t
from nagkit.diffusion.scorenet import ScoreNetConfig
net = ScoreNetConfig(layers=1, width=16, heads=2, ffn=32)
cfg = t.TrainConfig(steps=10**6, batch_size=16, lr=1e-3, warmup=4, ema=0.9, checkpoint_every=500)
d.profile = lambda space, name, pos_emb=True, seed=0: (net, cfg)
real = t.dsm_loss
def loss(*a):
    loss.calls += 1
    if loss.calls == 2:
        print("training", flush=True)
    return real(*a)
loss.calls = 0
t.dsm_loss = loss
from nagkit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_cli(*argv: str, script: str = MAIN) -> subprocess.Popen:
    """``nagkit *argv`` in a fresh interpreter, progress bars off."""
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", script, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def test_sigint_subprocess_smoke(tmp_path, monkeypatch):
    """A real Ctrl-C: exit 130, one line saying how to resume, no progress bar under TQDM_DISABLE=1."""
    out = tmp_path / "ckpt.pt"
    proc = run_cli("train-scorenet", "--space", "nb201", "--out", str(out), script=SCRIPT)
    assert proc.stdout.readline() == "training\n"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.count("\n") == 1 and "--resume" in err and "Traceback" not in err, err
    step = load_checkpoint(out, NB)["step"]
    assert step >= 2
    tiny_profile(monkeypatch, step + 2)
    assert main(["train-scorenet", "--space", "nb201", "--out", str(out), "--resume", "--json"]) == 0
    assert load_checkpoint(out, NB)["step"] == step + 2


def test_bad_input_subprocess_smoke(tmp_path):
    proc = run_cli("generate", "--space", "nb201", "--n", "0", "--out", str(tmp_path / "a.txt"))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == "" and err.count("\n") == 1 and "--n" in err and "[1, 1000000]" in err
    assert not (tmp_path / "a.txt").exists()


# ------------------------------------------------------------------------------- silently wrong


LIBRARY_BAD = [
    (SamplerConfig, {"steps": 0}), (SamplerConfig, {"steps": -5}), (SamplerConfig, {"batch_size": 0}),
    (SamplerConfig, {"snr": math.nan}), (SamplerConfig, {"snr": -1.0}), (SamplerConfig, {"eps": 0.0}),
    (SamplerConfig, {"eps": 1.0}), (SamplerConfig, {"eps": math.nan}),
    (dtrain.TrainConfig, {"steps": 0}), (dtrain.TrainConfig, {"batch_size": 0}), (dtrain.TrainConfig, {"lr": 0.0}),
    (dtrain.TrainConfig, {"lr": math.nan}), (dtrain.TrainConfig, {"lr": math.inf}), (dtrain.TrainConfig, {"warmup": 0}),
    (dtrain.TrainConfig, {"grad_clip": 0.0}), (dtrain.TrainConfig, {"ema": math.nan}),
    (dtrain.TrainConfig, {"ema": 1.5}),
    (dtrain.TrainConfig, {"sigma_min": 0.0}), (dtrain.TrainConfig, {"sigma_min": 6.0}),
    (dtrain.TrainConfig, {"sigma_max": math.inf}), (dtrain.TrainConfig, {"eps": 0.0}),
    (dtrain.TrainConfig, {"train_fraction": 0.0}), (dtrain.TrainConfig, {"train_fraction": 1.5}),
    (dtrain.TrainConfig, {"train_samples": 0}), (dtrain.TrainConfig, {"checkpoint_every": 0}),
    (ImageTrainConfig, {"epochs": 0}), (ImageTrainConfig, {"batch_size": -4}), (ImageTrainConfig, {"lr": math.nan}),
    (ImageTrainConfig, {"lr": 0.0}), (ImageTrainConfig, {"momentum": 1.0}), (ImageTrainConfig, {"momentum": math.nan}),
    (ImageTrainConfig, {"weight_decay": -1.0}), (ImageTrainConfig, {"C": 0}), (ImageTrainConfig, {"N": 0}),
    (ImageTrainConfig, {"dropout": 1.0}), (ImageTrainConfig, {"eval_batch_size": 0}),
    (ImageTrainConfig, {"bn_recalibrate": -1}),
    (Schedule, {"w": math.nan}), (Schedule, {"w": -1.0}), (Schedule, {"w": math.inf}),
    (Schedule, {"kind": "linear", "decrement": -1.0}), (Schedule, {"kind": "linear", "floor": -1.0}),
    (Schedule, {"floor": math.nan}),
    (TransferConfig, {"scale": math.nan}), (TransferConfig, {"scale": math.inf}), (TransferConfig, {"scale": -1.0}),
    (TransferConfig, {"n_unique": 0}), (TransferConfig, {"max_norm": 0.0}), (TransferConfig, {"max_norm": math.nan}),
]


@pytest.mark.parametrize("cls,kwargs", LIBRARY_BAD, ids=lambda v: getattr(v, "__qualname__", None) or str(v))
def test_library_configs_refuse_misleading_values(cls, kwargs):
    with pytest.raises(ValueError, match=list(kwargs)[-1]):
        cls(**kwargs)


LIBRARY_CALLS = {
    "TrainJob n_train=-5": lambda: TrainJob(ARCH, 0, "fashion-mnist", ImageTrainConfig(), n_train=-5),
    "TrainJob n_eval=0": lambda: TrainJob(ARCH, 0, "fashion-mnist", ImageTrainConfig(), n_eval=0),
    "TrainJob resolution=0": lambda: TrainJob(ARCH, 0, "fashion-mnist", ImageTrainConfig(), resolution=0),
    "Objective weight=nan": lambda: Objective(lambda x, s: x, weight=math.nan),
    "Objective weight=-1": lambda: Objective(lambda x, s: x, weight=-1.0),
    "Objective weight=inf": lambda: Objective(lambda x, s: x, weight=math.inf),
    "Objective value=nan": lambda: Objective(lambda x, s: x, "target", value=math.nan),
    "--guide cifar10=nan": lambda: parse_guide("cifar10=nan"),
    "--guide cifar10=-1": lambda: parse_guide("cifar10=-1"),
    "--guide cifar10=inf": lambda: parse_guide("cifar10=inf"),
    "device bogus": lambda: resolve_device("bogus"),
    "device cuda:99": lambda: resolve_device("cuda:99"),
    "sample n=-5": lambda: sample_features(*dtrain.scorenet_and_sde("nb201"), -5, SamplerConfig(), torch.Generator()),
}


@pytest.mark.parametrize("make", LIBRARY_CALLS.values(), ids=LIBRARY_CALLS)
def test_library_calls_refuse_misleading_values(make):
    with pytest.raises(ValueError):
        make()


def test_valid_defaults_and_packaged_configs_still_pass():
    assert SamplerConfig() == SamplerConfig("pc", 20, 0.16, 1e-5, 1000)
    assert TransferConfig().scale == 10.0 and dtrain.TrainConfig().steps == 250_000
    assert PROFILE_CONFIGS["paper"] == ImageTrainConfig() and PROFILE_CONFIGS["quick"].epochs == 3
    for space in (NB, MB):
        for name in PROFILES:
            dtrain.profile(space, name)
        for pos in (True, False):
            path = packaged_checkpoint(space.name, pos)
            dtrain.checkpoint_train_config(load_checkpoint(path), path)
    Schedule("linear", 10_000.0, 300.0)


def test_every_profile_factory_rejects_an_unknown_name_listing_the_valid_ones():
    from nagkit.predictors.fit import surrogate_profile
    from nagkit.predictors.properties import property_profile
    from nagkit.profiles import check_profile
    from nagkit.training.trainer import profile as train_profile
    from nagkit.transfer.protocol import transfer_profile

    assert [check_profile(p) for p in PROFILES] == ["quick", "paper", "smoke"] and set(PROFILE_CONFIGS) == set(PROFILES)
    for make in (check_profile, surrogate_profile, train_profile, transfer_profile,
                 lambda name: property_profile(name, dtrain.TrainConfig()), lambda name: dtrain.profile(NB, name)):
        with pytest.raises(ValueError, match=r"profile must be one of \('quick', 'paper', 'smoke'\), got 'full'"):
            make("full")


@pytest.mark.parametrize("space", [NB, MB], ids=["nb201", "mbv3"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("row", [0, 3, -1])
def test_non_finite_matrix_is_invalid(space, value, row):
    x = space.encode(ARCH if space is NB else "k3e3-k5e6|k3e4-k3e4-k7e6|k5e3-k5e3|k7e4-k3e6-k3e6-k3e6|k5e4-k5e4-k5e4")
    x[row, 0] = value
    assert "non-finite" in space.validate(x)
    assert space.decode_or_none(x) is None
    with pytest.raises(ValueError, match="non-finite"):
        space.decode(x)


def test_json_never_contains_nan(capsys, monkeypatch, tmp_path):
    def strict(text: str) -> dict:
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON output"))

    for argv in (["query", "nb201", ARCH, "--dataset", "cifar10", "--json"], ["space", "nb201", "--stats", "--json"],
                 ["search", "--method", "rs", "--budget", "5", "--json"],
                 ["generate", "--space", "nb201", "--n", "3", "--steps", "2", "--out", str(tmp_path / "a"), "--json"]):
        assert main(argv) == 0
        strict(capsys.readouterr().out)
    monkeypatch.setattr("nagkit.cli.basic.info", lambda args: {"scale": math.nan})
    assert main(["info", "--json"]) == 1
    one_line_error(capsys, "not valid JSON")


# ------------------------------------------------------------------------------- clear messages


def test_train_sizes_beyond_the_dataset(tmp_path, capsys, monkeypatch):
    make_fashion_mnist(tmp_path)  # 20 training images; valid / test: 5 each
    monkeypatch.setattr("nagkit.cli.training.run_job", lambda job: pytest.fail("training started"))
    base = ["train", ARCH, "--root", str(tmp_path), "--profile", "quick"]
    assert main(base + ["--n-train", "21"]) == 2
    one_line_error(capsys, "--n-train 21", "20")
    assert main(base + ["--n-eval", "6"]) == 2
    one_line_error(capsys, "--n-eval 6", "5")


def test_report_names_the_bad_file(tmp_path, capsys):
    (tmp_path / "bad.json").write_text('{"rows": [')
    assert main(["report", "--results", str(tmp_path)]) == 2
    one_line_error(capsys, "bad.json", "not valid JSON")
    (tmp_path / "bad.json").write_text(json.dumps({"rows": [{"row": "r", "paper": "1", "nagkit": "1",
                                                             "status": "reproduced", "note": ""}]}))
    assert main(["report", "--results", str(tmp_path)]) == 2
    one_line_error(capsys, "bad.json", "row 0", "'table'")
    (tmp_path / "bad.json").unlink()
    (tmp_path / "REPORT.md").mkdir()
    assert main(["report", "--results", str(tmp_path)]) == 2
    one_line_error(capsys, "--results", "directory")


def test_incomplete_checkpoints_name_file_and_entry(tmp_path, capsys, monkeypatch):
    ckpt = torch.load(packaged_checkpoint("nb201"), weights_only=True)
    del ckpt["ema"]
    torch.save(ckpt, tmp_path / "no_ema.pt")
    assert main(["generate", "--space", "nb201", "--checkpoint", str(tmp_path / "no_ema.pt"),
                 "--out", str(tmp_path / "a.txt")]) == 2
    one_line_error(capsys, "no_ema.pt", "'ema'")
    dtrain.train(NB, TINY_NET, replace(TINY, steps=2), tmp_path / "run.pt", progress=False)
    ckpt = torch.load(tmp_path / "run.pt", weights_only=True)
    del ckpt["rng"]
    torch.save(ckpt, tmp_path / "run.pt")
    tiny_profile(monkeypatch, 4)
    assert main(["train-scorenet", "--space", "nb201", "--out", str(tmp_path / "run.pt"), "--resume"]) == 2
    one_line_error(capsys, "run.pt", "'rng'")


@pytest.mark.parametrize("err,needle,code", [
    (KeyError("ema"), "missing entry 'ema'", 2), (KeyError("unknown dataset 'x'"), "unknown dataset 'x'", 2),
    (PermissionError(13, "Permission denied", "/x"), "Permission denied", 2),
    (IsADirectoryError(21, "Is a directory", "/tmp"), "Is a directory", 2),
    (FloatingPointError("guidance gradient is not finite"), "not finite", 2),
    (ValueError("line one\nline two"), "line one line two", 2),
    (KeyboardInterrupt(), "interrupted", 130),
])
def test_handler_errors_become_one_line(err, needle, code, capsys, monkeypatch):
    def fail(args):
        raise err

    monkeypatch.setattr("nagkit.cli.basic.info", fail)
    assert main(["info"]) == code
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and needle in out.err and "Traceback" not in out.err


@pytest.mark.parametrize("argv", [
    ["query", "nb201", "|" + "x" * 80_000, "--dataset", "cifar10"],
    ["query", "nb201", ARCH, "--dataset", "d" * 80_000],
    ["train", ARCH, "--space", "s" * 80_000],
    ["generate", "--space", "nb201", "--out", "{out}", "--guide", "g" * 80_000],
    ["search", "--method", "rs", "--budget", "9" * 80_000],
])
def test_long_user_input_is_not_echoed(argv, tmp_path, capsys):
    assert main([str(tmp_path / "o.txt") if a == "{out}" else a for a in argv]) == 2
    err = one_line_error(capsys)
    assert len(err) < 400 and "characters)" in err


@pytest.mark.parametrize("value,on", [("1", False), ("true", False), ("YES", False), ("0", True), ("", True),
                                      (None, True)])
def test_tqdm_disable_wins(value, on, monkeypatch):
    if value is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", value)
    assert enabled(True) is on and enabled(False) is False


def test_tqdm_disable_silences_score_net_training(tmp_path, capsys, monkeypatch):
    tiny_profile(monkeypatch, 3)
    argv = ["train-scorenet", "--space", "nb201", "--out", str(tmp_path / "a.pt"), "--force"]
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert main(argv) == 0
    assert "score net nb201" in capsys.readouterr().err
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert main(argv) == 0
    assert capsys.readouterr().err == ""
