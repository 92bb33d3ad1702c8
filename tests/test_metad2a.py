"""MetaD2A data: opt-in restricted conversion, validation, safe loaders, meta-training loop."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from nagkit.predictors import (
    EncoderConfig,
    FitConfig,
    MetaTrainConfig,
    PredictorConfig,
    SetEncoderConfig,
    TaskFeatureSampler,
    convert_metad2a,
    default_source_dir,
    load_class_features,
    load_metad2a,
    load_untrusted,
    meta_train_predictor,
)
from nagkit.predictors.metad2a import FEATURES_FILE, IDX_FILE, RECORDS_FILE, RIDX_FILE, SAFE_RECORDS, TASKS_FILE
from nagkit.spaces import get_space

# The real originals, where this project's machines keep them (shared/data beside the checkout); users put them
# in default_source_dir() (<data root>/metad2a). Tests that need them are skipped elsewhere.
SRC = Path(__file__).resolve().parents[2] / "shared" / "data" / "metad2a"
real = pytest.mark.skipif(not (SRC / RECORDS_FILE).exists(),
                          reason=f"the MetaD2A files are not in {SRC} (see shared/data/README.md)")


class Evil:
    def __reduce__(self):
        return (os.getpid, ())


def _fake_source(folder, n_classes: int = 6, corrupt: bool = False) -> None:
    """A tiny MetaD2A-format source folder (3 records, 2 tasks) written with torch.save."""
    space = get_space("nb201")
    archs = space.sample(3, torch.Generator().manual_seed(0))
    xs = [space.encode(a) for a in archs]
    if corrupt:
        xs[1] = space.encode(archs[2])
    records = {"task": [0, 1, 1], "str": archs, "acc": [70.0, 65.5, 80.25], "x": xs,
               "flops": [1.0, 2.0, 3.0], "params": [0.1, 0.2, 0.3], "latency": [0.01, 0.02, 0.03]}
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(records, folder / RECORDS_FILE)
    torch.save([[1, 2, 3], [4, 5, n_classes]], folder / TASKS_FILE)
    torch.save(torch.tensor([2, 0, 1]), folder / IDX_FILE)
    torch.save(torch.randperm(10, generator=torch.Generator().manual_seed(0)), folder / RIDX_FILE)


def test_conversion_requires_explicit_trust(tmp_path) -> None:
    _fake_source(tmp_path / "src")
    with pytest.raises(ValueError, match="arbitrary code.*trust_pickles=True"):
        convert_metad2a(tmp_path / "src", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_restricted_unpickler_refuses_other_globals(tmp_path) -> None:
    torch.save({"payload": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        load_untrusted(tmp_path / "evil.pt")


def test_fake_source_round_trip_with_features(tmp_path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    _fake_source(src)
    gen = torch.Generator().manual_seed(0)
    torch.save([[torch.randn(9, 16, generator=gen), torch.zeros(9)] for _ in range(6)], src / FEATURES_FILE)
    written = convert_metad2a(src, out, trust_pickles=True)
    assert set(written) == {"records", "features"}
    raw = torch.load(written["records"], weights_only=True)  # plain tensors and lists only
    assert raw["arch"] == torch.load(src / RECORDS_FILE, weights_only=True)["str"]
    data = load_metad2a(out)
    assert len(data) == 3 and data.acc.tolist() == [70.0, 65.5, 80.25]
    assert data.task_classes.tolist() == [[1, 2, 3], [4, 5, 6]]
    train, valid = data.split(n_valid=1)
    assert valid.tolist() == [2] and train.tolist() == [0, 1]
    feats = load_class_features(written["features"])
    assert len(feats) == 6 and feats[0].shape == (9, 16)
    batch = TaskFeatureSampler(data, feats, n_per_class=4)(torch.tensor([0, 2]), torch.Generator().manual_seed(0))
    assert batch.shape == (2, 3, 4, 16)
    # record 2 belongs to task 1 = classes 4, 5, 6 -> rows drawn from features[3], [4], [5]
    assert all(any(torch.equal(r, f) for f in feats[3]) for r in batch[1, 0])


def test_conversion_rejects_a_record_whose_x_disagrees_with_its_string(tmp_path) -> None:
    _fake_source(tmp_path / "src", corrupt=True)
    with pytest.raises(ValueError, match="record 1"):
        convert_metad2a(tmp_path / "src", tmp_path / "out", trust_pickles=True)


def test_missing_files_are_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=RECORDS_FILE):
        convert_metad2a(tmp_path, tmp_path / "out", trust_pickles=True)
    with pytest.raises(FileNotFoundError, match=SAFE_RECORDS):
        load_metad2a(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        load_class_features(tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and FEATURES_FILE in msg and "MetaD2A" in msg and "convert_metad2a" in msg


def test_sampler_rejects_too_few_features(tmp_path) -> None:
    _fake_source(tmp_path / "src")
    convert_metad2a(tmp_path / "src", tmp_path / "out", trust_pickles=True)
    data = load_metad2a(tmp_path / "out")
    with pytest.raises(ValueError, match="class id 6"):
        TaskFeatureSampler(data, [torch.zeros(5, 4)] * 5, n_per_class=2)
    with pytest.raises(ValueError, match="fewer than n_per_class"):
        TaskFeatureSampler(data, [torch.zeros(5, 4)] * 6, n_per_class=20)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("metad2a")
    convert_metad2a(SRC, out, trust_pickles=True)
    return load_metad2a(out)


@real
def test_real_files_convert_and_validate(converted) -> None:
    data = converted
    assert len(data) == 4630 and len(set(data.task.tolist())) == 3031
    assert tuple(data.task_classes.shape) == (5000, 20) and int(data.task_classes.min()) >= 1
    assert sorted(data.idx.tolist()) == list(range(4630)) and sorted(data.ridx.tolist()) == list(range(15625))
    assert 0 < float(data.acc.min()) < float(data.acc.max()) <= 100
    assert torch.equal(data.x()[:5], get_space("nb201").encode_batch(data.arch[:5]))
    train, valid = data.split()
    assert len(valid) == 400 and len(train) == 4230


@real
def test_packaged_records_equal_a_fresh_conversion(converted) -> None:
    packaged = load_metad2a()  # nagkit/resources/metad2a_nb201.pt
    assert packaged.arch == converted.arch
    for field in ("task", "acc", "flops", "params", "latency", "task_classes", "idx", "ridx"):
        assert torch.equal(getattr(packaged, field), getattr(converted, field)), field


def test_packaged_records_load_without_the_originals() -> None:
    data = load_metad2a()
    assert len(data) == 4630 and tuple(data.task_classes.shape) == (5000, 20)
    assert len(data.split()[1]) == 400


@real
def test_meta_training_on_tiny_fake_features(converted) -> None:
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(6, 16, generator=gen) for _ in range(int(converted.task_classes.max()))]
    predictor = PredictorConfig(encoder=EncoderConfig(hidden=16, layers=2),
                                dataset=SetEncoderConfig(feature_dim=16, hidden=8, heads=2, out_dim=8))
    config = MetaTrainConfig(n_per_class=3, fit=FitConfig(steps=40, batch_size=16, lr=3e-3, progress=False))
    model, info = meta_train_predictor(converted, feats, config, predictor)
    assert len(info["losses"]) == 40 and all(torch.isfinite(torch.tensor(info["losses"])))
    assert info["valid"]["n"] == 400 and -1 <= info["valid"]["spearman"] <= 1
    assert model.set_encoder is not None and float(model.y_std) > 0
    with pytest.raises(ValueError, match="dataset-aware"):
        meta_train_predictor(converted, feats, config, PredictorConfig(encoder=EncoderConfig(hidden=16, layers=2)))


def test_default_source_dir_is_under_the_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("NAGKIT_DATA", str(tmp_path))
    assert default_source_dir() == tmp_path / "metad2a"
