"""Validity / uniqueness / novelty on hand-made examples."""
import pytest
import torch

from nagkit.metrics import generation_quality, novelty, uniqueness, validity, valid_strings
from nagkit.spaces import get_space

NB = get_space("nb201")
A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
B = "|nor_conv_1x1~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
# C and D compute the same function as each other (the dead edge into node 1 is 'none' in C, a conv in D,
# but node 1 feeds nothing in either).
C = "|none~0|+|nor_conv_3x3~0|none~1|+|avg_pool_3x3~0|none~1|none~2|"
D = "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|avg_pool_3x3~0|none~1|none~2|"


def test_hand_made_strings():
    gen = [A, A, B, C, D, None, "not an arch"]
    train = [A, "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"]
    assert NB.canonical(C) == NB.canonical(D)
    assert validity(NB, gen) == pytest.approx(5 / 7)
    assert uniqueness(NB, gen) == pytest.approx(4 / 5)  # A, B, C, D distinct strings among 5 valid
    assert uniqueness(NB, gen, "canonical") == pytest.approx(3 / 5)  # C == D as functions
    assert novelty(NB, gen, train) == pytest.approx(3 / 5)  # B, C, D are new; denominator: valid
    assert novelty(NB, gen, train, "canonical") == pytest.approx(2 / 5)
    q = generation_quality(NB, gen, train)
    assert q["valid"] == 5 and q["novelty_canonical"] == pytest.approx(0.4)


def test_matrices_and_invalid_rows():
    x = NB.encode_batch([A, B])
    bad = x[0].clone()
    bad[3] = 0.0  # an op row with no type
    both = x[1].clone()
    both[0, 2] = 1.0  # input row with two types
    gen = torch.stack([x[0], x[1], bad, both])
    assert valid_strings(NB, gen) == [A, B]
    assert validity(NB, gen) == 0.5 and uniqueness(NB, gen) == 1.0
    assert novelty(NB, gen, [B]) == 0.5


def test_mbv3_strings_and_empty_input():
    mb = get_space("mbv3")
    arch = "k3e3-k5e6|k3e4-k3e4-k7e6|k5e3-k5e3|k7e4-k3e6-k3e6-k3e6|k5e4-k5e4-k5e4"
    one_layer_stage = "k3e3-k5e6|k3e4-k3e4-k7e6|k5e3-k5e3|k7e4-k3e6-k3e6-k3e6|k5e4"
    assert validity(mb, [arch, one_layer_stage]) == 0.5
    assert uniqueness(mb, [arch, arch]) == 0.5 and novelty(mb, [arch], [arch]) == 0.0
    assert validity(NB, []) == 0.0 and uniqueness(NB, [None]) == 0.0


def test_bad_level():
    with pytest.raises(ValueError, match="level"):
        uniqueness(NB, [A], "graph")
