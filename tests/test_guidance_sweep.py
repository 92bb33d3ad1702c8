"""Guidance sweeps: settings, per-batch schedules, divergence handling, summaries, figures."""
import math

import numpy as np
import pytest
import torch

from nagkit.diffusion.sample import SamplerConfig, generate
from nagkit.diffusion.checkpoint import load_scorenet, packaged_checkpoint
from nagkit.diffusion.sde import VESDE
from nagkit.guidance import Objective, Schedule
from nagkit.guidance_sweep import (Setting, SweepConfig, constant_sweep, pick_scale, plot_distributions, plot_scatter,
                                   records, run_setting, run_sweep, summarise)
from nagkit.spaces import get_space

NB = get_space("nb201")
SDE = VESDE(0.1, 5.0)
CONFIG = SweepConfig(n=60, sampler=SamplerConfig("pc", 8, batch_size=30), seed=1)


def n_conv3x3(arch: str) -> float:
    return float(arch.count("nor_conv_3x3"))


TRUTHS = {"conv3": n_conv3x3, "none": lambda a: float(a.count("none"))}


def conv3x3_share(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """A differentiable 'predictor': how much the op rows favour nor_conv_3x3 (type 5)."""
    return x[:, 1:7, 5].sum(1) - x[:, 1:7].mean((1, 2))


@pytest.fixture(scope="module")
def model():
    """The packaged NB201 quick score net (valid samples unguided; its SDE is VE 0.1..5)."""
    net, ckpt = load_scorenet(packaged_checkpoint("nb201"), NB)
    assert ckpt["train_config"]["sigma_max"] == SDE.sigma_max
    return net


def test_no_guidance_equals_plain_generation(model):
    run = run_setting(NB, model, SDE, [Objective(conv3x3_share)], Setting("none"), TRUTHS, CONFIG)
    gen = torch.Generator().manual_seed(1)
    plain = [a for a in generate(NB, model, SDE, 60, gen, CONFIG.sampler) if a is not None]
    assert run["archs"] == plain and run["validity"] == len(plain) / 60 and run["error"] is None
    assert run["values"]["conv3"] == [n_conv3x3(a) for a in plain]


def test_guidance_shifts_the_true_property(model):
    runs = run_sweep(NB, model, SDE, [Objective(conv3x3_share)], constant_sweep([0, 5.0]), TRUTHS, CONFIG)
    assert [r["label"] for r in runs] == ["w=0 (none)", "w=5"]
    assert np.mean(runs[1]["values"]["conv3"]) > np.mean(runs[0]["values"]["conv3"]) + 1
    down = run_setting(NB, model, SDE, [Objective(conv3x3_share, "minimize")],
                       Setting("down", Schedule("constant", 5.0)), TRUTHS, CONFIG)
    assert np.mean(down["values"]["conv3"]) < np.mean(runs[0]["values"]["conv3"])


def test_linear_schedule_steps_down_per_batch(model):
    # w = 5 for the first batch of 30, 0 for the second: only the first is pushed.
    run = run_setting(NB, model, SDE, [Objective(conv3x3_share)],
                      Setting("lin", Schedule("linear", 5.0, 5.0)), TRUTHS, CONFIG)
    assert run["validity"] > 0.9
    first, second = run["values"]["conv3"][:30], run["values"]["conv3"][30:]
    assert np.mean(first) > np.mean(second) + 1


def test_setting_objectives_override_and_divergence_is_recorded(model):
    def blow_up(x, sigma):
        return (x * float("inf")).sum((1, 2))

    runs = run_sweep(NB, model, SDE, [Objective(conv3x3_share)],
                     [Setting("bad", Schedule("constant", 1.0), (Objective(blow_up),))], TRUTHS, CONFIG)
    assert runs[0]["error"] is not None and "not finite" in runs[0]["error"]
    assert runs[0]["validity"] == 0.0 and runs[0]["values"]["conv3"] == []
    with pytest.raises(ValueError, match="distinct"):
        run_sweep(NB, model, SDE, [], [Setting("a"), Setting("a")], TRUTHS, CONFIG)


def test_summarise_counts_invalid_samples_as_misses():
    runs = [
        {"label": "a", "n": 4, "validity": 0.75, "uniqueness": 1.0, "n_valid": 3,
         "values": {"acc": [90.0, 94.0, 93.0], "lat": [10.0, 20.0, 12.0]}},
        {"label": "b", "n": 4, "validity": 0.0, "uniqueness": 0.0, "n_valid": 0, "values": {"acc": [], "lat": []}},
    ]
    table = summarise(runs, "acc", above=93.0, within={"lat": 15.0}, targets={"a": 92.0})
    a, b = table.iloc[0], table.iloc[1]
    assert a["acc mean"] == pytest.approx(277 / 3) and a["acc median"] == 93.0 and a["acc max"] == 94.0
    assert a["share >= 93"] == 0.5 and a["share within budget"] == 0.5 and a["best acc within budget"] == 93.0
    assert a["acc mean within budget"] == 91.5 and a["share >= 93 within budget"] == 0.25 and a["mean |error|"] == pytest.approx(5 / 3)
    assert math.isnan(b["acc mean"]) and b["share >= 93"] == 0.0 and math.isnan(b["mean |error|"])
    rec = records(table)
    assert rec[1]["acc mean"] is None and rec[0]["acc max"] == 94.0


def test_figures_are_written(tmp_path):
    runs = [{"label": "a", "n": 2, "validity": 1.0, "values": {"x": [1.0, 2.0], "y": [3.0, 1.0]}},
            {"label": "b", "n": 2, "validity": 0.0, "values": {"x": [], "y": []}}]
    p = plot_distributions(runs, "x", tmp_path / "d.png", reference={"target": 1.5}, ymin=1.5)
    q = plot_scatter(runs, "x", "y", tmp_path / "s.png", vline=1.5, ymin=2.0)
    assert p.stat().st_size > 1000 and q.stat().st_size > 1000


def test_pick_scale_uses_validity_and_uniqueness_only():
    def run(w, kind, validity, uniq):
        return {"label": f"{kind} {w}", "kind": kind, "w": w, "validity": validity, "uniqueness": uniq, "error": None}

    runs = [run(0.0, "none", 1.0, 1.0), run(10.0, "constant", 1.0, 0.85), run(30.0, "constant", 1.0, 0.3),
            run(100.0, "constant", 0.6, 0.9), run(50.0, "annealed", 1.0, 0.9)]
    assert pick_scale(runs)["w"] == 10.0
    assert pick_scale(runs, min_uniqueness=0.2)["w"] == 30.0
    with pytest.raises(ValueError, match="no constant-scale run"):
        pick_scale(runs[1:2], min_uniqueness=0.9)
