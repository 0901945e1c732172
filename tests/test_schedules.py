"""Learning-rate schedules, dropout, and the advice about a finished run."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from nnfit import commands
from nnfit.activations import ACTIVATIONS
from nnfit.config import from_dict
from nnfit.gradcheck import check_gradients
from nnfit.network import Params, Workspace, backward, backward_plain, forward, forward_plain, init_params
from nnfit.schedules import rate

from conftest import blobs, run_cli, write_config, write_csv


def train_cfg(**schedule):
    cfg = from_dict({"task": "regression", "data": {"train": "-", "target": "y"},
                     "train": {"epochs": 10, "learning_rate": 0.1, "schedule": schedule}})
    return cfg.train


def rates(train, losses=None):
    history = []
    out = []
    for epoch in range(1, train.epochs + 1):
        out.append(rate(train, epoch, history))
        history.append({"valid_loss": None if losses is None else losses[epoch - 1], "train_loss": 1.0})
    return out


def test_each_schedule_gives_its_rates():
    assert rates(train_cfg()) == [0.1] * 10
    np.testing.assert_allclose(rates(train_cfg(name="step", every=3, factor=0.5)),
                               [0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.0125], rtol=1e-15)
    cosine = rates(train_cfg(name="cosine", min_rate=0.01))
    np.testing.assert_allclose(cosine, [0.01 + 0.09 * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(10)],
                               rtol=1e-15)
    assert cosine[0] == 0.1 and cosine[-1] > 0.01
    # plateau: patience 2, factor 0.5: epochs 4 and 5 do not beat epoch 3's loss, so epoch 6 runs at half
    losses = [1.0, 0.8, 0.7, 0.75, 0.71, 0.69, 0.7, 0.72, 0.73, 0.74]
    np.testing.assert_allclose(rates(train_cfg(name="plateau", patience=2, factor=0.5, min_rate=0.03), losses),
                               [0.1] * 5 + [0.05] * 3 + [0.03] * 2, rtol=1e-15)
    np.testing.assert_allclose(rates(train_cfg(name="step", every=4, factor=0.5, warmup=3))[:5],
                               [0.025, 0.05, 0.075, 0.1, 0.05], rtol=1e-15)


def test_metrics_csv_shows_each_epochs_rate_and_resume_is_bit_for_bit_with_a_schedule_and_dropout(tmp_path):
    write_csv(tmp_path / "t.csv", blobs(n=300, seed=1, classes=("a", "b", "c")))
    config = write_config(tmp_path / "c.yaml", {
        "task": "multiclass", "data": {"train": "t.csv", "target": "label"},
        "model": {"hidden": [32, 16], "dropout": 0.3, "activation": "tanh"},
        "train": {"epochs": 6, "batch_size": 16, "optimizer": "momentum", "learning_rate": 0.05,
                  "schedule": {"name": "plateau", "patience": 1, "factor": 0.5}, "checkpoint_every": 2}})
    commands.train(config, out=tmp_path / "full")
    metrics = pd.read_csv(tmp_path / "full/metrics.csv")
    expected = rates(from_dict(json.loads(json.dumps(__import__("yaml").safe_load(
        (tmp_path / "full/config.yaml").read_text())))).train, metrics.valid_loss.tolist())
    np.testing.assert_allclose(metrics.learning_rate, expected, rtol=1e-15)
    assert metrics.learning_rate.nunique() > 1
    for stop_after in (9, 40, 47):  # 15 mini-batches an epoch, and one ask after each epoch
        calls = iter(range(1000))
        with pytest.raises(Exception):
            commands.train(config, out=tmp_path / f"cut{stop_after}", should_stop=lambda: next(calls) >= stop_after)
        commands.train(config, out=tmp_path / f"cut{stop_after}", resume=True)
        assert (tmp_path / f"cut{stop_after}/model.npz").read_bytes() == (tmp_path / "full/model.npz").read_bytes()
        cut = pd.read_csv(tmp_path / f"cut{stop_after}/metrics.csv")
        pd.testing.assert_frame_equal(cut.drop(columns="seconds"), metrics.drop(columns="seconds"), check_exact=True)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_dropout_gradients_with_the_mask_fixed(activation):
    rng = np.random.default_rng(3)
    params = init_params([5, 7, 6, 3], "glorot", rng, np.float64)
    X, Y = rng.normal(size=(9, 5)), np.eye(3)[rng.integers(0, 3, 9)]
    masks = Workspace(params.sizes, 9, np.float64, dropout=True).draw_masks(0.4, rng)
    assert all(set(np.unique(m)) <= {0.0, 1 / 0.6} for m in masks) and any((m == 0).any() for m in masks)
    errors = check_gradients(params, X, Y, activation, "cross_entropy", masks=masks)
    assert max(errors.values()) < 1e-7, errors
    # the fast passes with masks equal the textbook ones with the same masks
    z_plain, hs_plain = forward_plain(params, X, ACTIVATIONS[activation], masks)
    space = Workspace(params.sizes, 9, np.float64, dropout=True)
    z, hs = forward(params, X, ACTIVATIONS[activation], space, masks)
    np.testing.assert_allclose(z, z_plain, rtol=1e-12, atol=1e-14)
    dz = rng.normal(size=z.shape) / 9
    fast = backward(params, X, hs, dz, ACTIVATIONS[activation], Params(params.sizes, np.float64), space, masks=masks)
    np.testing.assert_allclose(fast.flat, backward_plain(params, X, hs_plain, dz, ACTIVATIONS[activation], masks).flat,
                               rtol=1e-11, atol=1e-14)


def test_dropout_drops_the_share_it_says_and_is_off_when_predicting(tmp_path):
    space = Workspace([4, 2000, 3], 50, np.float32, dropout=True)
    mask = space.draw_masks(0.25, np.random.default_rng(0))[0]
    assert abs((mask == 0).mean() - 0.25) < 0.01 and np.allclose(mask[mask > 0], 1 / 0.75)  # inverted scaling
    write_csv(tmp_path / "t.csv", blobs(n=200, seed=2))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "t.csv", "target": "label"},
                                                "model": {"hidden": [16], "dropout": 0.5}, "train": {"epochs": 3}})
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    first = run_cli("predict", tmp_path / "run", tmp_path / "t.csv", "--proba").stdout
    assert first == run_cli("predict", tmp_path / "run", tmp_path / "t.csv", "--proba").stdout  # no random drops
    model = __import__("nnfit.model", fromlist=["Model"]).Model.load(tmp_path / "run")
    X = np.random.default_rng(1).normal(size=(30, 2)).astype(np.float32)
    z_plain, _ = forward_plain(model.params, X, ACTIVATIONS["relu"])  # no masks: all units, unscaled
    np.testing.assert_allclose(model.logits(X), z_plain, rtol=1e-5, atol=1e-6)


# ---- advice ----


def overfitting_frame(n, seed):
    """A small, noisy, almost linear problem: a wide network fits the noise within a few epochs."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10))
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(10)]).assign(y=X[:, 0] + 0.5 * X[:, 1] + rng.normal(0, 1, n))


