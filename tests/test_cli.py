"""The commands end to end: the shipped examples, the run directory, predict / evaluate / check / gradcheck."""

import io
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from nnfit.config import load_config
from nnfit.data import load_training_data
from nnfit.training import Streams, Trainer, history_columns

from conftest import REPO, blobs, model_of, run_cli, run_process, write_config, write_csv


def test_digits_example_reaches_95_percent_test_accuracy(tmp_path):
    result = run_cli("train", REPO / "configs/digits.yaml", "--out", tmp_path / "run", "--quiet")
    assert result.exit_code == 0, result.stderr
    line = result.json()
    assert line["test_accuracy"] >= 0.95
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["state"] == "finished" and summary["notes"] == []  # no advice on the examples
    assert summary["test"]["accuracy"] == line["test_accuracy"]
    matrix = np.array(summary["test"]["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    assert np.trace(matrix) / 360 == pytest.approx(line["test_accuracy"])
    evaluated = run_cli("evaluate", tmp_path / "run", REPO / "data/digits_test.csv").json()
    assert evaluated["accuracy"] == pytest.approx(line["test_accuracy"])
    assert evaluated["n_rows"] == 360


@pytest.mark.parametrize("config", ["sine", "xor", "linear"])
def test_other_examples_train(tmp_path, config):
    result = run_cli("train", REPO / f"configs/{config}.yaml", "--out", tmp_path / "run")
    assert result.exit_code == 0 and result.stderr == ""  # no advice: every note stays quiet on the examples
    line = result.json()
    if config == "sine":
        assert line["r2"] > 0.9
    elif config == "xor":
        assert line["accuracy"] > 0.97
    else:
        assert line["r2"] > 0.3


def test_run_directory_contents(tmp_path, tiny):
    config, _ = tiny
    result = run_cli("train", config, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.npz", "config.yaml", "metrics.csv", "model.json",
                                                    "model.npz", "summary.json"]
    metrics = pd.read_csv(run / "metrics.csv")
    assert list(metrics.columns) == history_columns("multiclass")
    assert metrics["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert metrics[["train_loss", "valid_loss", "accuracy", "macro_f1"]].notna().all().all()
    with np.load(run / "model.npz", allow_pickle=False) as arrays:
        assert sorted(arrays.files) == ["W0", "W1", "b0", "b1"]
        assert arrays["W0"].shape == (2, 8) and arrays["W1"].shape == (8, 3)
    info = json.loads((run / "model.json").read_text())
    assert info["layer_sizes"] == [2, 8, 3] and info["preprocessing"]["classes"] == ["a", "b", "c"]
    assert info["format_version"] == 1 and len(info["train_sha256"]) == 64
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epoch_kept"] == int(metrics["valid_loss"].idxmin()) + 1
    assert summary["best"]["valid_loss"] == pytest.approx(metrics["valid_loss"].min())
    # the saved config is resolved (defaults, absolute paths) and repeats the run exactly
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["train"]["optimizer"] == "sgd" and saved["loss"] == "cross_entropy"
    assert saved["data"]["train"].startswith("/")
    again = run_cli("train", run / "config.yaml", "--out", tmp_path / "again")
    assert again.exit_code == 0, again.stderr
    assert (tmp_path / "again/model.npz").read_bytes() == (run / "model.npz").read_bytes()


def test_train_prints_one_json_line_and_progress_stays_off_stdout(tmp_path, tiny):
    config, _ = tiny
    result = run_process("train", config, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    line = json.loads(result.stdout)
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert line["run_dir"] == str(tmp_path / "run") and "accuracy" in line
    assert (line["epoch_kept"], line["epochs_run"], line["stop_reason"]) == (summary["epoch_kept"], 5, "epochs")
    assert line["seconds_total"] == summary["wall_seconds"] > 0 and "seconds" not in line and "epoch" not in line


def test_predict_reproduces_in_memory_predictions(tmp_path):
    frame = blobs(n=300, seed=3, classes=("cat", "dog", "eel"))
    frame.insert(0, "id", np.arange(1000, 1300))
    write_csv(tmp_path / "train.csv", frame)
    config = write_config(tmp_path / "c.yaml", {
        "task": "multiclass", "data": {"train": "train.csv", "target": "label", "ignore": ["id"]},
        "model": {"hidden": [16]}, "train": {"epochs": 10, "optimizer": "adam", "learning_rate": 0.01}})
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0

    cfg = load_config(config)  # the same training, in memory
    streams = Streams.from_seed(cfg.train.seed)
    data = load_training_data(cfg, streams.split)
    result = Trainer(cfg, data, streams.init, streams.shuffle).run()
    X, _ = data.prep.transform(frame, "train.csv")
    labels, proba = model_of(cfg, data, result).predict(X)

    from_file = run_process("predict", tmp_path / "run", tmp_path / "train.csv", "--proba", "--keep", "id")
    from_stdin = run_process("predict", tmp_path / "run", "--proba", "--keep", "id",
                             input=(tmp_path / "train.csv").read_text())
    assert from_file.exit_code == 0, from_file.stderr
    assert from_file.stdout == from_stdin.stdout
    out = pd.read_csv(io.StringIO(from_file.stdout))
    assert list(out.columns) == ["id", "prediction", "proba_cat", "proba_dog", "proba_eel"]
    assert out["id"].tolist() == frame["id"].tolist()  # same rows, same order
    assert out["prediction"].tolist() == labels.tolist()
    np.testing.assert_array_equal(out[["proba_cat", "proba_dog", "proba_eel"]].to_numpy(np.float32), proba)
    np.testing.assert_allclose(out.filter(like="proba_").sum(axis=1), 1, atol=1e-6)
    assert (out["prediction"] == frame["label"]).mean() > 0.9


def test_predict_regression_and_binary_labels(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.uniform(-2, 2, 200)
    frame = pd.DataFrame({"x": x, "y": 3 * x + 1, "sign": np.where(x > 0, 1, -1)})
    write_csv(tmp_path / "d.csv", frame)
    reg = write_config(tmp_path / "reg.yaml", {"task": "regression", "data": {"train": "d.csv", "target": "y",
                                                                              "ignore": ["sign"]},
                                               "model": {"hidden": []}, "train": {"epochs": 50, "optimizer": "sgd"}})
    assert run_cli("train", reg, "--out", tmp_path / "reg").exit_code == 0
    out = pd.read_csv(io.StringIO(run_cli("predict", tmp_path / "reg", tmp_path / "d.csv").stdout))
    np.testing.assert_allclose(out["prediction"], frame["y"], atol=0.05)  # in original units
    assert run_cli("predict", tmp_path / "reg", tmp_path / "d.csv", "--proba").exit_code == 2

    binary = write_config(tmp_path / "bin.yaml", {"task": "binary", "data": {"train": "d.csv", "target": "sign",
                                                                              "ignore": ["y"]},
                                                  "model": {"hidden": []},
                                                  "train": {"epochs": 50, "optimizer": "sgd", "learning_rate": 0.5}})
    assert run_cli("train", binary, "--out", tmp_path / "bin").exit_code == 0
    result = run_cli("predict", tmp_path / "bin", tmp_path / "d.csv", "--proba", "-o", tmp_path / "p.csv")
    assert result.exit_code == 0 and result.stdout == ""
    out = pd.read_csv(tmp_path / "p.csv")
    assert list(out.columns) == ["prediction", "proba_-1", "proba_1"]
    assert set(out["prediction"]) == {-1, 1} and (out["prediction"] == frame["sign"]).mean() > 0.97


def test_evaluate_uses_the_metrics_csv_names(tmp_path, tiny):
    config, csv = tiny
    run_cli("train", config, "--out", tmp_path / "run")
    result = run_cli("evaluate", tmp_path / "run", csv)
    assert result.exit_code == 0, result.stderr
    scores = result.json()
    assert {"loss", "accuracy", "macro_f1", "n_rows", "confusion_matrix", "classes"} <= set(scores)
    assert scores["n_rows"] == 200


def test_evaluate_on_the_validation_file_repeats_metrics_csv_exactly(tmp_path):
    """The metrics are computed in fixed blocks of rows: the same rows in the same order give the same bits on
    one machine, also with float32 kernels that depend on a row's position (2,500 rows: three blocks)."""
    frame = blobs(n=3000, seed=3, classes=tuple("abcdef"), d=12)
    write_csv(tmp_path / "train.csv", frame.iloc[:500])
    write_csv(tmp_path / "valid.csv", frame.iloc[500:])
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass",
                                                "data": {"train": "train.csv", "valid": "valid.csv", "target": "label"},
                                                "model": {"hidden": [128, 96]}, "train": {"epochs": 4}})
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    kept = json.loads((tmp_path / "run/summary.json").read_text())["best"]
    scores = run_cli("evaluate", tmp_path / "run", tmp_path / "valid.csv").json()
    assert scores["loss"] == kept["valid_loss"]
    assert scores["accuracy"] == kept["accuracy"] and scores["macro_f1"] == kept["macro_f1"]
    metrics = pd.read_csv(tmp_path / "run/metrics.csv")
    assert metrics.valid_loss[kept["epoch"] - 1] == scores["loss"]


def test_check_prints_the_resolved_config_and_the_data(tmp_path, tiny):
    config, _ = tiny
    result = run_cli("check", config, "--set", "train.optimizer=adam")
    assert result.exit_code == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)  # the report is YAML comments
    assert resolved["train"]["optimizer"] == "adam" and resolved["model"]["init"] == "glorot"
    assert "# data.train:" in result.stdout and "200 rows" in result.stdout
    assert "label: target, 3 classes: 'a'" in result.stdout
    assert "network: 2 -> 8 -> 3" in result.stdout
    assert not (tmp_path / "runs").exists()
    (tmp_path / "resolved.yaml").write_text(result.stdout)
    assert load_config(tmp_path / "resolved.yaml") == load_config(config, ["train.optimizer=adam"])


def test_check_lists_every_problem(tmp_path, tiny):
    config, _ = tiny
    result = run_cli("check", config, "--set", "data.features=[x0, nope]", "--set", "data.test=absent.csv")
    assert result.exit_code == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("Error: ") for e in errors)
    assert "column 'nope' not found" in result.stderr and "absent.csv: file not found" in result.stderr
    assert run_cli("check", config, "--no-data", "--set", "data.train=absent.csv").exit_code == 0


def test_gradcheck_command(tiny):
    config, _ = tiny
    result = run_cli("gradcheck", config, "--set", "model.hidden=[5, 4]", "--set", "model.activation=tanh")
    assert result.exit_code == 0, result.stderr
    assert "max relative error" in result.stdout and ": ok" in result.stdout
    worst = float(result.stdout.split("max relative error ")[1].split()[0])
    assert worst < 1e-6


def test_version_and_help():
    from nnfit import __version__

    assert run_cli("--version").stdout.strip() == f"nnfit, version {__version__}"
    for command in ["train", "predict", "evaluate", "check", "gradcheck"]:
        result = run_cli(command, "--help")
        assert result.exit_code == 0 and "Example:" in result.stdout, command


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["check", "CONFIG", "--no-data"]])
def test_help_and_config_check_do_not_import_numpy_or_pandas(args, tiny):
    import subprocess
    import sys

    args = [str(tiny[0]) if a == "CONFIG" else a for a in args]
    code = (f"import sys; from nnfit.cli import main; sys.argv = ['nnfit'] + {args!r}\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "assert 'numpy' not in sys.modules and 'pandas' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_train_says_when_the_validation_loss_was_still_falling_at_the_end(tmp_path):
    """Too few epochs for the learning rate: a note on stderr and in summary.json. Enough of them: no note."""
    write_csv(tmp_path / "d.csv", blobs(n=300, seed=4, noise=1.5))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "d.csv", "target": "label"},
                                                "model": {"hidden": [8]},
                                                "train": {"epochs": 20, "learning_rate": 0.001}})
    short = run_cli("train", config, "--out", tmp_path / "short")
    assert short.exit_code == 0, short.stderr
    history = pd.read_csv(tmp_path / "short/metrics.csv")
    assert history.valid_loss.iloc[-1] == history.valid_loss.min() < 0.99 * history.valid_loss.iloc[-6]
    note = (f"the validation loss was still falling when training ended ({history.valid_loss.iloc[-6]:.4g} in epoch 15, "
            f"{history.valid_loss.iloc[-1]:.4g} in epoch 20): more epochs (train.epochs), or a larger "
            "train.learning_rate, would probably lower it further")
    assert short.stderr == f"Warning: {note}\n"
    assert json.loads((tmp_path / "short/summary.json").read_text())["notes"] == [note]
    assert run_cli("train", config, "--out", tmp_path / "quiet", "--quiet").stderr == ""

    # far too small a rate: each epoch a little better than the last, by less than 1% over the last five
    slow = run_cli("train", config, "--out", tmp_path / "slow", "--set", "train.learning_rate=1e-5")
    history = pd.read_csv(tmp_path / "slow/metrics.csv")
    assert history.valid_loss.iloc[-1] > 0.99 * history.valid_loss.iloc[-6]
    assert history.valid_loss.is_monotonic_decreasing
    assert "still falling" in slow.stderr

    enough = run_cli("train", config, "--out", tmp_path / "enough", "--set", "train.learning_rate=0.1",
                     "--set", "train.epochs=100")
    assert enough.exit_code == 0 and enough.stderr == ""
    assert json.loads((tmp_path / "enough/summary.json").read_text())["notes"] == []


