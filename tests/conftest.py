"""Unit-test setup shared by all test files."""
import pytest
import torch

from nagkit.benchmarks.nb201 import NB201Benchmark
from nagkit.spaces import get_space

# Small models on 2 cores: intra-op threads only add overhead (several times slower) and vary results.
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def bench() -> NB201Benchmark:
    return NB201Benchmark()


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")