def test_an_early_overfit_is_named_with_the_runs_numbers(tmp_path):
    write_csv(tmp_path / "t.csv", overfitting_frame(100, seed=2))
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "t.csv", "target": "y"},
                                                "model": {"hidden": [128]},
                                                "train": {"epochs": 100, "optimizer": "adam", "learning_rate": 0.01}})
    result = run_cli("train", config, "--out", tmp_path / "run")
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    kept, losses = summary["epoch_kept"], pd.read_csv(tmp_path / "run/metrics.csv").valid_loss
    assert kept <= 5 and losses.iloc[-1] >= 1.5 * losses.min()
    note = (f"the network overfits almost at once: the validation loss was lowest in epoch {kept} of 100 "
            f"({losses.min():.4g}) and rose to {losses.iloc[-1]:.4g} by the end")
    assert note in result.stderr and any(n.startswith(note) for n in summary["notes"])
    assert "train.weight_decay (it is 0; try 0.001 and up), model.dropout (it is 0; try 0.2), or a smaller network " \
           "(model.hidden is [128])" in result.stderr
    regularized = run_cli("train", config, "--out", tmp_path / "wd", "--set", "train.weight_decay=0.1",
                          "--set", "model.dropout=0.3")
    assert "overfits almost at once" not in regularized.stderr


def test_a_regression_worse_than_a_straight_line_says_so(tmp_path):
    write_csv(tmp_path / "t.csv", overfitting_frame(80, seed=0))
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "t.csv", "target": "y", "valid_fraction": 0.2},
                                                "model": {"hidden": [256, 256]},
                                                "train": {"epochs": 100, "optimizer": "adam", "learning_rate": 0.01}})
    result = run_cli("train", config, "--out", tmp_path / "run")
    assert "is below a linear model's on the same rows" in result.stderr and "model.hidden: []" in result.stderr
    linear = run_cli("train", config, "--out", tmp_path / "linear", "--set", "model.hidden=[]")
    assert "below a linear model" not in linear.stderr  # a linear model is not compared with itself


def test_without_validation_rows_the_run_says_once_that_overfitting_goes_unseen(tmp_path, tiny):
    config, _ = tiny
    result = run_cli("train", config, "--out", tmp_path / "run", "--set", "data.valid_fraction=0")
    assert result.stderr.count("without validation rows nothing can tell when the network starts to overfit") == 1
    assert "data.valid_fraction (e.g. 0.2)" in result.stderr
    quiet = run_cli("train", config, "--out", tmp_path / "run2")
    assert "without validation rows" not in quiet.stderr


def test_still_falling_sees_the_trend_through_a_noisy_last_epoch():
    """The shortest config on a 1-D sine kept epoch 99 of 100 while its loss fell steadily: one noisy last
    epoch must not hide that. A loss that fell by a tiny share of its whole fall at the end stays quiet."""
    from nnfit.advice import training_note

    def rows(losses):
        return [{"epoch": i + 1, "valid_loss": v} for i, v in enumerate(losses)]

    falling = [0.64 * 0.985 ** e for e in range(100)]
    falling[-1] = falling[-2] * 1.02  # epoch 100 a little worse than epoch 99
    note = training_note(rows(falling), "epochs", constant=1.0, learning_rate=0.001)
    assert note.startswith(f"the validation loss was still falling when training ended ({falling[89]:.4g} in epoch "
                           f"90, {falling[98]:.4g} in epoch 99)")
    settled = [0.7 * 0.9 ** e + 0.0026 for e in range(200)]  # XOR: 0.7 down to 0.0026, the end flat
    settled[-1] += 1e-4
    assert training_note(rows(settled), "epochs", constant=1.0, learning_rate=0.001) is None
    assert training_note(rows(falling), "early_stopping", constant=1.0, learning_rate=0.001) is None
    early = falling[:50] + [falling[49] * 1.001 ** e for e in range(50)]  # best in epoch 50 of 100
    assert training_note(rows(early), "epochs", constant=1.0, learning_rate=0.001) is None
