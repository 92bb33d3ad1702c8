"""MBV3 / OFA space: string <-> matrix, validity rules, sampler, analytic cost model vs built nets."""
from __future__ import annotations

import pytest
import torch

from nagkit.nets.mbv3 import build_mbv3, count_flops, load_ofa_weights
from nagkit.spaces import get_space
from nagkit.spaces.mbv3 import VOCAB, MBV3Space, flops, params

SPACE = MBV3Space()
MAX = "|".join(["-".join(["k7e6"] * 4)] * 5)
MIN = "|".join(["-".join(["k3e3"] * 2)] * 5)
MIXED = "k3e3-k5e6|k3e4-k3e4-k7e6|k5e3-k5e3|k7e4-k3e6-k3e6-k3e6|k5e4-k7e3-k5e4"


def test_vocab_and_registry():
    assert VOCAB[3 * 1 + 2] == "k5e6" and len(VOCAB) == 9
    assert isinstance(get_space("mbv3"), MBV3Space)
    assert SPACE.shape == (20, 9)


def test_round_trip_500_samples():
    archs = SPACE.sample(500, torch.Generator().manual_seed(0))
    for arch in archs:
        x = SPACE.encode(arch)
        assert SPACE.validate(x) is None
        assert SPACE.decode(x) == arch == SPACE.canonical(arch)
    assert len(set(archs)) == 500


def test_encode_layout():
    x = SPACE.encode(MIXED)
    assert x[0, VOCAB.index("k3e3")] == 1 and x[1, VOCAB.index("k5e6")] == 1
    assert x[2].sum() == 0 and x[3].sum() == 0  # stage 1 has depth 2
    assert x[14, VOCAB.index("k3e6")] == 1 and x[15, VOCAB.index("k3e6")] == 1
    assert x.sum() == 14


def _reason(mutate) -> str | None:
    x = SPACE.encode(MIXED)
    mutate(x)
    return SPACE.validate(x)


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda x: x[5].fill_(1.0), "row 5 (stage 2, layer 2) has 9 active types"),
        (lambda x: x[0].zero_(), "stage 1, layer 1 (row 0) is empty"),
        (lambda x: x[9].zero_(), "stage 3, layer 2 (row 9) is empty"),
        (lambda x: x[11, 0].fill_(1.0), "stage 3, layer 4 (row 11) is used while layer 3 is empty"),
    ],
)
def test_validity_rules(mutate, expected):
    reason = _reason(mutate)
    assert reason is not None and expected in reason
    x = SPACE.encode(MIXED)
    mutate(x)
    with pytest.raises(ValueError, match="invalid MBV3 matrix"):
        SPACE.decode(x)


def test_validity_accepts_soft_values_and_depth_changes():
    x = SPACE.encode(MIXED) * 0.9
    x[2, 4] = 0.7  # stage 1 grows to depth 3
    x[7, 1] = 0.4  # below threshold: still empty
    assert SPACE.validate(x) is None
    assert SPACE.decode(x).split("|")[0] == "k3e3-k5e6-k5e4"


@pytest.mark.parametrize(
    "arch, fragment",
    [
        (MIXED.replace("k3e4-k3e4", "k3e4-k4e4"), "bad token 'k4e4' at stage 2, layer 2"),
        (MIXED.replace("k5e4-k7e3", "k5e4-k7e5"), "bad token 'k7e5' at stage 5, layer 2"),
        (MIXED.replace("k3e3-k5e6|", "k3e3-|"), "bad token '' at stage 1, layer 2"),
        (MIXED.replace("k5e3-k5e3", "k5e3"), "stage 3 of"),
        ("|".join([MIXED.split("|")[0]] * 4), "5 '|'-separated stages"),
        ("k3e3-k3e3-k3e3-k3e3-k3e3|" + MIXED.split("|", 1)[1], "has 5 layers"),
    ],
)
def test_bad_strings(arch, fragment):
    with pytest.raises(ValueError, match=fragment.replace("|", r"\|")):
        SPACE.encode(arch)
    with pytest.raises(ValueError):
        SPACE.canonical(arch)


def test_wrong_shapes():
    for bad in (torch.zeros(20, 8), torch.zeros(16, 9), torch.zeros(9, 20)):
        with pytest.raises(ValueError, match=r"\(20, 9\)"):
            SPACE.validate(bad)
    with pytest.raises(ValueError, match="one matrix"):
        SPACE.validate(torch.zeros(2, 20, 9))
    with pytest.raises(TypeError):
        SPACE.encode(3)


def test_chain_adjacency_and_positions():
    adj = SPACE.adjacency
    assert adj.dtype == torch.bool and adj.shape == (20, 20)
    assert torch.equal(adj, torch.diag(torch.ones(19, dtype=torch.bool), 1))
    assert torch.equal(SPACE.reachability(), torch.ones(20, 20, dtype=torch.bool).triu(1))
    slot, stage = SPACE.stage_layout()
    assert stage.tolist() == [s for s in range(5) for _ in range(4)]
    assert slot.tolist() == [0, 1, 2, 3] * 5
    with pytest.raises(NotImplementedError, match="2.18e\\+19"):
        SPACE.enumerate()


