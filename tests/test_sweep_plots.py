"""`nnfit plot SWEEP`: the ranking metric against each swept parameter, and the best trials' learning curves."""

import csv
import fcntl

import numpy as np
import pytest

from nnfit.errors import display_path
from nnfit.plots import _figures, _sweep_plan, render
from nnfit.sweep import load_sweep
from nnfit.sweeprun import run_sweep
from nnfit.sweepview import read_sweep

from conftest import blobs, run_cli, write_config, write_csv

pytestmark = pytest.mark.slow  # process pools and Dask clusters: left out of mutation runs

RATES = [0.001, 0.01, 0.1, 1.0e6]  # the last one diverges (with relu): a failed trial, which no picture shows


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    here = tmp_path_factory.mktemp("sweepplots")
    write_csv(here / "train.csv", blobs(n=120, seed=3))
    write_config(here / "base.yaml", {"task": "multiclass", "data": {"train": "train.csv", "target": "label"},
                                      "model": {"hidden": [8]}, "train": {"epochs": 6, "optimizer": "sgd"}})
    write_config(here / "s.yaml", {"base": "base.yaml", "metric": "accuracy", "parameters": {
        "train.learning_rate": RATES, "model.activation": ["relu", "tanh"]}})
    run_sweep(load_sweep(here / "s.yaml"), here / "sw", workers=1)
    write_config(here / "f.yaml", {"base": "base.yaml", "folds": 3, "parameters": {"train.learning_rate": [0.01, 0.1]}})
    run_sweep(load_sweep(here / "f.yaml"), here / "folds", workers=1)
    return here


