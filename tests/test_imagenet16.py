"""NAS-Bench-201's ImageNet16-120 in its on-disk format (AutoDL-Projects' ImageNet16 pickles)."""
from __future__ import annotations

import os
import pickle

import pytest
import torch
from fixtures import make_imagenet16

from nagkit.data.datasets import get_spec, load_splits, read_imagenet16


class Evil:
    def __reduce__(self):
        return (os.getpid, ())


def test_reader_keeps_classes_1_to_120_zero_based_channel_first(tmp_path):
    make_imagenet16(tmp_path, per_class=2, val_per_class=1)
    train, val = read_imagenet16(tmp_path)
    assert train.images.shape == (240, 3, 16, 16) and train.images.dtype == torch.uint8
    assert val.images.shape == (120, 3, 16, 16)  # the extra labels 121, 500, 1000 are dropped
    assert torch.equal(train.labels.bincount(), torch.full((120,), 2))
    # the fixture's R plane holds the 1-based label, G the constant 7: a channel-first read gives flat planes
    assert torch.equal(train.images[:, 0, 5, 9].long(), train.labels + 1)
    assert (train.images[:, 1] == 7).all()
    numbers = train.images[:, 2, 0, 0]
    assert set(numbers.tolist()) == set(range(1, 11)) and (val.images[:, 2] == 11).all()


def test_splits_spec_and_statistics(tmp_path):
    make_imagenet16(tmp_path)
    s = load_splits("imagenet16-120", tmp_path)
    assert len(s.train) == 240 and len(s.valid) == len(s.test) == 60
    assert torch.equal(torch.cat([s.valid.labels, s.test.labels]).bincount(), torch.ones(120, dtype=torch.long))
    assert s.train.images.shape[-1] == 16 and s.resolution == 32  # native 16 px; the trainer resizes
    spec = get_spec("imagenet16-120")
    assert spec.n_classes == 120 and spec.folder == "ImageNet16" and spec.in_channels == 3
    assert spec.mean == pytest.approx((0.4811, 0.4575, 0.4079), abs=1e-4)  # NB201's [122.68, 116.66, 104.01] / 255
    assert spec.std == pytest.approx((0.2479, 0.2402, 0.2553), abs=1e-4)


def test_missing_data_says_where_to_get_it_and_put_it(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_splits("imagenet16-120", tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "ImageNet16") in msg and "NAS-Bench-201" in msg and "val_data" in msg


def test_pickles_with_other_globals_are_refused(tmp_path):
    make_imagenet16(tmp_path)
    (tmp_path / "ImageNet16" / "val_data").write_bytes(pickle.dumps({"data": Evil(), "labels": [1]}))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        read_imagenet16(tmp_path)
