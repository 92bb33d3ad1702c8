"""NAS-Bench-Graph space (fixed complete-DAG adjacency, (op, source) node types) and its benchmark."""
import itertools
import pickle

import numpy as np
import pytest
import torch

from nagkit.benchmarks import get_benchmark
from nagkit.benchmarks.nbgraph import NBGraphBenchmark, cross_dataset_spearman
from nagkit.spaces import get_space
from nagkit.spaces.nbgraph import (
    DATASETS,
    LINK_PATTERNS,
    OPS,
    PROTEIN_OPS,
    VOCAB,
    NBGraphSpace,
    bench_key,
    cell_of_key,
    function_key,
    load_bench_bytes,
    parse,
    read_bench,
    to_string,
    type_index,
)

RAW_LINKS = list(itertools.product(range(1), range(2), range(3), range(4)))  # link[i] <= i: 24 patterns


@pytest.fixture(scope="module")
def space():
    return NBGraphSpace()


@pytest.fixture(scope="module")
def bench():
    return NBGraphBenchmark()


def test_registered_and_shapes(space):
    assert isinstance(get_space("nbgraph"), NBGraphSpace)
    assert isinstance(get_benchmark("nbgraph"), NBGraphBenchmark)
    assert space.shape == (6, 38) and len(VOCAB) == 2 + 9 * 4
    assert torch.equal(space.adjacency, torch.ones(6, 6, dtype=torch.bool).triu(1))  # complete DAG
    assert space.diffusion.sigma_max == 5.0 and space.diffusion.quick_steps == 4000
    assert space.diffusion.quick_net == {"param": "categorical"} and space.diffusion.quick_train == {"ce_weight": 0.3}
    assert not space.optional_rows and space.stage_layout() is None


def test_enumerate_is_the_benchmark(space):
    archs = space.enumerate()
    assert len(archs) == len(set(archs)) == 26_206
    assert archs == sorted(archs, key=space.key)  # increasing benchmark key: deterministic order
    assert [space.key(a) for a in archs] == sorted(read_bench("cora"))
    for dataset in DATASETS[:-1]:
        assert set(read_bench(dataset)) == set(read_bench("cora"))
    assert all(parse(a)[0] in LINK_PATTERNS for a in archs)


def test_encode_decode_round_trip_all(space):
    archs = space.enumerate()
    x = space.encode_batch(archs)
    assert x.shape == (26_206, 6, 38)
    assert (x.sum(dim=2) == 1).all()
    assert [space.decode(m) for m in x] == archs


def test_encoding_layout(space):
    x = space.encode("gcn~0|gat~1|skip~1|fc~2")
    assert x[0, VOCAB.index("input")] == 1 and x[5, VOCAB.index("output")] == 1
    assert VOCAB[int(x[1].argmax())] == "gcn@0" and VOCAB[int(x[3].argmax())] == "skip@1"
    assert VOCAB[int(x[4].argmax())] == "fc@2" and type_index("fc", 2) == VOCAB.index("fc@2")
    # any raw wiring (not only the stored ones) encodes and decodes unchanged
    for links in RAW_LINKS:
        arch = to_string(links, ("gin", "sage", "cheb", "skip"))
        assert space.decode(space.encode(arch)) == arch


def _matrix(space, rows):
    x = torch.zeros(space.shape)
    for r, t in enumerate(rows):
        if t is not None:
            x[r, VOCAB.index(t)] = 1.0
    return x


GOOD = ["input", "gcn@0", "gat@1", "skip@1", "fc@2", "output"]


