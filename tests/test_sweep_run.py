"""nnfit sweep end to end: results.csv, best and refit, folds, a failing trial, Ctrl-C, kill -9 then --resume,
and the Dask path on a real distributed.LocalCluster and on a cluster started by hand (dask scheduler, dask
worker). Every sweep is a few tiny trials; the local pool runs 2 worker processes."""

import csv
import dataclasses
import json
import os
import signal
import shutil
import subprocess
import sys
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from nnfit.commands import predict
from nnfit.config import load_config
from nnfit.sweep import load_sweep
from nnfit.sweepjob import Job, probe, run_job
from nnfit.sweeprows import trial_row
from nnfit.sweeprun import run_sweep

from conftest import blobs, run_cli, write_config, write_csv

pytestmark = pytest.mark.slow  # process pools and Dask clusters: left out of mutation runs

BASE = {"task": "multiclass", "data": {"train": "train.csv", "target": "label"}, "model": {"hidden": [8]},
        "train": {"epochs": 8, "batch_size": 16, "optimizer": "sgd", "learning_rate": 0.1}}
RATES = [0.03, 0.3]


def results(folder) -> list[dict]:
    with open(Path(folder) / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def without_seconds(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def summary(run_dir) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())


def files(folder) -> dict:
    """(mtime, bytes) of every file of every trial's run directory."""
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(Path(folder, "trials").rglob("*")) if p.is_file()}


@contextmanager
def inside(folder):
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)


def cli(folder, *args):
    with inside(folder):
        return run_cli(*args)


