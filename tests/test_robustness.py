"""Nothing lost, nothing crashes: interrupted, killed and diverging runs, resume, and the rest of the
bad-input catalogue (run directories, model files, wide data, --debug)."""

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml

from nnfit import commands as api
from nnfit.errors import ArtifactError, DataError, Interrupted, UsageError

from conftest import blobs, run_cli, write_config, write_csv

SLOW = {"epochs": 60, "batch_size": 8, "optimizer": "adam", "learning_rate": 0.001, "checkpoint_every": 1}


@pytest.fixture
def slow_run(tmp_path):
    """A run that takes a second or two as a process: enough room to interrupt or kill it."""
    write_csv(tmp_path / "train.csv", blobs(n=600, seed=11, classes=("a", "b", "c", "d"), d=6, noise=2.0))
    config = write_config(tmp_path / "slow.yaml", {"task": "multiclass", "data": {"train": "train.csv", "target": "label"},
                                                   "model": {"hidden": [64, 64]}, "train": SLOW})
    return config


def same_run(a, b):
    """Same kept weights to the last bit, and the same metrics.csv except the wall-time column."""
    assert (a / "model.npz").read_bytes() == (b / "model.npz").read_bytes()
    ma, mb = pd.read_csv(a / "metrics.csv"), pd.read_csv(b / "metrics.csv")
    pd.testing.assert_frame_equal(ma.drop(columns="seconds"), mb.drop(columns="seconds"), check_exact=True)


def readable(run):
    """Every run file is whole, and predict works."""
    yaml.safe_load((run / "config.yaml").read_text())
    json.loads((run / "model.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    with np.load(run / "model.npz", allow_pickle=False) as f:
        assert all(np.isfinite(f[k]).all() for k in f.files)
    metrics = (run / "metrics.csv").read_text()
    assert metrics.endswith("\n") and metrics.startswith("epoch,")
    assert all(line.count(",") == metrics.splitlines()[0].count(",") for line in metrics.splitlines())
    frame = api.predict(run, str(run.parent / "train.csv"))  # the tests keep train.csv beside their runs
    assert len(frame) > 0
    return summary


# ---- interrupt and resume, in process: every place a run can stop ----


@pytest.mark.parametrize("stop_after", [2, 16, 17, 46, 100])  # call 1 is before training; 15 batches an epoch
@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_interrupted_run_resumes_to_the_same_result(tmp_path, stop_after, optimizer):
    write_csv(tmp_path / "train.csv", blobs(n=300, seed=1, classes=("a", "b", "c")))
    config = write_config(tmp_path / "c.yaml", {
        "task": "multiclass", "data": {"train": "train.csv", "target": "label"}, "model": {"hidden": [16]},
        "train": {"epochs": 8, "batch_size": 16, "optimizer": optimizer, "learning_rate": 0.01,
                  "checkpoint_every": 3, "early_stopping": {"patience": 50}}})
    api.train(config, out=tmp_path / "full")
    calls = [0]

    def stop():
        calls[0] += 1
        return calls[0] >= stop_after

    with pytest.raises(Interrupted, match=r"interrupted .* continue with: nnfit train .* --resume"):
        api.train(config, out=tmp_path / "cut", should_stop=stop)
    summary = readable(tmp_path / "cut")
    assert summary["state"] == "interrupted" and (tmp_path / "cut/checkpoint.npz").exists()
    api.train(config, out=tmp_path / "cut", resume=True)
    assert json.loads((tmp_path / "cut/summary.json").read_text())["state"] == "finished"
    with np.load(tmp_path / "cut/checkpoint.npz") as final:  # the final state, to continue with more epochs
        assert json.loads(bytes(final["meta"]).decode())["epoch"] == 8
    same_run(tmp_path / "full", tmp_path / "cut")


@pytest.fixture(scope="module")
def stops_early(tmp_path_factory):
    """A noisy problem on which early stopping fires (patience 2, min_delta 0.01) well before the epochs run
    out, and its uninterrupted run."""
    folder = tmp_path_factory.mktemp("early")
    write_csv(folder / "train.csv", blobs(n=150, seed=21, classes=("a", "b", "c"), noise=2.5))
    config = write_config(folder / "c.yaml", {
        "task": "multiclass", "data": {"train": "train.csv", "target": "label", "valid_fraction": 0.2},
        "model": {"hidden": [64, 64]}, "train": {"epochs": 80, "batch_size": 10, "optimizer": "adam", "learning_rate": 0.01,
                  "checkpoint_every": 1, "early_stopping": {"patience": 2, "min_delta": 0.01}}})
    api.train(config, out=folder / "full")
    summary = json.loads((folder / "full/summary.json").read_text())
    assert summary["stop_reason"] == "early_stopping" and 4 <= summary["epochs_run"] < 40
    return folder, config, summary


@pytest.mark.parametrize("where", ["mid-epoch, patience counting", "between epochs, patience counting",
                                   "mid-epoch, in the last epoch"])
def test_resume_with_early_stopping_that_fires_ends_as_the_uninterrupted_run(stops_early, tmp_path, where):
    """The patience counter, its reference loss and the best loss so far all come back from the checkpoint:
    the resumed run stops in the same epoch and keeps the same weights, bit for bit."""
    folder, config, summary = stops_early
    last, batches = summary["epochs_run"], 12  # 120 training rows in batches of 10
    per_epoch = batches + 1  # should_stop is asked after every mini-batch and once more after the epoch
    stop_after = {"mid-epoch, patience counting": 1 + per_epoch * (last - 2) + 5,
                  "between epochs, patience counting": 1 + per_epoch * (last - 1),
                  "mid-epoch, in the last epoch": 1 + per_epoch * (last - 1) + 7}[where]
    calls = [0]

    def stop():
        calls[0] += 1
        return calls[0] >= stop_after

    with pytest.raises(Interrupted):
        api.train(config, out=tmp_path / "cut", should_stop=stop)
    api.train(config, out=tmp_path / "cut", resume=True)
    resumed = json.loads((tmp_path / "cut/summary.json").read_text())
    assert (resumed["stop_reason"], resumed["epochs_run"], resumed["epoch_kept"]) == \
        (summary["stop_reason"], summary["epochs_run"], summary["epoch_kept"])
    same_run(folder / "full", tmp_path / "cut")


def test_resume_refuses_a_changed_config_or_changed_data(tmp_path):
    write_csv(tmp_path / "train.csv", blobs(n=200, seed=2))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "train.csv", "target": "label"},
                                                "model": {"hidden": [8]}, "train": {"epochs": 5, "checkpoint_every": 1}})
    calls = iter(range(100))
    with pytest.raises(Interrupted):
        api.train(config, out=tmp_path / "run", should_stop=lambda: next(calls) > 3)
    with pytest.raises(UsageError, match=r"the config changed since the run started \(train.learning_rate was 0.001, is 0.5\)"):
        api.train(config, out=tmp_path / "run", resume=True, overrides=["train.learning_rate=0.5"])
    write_csv(tmp_path / "train.csv", blobs(n=200, seed=3))
    with pytest.raises(DataError, match="the training data changed since the run started"):
        api.train(config, out=tmp_path / "run", resume=True)
    (tmp_path / "run/checkpoint.npz").unlink()  # as if killed before the first checkpoint
    with pytest.raises(DataError, match="the training data changed since the run started"):
        api.train(config, out=tmp_path / "run", resume=True)


