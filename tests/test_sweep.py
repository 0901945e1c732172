"""The sweep file: the grid and the random draws, trial names, every validation error.

Nothing here trains; tests/test_sweep_run.py runs sweeps."""

import re

import numpy as np
import pytest

from nnfit.errors import DataError
from nnfit.reference import sweep_reference
from nnfit.sweep import load_sweep
from nnfit.sweepspace import trial_names

from conftest import REPO, blobs, run_cli, run_process, write_config, write_csv

BASE = {"task": "multiclass", "data": {"train": "train.csv", "target": "label"}, "model": {"hidden": [8]},
        "train": {"epochs": 3, "batch_size": 16, "learning_rate": 0.1}}


@pytest.fixture
def base(tmp_path):
    write_csv(tmp_path / "train.csv", blobs(n=60))
    return write_config(tmp_path / "base.yaml", BASE)


def sweep_file(tmp_path, **keys):
    return write_config(tmp_path / "sweep.yaml", {"base": "base.yaml", **keys})


def test_grid_is_every_combination_the_first_parameter_slowest(tmp_path, base):
    path = sweep_file(tmp_path, parameters={"train.learning_rate": [0.1, 0.01], "model.hidden": [[8], [4, 4], []]})
    sweep = load_sweep(path)
    assert [t.name for t in sweep.trials] == [
        "001-learning_rate=0.1-hidden=8", "002-learning_rate=0.1-hidden=4x4", "003-learning_rate=0.1-hidden=none",
        "004-learning_rate=0.01-hidden=8", "005-learning_rate=0.01-hidden=4x4", "006-learning_rate=0.01-hidden=none"]
    for trial in sweep.trials:
        (run, cfg), = trial.runs()
        assert run == f"trials/{trial.name}"
        assert (cfg.train.learning_rate, cfg.model.hidden) == (trial.values["train.learning_rate"],
                                                               trial.values["model.hidden"])
        assert cfg.train.epochs == 3 and cfg.data.train == str(tmp_path / "train.csv")  # the rest from the base
    assert sweep.spec.goal == "minimize" and sweep.spec.metric == "valid_loss"


def test_random_draws_are_reproducible_by_seed_and_more_samples_keep_the_first(tmp_path, base):
    space = {"train.learning_rate": {"log_uniform": [1e-4, 1e-1]}, "train.momentum": {"uniform": [0.5, 0.9]},
             "train.epochs": {"int_uniform": [2, 4]}, "model.activation": ["relu", "tanh"]}

    def values(seed, samples=40):
        return [t.values for t in load_sweep(sweep_file(tmp_path, method="random", samples=samples, seed=seed,
                                                        parameters=space)).trials]

    first = values(0)
    assert values(0) == first
    assert values(1) != first
    assert values(0, samples=50)[:40] == first
    lr = np.array([v["train.learning_rate"] for v in first])
    assert np.all((lr >= 1e-4) & (lr < 1e-1)) and lr.min() < 1e-3 and lr.max() > 1e-2  # spread over decades
    assert all(0.5 <= v["train.momentum"] < 0.9 for v in first)
    assert {v["train.epochs"] for v in first} == {2, 3, 4}  # both ends included
    assert {v["model.activation"] for v in first} == {"relu", "tanh"}
    assert all(isinstance(v["train.epochs"], int) for v in first)


def test_trial_names_are_readable_and_safe():
    names = trial_names([{"train.seed": 1, "data.seed": 2, "train.early_stopping": {"patience": 3},
                          "data.positive": "yes/no", "data.features": None, "data.standardize": True}])
    assert names == ["001-train.seed=1-data.seed=2-early_stopping=patience-3-positive=yes_no-features=null"
                     "-standardize=true"]
    assert trial_names([{}] * 1000)[-1] == "1000"


