import pytest
import torch

from nagkit.spaces import get_space
from nagkit.spaces.nb201 import OPS, VOCAB, parse, to_string

OPT_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def cell(*ops: str) -> str:
    return to_string(list(ops))


def test_round_trip_all_cells(space):
    archs = space.enumerate()
    assert len(archs) == 15625 == len(set(archs))
    for a in archs:
        x = space.encode(a)
        assert space.validate(x) is None
        assert space.decode(x) == a


def test_official_order(space):
    archs = space.enumerate()
    # Row 0 and the CIFAR-10 optimum's index, as in the NATS-Bench CSV.
    assert archs[0] == ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
                        "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    assert space.index(archs[1234]) == 1234
    assert archs[space.index(OPT_C10)] == OPT_C10


def test_encoding_layout(space):
    x = space.encode(OPT_C10)
    assert x.shape == (8, 7) and x.sum() == 8
    assert x[0, VOCAB.index("input")] == 1 and x[7, VOCAB.index("output")] == 1
    assert [VOCAB[i] for i in x[1:7].argmax(1).tolist()] == parse(OPT_C10)


def test_adjacency_from_slot_order(space):
    expected = {0: {1, 2, 4}, 1: {3, 5}, 2: {6}, 3: {6}, 4: {7}, 5: {7}, 6: {7}, 7: set()}
    adj = space.adjacency
    assert {i: set(torch.nonzero(adj[i]).flatten().tolist()) for i in range(8)} == expected
    assert space.reachability()[0, 7] and not space.reachability()[7, 0]


@pytest.mark.parametrize("bad, fragment", [
    ("|nor_conv_3x3~0|+|conv~0|nor_conv_3x3~1|+|none~0|none~1|none~2|", "'conv~0' at edge 1"),
    ("|nor_conv_3x3~1|+|none~0|none~1|+|none~0|none~1|none~2|", "'nor_conv_3x3~1' at edge 0"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~3|", "'none~3' at edge 5"),
    ("|none~0|+|none~0|none~1|", "3 '+'-separated nodes"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2"),
])
def test_malformed_strings(space, bad, fragment):
    with pytest.raises(ValueError, match=fragment.replace("+", r"\+").replace("|", r"\|")):
        space.encode(bad)


def test_validity_reasons(space):
    x = space.encode(OPT_C10)
    assert space.validate(x) is None
    y = x.clone(); y[3] = 0
    assert "row 3 has 0 active" in space.validate(y)
    y = x.clone(); y[2, 2] = 1
    assert "row 2 has 2 active" in space.validate(y)
    y = x.clone(); y[0] = 0; y[0, 3] = 1
    assert "row 0 must be 'input'" in space.validate(y)
    y = x.clone(); y[7] = 0; y[7, 4] = 1
    assert "row 7 must be 'output'" in space.validate(y)
    y = x.clone(); y[4] = 0; y[4, 1] = 1
    assert "row 4 is 'output'" in space.validate(y)
    with pytest.raises(ValueError, match="invalid NB201 matrix"):
        space.decode(y)


def test_wrong_shape_rejected(space):
    with pytest.raises(ValueError, match=r"expected an architecture matrix of shape \(8, 7\)"):
        space.validate(torch.zeros(7, 7))
    with pytest.raises(ValueError, match=r"\(8, 7\)"):
        space.decode(torch.zeros(8, 5))


def test_canonical_equal_for_same_function(space):
    c1, c3, ap, sk, no = "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "none"
    # Swapping the two parallel branches (cell nodes 1 and 2) is an isomorphism.
    assert space.canonical(cell(c3, c1, no, no, sk, sk)) == space.canonical(cell(c1, c3, no, no, sk, sk))
    # A branch through a skip into node 3 equals the direct edge.
    assert space.canonical(cell(c3, no, no, c1, sk, no)) == space.canonical(cell(no, c3, no, c1, no, sk))
    # Dead branches (node 1 never reaches the output) do not matter.
    assert space.canonical(cell(c3, no, no, ap, no, no)) == space.canonical(cell(c1, no, no, ap, no, no))
    # An op applied to a node that receives nothing is dead too.
    assert space.canonical(cell(no, no, c3, c1, no, sk)) == space.canonical(cell(no, no, no, c1, no, no))
    # Everything cut: zero function.
    assert space.canonical(cell(c3, c3, c3, no, no, no)) == "zero"


def test_canonical_differs_for_different_functions(space):
    c1, c3, ap, sk, no = "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "none"
    # conv(conv(x)) vs conv(x) + conv(x): chain vs parallel.
    assert space.canonical(cell(c3, no, no, no, c3, no)) != space.canonical(cell(no, no, no, c3, no, no))
    # conv(a + b) is not conv(a) + conv(b).
    assert space.canonical(cell(c1, sk, sk, no, no, c3)) != space.canonical(cell(c1, sk, c3, no, no, sk))
    # x + x (two skips) differs from x.
    assert space.canonical(cell(sk, no, no, sk, sk, no)) != space.canonical(cell(no, no, no, sk, no, no))
    # op type matters.
    assert space.canonical(cell(no, no, no, c1, no, no)) != space.canonical(cell(no, no, no, ap, no, no))


def test_distinct_functions_and_nb201_convention(space):
    from nagkit.benchmarks.analysis import nb201_unique_classes, refines
    import pandas as pd

    keys = pd.Series([space.canonical(a) for a in space.enumerate()])
    assert keys.nunique() == 4930
    classes = nb201_unique_classes()
    assert classes.nunique() == 6466
    assert refines(classes, keys) and not refines(keys, classes)


def test_sample_is_seeded(space):
    a = space.sample(50, torch.Generator().manual_seed(3))
    b = space.sample(50, torch.Generator().manual_seed(3))
    c = space.sample(50, torch.Generator().manual_seed(4))
    assert a == b and a != c
    assert all(space.validate(space.encode(s)) is None for s in a)
    ops = [op for s in space.sample(2000, torch.Generator().manual_seed(0)) for op in parse(s)]
    freq = [ops.count(o) / len(ops) for o in OPS]
    assert max(freq) - min(freq) < 0.03


def test_unknown_space():
    with pytest.raises(KeyError, match="valid"):
        get_space("nb101")