def test_train_says_when_the_learning_rate_blew_the_loss_up(tmp_path):
    """Adam at 1000: the loss goes to 1e16 and comes back down, but never below a constant prediction's."""
    write_csv(tmp_path / "d.csv", blobs(n=300, seed=4, noise=1.5))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "d.csv", "target": "label"},
                                                "model": {"hidden": [8]},
                                                "train": {"epochs": 20, "optimizer": "adam", "learning_rate": 1000}})
    result = run_cli("train", config, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    history = pd.read_csv(tmp_path / "run/metrics.csv")
    constant = np.log(3)  # cross-entropy of equal probabilities for three classes
    assert history.valid_loss.min() > constant and history.valid_loss.max() > 10 * constant
    assert result.stderr == (f"Warning: the validation loss reached {history.valid_loss.max():.4g}, and its best, "
                             f"{history.valid_loss.min():.4g}, is worse than a constant prediction gives "
                             f"({constant:.4g}): train.learning_rate (it is 1000) is probably too large\n")


def test_a_wrong_option_or_argument_gets_one_line_naming_it(tmp_path):
    for args, message in [
        (["sweep", "s.yaml", "--out", tmp_path, "--workers", "0"],
         "Invalid value for '--workers' / '-j': 0 is not in the range x>=1. (see: nnfit sweep --help)"),
        (["train"], "Missing argument 'CONFIG'. (see: nnfit train --help)"),
        (["trian", "x.yaml"], "No such command 'trian'. Did you mean 'train'? (see: nnfit --help)"),
        (["--bogus", "train"], "No such option '--bogus'. (see: nnfit --help)"),
        (["train", "--set"], "Option '--set' requires an argument. (see: nnfit train --help)"),
    ]:
        result = run_cli(*args)
        assert (result.exit_code, result.stderr) == (2, f"Error: {message}\n")


def test_a_second_ctrl_c_quits_at_once_with_an_error_line(monkeypatch, capfd):
    import os
    import signal

    from nnfit.cliutil import stop_on_signals

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        requested = stop_on_signals(quiet=False, message="Stopping")
        handler = signal.getsignal(signal.SIGINT)
    finally:
        for sig, previous in saved.items():
            signal.signal(sig, previous)

    def exit_now(status):
        raise SystemExit(status)

    monkeypatch.setattr(os, "_exit", exit_now)
    handler(signal.SIGINT, None)
    assert requested() and "Stopping (again to quit at once) ..." in capfd.readouterr().err
    with pytest.raises(SystemExit) as ended:
        handler(signal.SIGINT, None)
    assert ended.value.code == 130 and capfd.readouterr().err == "Error: interrupted at once\n"


def test_a_profiled_run_keeps_its_profile(tmp_path):
    """The program ends at once after its command (nnfit/__main__.py), but not under a profiler or coverage,
    which write their results at Python's ending."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(tmp_path / "profile"), "-m", "nnfit",
                           "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("nnfit, version")
    assert (tmp_path / "profile").stat().st_size > 0