def test_resolved_sweep_file_needs_nothing_else_and_gives_the_same_trials(tmp_path, base):
    path = sweep_file(tmp_path, method="random", samples=3, parameters={"train.weight_decay": {"uniform": [0, 1e-3]}},
                      folds=2, metric="accuracy")
    sweep = load_sweep(path, ["train.epochs=2"])
    (tmp_path / "elsewhere").mkdir()
    again = load_sweep(write_text(tmp_path / "elsewhere" / "sweep.yaml", sweep.resolved()))
    assert [t.name for t in again.trials] == [t.name for t in sweep.trials]
    assert [t.configs for t in again.trials] == [t.configs for t in sweep.trials]
    assert again.spec.goal == "maximize" and again.trials[0].configs[0].train.epochs == 2


def write_text(path, text):
    path.write_text(text)
    return path


ERRORS = [  # (sweep file keys, --set overrides, the error line)
    ({"methd": "grid"}, [], "sweep.yaml: methd: unknown key (did you mean 'method'?)"),
    ({"method": "grud"}, [], "sweep.yaml: method: unknown 'grud' (choose from: grid, random; did you mean 'grid'?)"),
    ({"parameters": {"train.learnig_rate": [0.1]}}, [],
     "sweep.yaml: parameters.train.learnig_rate: not a config key (did you mean 'train.learning_rate'?)"),
    ({"parameters": {"train.learning_rate": [0.1, -1]}}, [],
     "sweep.yaml: parameters.train.learning_rate: expected a number > 0 (not .inf), found -1"),
    ({"parameters": {"model.hidden": [8, 16]}}, [],
     "sweep.yaml: parameters.model.hidden: expected a list of layer widths (integers >= 1), e.g. [64, 64], or [] "
     "for no hidden layer, found 8"),
    ({"method": "random", "samples": 30, "parameters": {"train.momentum": {"uniform": [0.5, 1.5]}}}, [],
     None),  # a drawn value the key refuses: checked for every trial (the value drawn is in the message)
    ({"parameters": {"train.weight_decay": {"log_uniform": [1e-6, 1e-2]}}}, [],
     "sweep.yaml: parameters.train.weight_decay: a distribution needs method: random (grid takes a list of values)"),
    ({"method": "random", "samples": 2, "parameters": {"train.weight_decay": {"log_uniform": [0, 1e-2]}}}, [],
     "sweep.yaml: parameters.train.weight_decay: log_uniform: expected 0 < low < high, found low 0, high 0.01"),
    ({"method": "random", "samples": 2, "parameters": {"train.weight_decay": {"loguniform": [1e-6, 1e-2]}}}, [],
     "sweep.yaml: parameters.train.weight_decay: unknown distribution 'loguniform' (choose from: uniform, "
     "log_uniform, int_uniform; did you mean 'log_uniform'?)"),
    ({"method": "random", "samples": 2, "parameters": {"train.epochs": {"int_uniform": [1, 2.5]}}}, [],
     "sweep.yaml: parameters.train.epochs: int_uniform: expected [low, high], two integers, found a list [1, 2.5]"),
    ({"parameters": {"train.learning_rate": 0.1}}, [],
     "sweep.yaml: parameters.train.learning_rate: expected a list of values, e.g. [0.001, 0.01], or (method: "
     "random) a distribution such as {log_uniform: [1.0e-6, 1.0e-2]}, found 0.1"),
    ({"parameters": {"train.learning_rate": [0.1, 0.1]}}, [],
     "sweep.yaml: parameters.train.learning_rate: 0.1 is listed twice"),
    ({"folds": 3}, ["data.valid=valid.csv"],
     "sweep.yaml: folds: the folds take the validation rows from data.train, but the base config sets data.valid; "
     "remove one of them"),
    ({"folds": 3, "parameters": {"data.fold": [1, 2]}}, [],
     "sweep.yaml: parameters.data.fold: the sweep's folds set it; sweep it without folds"),
    ({"folds": 1}, [], "sweep.yaml: folds: expected an integer >= 2, found 1"),
    ({"samples": 3}, [], "sweep.yaml: samples: only used by method 'random' (grid runs every combination)"),
    ({"method": "random", "parameters": {"train.seed": [1, 2]}}, [],
     "sweep.yaml: samples: method 'random' needs samples, the number of trials to draw"),
    ({"metric": "acuracy"}, [], "sweep.yaml: metric: 'acuracy' is no validation metric of task 'multiclass' "
     "(choose from: valid_loss, accuracy, macro_f1; did you mean 'accuracy'?)"),
    ({}, ["data.valid_fraction=0"], "sweep.yaml: metric: trial 001 has no validation rows to rank it by (data.valid "
     "is null and data.valid_fraction is 0); set folds, data.valid or data.valid_fraction"),
    ({"refit": True}, ["data.valid=train.csv"], "sweep.yaml: refit: trial 001 already trains on every row of "
     "data.train (data.valid is set), so a refit would repeat it; set refit: false"),
    ({"base": "nothere.yaml"}, [], "sweep.yaml: base: nothere.yaml: config file not found"),
    ({"base": {**BASE, "train": {"epocs": 3}}}, [], "sweep.yaml: base: train.epocs: unknown key (did you mean 'epochs'?)"),
    ({"parameters": {"train.learning_rate": [0.1]}}, ["train.learning_rate=0.2"],
     "--set train.learning_rate: sweep.yaml sweeps parameters.train.learning_rate; change its values there instead"),
    ({}, ["train.epocs=2"], "--set train.epocs: unknown key (did you mean 'epochs'?)"),
    ({}, ["metric=accuracy"], "--set metric: sets a key of the base config (--set train.epochs=20, say); metric is "
     "the sweep file's: change it in sweep.yaml"),
    ({}, ["data.train=nothere.csv"], "nothere.csv: file not found (data.train of trial 001)"),
    ({}, ["data.target=lable"],  # checked from the header once, not in every trial
     "train.csv: target column 'lable' not found (did you mean 'label'? columns: x0, x1, label)"),
    ({"parameters": {"data.ignore": [["x0"], ["x2"]]}}, [],
     "train.csv: column (in data.ignore) 'x2' not found (columns: x0, x1, label) (trial 002-ignore=x2)"),
    ({}, ["data.valid=valid.csv"], "valid.csv: feature column 'x1' not found (columns: x0, label)"),
    ({"parameters": {"task": ["multiclass", "regression"]}}, [],
     "sweep.yaml: trial 002-task=regression: loss: 'cross_entropy' does not fit task 'regression' (choose from: "
     "auto, mse, mae, huber)"),
]


