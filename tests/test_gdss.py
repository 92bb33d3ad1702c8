"""The GDSS baseline: score-network symmetries, determinism, the decoding rule, a short run, the CLI handler."""
from __future__ import annotations

import argparse
import json

import pytest
import torch

from nagkit.baselines import gdss
from nagkit.cli import baselines as cli
from nagkit.spaces import MBV3Space, NB201Space

TINY = gdss.GDSSConfig(hidden=8, layers=2, steps=40, batch_size=16, sample_steps=4, sample_batch=16)
ARCH = "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"


def random_state(shape: tuple[int, int], b: int = 3, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    n, v = shape
    a = gdss.symmetric_noise(b, n, g, torch.device("cpu"))
    return torch.randn(b, n, v, generator=g), a, torch.rand(b, generator=g) + 0.1


@pytest.mark.parametrize("shape", [NB201Space().shape, MBV3Space().shape])
def test_scores_have_the_state_shapes_and_a_symmetric_adjacency_score(shape):
    x, a, sigma = random_state(shape)
    sx, sa = gdss.GDSS(shape, 8, 2)(x, a, sigma)
    n = shape[0]
    assert sx.shape == x.shape and sa.shape == (3, n, n)
    assert torch.allclose(sa, sa.transpose(-1, -2))
    assert torch.all(torch.diagonal(sa, dim1=-2, dim2=-1) == 0)
    assert torch.allclose(a, a.transpose(-1, -2)) and torch.all(torch.diagonal(a, dim1=-2, dim2=-1) == 0)


def test_scores_are_permutation_equivariant():
    """No node knows its index: relabelling the nodes relabels both scores the same way."""
    shape = NB201Space().shape
    x, a, sigma = random_state(shape)
    model = gdss.GDSS(shape, 8, 2)
    perm = torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])
    sx, sa = model(x, a, sigma)
    px, pa = model(x[:, perm], a[:, perm][:, :, perm], sigma)
    assert torch.allclose(px, sx[:, perm], atol=1e-5)
    assert torch.allclose(pa, sa[:, perm][:, :, perm], atol=1e-5)


def test_profiles():
    assert gdss.profile("quick") == gdss.GDSSConfig()
    paper = gdss.profile("paper", seed=3)
    assert paper.seed == 3 and paper.sample_steps == 1000 and paper.steps > gdss.profile("quick").steps
    smoke = gdss.profile("smoke")
    assert (smoke.lr, smoke.snr) == (paper.lr, paper.snr) and smoke.steps <= 20 and smoke.hidden < paper.hidden
    with pytest.raises(ValueError, match="profile"):
        gdss.profile("nope")
    with pytest.raises(ValueError, match="hidden"):
        gdss.GDSSConfig(hidden=0)


def clean_graph(space, arch: str) -> tuple[torch.Tensor, torch.Tensor]:
    x, a = gdss.graph_data(space, [arch])
    return x, a


def test_graph_data_is_the_space_adjacency_made_undirected():
    space = NB201Space()
    x, a = clean_graph(space, ARCH)
    assert torch.equal(x[0], 2 * space.encode(ARCH) - 1)
    # 0->{1,2,4}, 1->{3,5}, 2->{6}, 3->{6}, 4->{7}, 5->{7}, 6->{7} (method.md) as +1 both ways, others -1
    edges = {(0, 1), (0, 2), (0, 4), (1, 3), (1, 5), (2, 6), (3, 6), (4, 7), (5, 7), (6, 7)}
    for i in range(8):
        for j in range(8):
            expected = 0.0 if i == j else 1.0 if (min(i, j), max(i, j)) in edges else -1.0
            assert a[0, i, j] == expected