@pytest.fixture(scope="module")
def here(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    write_csv(folder / "train.csv", blobs(n=300, d=4))
    write_config(folder / "base.yaml", BASE)
    write_config(folder / "rates.yaml", {"base": "base.yaml", "parameters": {"train.learning_rate": RATES}})
    return folder


@pytest.fixture(scope="module")
def reference(here):
    """The rates sweep, uninterrupted, on the local pool: what the other runs of it must equal."""
    result = run_sweep(load_sweep(here / "rates.yaml", ["train.epochs=20"]), here / "reference", workers=2)
    assert not result.problems and not result.stopped
    return here / "reference"


@pytest.fixture(scope="module")
def searched(here):
    """A grid with a trial that diverges, ranked by accuracy, with a refit."""
    write_config(here / "search.yaml", {"base": "base.yaml", "metric": "accuracy", "refit": True,
                                        "parameters": {"train.learning_rate": [0.05, 0.3, 1.0e6]}})
    return here / "search", cli(here, "sweep", "search.yaml", "--out", "search", "--workers", "2")


def test_results_best_and_refit(searched, here):
    folder, result = searched
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("Error: 1 of 3 trials failed (first: 003-learning_rate=1e+06: "
                                                     "training diverged: the training loss became nan")
    rows = results(folder)
    assert list(rows[0]) == ["trial", "state", "train.learning_rate", "accuracy", "epoch", "seconds", "run_dir", "error"]
    assert [(r["trial"], r["state"]) for r in rows] == [
        ("001-learning_rate=0.05", "finished"), ("002-learning_rate=0.3", "finished"), ("003-learning_rate=1e+06", "failed")]
    for row in rows[:2]:  # the row says what the run directory says
        s = summary(folder / row["run_dir"])
        assert s["state"] == "finished" and row["error"] == ""
        assert float(row["accuracy"]) == s["best"]["accuracy"] and int(row["epoch"]) == s["epoch_kept"]
    assert rows[2]["accuracy"] == "" and rows[2]["error"].startswith("training diverged")
    best = max(rows[:2], key=lambda r: (float(r["accuracy"]), -int(r["trial"][:3])))
    assert os.readlink(folder / "best") == best["run_dir"]
    line = json.loads(result.stdout)
    assert line["best"] == best["trial"] and line["accuracy"] == float(best["accuracy"])
    assert line["parameters"] == {"train.learning_rate": float(best["train.learning_rate"])}
    assert (line["finished"], line["failed"], line["interrupted"], line["trials"]) == (2, 1, 0, 3)
    assert line["final"] == "search/final" and line["run_dir"] == "search/best"
    frame = predict(folder / "best", here / "train.csv")
    assert len(frame) == 300 and set(frame["prediction"]) <= {"a", "b", "c"}
    final = load_config(folder / "final" / "config.yaml")
    kept = load_config(folder / best["run_dir"] / "config.yaml")
    assert final.data.valid_fraction == 0 and final.train.epochs == int(best["epoch"])
    assert final.train.learning_rate == kept.train.learning_rate and summary(folder / "final")["state"] == "finished"
    assert "without validation rows" not in result.stderr  # the refit has none on purpose; its summary says so
    assert any(n.startswith("without validation rows") for n in summary(folder / "final")["notes"])
    assert [t.name for t in load_sweep(folder / "sweep.yaml").trials] == [r["trial"] for r in rows]


def test_a_second_run_keeps_finished_trials_and_refuses_changes_to_them(searched, here):
    folder, first = searched
    before = {p: v for p, v in files(folder).items() if "/003-" not in str(p)}
    rows = results(folder)
    again = cli(here, "sweep", "search.yaml", "--out", "search", "--workers", "2", "--resume")
    assert again.exit_code == 1  # the failed trial ran again, and failed again
    assert {p: v for p, v in files(folder).items() if "/003-" not in str(p)} == before
    assert without_seconds(results(folder)) == without_seconds(rows)
    assert json.loads(again.stdout) == json.loads(first.stdout)
    changed = cli(here, "sweep", "search.yaml", "--out", "search", "--set", "train.epochs=9")
    assert changed.exit_code == 2
    assert changed.stderr == ("Error: search: cannot continue: the sweep changes trials/001-learning_rate=0.05, which "
                              "finished (train.epochs was 8, is 9); start the sweep in another --out\n")
    assert {p: v for p, v in files(folder).items() if "/003-" not in str(p)} == before


def test_a_grid_that_grows_keeps_its_finished_trials_under_their_new_numbers(here):
    write_config(here / "grow.yaml", {"base": "base.yaml", "parameters": {"train.learning_rate": [0.1, 0.3]}})
    run_sweep(load_sweep(here / "grow.yaml", ["train.epochs=3"]), here / "grow", workers=1)
    before = {p.relative_to(here / "grow"): v for p, v in files(here / "grow").items()}
    rows = {r["train.learning_rate"]: r for r in results(here / "grow")}
    write_config(here / "grow.yaml", {"base": "base.yaml", "parameters": {"train.learning_rate": [0.03, 0.1, 0.2, 0.3]}})
    warnings = []
    result = run_sweep(load_sweep(here / "grow.yaml", ["train.epochs=3"]), here / "grow", workers=1,
                       warn=warnings.append)
    assert result.line["finished"] == 4
    assert "trials/001-learning_rate=0.1: kept as trials/002-learning_rate=0.1, the trial with its config now" in warnings
    after = {p.relative_to(here / "grow"): v for p, v in files(here / "grow").items()}
    renamed = {Path(str(p).replace("001-learning_rate=0.1", "002-learning_rate=0.1")
                    .replace("002-learning_rate=0.3", "004-learning_rate=0.3")): v for p, v in before.items()}
    assert {p: after[p] for p in renamed} == renamed  # the same bytes and times, not trained again
    for row in results(here / "grow"):
        if row["train.learning_rate"] in rows:
            assert {k: v for k, v in row.items() if k not in ("trial", "run_dir")} == \
                {k: v for k, v in rows[row["train.learning_rate"]].items() if k not in ("trial", "run_dir")}


def test_a_fold_sweep_says_each_move_and_each_error_once_per_trial(here):
    """A trial's folds move together and usually fail together: one warning and one message each, naming
    the folds, not the same line once per fold."""
    write_config(here / "growcv.yaml", {"base": "base.yaml", "folds": 3, "parameters": {"train.learning_rate": [0.1]}})
    run_sweep(load_sweep(here / "growcv.yaml", ["train.epochs=2"]), here / "growcv", workers=2)
    write_config(here / "growcv.yaml", {"base": "base.yaml", "folds": 3,
                                        "parameters": {"train.learning_rate": [0.03, 0.1]}})
    warnings = []
    plan = load_sweep(here / "growcv.yaml", ["train.epochs=2"])
    run_sweep(plan, here / "growcv", workers=2, warn=warnings.append)
    moved = [w for w in warnings if "kept as" in w]
    assert moved == ["trials/001-learning_rate=0.1: kept as trials/002-learning_rate=0.1, the trial with its config now"]
    trial = plan.trials[0]
    outcomes = {run: {"state": "failed", "error": "training diverged"} for run, _ in trial.runs()}
    outcomes[trial.runs()[2][0]] = {"state": "failed", "error": "out of memory"}
    row = trial_row(plan, trial, here / "growcv", outcomes)
    assert row["error"] == "fold-1, fold-2: training diverged; fold-3: out of memory"


def test_cross_validation_sweep(here):
    write_config(here / "cv.yaml", {"base": "base.yaml", "folds": 3, "metric": "accuracy"})
    result = run_sweep(load_sweep(here / "cv.yaml"), here / "cv", workers=2)
    assert not result.problems
    (row,) = results(here / "cv")
    assert row["trial"] == "001" and row["state"] == "finished"
    folds = [here / "cv" / "trials" / "001" / f"fold-{i}" for i in (1, 2, 3)]
    for i, run in enumerate(folds, 1):
        cfg = load_config(run / "config.yaml")
        assert (cfg.data.folds, cfg.data.fold) == (3, i)
    scores = [summary(run)["best"]["accuracy"] for run in folds]
    assert float(row["accuracy"]) == pytest.approx(np.mean(scores), abs=1e-15)
    assert float(row["accuracy_std"]) == pytest.approx(np.std(scores), abs=1e-15)
    assert float(row["epoch"]) == np.mean([summary(run)["epoch_kept"] for run in folds])
    assert result.line["accuracy_std"] == float(row["accuracy_std"]) and os.readlink(here / "cv" / "best") == "trials/001"


def sweep_process(here, out, *extra, sweep="rates.yaml"):
    epochs = ["--set", "train.epochs=20"] if sweep == "rates.yaml" else []
    return subprocess.Popen([sys.executable, "-m", "nnfit", "sweep", sweep, "--out", out, *epochs,
                             "-q", *extra], cwd=here, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(condition, seconds=60.0):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_ctrl_c_stops_the_running_trials_with_a_checkpoint(here):
    p = sweep_process(here, "stopped", "--workers", "1", "--set", "train.epochs=1000")
    first = here / "stopped" / "trials" / "001-learning_rate=0.03"
    wait_for(lambda: (first / "config.yaml").exists())
    os.killpg(p.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the driver and its workers
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert err.splitlines()[-1] == ("Error: interrupted; continue with: nnfit sweep rates.yaml --out stopped --resume "
                                    "--set train.epochs=20 --set train.epochs=1000")
    line = json.loads(out)
    assert (line["finished"], line["interrupted"], line["not_started"]) == (0, 1, 1)
    assert [(r["trial"], r["state"]) for r in results(here / "stopped")] == [(first.name, "interrupted")]
    assert summary(first)["state"] == "interrupted" and (first / "checkpoint.npz").exists()
    assert sorted(p.name for p in (here / "stopped" / "trials").iterdir()) == [first.name]


def test_ctrl_c_with_stdout_piped_to_a_reader_that_quit_still_gives_the_hint_and_130(here):
    """`nnfit sweep ... | jq`: the Ctrl-C stops jq too, so the JSON line meets a closed pipe; the hint and the
    exit status must still follow (they were lost, exit 1)."""
    p = sweep_process(here, "piped", "--workers", "1", "--set", "train.epochs=1000")
    wait_for(lambda: (here / "piped" / "trials" / "001-learning_rate=0.03" / "config.yaml").exists())
    p.stdout.close()  # the reader is gone
    os.killpg(p.pid, signal.SIGINT)
    err = p.stderr.read()
    assert p.wait(timeout=60) == 130, err
    assert err.splitlines()[-1].startswith("Error: interrupted; continue with: nnfit sweep rates.yaml --out piped"), err
    assert "Traceback" not in err


def test_ctrl_c_with_an_idle_worker_still_saves_the_running_trials_checkpoint(here):
    """One trial, two workers: the idle one gets the Ctrl-C too and must not quit, which would break the pool
    (Python's pool then sends SIGTERM to the busy one, a second signal, which would quit without a checkpoint)."""
    write_config(here / "one.yaml", {"base": "base.yaml", "parameters": {"train.epochs": [2000]}})
    p = sweep_process(here, "one", "--workers", "2", sweep="one.yaml")
    trial = here / "one" / "trials" / "001-epochs=2000"
    wait_for(lambda: (trial / "config.yaml").exists())
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert json.loads(out)["interrupted"] == 1
    assert summary(trial)["state"] == "interrupted" and (trial / "checkpoint.npz").exists()
    assert not list(trial.glob(".*.tmp"))


def test_kill_9_then_resume_keeps_finished_trials_and_ends_as_an_uninterrupted_sweep(here):
    """One worker: trial 001 is short, 002 long enough to be caught training when the driver is killed (its
    worker looks for the driver every POLL_SECONDS; 200 epochs of this network can take less than that)."""
    write_config(here / "kill.yaml", {"base": "base.yaml", "parameters": {"train.epochs": [10, 2000]}})
    short, long = here / "killed" / "trials" / "001-epochs=10", here / "killed" / "trials" / "002-epochs=2000"
    p = sweep_process(here, "killed", "--workers", "1", sweep="kill.yaml")
    wait_for(lambda: (long / "config.yaml").exists())
    p.kill()
    p.communicate()
    assert summary(short)["state"] == "finished"
    text = (here / "killed" / "results.csv").read_text()
    assert text.endswith("\n") and len(text.splitlines()) <= 2  # whole lines only; the folder is the truth
    wait_for(lambda: summary(long)["state"] == "interrupted")  # its worker saw the driver go, and checkpointed
    assert (long / "checkpoint.npz").exists()
    before = files(short.parent.parent)
    before = {p: v for p, v in before.items() if p.parent == short}
    again = cli(here, "sweep", "kill.yaml", "--out", "killed", "--resume")
    assert again.exit_code == 0, again.stderr
    assert {p: v for p, v in files(here / "killed").items() if p.parent == short} == before
    run_sweep(load_sweep(here / "kill.yaml"), here / "unkilled", workers=1)
    assert without_seconds(results(here / "killed")) == without_seconds(results(here / "unkilled"))
    for t in (short, long):
        assert (t / "model.npz").read_bytes() == (here / "unkilled" / "trials" / t.name / "model.npz").read_bytes()
        assert (t / "metrics.csv").read_text().count("\n") == (here / "unkilled" / "trials" / t.name /
                                                               "metrics.csv").read_text().count("\n")


def test_a_pool_that_breaks_after_a_stop_still_ends_every_run(here):
    """A stop, then the pool breaks (a Ctrl-C also ends the pool's idle processes; here the busy one is killed):
    the sweep must still end. It hung on Python 3.11 when the driver had cancelled the queued runs' futures:
    the pool's thread died failing them (CPython gh-107219), and the runs still out never came back."""
    write_config(here / "four.yaml", {"base": "base.yaml", "parameters": {"train.epochs": [2000, 5, 6, 7]}})
    p = sweep_process(here, "broken", "--workers", "1", sweep="four.yaml")
    session = here / "broken" / ".sweep" / "session"
    lock = here / "broken" / ".sweep" / "runs" / "trials" / "001-epochs=2000" / "lock"
    wait_for(lambda: (here / "broken" / "trials" / "001-epochs=2000" / "config.yaml").exists())
    (worker,) = holding(p.pid, lock)
    os.kill(p.pid, signal.SIGINT)  # the driver alone: it writes the stop, and its worker trains on until it reads it
    wait_for(lambda: session.read_text().startswith("stop"), seconds=10)
    os.kill(worker, signal.SIGKILL)  # before the worker's next look at the session file, half a second at most
    try:
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, err
    line = json.loads(out)
    assert (line["finished"], line["interrupted"], line["not_started"]) == (0, 1, 3)
    assert [(r["trial"], r["state"]) for r in results(here / "broken")] == [("001-epochs=2000", "interrupted")]


def holding(pid: int, path: Path) -> list[int]:
    """The child processes of pid that have path open (Linux /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in children if any(os.path.realpath(fd) == str(path) for fd in
                                            (f"/proc/{c}/fd/{n}" for n in os.listdir(f"/proc/{c}/fd")))]


def test_a_worker_process_that_dies_mid_trial_is_replaced_and_its_run_resumes(here):
    write_config(here / "two.yaml", {"base": "base.yaml", "parameters": {"train.epochs": [2000, 5]}})
    p = sweep_process(here, "lost", "--workers", "1", sweep="two.yaml")
    lock = here / "lost" / ".sweep" / "runs" / "trials" / "001-epochs=2000" / "lock"
    wait_for(lambda: (here / "lost" / "trials" / "001-epochs=2000" / "config.yaml").exists())
    victims = []
    wait_for(lambda: victims.extend(holding(p.pid, lock)) or victims)
    # the environment it was started with (before it imported numpy) limits its BLAS to one thread
    assert b"OPENBLAS_NUM_THREADS=1" in Path(f"/proc/{victims[0]}/environ").read_bytes().split(b"\0")
    os.kill(victims[0], signal.SIGKILL)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert [r["state"] for r in results(here / "lost")] == ["finished"] * 2
    assert (lock.parent / "starts").read_text().count("\n") == 2  # started again, once


def test_a_worker_prepares_the_data_once_for_the_trials_that_share_it_and_trains_them_as_nnfit_train(
        here, tmp_path, monkeypatch):
    from nnfit import cache, sweepjob
    from nnfit.commands import train

    monkeypatch.setitem(sweepjob._process, "parent", os.getppid())  # as in a pool's process (init_worker)
    monkeypatch.setattr(cache, "_memory", type(cache._memory)())
    monkeypatch.setattr(cache, "RECENT_SECONDS", 0.0)  # the CSV may be younger than that here
    (tmp_path / ".sweep").mkdir()
    (tmp_path / ".sweep" / "session").write_text("s\n")
    trials = load_sweep(here / "rates.yaml").trials
    for trial in trials:
        outcome = run_job(Job(f"trials/{trial.name}", trial.configs[0], str(tmp_path), "s"))
        assert outcome["state"] == "finished", outcome
    first, second = (summary(tmp_path / "trials" / t.name) for t in trials)
    assert first["timing"]["preprocess"] > 0.0 and second["timing"]["preprocess"] == 0.0  # kept from the first
    train(trials[1].configs[0], out=tmp_path / "plain")  # without keep_data: parsed afresh, as `nnfit train` does
    assert (tmp_path / "plain" / "model.npz").read_bytes() == (tmp_path / "trials" / trials[1].name / "model.npz").read_bytes()


def test_a_pool_started_before_the_sweep_runs_it_and_one_that_ran_nothing_ends_at_once(here, reference, tmp_path):
    """`nnfit sweep` starts its processes before it reads the sweep file (so that their imports and its own
    overlap): such a pool runs the sweep as run_sweep's own would, and one that never got a run (the sweep file
    was refused) is stopped rather than waited for."""
    from nnfit.pools import LocalPool

    idle = LocalPool(1).start()
    (process,) = idle._pool._processes.values()
    idle.close()
    assert process.exitcode == -signal.SIGKILL  # not 0: it did not run on to a normal exit
    pool = LocalPool(2).start()
    result = run_sweep(load_sweep(here / "rates.yaml", ["train.epochs=20"]), tmp_path / "out", pool=pool)
    assert not result.problems and pool._pool is None  # run_sweep closed it
    assert without_seconds(results(tmp_path / "out")) == without_seconds(results(reference))
    for trial in (reference / "trials").iterdir():
        mine = tmp_path / "out" / "trials" / trial.name / "model.npz"
        assert mine.read_bytes() == (trial / "model.npz").read_bytes()


def test_a_pool_whose_processes_ended_before_the_sweep_began_still_runs_it(here, reference, tmp_path):
    """A Ctrl-C (or anything) can end a started pool's idle processes before the driver submits a run: the
    submit must not raise, and the runs go to a new pool."""
    from nnfit.pools import LocalPool

    pool = LocalPool(1).start()
    (process,) = pool._pool._processes.values()
    process.kill()
    wait_for(lambda: pool._pool._broken, seconds=30)
    result = run_sweep(load_sweep(here / "rates.yaml", ["train.epochs=20"]), tmp_path / "out", pool=pool)
    assert not result.problems and not result.stopped
    assert without_seconds(results(tmp_path / "out")) == without_seconds(results(reference))


def test_ctrl_c_while_a_pool_process_starts_waits_for_its_handler(capfd):
    """A Ctrl-C that reaches a pool process before its handler is set (it is still importing) waits until it is,
    instead of ending it with a KeyboardInterrupt traceback from inside its imports; the idle process stays,
    for its driver to close the pool."""
    from nnfit.pools import LocalPool
    from nnfit.sweepjob import ready

    pool = LocalPool(1).start()
    (process,) = pool._pool._processes.values()
    os.kill(process.pid, signal.SIGINT)  # a new interpreter: far from done with its imports yet
    assert pool._pool.submit(ready).result(timeout=60) == process.pid
    pool.close()
    assert "Traceback" not in capfd.readouterr().err


def test_worker_processes_that_cannot_start_fail_the_trial_instead_of_retrying_forever(here, tmp_path):
    """A program read from stdin cannot be imported again by a spawned process, so none of its pool's workers
    ever runs a job: after LOST_ATTEMPTS such pools in a row, the runs are recorded as failed."""
    from nnfit.sweeprun import LOST_ATTEMPTS

    program = (f"import json\nfrom nnfit.sweep import load_sweep\nfrom nnfit.sweeprun import run_sweep\n"
               f"r = run_sweep(load_sweep({str(here / 'rates.yaml')!r}), {str(tmp_path / 'out')!r}, workers=1)\n"
               f"print(json.dumps([r.line, r.problems]))\n")
    done = subprocess.run([sys.executable, "-"], input=program, capture_output=True, text=True, timeout=120)
    line, problems = json.loads(done.stdout)
    assert (line["finished"], line["failed"]) == (0, 2)
    error = f"the worker processes ended {LOST_ATTEMPTS} times in a row before they could start a run (see the messages above)"
    assert [r["error"] for r in results(tmp_path / "out")] == [error, error]
    assert problems[0].startswith("2 of 2 trials failed") and "<stdin>" in done.stderr


class ScriptedPool:
    """The local pool's interface, with futures settled by a script instead of processes: script(run, attempt)
    says 'ok', 'dies' (the run starts, then its worker dies) or 'never' (the worker dies before starting it).
    A worker that dies breaks the pool, as ProcessPoolExecutor's does: every run submitted with it is lost."""

    infrastructure = (BrokenProcessPool,)

    def __init__(self, folder, script):
        self.folder, self.script, self.pending, self.breaks = folder, script, [], 0

    def submit(self, job, attempt):
        future = Future()
        self.pending.append((future, job, attempt))
        return future

    def wait(self, futures, timeout):
        fates = {id(f): self.script(job.run, attempt) for f, job, attempt in self.pending}
        broken = any(fate != "ok" for fate in fates.values())
        self.breaks += broken
        for future, job, attempt in self.pending:
            if fates[id(future)] == "dies":
                starts = Path(self.folder, ".sweep", "runs", job.run, "starts")
                starts.parent.mkdir(parents=True, exist_ok=True)
                with open(starts, "a") as f:
                    f.write("s\n")
            if broken:
                future.set_exception(BrokenProcessPool("a process in the pool died"))
            else:
                future.set_result({"state": "finished"})
        self.pending = []
        return set(futures)

    def unstarted(self, futures):
        return []

    def lost(self, future):
        pass


def test_runs_lost_with_a_pool_that_others_break_go_again_and_a_pool_that_runs_nothing_ends_them(tmp_path):
    from types import SimpleNamespace

    from nnfit.sweeprun import LOST_ATTEMPTS, _Driver

    def drive(script):
        pool = ScriptedPool(tmp_path, script)
        driver = _Driver(None, SimpleNamespace(path=tmp_path), pool, "s", lambda message: None, None)
        outcomes = {}
        driver.run([Job(f"trials/{name}", None, str(tmp_path), "s") for name in "abcd"],
                   lambda job, outcome: outcomes.update({job.run[7:]: outcome}))
        return {run: (o["state"], o.get("error")) for run, o in sorted(outcomes.items())}, pool.breaks

    # a's worker dies twice and c's once: three pools break, taking the queued runs along, which finish all the same
    killed = drive(lambda run, attempt: "dies" if run == "trials/a" and attempt <= 2 or
                   run == "trials/c" and attempt == 3 else "ok")
    died_twice = ("failed", "the workers running it died twice (killed, or out of memory?)")
    assert killed == ({"a": died_twice, "b": ("finished", None), "c": ("finished", None), "d": ("finished", None)}, 3)
    shutil.rmtree(tmp_path / ".sweep")
    nothing = drive(lambda run, attempt: "never")
    error = f"the worker processes ended {LOST_ATTEMPTS} times in a row before they could start a run (see the messages above)"
    assert nothing == ({run: ("failed", error) for run in "abcd"}, LOST_ATTEMPTS)


def test_a_run_whose_workers_died_twice_fails_and_a_job_of_an_old_session_starts_nothing(here, tmp_path):
    cfg = load_sweep(here / "rates.yaml").trials[0].configs[0]
    job = Job("trials/x", cfg, str(tmp_path), "session-1")
    assert run_job(job)["error"].endswith("cannot see " + str(tmp_path / ".sweep" / "session") + ": the workers "
                                         "need the data files and the sweep folder at the same paths as the machine "
                                         "running nnfit sweep (a shared filesystem)")
    (tmp_path / ".sweep" / "runs" / "trials" / "x").mkdir(parents=True)
    (tmp_path / ".sweep" / "session").write_text("session-2\n")
    assert run_job(job)["state"] == "new"
    (tmp_path / ".sweep" / "session").write_text("session-1\n")
    (tmp_path / ".sweep" / "runs" / "trials" / "x" / "starts").write_text("session-0\nsession-1\nsession-1\n")
    outcome = run_job(job)
    assert outcome["state"] == "failed" and outcome["error"] == "the workers running it died twice (killed, or out of memory?)"
    assert not (tmp_path / "trials").exists()
    token = tmp_path / "token"
    token.write_text("abc")
    assert probe([str(here / "train.csv"), str(tmp_path / "nothere.csv")], (str(token), "abc"))["missing"] == [
        str(tmp_path / "nothere.csv")]
    assert probe([], (str(token), "xyz"))["missing"] == [str(tmp_path)]


def test_a_metric_undefined_in_a_fold_leaves_the_trial_unranked_and_says_why(tmp_path):
    """roc_auc on 4 folds of a file with 3 positive rows: a fold without one has no roc_auc, so no trial has a
    mean, none is best and the refit asked for cannot run. The sweep says so and exits 1, rather than 0 with
    `best: null` and no word."""
    frame = blobs(n=120, seed=2, classes=("no", "yes"))
    frame["label"] = "no"
    frame.loc[[5, 50, 90], "label"] = "yes"
    write_csv(tmp_path / "rare.csv", frame)
    write_config(tmp_path / "base.yaml", {"task": "binary", "data": {"train": "rare.csv", "target": "label"},
                                          "model": {"hidden": [4]}, "train": {"epochs": 2}})
    write_config(tmp_path / "s.yaml", {"base": "base.yaml", "metric": "roc_auc", "folds": 4, "refit": True,
                                       "parameters": {"train.learning_rate": [0.1, 0.01]}})
    result = run_cli("sweep", tmp_path / "s.yaml", "--out", tmp_path / "out", "--workers", "1", "--quiet")
    assert result.exit_code == 1 and json.loads(result.stdout)["best"] is None
    assert json.loads(result.stdout)["final"] is None  # the refit that could not run: null, not a missing key
    rows = results(tmp_path / "out")
    assert [r["state"] for r in rows] == ["finished", "finished"] and all(r["roc_auc"] == "" for r in rows)
    empty = [f"fold-{k}" for k in range(1, 5) if summary(tmp_path / "out/trials" / rows[0]["trial"] / f"fold-{k}")
             ["best"].get("roc_auc") is None]
    assert empty and rows[0]["error"] == f"no roc_auc: undefined on the validation rows of {', '.join(empty)}"
    assert result.stderr.startswith(f"Error: no finished trial has a value of roc_auc, the metric that ranks them "
                                    f"(first: {rows[0]['trial']}: {rows[0]['error']}); choose another metric; refit: "
                                    "no finished trial has a value of roc_auc, so there is no best trial to refit")
    assert not (tmp_path / "out/final").exists() and not (tmp_path / "out/best").exists()


def test_a_dask_worker_that_joined_later_and_cannot_see_the_data_says_so(here, tmp_path):
    """The workers there when the sweep began were checked; one that joins later and cannot see a data file
    fails its runs with the whole path and why, not a path relative to its own folder."""
    (tmp_path / ".sweep").mkdir()
    (tmp_path / ".sweep" / "session").write_text("session-1\n")
    cfg = load_sweep(here / "rates.yaml").trials[0].configs[0]
    gone = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, train=str(tmp_path / "elsewhere/train.csv")))
    outcome = run_job(Job("trials/x", gone, str(tmp_path), "session-1"))  # as on a Dask worker: no pool parent
    assert outcome["state"] == "failed"
    assert outcome["error"] == (f"{outcome['host']} cannot see {tmp_path / 'elsewhere/train.csv'}: the workers need "
                                "the data files and the sweep folder at the same paths as the machine running nnfit "
                                "sweep (a shared filesystem)")
    assert not (tmp_path / "trials").exists()