@pytest.mark.parametrize("keys,overrides,line", ERRORS)
def test_each_mistake_is_one_line_exit_2_and_nothing_written(tmp_path, base, monkeypatch, keys, overrides, line):
    monkeypatch.chdir(tmp_path)
    if keys.get("parameters", {}).get("task"):  # a resolved loss does not fit the other task
        write_config(base, {**BASE, "loss": "cross_entropy"})
    write_csv(tmp_path / "valid.csv", blobs(n=20)[["x0", "label"]])
    path = sweep_file(tmp_path, **keys)
    result = run_cli("sweep", path.name, "--out", "out", *[a for o in overrides for a in ("--set", o)])
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and result.stdout == ""
    if line is None:
        assert re.fullmatch(r"Error: sweep\.yaml: parameters\.train\.momentum: expected a number >= 0 and < 1, "
                            r"found 1\.\d+ \(drawn for trial \d{3}-momentum=1\.\d+ from uniform \[0\.5, 1\.5\]: "
                            r"keep the range within what the key allows\)", lines[0]), lines[0]
    else:
        assert lines[0] == "Error: " + line
    assert not (tmp_path / "out").exists()


def test_out_must_be_a_sweep_folder_and_resume_needs_one(tmp_path, base, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sweep_file(tmp_path)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    result = run_cli("sweep", "sweep.yaml", "--out", "taken")
    assert result.exit_code == 2
    assert result.stderr == "Error: taken: exists and is not an nnfit sweep folder (no sweep.yaml); choose another --out\n"
    result = run_cli("sweep", "sweep.yaml", "--out", "new", "--resume")
    assert result.exit_code == 2
    assert result.stderr == "Error: new: holds no sweep to resume (no sweep.yaml); leave out --resume to start one\n"
    result = run_cli("sweep", "sweep.yaml", "--out", "new", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1")
    assert result.exit_code == 2 and result.stderr.startswith("Error: --workers: the Dask cluster's workers")
    assert not (tmp_path / "new").exists() and (tmp_path / "taken" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("address, found", [("garbage", "missing port number in address 'garbage'"),
                                            ("http://127.0.0.1:8786", "unknown scheme 'http://'")])
def test_a_malformed_scheduler_address_gets_one_line_at_once(tmp_path, base, address, found):
    """Not a traceback 20 s later from the half-made Dask client's clean-up, after the line."""
    sweep_file(tmp_path)
    result = run_process("sweep", "sweep.yaml", "--out", "new", "--scheduler", address, cwd=tmp_path)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"Error: --scheduler {address}: not a Dask scheduler's address ({found}")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith("expected tcp://HOST:PORT, e.g. tcp://10.0.0.1:8786\n")
    assert not (tmp_path / "new").exists()


def test_sweep_keys_are_documented_from_the_schema():
    text = (REPO / "docs" / "sweep.md").read_text()
    assert sweep_reference() in text, "docs/sweep.md is stale: python -m nnfit.reference sweep"


def test_the_sweep_driver_does_not_import_pandas():
    """The trials' processes import pandas; the driver, which checks every trial's columns from the headers
    (headers.py), would spend 0.2-0.5 s of every sweep's wall doing it too."""
    import subprocess
    import sys

    code = "import sys, nnfit.clisweep, nnfit.sweeprun; assert 'pandas' not in sys.modules, 'pandas imported'"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


@pytest.mark.parametrize("train,valid", [
    ("x0,x1,label,\n1,2,a,\n3,4,b,\n", "x0,x1,label\n1,2,a\n"),  # a separator ending every line: dropped
    ("\ufeff\r\nx0;x1;label\r\n1;2;a\r\n", None),  # a BOM, then a blank line
    ("  \n\nx0;x1;label\n1;2;a\n", None),  # blank lines first: the separator is the header's
    ('x0,"x1",label\n1,2,a\n', None),
])
def test_the_column_check_before_a_sweep_never_refuses_what_a_run_reads(tmp_path, train, valid):
    """The driver reads headers without pandas; where it reads one otherwise than a run does, it asks the run's
    reader before refusing anything."""
    from nnfit.sweepcheck import check_data

    (tmp_path / "train.csv").write_bytes(train.encode())
    data = {"train": "train.csv", "target": "label", **({"valid": "valid.csv"} if valid else {})}
    if valid:
        (tmp_path / "valid.csv").write_text(valid)
    write_config(tmp_path / "base.yaml", {**BASE, "data": data})
    plan = load_sweep(sweep_file(tmp_path, parameters={"train.learning_rate": [0.1, 0.2]}))
    check_data([(t, cfg) for t in plan.trials for _, cfg in t.runs()])
    write_config(tmp_path / "base.yaml", {**BASE, "data": {**data, "target": "lable"}})
    plan = load_sweep(sweep_file(tmp_path, parameters={"train.learning_rate": [0.1, 0.2]}))
    with pytest.raises(DataError, match="train.csv: target column 'lable' not found \\(did you mean 'label'"):
        check_data([(t, cfg) for t in plan.trials for _, cfg in t.runs()])