@pytest.mark.parametrize("rows, fragment", [
    (["output", *GOOD[1:5], "output"], "row 0 must be 'input'"),
    ([*GOOD[:5], "gcn@0"], "row 5 must be 'output'"),
    (["input", "gcn@0", "input", "skip@1", "fc@2", "output"], "only row 0 / row 5"),
    (["input", "gcn@1", "gat@1", "skip@1", "fc@2", "output"], "must take its input from an earlier node (source < 1)"),
    (["input", "gcn@0", "gat@1", "skip@3", "fc@2", "output"], "(source < 3)"),
    (["input", "skip@0", "skip@1", "skip@1", "skip@2", "output"], "all four computing nodes are 'skip'"),
    (["input", "gcn@0", None, "skip@1", "fc@2", "output"], "row 2 has 0 active types"),
])
def test_validate_rejects_with_reason(space, rows, fragment):
    x = _matrix(space, rows)
    reason = space.validate(x)
    assert reason is not None and fragment in reason
    with pytest.raises(ValueError, match="invalid NAS-Bench-Graph matrix"):
        space.decode(x)
    assert space.decode_or_none(x) is None


def test_validate_other_defects(space):
    x = _matrix(space, GOOD)
    assert space.validate(x) is None and space.decode(x) == "gcn~0|gat~1|skip~1|fc~2"
    two = x.clone()
    two[3, VOCAB.index("gin@0")] = 1.0
    assert "row 3 has 2 active types" in space.validate(two)
    nan = x.clone()
    nan[2, 7] = float("nan")
    assert "non-finite" in space.validate(nan)
    with pytest.raises(ValueError, match="shape"):
        space.validate(torch.zeros(6, 37))
    with pytest.raises(ValueError, match="one matrix"):
        space.validate(torch.zeros(2, 6, 38))


@pytest.mark.parametrize("arch, fragment", [
    ("gcn~0|gat~1|skip~1", "4 '|'-separated"),
    ("gcn~0|gat~1|skip~1|fc~2|gcn~0", "4 '|'-separated"),
    ("gcn~0|gat~2|skip~1|fc~2", "bad token 'gat~2' at node 2"),
    ("gcn~1|gat~0|skip~1|fc~2", "bad token 'gcn~1' at node 1"),
    ("gcn~0|gat~1|conv~1|fc~2", "bad token 'conv~1' at node 3"),
    ("gcn~0|gat~1|skip1|fc~2", "bad token 'skip1' at node 3"),
    ("gcn~0|gat~1|skip~1|fc~-1", "bad token 'fc~-1' at node 4"),
    ("gcn~0|gat~1|skip~1|fc~ 2", "bad token 'fc~ 2'"),
    ("", "4 '|'-separated"),
    ("skip~0|skip~1|skip~2|skip~3", "all four ops are 'skip'"),
])
def test_malformed_strings(space, bench, arch, fragment):
    for call in (space.encode, space.canonical, bench.index):
        with pytest.raises(ValueError) as err:
            call(arch)
        assert fragment in str(err.value)
    with pytest.raises(TypeError):
        space.encode(None)


# ``Arch.regularize`` of nas-bench-graph: a raw link pattern and the op permutation that maps it
# onto a stored pattern (same function).
REGULARIZE = {
    (0, 0, 0, 2): ((0, 0, 0, 1), (1, 0, 2, 3)), (0, 0, 0, 3): ((0, 0, 0, 1), (2, 0, 1, 3)),
    (0, 0, 1, 0): ((0, 0, 0, 1), (0, 1, 3, 2)), (0, 0, 2, 0): ((0, 0, 0, 1), (1, 0, 3, 2)),
    (0, 0, 2, 1): ((0, 0, 1, 2), (1, 0, 2, 3)), (0, 0, 2, 2): ((0, 0, 1, 1), (1, 0, 2, 3)),
    (0, 0, 2, 3): ((0, 0, 1, 3), (1, 0, 2, 3)), (0, 1, 0, 0): ((0, 0, 0, 1), (0, 2, 3, 1)),
    (0, 1, 0, 1): ((0, 0, 1, 1), (0, 2, 1, 3)), (0, 1, 0, 2): ((0, 0, 1, 3), (0, 2, 1, 3)),
    (0, 1, 0, 3): ((0, 0, 1, 2), (0, 2, 1, 3)), (0, 1, 1, 0): ((0, 0, 1, 1), (0, 3, 1, 2)),
    (0, 1, 1, 3): ((0, 1, 1, 2), (0, 2, 1, 3)), (0, 1, 2, 0): ((0, 0, 1, 3), (0, 3, 1, 2)),
    (0, 1, 2, 1): ((0, 1, 1, 2), (0, 1, 3, 2)),
}