def test_sampling_seeded_and_uniform_per_decision():
    a = SPACE.sample(50, torch.Generator().manual_seed(3))
    assert a == SPACE.sample(50, torch.Generator().manual_seed(3))
    assert a != SPACE.sample(50, torch.Generator().manual_seed(4))
    archs = SPACE.sample(3000, torch.Generator().manual_seed(0))
    depths = torch.tensor([[len(st.split("-")) for st in arch.split("|")] for arch in archs])
    for d in (2, 3, 4):
        assert abs((depths == d).float().mean().item() - 1 / 3) < 0.02
    types = torch.stack([SPACE.encode(arch) for arch in archs]).sum(dim=(0, 1))
    assert ((types / types.sum() - 1 / 9).abs() < 0.01).all()


@pytest.mark.parametrize("resolution", [224, 32])
def test_cost_model_matches_built_net(resolution):
    archs = [MAX, MIN, MIXED, *SPACE.sample(2, torch.Generator().manual_seed(1))]
    for arch in archs:
        for n_classes in (1000, 10):
            net = build_mbv3(arch, n_classes=n_classes, seed=0)
            assert params(arch, n_classes) * 1e6 == sum(p.numel() for p in net.parameters())
            assert flops(arch, resolution, n_classes) == count_flops(net, resolution)


def test_cost_model_ranges_and_monotonicity():
    assert 7.5 < params(MAX) < 7.8 and 500 < flops(MAX) < 650
    assert 3.0 < params(MIN) < 4.5 and 100 < flops(MIN) < 200
    assert flops(MIXED) < flops(MIXED.replace("k3e6", "k7e6")) < flops(MAX)
    assert flops(MIXED, 160) < flops(MIXED) and params(MIXED) < params(MAX)
    with pytest.raises(ValueError, match="resolution"):
        flops(MIXED, 0)


def test_build_forward_seed_and_flop_counter_restores_mode():
    a, b = build_mbv3(MIXED, n_classes=10, seed=5), build_mbv3(MIXED, n_classes=10, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.first_conv.conv.weight, build_mbv3(MIXED, seed=6).first_conv.conv.weight)
    a.train()
    count_flops(a, 32)
    assert a.training
    a.eval()
    assert a(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert a.blocks[0].residual and not a.blocks[1].residual and a.blocks[2].residual
    with pytest.raises(ValueError, match="bad token"):
        build_mbv3(MIXED.replace("k3e3", "k9e9"))


def _fake_supernet() -> dict[str, torch.Tensor]:
    """A supernet checkpoint in OFA's key layout, built from the largest subnet's tensors."""
    sd = {}
    for key, value in build_mbv3(MAX, seed=0).state_dict().items():
        if key.startswith("blocks.0."):
            key = key.replace("blocks.0.conv.", "blocks.0.mobile_inverted_conv.")  # older OFA naming
        elif key.startswith("blocks."):
            key = key.replace(".conv.weight", ".conv.conv.weight").replace(".bn.", ".bn.bn.")
        elif key.startswith("classifier."):
            key = key.replace(".linear.", ".linear.linear.")
        sd[key] = torch.randn_like(value) if value.is_floating_point() else value
    for i in range(1, 21):
        sd[f"blocks.{i}.conv.depth_conv.conv.7to5_matrix"] = 2 * torch.eye(25)
        sd[f"blocks.{i}.conv.depth_conv.conv.5to3_matrix"] = torch.eye(9)
    return sd


def test_load_ofa_weights(tmp_path):
    with pytest.raises(FileNotFoundError, match="OFA supernet checkpoint not found"):
        load_ofa_weights(build_mbv3(MIN), tmp_path / "missing.pth")
    sd = _fake_supernet()
    path = tmp_path / "ofa.pth"
    torch.save({"state_dict": sd}, path)
    net = build_mbv3(MIXED, n_classes=10)
    assert load_ofa_weights(net, path) == ["classifier.linear.weight", "classifier.linear.bias"]
    # subnet block 4 = stage 2, layer 2 (k3e4, in 40, mid 160, SE) = supernet block 1 + 4 + 1
    blk, sup = net.blocks[4].conv, "blocks.6.conv."
    assert torch.equal(blk.depth_conv.conv.weight, 2 * sd[sup + "depth_conv.conv.conv.weight"][:160, :, 2:5, 2:5])
    assert torch.equal(blk.point_linear.conv.weight, sd[sup + "point_linear.conv.conv.weight"][:, :160])
    var = sd[sup + "inverted_bottleneck.bn.bn.running_var"][:160]
    assert torch.equal(blk.inverted_bottleneck.bn.running_var, var)
    assert torch.equal(blk.depth_conv.se.fc.reduce.weight, sd[sup + "depth_conv.se.fc.reduce.weight"][:40, :160])
    # subnet block 2 = stage 1, layer 2 (k5e6): kernel 7 -> 5 through the 7to5 matrix
    k5 = net.blocks[2].conv.depth_conv.conv.weight
    assert torch.equal(k5, 2 * sd["blocks.2.conv.depth_conv.conv.conv.weight"][:144, :, 1:6, 1:6])
    first = sd["blocks.0.mobile_inverted_conv.depth_conv.conv.weight"]
    assert torch.equal(net.blocks[0].conv.depth_conv.conv.weight, first)
    full = build_mbv3(MIXED)
    assert load_ofa_weights(full, path) == []
    assert torch.equal(full.classifier.linear.bias, sd["classifier.linear.linear.bias"])
