"""NB201 networks: parameter counts equal the benchmark's, shapes, reduced skeletons."""
from __future__ import annotations

import pytest
import torch

from nagkit.benchmarks import NB201Benchmark
from nagkit.nets.nb201 import build_nb201, count_params
from nagkit.spaces.nb201 import NB201Space

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
EMPTY = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


@pytest.fixture(scope="module")
def bench() -> NB201Benchmark:
    return NB201Benchmark()


def test_param_counts_match_benchmark(bench: NB201Benchmark) -> None:
    archs = NB201Space().sample(12, torch.Generator().manual_seed(0)) + [BEST, EMPTY]
    for arch in archs:
        ours = count_params(build_nb201(arch, 10)) / 1e6
        assert ours == pytest.approx(bench.query(arch, "cifar10", "params"), abs=1e-6), arch
    assert count_params(build_nb201(BEST, 100)) / 1e6 == pytest.approx(bench.query(BEST, "cifar100", "params"), abs=1e-6)


def test_forward_shapes_and_reduced_skeleton() -> None:
    net = build_nb201(BEST, 7, C=4, N=1, in_channels=1)
    assert net(torch.randn(2, 1, 16, 16)).shape == (2, 7)
    assert count_params(net) < count_params(build_nb201(BEST, 7, C=4, N=2, in_channels=1))
    assert len(net.cells) == 5  # 3 cells + 2 reduction blocks


def test_none_cell_outputs_constant_logits() -> None:
    net = build_nb201(EMPTY, 3, C=4, N=1).eval()
    out = net(torch.randn(4, 3, 8, 8))
    assert torch.allclose(out, out[:1].expand_as(out))


def test_bad_arch_string_is_rejected() -> None:
    with pytest.raises(ValueError):
        build_nb201("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", 10)


def test_net_registry_declares_each_space_builder() -> None:
    """The trainer dispatches through ``NETS``; each builder validates its own arguments."""
    from nagkit.nets import NETS, get_net
    from nagkit.nets.mbv3 import MBV3Net
    from nagkit.training.trainer import profile

    assert sorted(NETS) == ["mbv3", "nb201"]
    config = profile("quick", C=4, N=1, dropout=0.0)
    nb = NETS["nb201"](BEST, 7, 1, config, 777)
    initial = [t.clone() for t in nb.state_dict().values()]
    assert isinstance(nb, torch.nn.Module) and nb(torch.randn(2, 1, 8, 8)).shape == (2, 7)
    assert NETS["nb201"].input_channels(1) == 1 and NETS["mbv3"].input_channels(1) == 3
    mb = NETS["mbv3"]("k3e3-k3e3|k3e3-k3e3|k3e3-k3e3|k3e3-k3e3|k3e3-k3e3", 5, 3, config, 777)
    assert isinstance(mb, MBV3Net) and mb.classifier.dropout.p == 0.0
    with pytest.raises(ValueError, match="only for space 'mbv3'"):
        NETS["nb201"](BEST, 7, 1, config, 777, ofa_weights="w.pth")
    with pytest.raises(KeyError, match="valid: \\['mbv3', 'nb201'\\]"):
        get_net("darts")
    # same seed -> same initial weights, and the global RNG is left alone
    state = torch.get_rng_state()
    again = NETS["nb201"](BEST, 7, 1, config, 777)
    assert torch.equal(state, torch.get_rng_state())
    assert all(torch.equal(a, b) for a, b in zip(initial, again.state_dict().values()))


def test_train_cli_space_choices_come_from_the_registry() -> None:
    import argparse

    from nagkit.cli import build_parser
    from nagkit.nets import NETS

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    space = next(a for a in sub._actions if "--space" in a.option_strings)
    assert list(space.choices) == sorted(NETS)