def test_canonical_isomorphic_wirings(space):
    g = np.random.default_rng(0)
    nonskip = [op for op in OPS if op != "skip"]
    for raw, (pattern, perm) in REGULARIZE.items():
        for _ in range(20):
            ops = tuple(g.choice(nonskip, 4))
            mapped = tuple(ops[p] for p in perm)
            a, b = to_string(raw, ops), to_string(pattern, mapped)
            assert space.canonical(a) == space.canonical(b) and space.key(a) == space.key(b)
    # node order within an equal-parent group does not matter
    assert space.canonical("gcn~0|gat~0|gin~0|fc~0") == space.canonical("fc~0|gin~0|gat~0|gcn~0")
    # a skip inside a chain is the identity; a skip leaf fed by the raw input contributes nothing
    chain = space.canonical("gcn~0|skip~1|gcn~2|gcn~3")
    assert chain == space.canonical("gcn~0|gcn~1|gcn~2|skip~0") == space.canonical("skip~0|gcn~0|gcn~2|gcn~3")
    assert space.canonical("gat~0|gat~0|gat~0|skip~0") == space.canonical("skip~0|gat~1|gat~1|gat~1")
    # not the same network: one shared arma layer vs two separate ones
    assert space.canonical("arma~0|arma~1|arma~1|gat~2") != space.canonical("arma~0|arma~1|gat~2|skip~2")
    assert space.canonical("gcn~0|gcn~0|gcn~0|gcn~0") != space.canonical("gcn~0|gcn~0|gcn~0|skip~1")


def test_canonical_is_idempotent_and_in_the_table(space):
    archs = space.enumerate()
    assert all(space.canonical(a) == a for a in archs[::7])
    assert len({function_key(*parse(a)) for a in archs}) == len(archs)  # one function per stored arch


def test_canonical_matches_the_benchmark_hash(space):
    """Our canonicalisation agrees with the package's ``Arch.valid_hash`` on every raw link pattern."""
    from nas_bench_graph.architecture import Arch

    g = np.random.default_rng(1)
    for links in RAW_LINKS:
        for code in g.choice(9**4 - 1, 500, replace=False):  # 6,560 = the last op assignment (all skip)
            ops = tuple(OPS[int(d)] for d in np.base_repr(int(code), 9).zfill(4))
            assert space.key(to_string(links, ops)) == Arch(list(links), list(ops)).valid_hash()


def test_key_round_trip():
    for key in (0, 11111, 88888, 45678):
        assert bench_key(*cell_of_key(key)) == key
    assert cell_of_key(11111) == ((0, 0, 0, 1), ("gcn", "gcn", "gcn", "gcn"))


def test_sample_is_seeded_and_uniform_over_the_table(space):
    a = space.sample(500, torch.Generator().manual_seed(3))
    assert a == space.sample(500, torch.Generator().manual_seed(3))
    assert a != space.sample(500, torch.Generator().manual_seed(4))
    stored = set(space.enumerate())
    assert set(a) <= stored and len(set(a)) > 490


# Values read straight from the package's pickles (cora key 0 / 11111, proteins key 1111).
KNOWN = [
    ("cora", "gat~0|gat~0|gat~0|gat~0", 0.7733333333333334, 0.797, 0.005922238032023112, 1.736711),
    ("cora", "gcn~0|gcn~0|gcn~0|gcn~1", 0.7920000000000001, 0.8116666666666666, 0.0043332576751708984, 1.367815),
    ("proteins", "gcn~0|gcn~0|gcn~0|gcn~0", 0.7763333333333332, 0.7352624285044876, 0.0020090738932291665, 0.558704),
]