def test_decoding_rule_on_hand_made_graphs():
    space = NB201Space()
    x, a = clean_graph(space, ARCH)
    assert gdss.decode_graphs(space, x, a, "graph") == [ARCH]
    assert gdss.decode_graphs(space, x, a, "nodes") == [ARCH]
    # soft values decode by argmax / sign
    assert gdss.decode_graphs(space, 0.3 * x + 0.1, 0.2 * a, "graph") == [ARCH]
    # one edge missing: the ops are still a cell, the graph is not the cell's
    cut = a.clone()
    cut[0, 0, 4] = cut[0, 4, 0] = -1.0
    assert gdss.decode_graphs(space, x, cut, "graph") == [None]
    assert gdss.decode_graphs(space, x, cut, "nodes") == [ARCH]
    # the same graph with the input and output nodes relabelled is isomorphic but not in the space's order
    perm = torch.tensor([7, 1, 2, 3, 4, 5, 6, 0])
    px, pa = x[:, perm], a[:, perm][:, :, perm]
    assert gdss.decode_graphs(space, px, pa, "graph") == [None]
    assert gdss.decode_graphs(space, px, pa, "nodes") == [None]
    with pytest.raises(ValueError, match="rule"):
        gdss.decode_graphs(space, x, a, "isomorphic")


def test_decoding_rule_with_empty_slots():
    space = MBV3Space()
    arch = "k3e3-k5e6|k3e4-k3e4-k7e6|k5e3-k5e3|k7e4-k3e6-k3e6-k3e6|k5e4-k5e4-k5e4"
    x, a = clean_graph(space, arch)
    assert gdss.decode_graphs(space, x, a) == [arch]
    # the chain edge into an unused slot is part of the space's adjacency too
    cut = a.clone()
    cut[0, 2, 3] = cut[0, 3, 2] = -1.0
    assert gdss.decode_graphs(space, x, cut) == [None]
    # a used stage-1 layer 2 moved to the empty slot 3 of stage 1 breaks the depth rule
    moved = x.clone()
    moved[0, [1, 2]] = moved[0, [2, 1]]
    assert gdss.decode_graphs(space, moved, a, "nodes") == [None]


def test_training_and_sampling_are_deterministic_under_a_seed():
    space = NB201Space()
    archs = space.sample(64, torch.Generator().manual_seed(0))
    runs = [gdss.train(space, TINY, archs) for _ in range(2)]
    assert runs[0].losses == runs[1].losses
    other = gdss.train(space, gdss.GDSSConfig(**{**TINY.__dict__, "seed": 1}), archs)
    assert other.losses != runs[0].losses
    sde = gdss.make_sde(space)
    draws = [gdss.sample(runs[i].model, sde, 5, TINY, torch.Generator().manual_seed(7)) for i in range(2)]
    assert torch.equal(draws[0][0], draws[1][0]) and torch.equal(draws[0][1], draws[1][1])
    changed = gdss.sample(runs[0].model, sde, 5, TINY, torch.Generator().manual_seed(8))
    assert not torch.equal(changed[0], draws[0][0])


def test_short_train_and_sample_run():
    space = NB201Space()
    archs = gdss.training_archs(space, "quick")
    assert 7812 <= len(set(archs)) == len(archs) <= 7813  # half of the 15,625 cells
    result = gdss.train(space, TINY, archs)
    assert len(result.losses) == TINY.steps and all(torch.isfinite(torch.tensor(result.losses)))
    assert sum(result.losses[-10:]) < sum(result.losses[:10])  # it learns something
    x, a = gdss.sample(result.model, gdss.make_sde(space), 20, TINY, torch.Generator().manual_seed(0))
    assert x.shape == (20, *space.shape) and a.shape == (20, 8, 8)
    assert torch.allclose(a, a.transpose(-1, -2))
    quality = gdss.quality(space, x, a, archs)
    assert set(quality) == set(gdss.RULES)
    assert quality["graph"]["n"] == 20
    assert quality["graph"]["valid"] <= quality["nodes"]["valid"]  # the graph rule adds a condition


def test_cli_handler_returns_json(monkeypatch):
    monkeypatch.setattr(gdss, "profile", lambda name, seed=0: gdss.GDSSConfig(**{**TINY.__dict__, "seed": seed}))
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["gdss", "--space", "nb201", "--samples", "6", "--seed", "2", "--json"])
    data = args.func(args)
    payload = json.loads(json.dumps({k: v for k, v in data.items() if k != "text"}, allow_nan=False))
    assert payload["space"] == "nb201" and payload["n"] == 6 and payload["seed"] == 2
    assert payload["train_steps"] == TINY.steps
    assert set(payload["quality"]) == {"graph", "nodes"}
    assert 0.0 <= payload["quality"]["nodes"]["validity"] <= 1.0
    assert "validity" in data["text"]
    with pytest.raises(SystemExit):
        parser.parse_args(["gdss", "--space", "nbgraph"])