def results(folder):
    with open(folder / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_a_sweep_gets_its_metric_by_parameter_and_its_best_trials_curves(swept):
    result = run_cli("plot", swept / "sw")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [str(swept / "sw/plots/sweep-accuracy.png"),
                                          str(swept / "sw/plots/best-trials-learning-curves.png")]
    for line in result.stdout.splitlines():
        assert open(line, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_each_finished_trial_is_a_point_at_its_value_and_the_best_a_star(swept):
    view = read_sweep(swept / "sw")
    rows = results(swept / "sw")
    finished = [r for r in rows if r["state"] == "finished"]
    assert len(rows) == 8 and 0 < len(finished) < 8  # relu at rate 1e6 diverges
    folder, jobs = _sweep_plan(swept / "sw", None, None, _figures())
    name, picture, subject = jobs[0]
    _, fig = render(picture, subject)
    rate_panel, activation_panel = [ax for ax in fig.axes if ax.get_visible()]
    assert rate_panel.get_xlabel() == "train.learning_rate" and rate_panel.get_xscale() == "log"
    points, star = rate_panel.collections
    expected = sorted((float(r["train.learning_rate"]), float(r["accuracy"])) for r in finished)
    assert sorted(map(tuple, points.get_offsets().tolist())) == expected
    best = max(finished, key=lambda r: float(r["accuracy"]))  # the first of equals, as results.csv ranks them
    best = next(r for r in finished if float(r["accuracy"]) == float(best["accuracy"]))
    assert star.get_offsets().tolist() == [[float(best["train.learning_rate"]), float(best["accuracy"])]]
    assert [t.get_text() for t in activation_panel.get_xticklabels()] == ["relu", "tanh"]
    x = {"relu": 0.0, "tanh": 1.0}
    assert sorted(map(tuple, activation_panel.collections[0].get_offsets().tolist())) == sorted(
        (x[r["model.activation"]], float(r["accuracy"])) for r in finished)
    title = " ".join(fig.get_suptitle().split())  # as read: the title wraps at the figure's width
    assert f"{len(finished)} of 8 trials finished" in title and "higher is better" in title
    assert view.ranked[0]["trial"] == best["trial"]


def test_the_best_trials_curves_are_theirs_in_rank_order(swept):
    _, jobs = _sweep_plan(swept / "sw", None, None, _figures())
    name, _, comparison = jobs[1]
    ranked = sorted((r for r in results(swept / "sw") if r["state"] == "finished"),
                    key=lambda r: -float(r["accuracy"]))  # stable: ties keep trial order
    assert name == "best-trials-learning-curves"
    assert [run.path.name for run in comparison.runs] == [r["trial"] for r in ranked[:5]]
    assert comparison.labels[0] == f"1. {ranked[0]['trial']}"


def test_the_best_trials_curves_show_the_metric_that_ranked_them(swept):
    write_config(swept / "f1.yaml", {"base": "base.yaml", "metric": "macro_f1",
                                     "parameters": {"train.learning_rate": [0.01, 0.1]}})
    run_sweep(load_sweep(swept / "f1.yaml"), swept / "f1", workers=1)
    _, jobs = _sweep_plan(swept / "f1", None, None, _figures())
    _, picture, comparison = jobs[1]
    _, fig = render(picture, comparison)
    assert fig.axes[1].get_ylabel() == "validation macro F1"  # not accuracy, the runs' main metric
    top = comparison.runs[0]
    assert list(fig.axes[1].lines[0].get_ydata()) == list(top.history["macro_f1"])


def test_with_folds_the_metric_is_the_mean_with_its_spread_and_the_curves_are_the_first_folds(swept):
    _, jobs = _sweep_plan(swept / "folds", None, None, _figures())
    (_, picture, view), (_, _, comparison) = jobs
    _, fig = render(picture, view)
    panel = fig.axes[0]
    bars = [c for c in panel.collections if c.get_label() == "_nolegend_" or "LineCollection" in type(c).__name__]
    rows = results(swept / "folds")
    spread = np.array([float(r["valid_loss_std"]) for r in rows])
    segments = [s for c in bars for s in c.get_segments()]
    assert sorted(abs(s[1][1] - s[0][1]) / 2 for s in segments) == pytest.approx(sorted(spread))
    assert "mean over folds" in panel.get_ylabel() and "lower is better" in fig._suptitle.get_text()
    assert [run.name for run in comparison.runs] == [f"{r['trial']} fold 1" for r in
                                                     sorted(rows, key=lambda r: float(r["valid_loss"]))]


def test_data_is_refused_for_a_sweep(swept):
    result = run_cli("plot", swept / "sw", "--data", swept / "train.csv")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --data: chooses the rows of one run's fit pictures") and "is a sweep" in result.stderr


def test_a_trial_of_a_sweep_plots_as_a_run(swept, tmp_path):
    trial = swept / "sw" / results(swept / "sw")[0]["run_dir"]
    result = run_cli("plot", trial, "--out", tmp_path / "p")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "p" / "learning-curves.png").exists()


def test_a_trial_with_folds_names_its_run_directories(swept):
    trial = swept / "folds" / results(swept / "folds")[0]["run_dir"]
    for command in (["plot", trial], ["evaluate", trial, swept / "train.csv"]):
        result = run_cli(*command)
        assert result.exit_code == 2
        assert result.stderr.endswith(f"? It is a sweep's trial with folds, a folder of run directories: give one of "
                                      f"them ({display_path(trial)}/fold-1 to fold-3)\n"), result.stderr
    result = run_cli("predict", swept / "sw", swept / "train.csv")
    assert result.exit_code == 2
    assert result.stderr.endswith(f"its run directories are in {display_path(swept / 'sw')}/trials\n")


def test_a_swept_task_draws_the_metric_and_the_curves_of_the_best_trials_kind(tmp_path):
    frame = blobs(n=80, seed=5, classes=(0, 1))
    write_csv(tmp_path / "t.csv", frame)
    write_config(tmp_path / "base.yaml", {"task": "binary", "data": {"train": "t.csv", "target": "label"},
                                          "model": {"hidden": [4]}, "train": {"epochs": 3}})
    write_config(tmp_path / "s.yaml", {"base": "base.yaml", "parameters": {"task": ["binary", "regression"]}})
    run_sweep(load_sweep(tmp_path / "s.yaml"), tmp_path / "sw", workers=1)
    _, jobs = _sweep_plan(tmp_path / "sw", None, None, _figures())
    (_, _, view), (_, _, comparison) = jobs
    best_task = comparison.runs[0].task
    assert [run.task for run in comparison.runs] == [best_task]  # regression and classification share no axes
    result = run_cli("plot", tmp_path / "sw")
    assert result.exit_code == 0, result.stderr


def hand_made(folder, rows, metric="accuracy", goal="maximize"):
    folder.mkdir()
    write_config(folder / "sweep.yaml", {"base": {}, "method": "grid", "metric": metric, "goal": goal,
                                         "folds": None, "refit": False, "parameters": {"train.seed": [0, 1, 2]}})
    with open(folder / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trial", "state", "train.seed", metric, "epoch", "seconds", "run_dir", "error"])
        writer.writerows(rows)
    return folder


def test_equal_scores_rank_by_trial_number_whatever_the_order_of_results_csv(tmp_path):
    """While a sweep runs, results.csv lists trials as they end; the best of equals is the earlier trial, as
    the sweep's `best` link says."""
    folder = hand_made(tmp_path / "sw", [["003-seed=2", "finished", 2, 0.975, 4, 1.0, "trials/003-seed=2", ""],
                                         ["001-seed=0", "finished", 0, 0.95, 4, 1.0, "trials/001-seed=0", ""],
                                         ["002-seed=1", "finished", 1, 0.975, 4, 1.0, "trials/002-seed=1", ""]])
    assert [r["trial"] for r in read_sweep(folder).ranked] == ["002-seed=1", "003-seed=2", "001-seed=0"]


def test_a_sweep_with_nothing_finished_yet_says_so(tmp_path):
    empty = hand_made(tmp_path / "empty", [])
    result = run_cli("plot", empty)  # over, and nothing failed: it was stopped
    assert result.exit_code == 2
    assert result.stderr.endswith(f"nothing to draw; continue it with nnfit sweep {display_path(empty / 'sweep.yaml')} "
                                  f"--out {display_path(empty)} --resume\n")
    (empty / ".sweep").mkdir(exist_ok=True)
    with open(empty / ".sweep" / "lock", "a") as lock:  # as a running `nnfit sweep` holds it
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = run_cli("plot", empty)
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {display_path(empty)}: no trial has finished yet (0 in results.csv): nothing to draw; "
                             "wait for a trial to finish\n")
    nan = hand_made(tmp_path / "nan", [["001-seed=0", "finished", 0, "nan", 4, 1.0, "trials/001-seed=0", ""],
                                       ["002-seed=1", "failed", 1, "", "", 1.0, "trials/002-seed=1", "diverged"]])
    result = run_cli("plot", nan)  # a sweep that is over: no point waiting
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {display_path(nan)}: no finished trial has a value of accuracy (2 in results.csv: "
                             "1 finished, 1 failed) and no nnfit sweep is running into it: nothing to draw (a failed "
                             "trial's error is in results.csv)\n")
    unranked = hand_made(tmp_path / "unranked", [["001-seed=0", "finished", 0, "", 4, 1.0, "trials/001-seed=0",
                                                  "no accuracy: undefined on its validation rows"]])
    result = run_cli("plot", unranked)  # every trial finished, none ranked: say why, and what can be drawn
    assert result.exit_code == 2 and result.stderr.endswith(
        f"nothing to draw (results.csv's error column says why); a trial's own pictures: nnfit plot "
        f"{display_path(unranked / 'trials/001-seed=0')}\n"), result.stderr


def test_a_swept_section_reads_as_the_sweep_file_wrote_it():
    """An early_stopping section swept as a whole: results.csv keeps the file's order of its keys, and the
    plot's tick label gives one 'key value' a line instead of a cut-off Python dict."""
    from nnfit.sweeprows import _cell
    from nnfit.sweepfigures import _text
    from nnfit.sweepview import _value

    section = {"patience": 5, "min_delta": 0.001}
    assert _cell(section) == "{patience: 5, min_delta: 0.001}"
    assert _text(_value(_cell(section))) == "patience 5\nmin_delta 0.001"
    assert _text({"name": "cosine", "warmup_epochs_of_the_schedule": 5}) == "name cosine\nwarmup_epochs_of_th…"