@pytest.mark.parametrize("dataset, arch, val, test, latency, params", KNOWN)
def test_query_known_values(bench, dataset, arch, val, test, latency, params):
    assert bench.query(arch, dataset, "val_acc") == pytest.approx(100 * val)
    assert bench.query(arch, dataset, "test_acc") == pytest.approx(100 * test)
    assert bench.query(arch, dataset, "latency") == pytest.approx(latency)
    assert bench.query(arch, dataset, "params") == pytest.approx(params)


def test_query_isomorphic_wiring_and_interface(bench):
    # gcn~0|gcn~0|gcn~1|gcn~0 is the stored gcn~0|gcn~0|gcn~0|gcn~1 with nodes 3 and 4 swapped
    assert bench.query("gcn~0|gcn~0|gcn~1|gcn~0", "cora", "test_acc") == pytest.approx(81.16666666666666)
    assert bench.key("gcn~0|gcn~0|gcn~1|gcn~0") == 11111
    assert bench.cost("gcn~0|gcn~0|gcn~1|gcn~0", "cora") == 1.0 and bench.cost_unit == "trainings"
    assert bench.units["latency"] == ("ms", 1000.0) and bench.units["test_acc"][0] == "%"
    with pytest.raises(KeyError, match="only means"):
        bench.query("gcn~0|gcn~0|gcn~1|gcn~0", "cora", "test_acc", seed=0)
    with pytest.raises(KeyError, match="unknown nbgraph metric"):
        bench.table("cora", "train_time")
    with pytest.raises(KeyError, match="unknown nbgraph dataset"):
        bench.table("cifar10", "test_acc")
    arch, value = bench.optimum("cora")
    assert value == np.nanmax(bench.table("cora", "test_acc")) and bench.query(arch, "cora", "test_acc") == value


def test_table_order_matches_enumerate(bench):
    archs = bench.space.enumerate()
    raw = read_bench("citeseer")
    table = bench.table("citeseer", "val_acc")
    assert table.shape == (26_206,) and not np.isnan(table).any()
    for i in range(0, len(archs), 997):
        assert table[i] == pytest.approx(100 * raw[bench.space.key(archs[i])]["valid_perf"])
        assert bench.index(archs[i]) == i


def test_proteins_nans(bench):
    archs = bench.space.enumerate()
    table = bench.table("proteins", "test_acc")
    has = ~np.isnan(table)
    assert has.sum() == 2021
    assert has.tolist() == [set(parse(a)[1]) <= set(PROTEIN_OPS) for a in archs]
    missing = archs[int(np.flatnonzero(~has)[0])]
    with pytest.raises(KeyError, match="no test_acc"):
        bench.query(missing, "proteins", "test_acc")


def test_restricted_unpickler_refuses_other_classes():
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    for payload in (pickle.dumps({1: Evil()}), pickle.dumps({1: {"perf": np.arange(3.0)}}),
                    pickle.dumps({1: {"perf": np.float32(1.0)}})):
        with pytest.raises(pickle.UnpicklingError):
            load_bench_bytes(payload)
    assert load_bench_bytes(pickle.dumps({7: {"perf": np.float64(0.5), "para": 1.0}})) == {7: {"perf": 0.5, "para": 1.0}}


def test_cross_dataset_spearman(bench):
    rho = cross_dataset_spearman(bench)
    assert set(rho) == set(DATASETS)
    for dataset in DATASETS[:-1]:
        assert 0.3 < rho[dataset] < 0.7, (dataset, rho[dataset])
    assert abs(rho["proteins"]) < 0.2  # proteins (ROC-AUC, five ops) barely follows the others
