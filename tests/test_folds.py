"""k-fold cross-validation in the config (data.folds, data.fold): every row validates in exactly one fold, and each
fold has its share of every class."""

import numpy as np
import pytest

from nnfit.config import from_dict, load_config
from nnfit.data import kfold, load_training_data
from nnfit.errors import ConfigError
from nnfit.training import Streams

from conftest import blobs, write_config, write_csv

BASE = {"task": "multiclass", "data": {"train": "train.csv", "target": "label"}, "model": {"hidden": [8]},
        "train": {"epochs": 3, "batch_size": 16, "learning_rate": 0.1}}


@pytest.mark.parametrize("labels", [None, "classes"])
def test_kfold_deals_every_row_into_one_fold_stratified(labels):
    rng = np.random.default_rng(0)
    n, k = 103, 5
    y = rng.choice([0, 1, 2], size=n, p=[0.6, 0.3, 0.1]) if labels else None
    fold = kfold(n, y, k, np.random.default_rng(1))
    assert fold.shape == (n,) and set(fold) == set(range(k))
    sizes = np.bincount(fold, minlength=k)
    assert sizes.max() - sizes.min() <= 1
    if labels:
        for c in range(3):
            per_fold = np.bincount(fold[y == c], minlength=k)
            assert per_fold.max() - per_fold.min() <= 1  # each fold has its share of every class
    assert np.array_equal(kfold(n, y, k, np.random.default_rng(1)), fold)


def test_data_folds_give_each_row_to_exactly_one_validation_fold(tmp_path):
    frame = blobs(n=90, d=3)
    write_csv(tmp_path / "train.csv", frame)
    raw = {**BASE, "data": {"train": "train.csv", "target": "label", "standardize": False, "folds": 4}}
    seen, per_class = [], []
    for fold in range(1, 5):
        cfg = from_dict({**raw, "data": {**raw["data"], "fold": fold}}, base=tmp_path)
        data = load_training_data(cfg, Streams.from_seed(cfg.train.seed).split)
        assert len(data.train.X) + len(data.valid.X) == 90
        train_rows = {tuple(r) for r in data.train.X}
        valid_rows = {tuple(r) for r in data.valid.X}
        assert not train_rows & valid_rows
        seen += list(valid_rows)
        per_class.append(np.bincount(data.valid.target, minlength=3))
    assert sorted(seen) == sorted({tuple(r) for r in frame[["x0", "x1", "x2"]].to_numpy(np.float32)})
    counts = np.array(per_class)  # (fold, class)
    assert (counts.max(axis=0) - counts.min(axis=0) <= 1).all()


@pytest.mark.parametrize("data,message", [
    ({"folds": 3}, "c.yaml: data.fold: data.folds and data.fold go together: the number of folds and the fold that validates"),
    ({"fold": 1}, "c.yaml: data.folds: data.folds and data.fold go together: the number of folds and the fold that validates"),
    ({"folds": 3, "fold": 4}, "c.yaml: data.fold: expected a fold from 1 to data.folds = 3, found 4"),
    ({"folds": 3, "fold": 1, "valid": "v.csv"},
     "c.yaml: data.folds: the folds take the validation rows from data.train, but data.valid is set too; remove one of them"),
])
def test_data_folds_config_errors(tmp_path, monkeypatch, data, message):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path / "c.yaml", {**BASE, "data": {"train": "t.csv", "target": "y", **data}})
    with pytest.raises(ConfigError) as e:
        load_config("c.yaml")
    assert str(e.value) == message