def test_resume_of_a_missing_or_finished_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "train.csv", blobs(n=200, seed=4))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "train.csv", "target": "label"},
                                                "model": {"hidden": [8]}, "train": {"epochs": 3}})
    first = run_cli("train", config, "--out", "run", "--resume")  # nothing there yet: a new run
    assert first.exit_code == 0, first.stderr
    again = run_cli("train", config, "--out", "run", "--resume")
    assert again.exit_code == 0 and "already finished" in again.stderr and again.json() == first.json()
    (tmp_path / "other").mkdir()
    (tmp_path / "other/notes.txt").write_text("mine")
    result = run_cli("train", config, "--out", "other", "--resume")
    assert result.exit_code == 2 and "not an nnfit run" in result.stderr
    result = run_cli("train", config, "--out", "other", "--force")
    assert result.exit_code == 2 and "not part of an nnfit run (notes.txt)" in result.stderr
    assert (tmp_path / "other/notes.txt").read_text() == "mine"


# ---- real processes: Ctrl-C, a second Ctrl-C, SIGKILL at random moments ----


def start(config, out, *extra):
    return subprocess.Popen([sys.executable, "-m", "nnfit", "train", str(config), "--out", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_epochs(run, count, process, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            return
        try:
            if (run / "metrics.csv").read_text().count("\n") > count:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.01)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_stops_cleanly_and_resume_finishes_the_same_run(slow_run, tmp_path, sig):
    full = run_cli("train", slow_run, "--out", tmp_path / "full", "--quiet")
    assert full.exit_code == 0, full.stderr
    process = start(slow_run, tmp_path / "cut")
    wait_for_epochs(tmp_path / "cut", 3, process)
    process.send_signal(sig)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert out == "" and err.strip().splitlines()[-1].startswith("Error: interrupted ")
    assert readable(tmp_path / "cut")["state"] == "interrupted"
    resumed = run_cli("train", slow_run, "--out", tmp_path / "cut", "--resume", "--quiet")
    assert resumed.exit_code == 0, resumed.stderr
    same_run(tmp_path / "full", tmp_path / "cut")


@pytest.mark.slow
def test_second_interrupt_exits_at_once_and_leaves_whole_files(slow_run, tmp_path):
    process = start(slow_run, tmp_path / "cut")
    wait_for_epochs(tmp_path / "cut", 2, process)
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.splitlines()[-1].startswith("Error: interrupted")  # "at once", unless the two arrived as one
    readable(tmp_path / "cut")


@pytest.mark.slow
def test_sigkill_at_random_moments_never_leaves_a_torn_run(slow_run, tmp_path):
    full = run_cli("train", slow_run, "--out", tmp_path / "full", "--quiet")
    assert full.exit_code == 0
    started = time.time()
    process = start(slow_run, tmp_path / "probe")
    wait_for_epochs(tmp_path / "probe", 0, process)
    appeared = time.time()
    process.communicate(timeout=120)
    startup, training = appeared - started, time.time() - appeared
    rng = np.random.default_rng(0)
    states = []
    for i in range(5):
        run = tmp_path / f"kill{i}"
        process = start(slow_run, run)
        if i % 2 == 0:  # anywhere from start-up (imports, data, creating the directory) into training
            time.sleep(rng.uniform(0.5, 1.0) * startup + rng.uniform(0, 0.5) * training)
        else:  # while training
            wait_for_epochs(run, 0, process)
            time.sleep(rng.uniform(0, 0.7) * training)
        process.kill()
        process.communicate()
        states.append(readable(run)["state"] if run.exists() else "absent")  # whole, or not there at all
        resumed = run_cli("train", slow_run, "--out", run, "--resume", "--quiet")
        assert resumed.exit_code == 0, resumed.stderr
        same_run(tmp_path / "full", run)
        assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    assert states.count("running") >= 2, states  # the kills while training did hit a run in progress


# ---- divergence ----


def test_divergence_exits_1_and_keeps_the_best_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(200, 3)) * 1000
    write_csv(tmp_path / "train.csv", pd.DataFrame(X, columns=list("abc")).assign(y=X.sum(axis=1)))
    config = write_config(tmp_path / "c.yaml", {
        "task": "regression", "data": {"train": "train.csv", "target": "y", "standardize": False, "scale_target": False},
        "model": {"hidden": [4]}, "train": {"epochs": 50, "optimizer": "sgd", "learning_rate": 1.0}})
    result = run_cli("train", config, "--out", "run")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "diverged: the training loss became" in result.stderr and "in epoch 1" in result.stderr
    assert "try a smaller train.learning_rate (it is 1)" in result.stderr
    summary = json.loads((tmp_path / "run/summary.json").read_text())
    assert summary["state"] == "failed" and summary["stop_reason"] == "diverged"
    assert run_cli("predict", "run", "train.csv").exit_code == 0


# ---- run directories and model files that cannot be used ----


@pytest.fixture
def finished(tmp_path, tiny):
    config, _ = tiny
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    return tmp_path / "run"


def test_run_directory_without_model_npz(finished, tiny):
    (finished / "model.npz").unlink()
    result = run_cli("predict", finished, tiny[1])
    assert result.exit_code == 2 and "model.npz not found" in result.stderr and result.stderr.count("\n") == 1


def test_run_directory_from_another_nnfit_version(finished, tiny):
    info = json.loads((finished / "model.json").read_text())
    info.update(format_version=99, nnfit_version="9.0.0")
    (finished / "model.json").write_text(json.dumps(info))
    result = run_cli("evaluate", finished, tiny[1])
    assert result.exit_code == 2 and "model format 99 (from nnfit 9.0.0)" in result.stderr
    assert "retrain" in result.stderr


def test_pickled_model_npz_is_refused_and_never_unpickled(finished, tiny, tmp_path):
    marker = tmp_path / "pwned"
    payload = np.array([os.system], dtype=object)  # unpickling would import and could call os.system
    buffer = io.BytesIO()
    np.save(buffer, payload, allow_pickle=True)
    with zipfile.ZipFile(finished / "model.npz", "w") as z:
        z.writestr("W0.npy", buffer.getvalue())
    result = run_cli("predict", finished, tiny[1])
    assert result.exit_code == 2 and "holds a pickled object; nnfit never unpickles" in result.stderr
    assert not marker.exists()
    with pytest.raises(ArtifactError):
        api.predict(finished, str(tiny[1]))


def test_more_features_than_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    write_csv(tmp_path / "wide.csv", pd.DataFrame(rng.normal(size=(20, 40))).add_prefix("f").assign(y=rng.normal(size=20)))
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "wide.csv", "target": "y", "valid_fraction": 0.2}})
    result = run_cli("train", config)
    assert result.exit_code == 2 and "16 training rows but 40 input features" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("task: binary\n")
    plain = subprocess.run([sys.executable, "-m", "nnfit", "train", "c.yaml"], capture_output=True, text=True)
    debug = subprocess.run([sys.executable, "-m", "nnfit", "--debug", "train", "c.yaml"], capture_output=True, text=True)
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "ConfigError" in debug.stderr