def test_dask_local_cluster_two_workers_of_one_thread(here, reference):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        result = run_sweep(load_sweep(here / "rates.yaml", ["train.epochs=20"]), here / "dask",
                           scheduler=cluster.scheduler_address)
    assert not result.problems and result.line["finished"] == 2
    rows, expected = results(here / "dask"), results(reference)
    assert [r["trial"] for r in rows] == [r["trial"] for r in expected]
    # processes=False runs the trials in this process's threads, with its BLAS threads rather than one: the last
    # bits may differ from the pool's (tests/test_sweep_run.py's by-hand cluster compares bit for bit)
    assert np.allclose([float(r["valid_loss"]) for r in rows], [float(r["valid_loss"]) for r in expected], rtol=1e-5)


def test_a_cluster_started_by_hand(here, reference, tmp_path):
    """The README's recipe: dask scheduler, dask worker (2 processes of 1 thread), nnfit sweep --scheduler."""
    pytest.importorskip("distributed")
    dask = Path(sys.executable).parent / "dask"
    address_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", ":0",
                                  "--no-show", "--scheduler-file", address_file], stderr=subprocess.DEVNULL)
    workers = None
    try:
        wait_for(lambda: address_file.exists() and address_file.stat().st_size > 0)
        address = json.loads(address_file.read_text())["address"]
        workers = subprocess.Popen([dask, "worker", address, "--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1",
                                    "--no-dashboard", "--memory-limit", "0"], stderr=subprocess.DEVNULL)
        p = subprocess.run([sys.executable, "-m", "nnfit", "sweep", "rates.yaml", "--out", str(tmp_path / "hand"),
                            "--set", "train.epochs=20", "--scheduler", address, "-q"], cwd=here, capture_output=True,
                           text=True, timeout=120)
    finally:
        for process in (workers, scheduler):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
    assert p.returncode == 0, p.stderr
    # `dask worker` starts its processes with one BLAS thread, as the local pool does: the same bits
    assert without_seconds(results(tmp_path / "hand")) == without_seconds(results(reference))


def test_on_a_terminal_the_bar_and_the_warnings_stay_off_stdout(tmp_path):
    """stderr a terminal (the bar shows) and stdout a pipe, as in `nnfit sweep ... | jq .best`: stdout holds
    the JSON line alone, and each run's warning reaches the terminal."""
    import pty
    import threading

    frame = blobs(n=60)
    frame.loc[3, "label"] = None  # each run warns that it dropped the row
    write_csv(tmp_path / "train.csv", frame)
    write_config(tmp_path / "base.yaml", {"task": "multiclass", "data": {"train": "train.csv", "target": "label"},
                                          "model": {"hidden": [8]}, "train": {"epochs": 3}})
    write_config(tmp_path / "sweep.yaml", {"base": "base.yaml", "parameters": {"train.learning_rate": [0.1, 0.01]}})
    terminal, end = pty.openpty()
    shown = []

    def read():
        while True:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # the other end closed
                return
            if not chunk:
                return
            shown.append(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    process = subprocess.run([sys.executable, "-m", "nnfit", "sweep", "sweep.yaml", "--out", "out", "--workers", "1"],
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=end, stdin=subprocess.DEVNULL, text=True,
                             timeout=120)
    os.close(end)
    reader.join(timeout=10)
    os.close(terminal)
    assert process.returncode == 0
    assert process.stdout.count("\n") == 1 and json.loads(process.stdout)["finished"] == 2
    assert "Warning: trials/001-learning_rate=0.1: train.csv: dropped 1 row with a missing target" in \
        b"".join(shown).decode()