def test_interrupt_before_training_writes_nothing(tmp_path):
    write_csv(tmp_path / "train.csv", blobs(n=100, seed=5))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "train.csv", "target": "label"}})
    with pytest.raises(Interrupted, match="before training started; nothing was written"):
        api.train(config, out=tmp_path / "run", should_stop=lambda: True)
    assert not (tmp_path / "run").exists()



@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("importing", ["click", "pandas"])  # nnfit.cli's imports; the train command's
def test_a_signal_while_the_program_starts_gives_the_one_line(tmp_path, sig, importing):
    """The signal arrives, deterministically, while `nnfit train` imports `importing`: before the command sets
    its own handlers. It ends as Ctrl-C does later: one line, exit 130, nothing written (not a traceback, and
    not a silent death by SIGTERM)."""
    write_csv(tmp_path / "train.csv", blobs(n=100, seed=5))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "train.csv", "target": "label"}})
    code = ("import os, signal, sys\n"
            "class Signal:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            f"        if name == {importing!r}:\n"
            f"            os.kill(os.getpid(), signal.{sig})\n"
            "sys.meta_path.insert(0, Signal())\n"
            f"sys.argv = ['nnfit', 'train', {str(config)!r}, '--out', {str(tmp_path / 'run')!r}]\n"
            "from nnfit.__main__ import main\n"
            "main()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "Error: interrupted\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "train.csv"]

def test_predict_warns_about_untrained_weights(tmp_path):
    write_csv(tmp_path / "train.csv", blobs(n=200, seed=6))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "train.csv", "target": "label"},
                                                "model": {"hidden": [8]}, "train": {"epochs": 3, "batch_size": 8}})
    calls = iter(range(100))
    with pytest.raises(Interrupted, match="in epoch 1"):
        api.train(config, out=tmp_path / "run", should_stop=lambda: next(calls) >= 3)
    result = run_cli("predict", tmp_path / "run", tmp_path / "train.csv")
    assert result.exit_code == 0
    assert "the model holds its initial, untrained weights" in result.stderr


def test_metrics_lines_reach_the_disk_before_each_file_that_vouches_for_them(tmp_path, monkeypatch):
    """metrics.csv is fsynced before every checkpoint and before the final summary, not after every epoch."""
    from nnfit import files, rundir

    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if "." in name:  # a file, not a folder
            synced.append("metrics.csv" if name == "metrics.csv" else name.split(".")[1] if name.startswith(".")
                          else name)
        real_fsync(fd)

    monkeypatch.setattr(rundir.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "fsync", fsync)
    write_csv(tmp_path / "d.csv", blobs(n=120))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "d.csv", "target": "label"},
                                                "model": {"hidden": [4]}, "train": {"epochs": 9, "checkpoint_every": 4}})
    api.train(config, out=tmp_path / "run")
    order = [name for name in synced if name in ("metrics.csv", "checkpoint", "summary")]
    lines = (tmp_path / "run" / "metrics.csv").read_text().count("\n")
    assert lines == 10 and order.count("metrics.csv") < 9  # a header and 9 epochs, not an fsync each
    checkpoints = [i for i, name in enumerate(order) if name == "checkpoint"]
    assert len(checkpoints) == 3  # epochs 4 and 8, and the finished run's state
    for i in [*checkpoints, len(order) - 1]:  # each checkpoint and the final summary: metrics.csv synced just before
        assert order[i - 1] == "metrics.csv" or order[i - 2:i] == ["metrics.csv", "checkpoint"], order
