"""CSV files as users have them: ids and labels kept as written, numbers written as text, dates, separators,
huge values, typos, two processes on one run directory, unfinished runs, and shell habits."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from nnfit import commands
from nnfit.errors import DataError, UsageError

from conftest import blobs, run_cli, run_process, write_config, write_csv


def one_line_error(result, *parts):
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr


def regression_frame(n=200, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    frame["y"] = frame.a * 2 - frame.b + rng.normal(0, 0.1, n)
    return frame


# ---- 1. huge target values ----


def test_a_target_that_cannot_be_scaled_is_refused_naming_the_column_and_row(tmp_path):
    frame = regression_frame()
    frame.loc[17, "y"] = 1e300
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "t.csv", "target": "y"}})
    one_line_error(run_cli("train", config, "--out", tmp_path / "run"), "t.csv", "target column 'y'", "1e+300",
                   "row 18")
    assert not (tmp_path / "run").exists()


def test_an_outlying_target_value_is_named(tmp_path):
    frame = regression_frame(400)
    frame.loc[5, "y"] = 1e30
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "t.csv", "target": "y", "valid_fraction": 0.2},
                                                "model": {"hidden": [64, 64]},
                                                "train": {"epochs": 2, "optimizer": "sgd"}})  # that blows up
    result = run_cli("train", config, "--out", tmp_path / "run")
    assert result.exit_code == 0
    assert "target column 'y' has 1e+30 in row 6, 18 standard deviations from the mean" in result.stderr
    assert "learning_rate" not in result.stderr  # the advice blames the value, not the learning rate
    assert "the training target's 1e+30 in row 6 squeezes every other value" in result.stderr


@pytest.mark.parametrize("field,value", [("target_scale", None), ("target_scale", 0.0), ("fill", "x"),
                                         ("classes", ["a", "b"]), ("numeric", [1, 2]), ("task", "binary")])
def test_predict_and_evaluate_never_raise_a_traceback_whatever_model_json_holds(tmp_path, field, value):
    frame = regression_frame()
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "t.csv", "target": "y"},
                                                "train": {"epochs": 1}})
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    info = json.loads((tmp_path / "run/model.json").read_text())
    info["preprocessing"][field] = value
    (tmp_path / "run/model.json").write_text(json.dumps(info))
    for command in ("predict", "evaluate"):
        one_line_error(run_process(command, tmp_path / "run", tmp_path / "t.csv"), "model.json", "preprocessing")


# ---- 2. one process per run directory ----


def slow_config(folder, epochs=400):
    write_csv(folder / "train.csv", blobs(n=600, seed=11, classes=("a", "b", "c", "d"), d=6, noise=2.0))
    return write_config(folder / "slow.yaml", {
        "task": "multiclass", "data": {"train": "train.csv", "target": "label"}, "model": {"hidden": [64, 64]},
        "train": {"epochs": epochs, "batch_size": 8, "optimizer": "adam", "learning_rate": 0.001,
                  "checkpoint_every": 1}})


def start_training(config, out):
    process = subprocess.Popen([sys.executable, "-m", "nnfit", "train", str(config), "--out", str(out),
                                "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(600):  # until its first checkpoint: the run directory exists and the lock is held
        if (out / "checkpoint.npz").exists():
            return process
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the training process never checkpointed")


def test_a_run_directory_in_use_is_refused_and_a_killed_runs_lock_never_blocks(tmp_path):
    config = slow_config(tmp_path)
    running = start_training(config, tmp_path / "same")
    try:
        for extra in ([], ["--force"], ["--resume"]):
            one_line_error(run_process("train", config, "--out", tmp_path / "same", *extra),
                           "same: in use by another nnfit process (pid", "choose another --out")
        warned = run_process("predict", tmp_path / "same", tmp_path / "train.csv")
        assert warned.exit_code == 0 and "the run is still training; these are the best weights so far" in warned.stderr
    finally:
        running.send_signal(signal.SIGKILL)
        running.wait()
    evaluated = run_process("evaluate", tmp_path / "same", tmp_path / "train.csv")  # killed: no one holds the lock
    assert evaluated.exit_code == 0 and "stopped before it finished (killed?)" in evaluated.stderr
    done = json.loads((tmp_path / "same/summary.json").read_text())["epochs_run"]
    resumed = run_process("train", config, "--out", tmp_path / "same", "--resume", "--set", f"train.epochs={done + 1}")
    assert resumed.exit_code == 0, resumed.stderr


def test_evaluate_warns_about_untrained_weights_as_predict_does(tmp_path):
    config = slow_config(tmp_path, epochs=3)
    calls = iter(range(100))
    with pytest.raises(Exception):
        commands.train(config, out=tmp_path / "run", should_stop=lambda: next(calls) >= 2)  # inside epoch 1
    for command in ("predict", "evaluate"):
        result = run_cli(command, tmp_path / "run", tmp_path / "train.csv")
        assert result.exit_code == 0 and "holds its initial, untrained weights" in result.stderr


# ---- 3. ids and labels as written ----


def test_keep_columns_and_labels_come_back_exactly_as_written(tmp_path):
    rng = np.random.default_rng(3)
    n = 120
    lines = ["id,code,x1,x2,label"]
    ids = ["00123", "0042", "1.10", "", "17", "a b", '"x,y"', "1e5"]
    labels = ["01", "02", "10"]
    for i in range(n):
        label = labels[i % 3]
        x1, x2 = rng.normal(size=2) + [0, 3, 6][i % 3]
        lines.append(f"{ids[i % len(ids)]},{i % 7:03d},{x1:.3f},{x2:.3f},{label}")
    text = "\n".join(lines) + "\n"
    (tmp_path / "t.csv").write_text(text)
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "t.csv", "target": "label",
                                                                               "ignore": ["id", "code"]},
                                                "model": {"hidden": [8]}, "train": {"epochs": 20}})
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    assert json.loads((tmp_path / "run/model.json").read_text())["preprocessing"]["classes"] == ["01", "02", 10]
    out = run_process("predict", tmp_path / "run", tmp_path / "t.csv", "--keep", "id", "--keep", "code", "--proba")
    assert out.exit_code == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert header == "id,code,prediction,proba_01,proba_02,proba_10"
    written = [line.split(",", 2)[:2] if not line.startswith('"') else None for line in lines[1:]]
    for line, original in zip(rows, lines[1:]):
        assert line.startswith(original.rsplit(",", 3)[0] + ",")  # id and code, byte for byte
    predicted = [line.split(",")[-4] for line in rows]
    assert set(predicted) <= {"01", "02", "10"} and predicted.count("01") > 30
    assert written  # the rows were compared above


def test_evaluate_matches_labels_written_another_way(tmp_path):
    frame = blobs(n=150, seed=2, classes=("1", "2", "3"))
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "t.csv", "target": "label"},
                                                "train": {"epochs": 3}})
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    other = frame.assign(label=frame.label.astype(float))  # 1.0, 2.0, 3.0 as another program writes them
    write_csv(tmp_path / "e.csv", other)
    result = run_cli("evaluate", tmp_path / "run", tmp_path / "e.csv")
    assert result.exit_code == 0 and result.json()["n_rows"] == 150


# ---- 4, 5. numbers written as text, dates, codes, many categories ----


def amounts_frame(n=600, seed=4):
    rng = np.random.default_rng(seed)
    amount = rng.uniform(0, 5000, n)
    rate = rng.uniform(0, 30, n)
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    label = np.where(amount + 100 * rate > 4000, "high", "low")
    return pd.DataFrame({"amount": [f"{v:,.0f}" for v in amount], "rate": [f"{v:.1f}%" for v in rate],
                         "day": day.strftime("%Y-%m-%d"), "label": label}), amount, rate, day


def test_numbers_written_as_text_are_named_with_their_fix_and_declared_types_read_them(tmp_path):
    frame, amount, rate, day = amounts_frame()
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "binary", "data": {"train": "t.csv", "target": "label"},
                                                "model": {"hidden": [16]}, "train": {"epochs": 3}})
    checked = run_cli("check", config)
    assert "column 'amount' is read as text categories but looks numeric" in checked.stdout
    assert "data.types: {amount: numeric}" in checked.stdout and "data.types: {rate: numeric}" in checked.stdout
    assert "column 'day' holds dates" in checked.stdout and "data.types: {day: date}" in checked.stdout
    trained = run_cli("train", config, "--out", tmp_path / "as-text")
    assert trained.exit_code == 0 and "data.types: {amount: numeric}" in trained.stderr
    refused = run_cli("train", config, "--out", tmp_path / "wide", "--set", "data.max_categories=1000")
    *warnings, error = refused.stderr.splitlines()  # what was noticed first, then the one error line
    assert refused.exit_code == 2 and error.startswith("Error: ") and "most of them from amount (" in error
    assert all(w.startswith("Warning: ") for w in warnings) and any("{amount: numeric}" in w for w in warnings)
    declared = run_cli("train", config, "--out", tmp_path / "typed", "--set",
                       "data.types={amount: numeric, rate: numeric, day: date}", "--set", "train.epochs=40",
                       "--set", "train.optimizer=adam", "--set", "train.learning_rate=0.01")
    assert declared.exit_code == 0, declared.stderr
    prep = json.loads((tmp_path / "typed/model.json").read_text())["preprocessing"]
    assert prep["numeric"] == ["amount", "rate", "day"] and prep["categorical"] == []
    assert prep["fill"][0] == pytest.approx(amount.mean(), rel=0.03)  # 1,234 read as 1234 (the training rows' mean)
    assert prep["fill"][1] == pytest.approx(rate.mean() / 100, rel=0.03)  # 12% read as 0.12
    days = (day - pd.Timestamp("1970-01-01")).days.to_numpy()
    assert prep["fill"][2] == pytest.approx(days.mean(), rel=1e-3)  # a date is days since 1970-01-01
    assert declared.json()["accuracy"] > 0.9
    predicted = run_cli("predict", tmp_path / "typed", tmp_path / "t.csv")
    assert predicted.exit_code == 0
    # the model read rate as percentages: 12.5 without its % would be 12.5, not 0.125, so it is refused
    write_csv(tmp_path / "plain.csv", frame.assign(rate=[f"{v:.1f}" for v in rate]).head(3))
    one_line_error(run_cli("predict", tmp_path / "typed", tmp_path / "plain.csv"),
                   "plain.csv: column 'rate' (data.types: numeric) was written as percentages in training, and here as "
                   "plain numbers", "write them as the training files did")


def test_numbers_are_read_as_users_write_them_and_a_misplaced_separator_is_no_number():
    """data.types numeric: thousands separators between groups of three only, so a decimal comma read with
    data.decimal '.' (7,6143) is refused instead of becoming 76143; percent signs and currency symbols go."""
    from nnfit.columns import looks_numeric, to_number

    values, bad = to_number(pd.Series(["1,234", "1,234.5", "12%", "$1,234.50", "-$5", "12€", " 1 234 ", "12,345,678",
                                       "7,6143", "1,23", "1,2345.6", None]))
    np.testing.assert_array_equal(values[:8], [1234, 1234.5, 0.12, 1234.5, -5, 12, 1234, 12345678])
    assert bad.tolist() == [False] * 8 + [True, True, True, False] and np.isnan(values[8:]).all()
    values, bad = to_number(pd.Series(["1.234,5", "3,5€", "1.234.567", "7.61"]), decimal=",")
    np.testing.assert_array_equal(values[:3], [1234.5, 3.5, 1234567])
    assert bad.tolist() == [False, False, False, True]
    # the fix a note names: decimal commas, unless every value could be thousands
    assert looks_numeric(pd.Series(["7,6143", "2,5", "3,1"])) == 'data.decimal: ","'
    assert looks_numeric(pd.Series(["56,911", "1,234", "12,345"])) == "data.types: {COLUMN: numeric}"
    assert looks_numeric(pd.Series(["56,911", "2,250"]), sep=";") == 'data.decimal: ","'  # as spreadsheets write


def test_spaces_after_values_text_far_down_index_columns_and_booleans_read_as_meant(tmp_path):
    """Cases a review found: '? ' and 'NA ' (a space after them) are missing values of a number column; a
    column of numbers with a word past the first 2000 rows is text, with a note, not a traceback; a predict
    file written with pandas' index column predicts; true/false where the model had numbers is named."""
    frame = regression_frame(2100)
    frame["a"], frame["b"] = [f"{v:.3f} " for v in frame["a"]], frame["b"].astype(object)  # a: '0.126 '
    frame.loc[5, "a"], frame.loc[6, "a"], frame.loc[7, "b"] = "? ", "NA ", "? "
    frame["y"] = [f"{v:.3f} " for v in frame["y"]]
    frame["c"] = frame["c"].round(3).astype(object)
    frame.loc[2050, "c"] = "abc"  # past the first look at 2000 rows
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {
        "train": "t.csv", "target": "y", "missing_values": ["?"], "max_categories": 3000},
        "model": {"hidden": [4]}, "train": {"epochs": 1}})
    result = run_cli("train", config, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.stderr
    prep = json.loads((tmp_path / "run/model.json").read_text())["preprocessing"]
    assert prep["numeric"] == ["a", "b"] and prep["categorical"] == ["c"]
    assert "imputed 3 missing values in 'a', 'b' with the training mean" in result.stderr
    assert "column 'c' is treated as text categories because of 1 value(s) that are not numbers ('abc' in row 2051)" \
        in result.stderr
    frame.iloc[:5].to_csv(tmp_path / "indexed.csv")  # pandas' default: the index, with no name, first
    predicted = run_cli("predict", tmp_path / "run", tmp_path / "indexed.csv")
    assert predicted.exit_code == 0, predicted.stderr
    (tmp_path / "flags.csv").write_text("a,b,c\nTrue,1,2\n")
    one_line_error(run_cli("predict", tmp_path / "run", tmp_path / "flags.csv"),
                   "flags.csv: column 'a' was numeric in training but holds text here ('True' in row 1)")
    # a mixed column as pandas gives long files (numbers and a word): its numbers stay numbers
    from nnfit.columns import tidy

    tidied, numbers = tidy(pd.Series([1.5, "abc ", 2.0], dtype=object))
    assert tidied.tolist() == [1.5, "abc", 2.0] and numbers is None


def test_a_value_a_declared_type_cannot_read_is_named(tmp_path):
    frame, *_ = amounts_frame(100)
    frame.loc[9, "amount"] = "n/a?"
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "binary", "data": {"train": "t.csv", "target": "label",
                                                                           "types": {"amount": "numeric"}}})
    one_line_error(run_cli("train", config, "--out", tmp_path / "r"),
                   "column 'amount' (data.types: numeric) has 'n/a?' in row 10, which is not a number")


def test_many_categories_share_an_other_input_and_too_many_features_name_the_widest(tmp_path):
    rng = np.random.default_rng(5)
    n = 3000
    zips = [f"Z{v:05d}" for v in rng.zipf(1.3, n) % 2000]
    frame = pd.DataFrame({"zip": zips, "x": rng.normal(size=n), "label": rng.choice(["a", "b"], n)})
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "binary", "data": {"train": "t.csv", "target": "label", "valid_fraction": 0.2},
                                                "model": {"hidden": [4]}, "train": {"epochs": 1}})
    result = run_cli("train", config, "--out", tmp_path / "run")
    assert result.exit_code == 0
    distinct = len(set(zips[i] for i in range(n)))
    assert "column 'zip' has" in result.stderr and "the 100 most frequent have an input each" in result.stderr
    prep = json.loads((tmp_path / "run/model.json").read_text())["preprocessing"]
    assert len(prep["feature_names"]) == 1 + 100 + 1 and prep["feature_names"][-1] == "zip=<other>"
    assert distinct > 100
    unique = frame.assign(zip=[f"Z{v:06d}" for v in rng.choice(10**6, n, replace=False)])
    write_csv(tmp_path / "u.csv", unique)
    wide = run_cli("train", config, "--out", tmp_path / "wide", "--set", "data.max_categories=100000",
                   "--set", f"data.train={tmp_path / 'u.csv'}")
    assert wide.exit_code == 2 and "most of them from zip (2,400 inputs)" in wide.stderr


def test_a_one_hot_matrix_that_would_not_fit_in_memory_is_refused_before_it_is_built(tmp_path, monkeypatch):
    from nnfit import datanotes

    monkeypatch.setattr(datanotes, "available_memory", lambda: 50_000)  # bytes
    frame = blobs(n=300, seed=1, classes=("a", "b"))
    frame["city"] = [f"c{i % 40}" for i in range(300)]
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "binary", "data": {"train": "t.csv", "target": "label"}})
    with pytest.raises(DataError, match=r"300 rows x 42 inputs would take 0.0 GB, more than the 0.0 GB of memory "
                                        r"available; most of them from city \(40 inputs\)"):
        commands.train(config, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_whole_numbers_that_look_like_codes_are_named(tmp_path):
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"zip": rng.choice(np.arange(10000, 99999), 800, replace=False), "x": rng.normal(size=800),
                          "label": rng.choice(["a", "b"], 800)})
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "binary", "data": {"train": "t.csv", "target": "label"}})
    assert "column 'zip' holds 800 distinct whole numbers" in run_cli("check", config).stdout


# ---- 6. separators and decimal commas ----


@pytest.mark.parametrize("sep", [";", "\t", "|"])
def test_other_separators_are_detected_for_train_and_predict(tmp_path, sep):
    frame = blobs(n=120, seed=7, classes=("Adelie", "Gentoo"))
    frame.to_csv(tmp_path / "t.csv", sep=sep, index=False)
    config = write_config(tmp_path / "c.yaml", {"task": "binary", "data": {"train": "t.csv", "target": "label"},
                                                "train": {"epochs": 2}})
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    out = run_cli("predict", tmp_path / "run", tmp_path / "t.csv")
    assert out.exit_code == 0 and len(out.stdout.splitlines()) == 121


def test_decimal_commas_and_a_wrong_separator(tmp_path):
    frame = blobs(n=120, seed=8, classes=("x", "y"))
    frame.to_csv(tmp_path / "t.csv", sep=";", decimal=",", index=False)
    config = write_config(tmp_path / "c.yaml", {"task": "binary", "data": {"train": "t.csv", "target": "label"},
                                                "train": {"epochs": 2}})
    assert 'data.decimal: ","' in run_cli("check", config).stdout  # 1,5 read as text: the fix is named
    assert run_cli("train", config, "--out", tmp_path / "run", "--set", "data.decimal=\",\"").exit_code == 0
    prep = json.loads((tmp_path / "run/model.json").read_text())["preprocessing"]
    assert prep["numeric"] == ["x0", "x1"] and prep["sep"] == ";" and prep["decimal"] == ","  # as found
    one_line_error(run_cli("train", config, "--out", tmp_path / "r2", "--set", "data.sep=\",\""),
                   "some rows have more fields than the header", "fields look separated by ';': set data.sep")
    frame.to_csv(tmp_path / "p.csv", sep=";", index=False)  # no decimal commas: the header is one column
    one_line_error(run_cli("train", config, "--out", tmp_path / "r3", "--set", "data.sep=\",\"",
                           "--set", f"data.train={tmp_path / 'p.csv'}"),
                   "target column 'label' not found: the header is one column", "separated by ';'", "data.sep")


# ---- 7. labels that look wrong ----


def test_a_rare_label_is_named_with_its_closest_label_and_long_label_lists_are_cut(tmp_path):
    frame = blobs(n=400, seed=9, classes=("Adelie", "Gentoo", "Chinstrap"))
    frame.loc[13, "label"] = "Adelei"
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "t.csv", "target": "label", "valid_fraction": 0.2},
                                                "train": {"epochs": 1}})
    message = "class 'Adelei' of 'label' has only 1 of 320 training rows; a typo of 'Adelie'?"
    assert message in run_cli("check", config).stdout and message in run_cli("train", config, "--out",
                                                                                tmp_path / "r").stderr
    numbers = pd.DataFrame({"x": np.arange(600.0), "y": np.arange(600) % 200})
    write_csv(tmp_path / "n.csv", numbers)
    config = write_config(tmp_path / "n.yaml", {"task": "multiclass", "data": {"train": "n.csv", "target": "y",
                                                                               "valid_fraction": 0},
                                                "model": {"hidden": []}, "train": {"epochs": 1}})
    result = run_cli("train", config, "--out", tmp_path / "n")
    assert "has 200 classes, all numbers; if it is a quantity to predict, use task: regression" in result.stderr
    (tmp_path / "e.csv").write_text("x,y\n" + "".join(f"{i},{1000 + i}\n" for i in range(30)))
    unseen = run_cli("evaluate", tmp_path / "n", tmp_path / "e.csv")
    one_line_error(unseen, "labels that the model has never seen: 1000, 1001, 1002 ... and 27 more",
                   "(known: 0, 1, 2, 3, 4, 5, 6, 7 ... and 192 more)")


# ---- 9. huge feature values, and no library warnings ----


def test_a_feature_beyond_float32_says_so_and_no_library_warning_is_printed(tmp_path):
    frame = regression_frame()
    frame["a"] = frame["a"].astype(object)
    frame.loc[3, "a"] = "1e50"
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "t.csv", "target": "y"}})
    result = run_process("train", config, "--out", tmp_path / "run", "--quiet")
    one_line_error(result, "column 'a' has 1e+50 in row 4, beyond the range of float32", "train.dtype: float64")
    assert "RuntimeWarning" not in result.stderr
    assert run_process("train", config, "--out", tmp_path / "run", "--set", "train.dtype=float64",
                       "--set", "train.epochs=1", "--quiet").exit_code == 0


# ---- 11. resume ----


def test_resume_with_more_epochs_continues_to_the_run_a_larger_epochs_would_give(tmp_path):
    config = slow_config(tmp_path, epochs=3)
    commands.train(config, out=tmp_path / "short")
    started_at = []
    commands.train(config, out=tmp_path / "short", resume=True, overrides=["train.epochs=5"],
                   on_start=lambda cfg, trainer: started_at.append(trainer.epoch))
    assert started_at == [3]  # the progress bar starts at the run's own epoch
    commands.train(config, out=tmp_path / "long", overrides=["train.epochs=5"])
    assert (tmp_path / "short/model.npz").read_bytes() == (tmp_path / "long/model.npz").read_bytes()
    short, long = (pd.read_csv(tmp_path / r / "metrics.csv").drop(columns="seconds") for r in ("short", "long"))
    pd.testing.assert_frame_equal(short, long, check_exact=True)
    assert "epochs: 5" in (tmp_path / "short/config.yaml").read_text()
    with pytest.raises(UsageError, match="cannot resume with train.epochs 4: the run has already run 5 epochs"):
        commands.train(config, out=tmp_path / "short", resume=True, overrides=["train.epochs=4"])


# ---- 12. shell habits ----


def test_a_header_only_input_gives_a_header_only_output(tmp_path, tiny):
    config, csv = tiny
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    header = csv.read_text().splitlines()[0]
    result = run_cli("predict", tmp_path / "run", "--proba", input=header + "\n")
    assert result.exit_code == 0 and result.stdout == "prediction,proba_a,proba_b,proba_c\n"


def test_dates_written_day_first_are_read_day_first_in_every_row(tmp_path):
    """05/01/2023 and 13/01/2023 in one column: both day first, as 13 says (pandas read the first as 1 May), the
    model keeps the order for predict's files, and a column or a file written the other way is refused."""
    day = pd.Timestamp("2023-01-01") + pd.to_timedelta(np.arange(0, 360, 7), unit="D")
    frame = pd.DataFrame({"day": day.strftime("%d/%m/%Y"), "y": np.arange(len(day), dtype=float)})
    write_csv(tmp_path / "dmy.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "model": {"hidden": []}, "train": {"epochs": 2},
                                                "data": {"train": "dmy.csv", "target": "y", "types": {"day": "date"}}})
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    prep = json.loads((tmp_path / "run/model.json").read_text())["preprocessing"]
    assert prep["dayfirst"] == {"day": True}
    undeclared = run_cli("check", config, "--set", "data.types={}")  # such a column is named as dates
    assert "column 'day' holds dates ('01/01/2023'), read as text categories" in undeclared.stdout + undeclared.stderr
    iso = frame.assign(day=day.strftime("%Y-%m-%d")).to_csv(index=False).encode()
    predicted = commands.predict(tmp_path / "run", frame.to_csv(index=False).encode())["prediction"]
    assert predicted.equals(commands.predict(tmp_path / "run", iso)["prediction"])  # every row's date as ISO's
    same = pd.DataFrame({"day": ["05/01/2023", "2023-01-05"]})  # 5 January either way, told by the model
    assert commands.predict(tmp_path / "run", same.to_csv(index=False).encode())["prediction"].nunique() == 1
    write_csv(tmp_path / "mdy.csv", pd.DataFrame({"day": ["01/13/2023"]}))
    one_line_error(run_cli("predict", tmp_path / "run", tmp_path / "mdy.csv"), "mdy.csv: column 'day' (data.types: "
                   "date) was read day first in training, and here is written month first ('01/13/2023' in row 1)")
    write_csv(tmp_path / "both.csv", frame.assign(day=["13/01/2023", "01/14/2023"] * (len(frame) // 2)))
    one_line_error(run_cli("train", config, "--out", tmp_path / "both", "--set", "data.train=both.csv"),
                   "both.csv: column 'day' (data.types: date) writes dates day first ('13/01/2023' in row 1) and "
                   "month first ('01/14/2023' in row 2): write them one way, or as 2023-01-13 (ISO 8601)")
    assert not (tmp_path / "both").exists()
    ambiguous = frame.assign(day=[f"{d % 12 + 1:02d}/{d % 12 + 1:02d}/2023" for d in range(len(frame))])
    write_csv(tmp_path / "amb.csv", ambiguous)  # no row says which comes first: month first, said, and kept
    trained = run_cli("train", config, "--out", tmp_path / "amb", "--set", "data.train=amb.csv")
    assert trained.exit_code == 0 and "column 'day' (data.types: date): no date such as 13/01/2023" in trained.stderr
    assert json.loads((tmp_path / "amb/model.json").read_text())["preprocessing"]["dayfirst"] == {"day": False}
    write_csv(tmp_path / "dmy2.csv", pd.DataFrame({"day": ["13/01/2023"]}))
    one_line_error(run_cli("predict", tmp_path / "amb", tmp_path / "dmy2.csv"), "was read month first in training")
    write_csv(tmp_path / "typo.csv", pd.DataFrame({"day": ["32/01/2023"]}))  # no order: not a date
    one_line_error(run_cli("predict", tmp_path / "run", tmp_path / "typo.csv"), "'32/01/2023' in row 1, which is "
                   "not a date")


def test_predict_and_evaluate_read_a_file_written_otherwise_when_told_how(tmp_path, tiny):
    """A model trained on a ';' file with decimal commas reads a ',' file with decimal points given --sep and
    --decimal, to the same predictions; without them, the error says which option to add."""
    config, csv = tiny
    frame = pd.read_csv(csv)
    frame.to_csv(tmp_path / "excel.csv", sep=";", decimal=",", index=False)
    assert run_cli("train", config, "--out", tmp_path / "run", "--set", "data.train=excel.csv",
                   "--set", "data.decimal=,").exit_code == 0
    as_trained = run_cli("predict", tmp_path / "run", tmp_path / "excel.csv")
    one_line_error(run_cli("predict", tmp_path / "run", csv), "the model reads them separated by ';', as its "
                   "training files were: add --sep ',' --decimal . (commas separate its fields)")
    told = run_cli("predict", tmp_path / "run", csv, "--sep", ",", "--decimal", ".")
    assert as_trained.exit_code == told.exit_code == 0 and told.stdout == as_trained.stdout
    frame.to_csv(tmp_path / "tab.tsv", sep="\t", index=False)
    evaluated = run_cli("evaluate", tmp_path / "run", tmp_path / "tab.tsv", "--sep", "tab", "--decimal", ".")
    assert evaluated.exit_code == 0 and json.loads(evaluated.stdout)["n_rows"] == len(frame)


def test_predictions_in_the_millions_are_written_as_plain_numbers(tmp_path):
    x = np.linspace(0, 1, 80)
    write_csv(tmp_path / "p.csv", pd.DataFrame({"size": x, "price": 1e6 + 5e5 * x}))
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "p.csv", "target": "price"},
                                                "model": {"hidden": []}, "train": {"epochs": 30}})
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    result = run_cli("predict", tmp_path / "run", tmp_path / "p.csv")
    written = result.stdout.splitlines()[1:]
    assert result.exit_code == 0 and "e+" not in result.stdout and len(written) == 80
    exact = commands.predict(tmp_path / "run", tmp_path / "p.csv")["prediction"].to_numpy()  # float32
    assert exact.dtype == np.float32 and np.array_equal(np.array(written, dtype=np.float32), exact)
    overflow = run_cli("predict", tmp_path / "run", input="size\n0.5\n3e38\n-3e38\n")  # past float32: not 'nan'
    assert overflow.exit_code == 0 and "nan" not in overflow.stdout.lower(), overflow.stdout


def test_predict_reads_a_file_that_repeats_a_column_its_model_does_not_use(tmp_path, tiny):
    """An export with two 'note' columns: predict reads the columns its model uses and ignores the rest, so
    only a repeated column that it reads (or keeps) is ambiguous."""
    config, csv = tiny
    assert run_cli("train", config, "--out", tmp_path / "run").exit_code == 0
    frame = pd.read_csv(csv)
    lines = [f"note,{','.join(frame.columns)}, note "] + [f"a,{','.join(map(str, row))},b" for row in frame.values[:5]]
    (tmp_path / "notes.csv").write_text("\n".join(lines) + "\n")
    result = run_cli("predict", tmp_path / "run", tmp_path / "notes.csv", "--keep", "label")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "label,prediction" and len(result.stdout.splitlines()) == 6
    result = run_cli("predict", tmp_path / "run", tmp_path / "notes.csv", "--keep", "note")
    assert result.exit_code == 2
    assert result.stderr.endswith("notes.csv: column 'note' appears twice in the header; column names must be unique\n")
    (tmp_path / "x.csv").write_text("x0,x0,x1\n1,2,3\n")
    result = run_cli("predict", tmp_path / "run", tmp_path / "x.csv")
    assert result.exit_code == 2 and "column 'x0' appears twice" in result.stderr


def test_debug_is_accepted_after_the_command_and_evaluate_says_it_reads_stdin(tiny, tmp_path):
    config, _ = tiny
    result = run_process("train", config, "--out", tmp_path / "run", "--set", "train.epocs=3", "--debug")
    assert result.exit_code == 1 and "Traceback" in result.stderr and "ConfigError" in result.stderr
    assert "stdin when it is '-'" in run_cli("evaluate", "--help").stdout


def test_a_lock_taken_while_another_process_removes_the_folder_still_holds(tmp_path, monkeypatch):
    """Process A, whose run was never created, removes the empty folder it made just as process B has made it
    too and is about to open its lock file there: B must still end up holding the lock, so a third process
    is refused."""
    from nnfit import runlock

    run = tmp_path / "new" / "run"
    real_open = os.open

    def racing_open(path, *args, **kwargs):
        monkeypatch.setattr(os, "open", real_open)
        os.rmdir(run.parent)  # A's clean-up, at that very moment
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", racing_open)
    with runlock.hold(run):
        assert runlock.lock_file(run).exists()
        with pytest.raises(UsageError, match="in use by another nnfit process"):
            with runlock.hold(run):
                pass
    assert not (tmp_path / "new").exists()  # the run was never created: nothing left behind


def test_a_run_name_too_long_for_its_lock_file_leaves_no_folders(tmp_path):
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "t.csv", "target": "y"}})
    write_csv(tmp_path / "t.csv", regression_frame(40))
    result = run_cli("train", config, "--out", tmp_path / "new" / ("r" * 250))
    assert result.exit_code == 2 and result.stderr.endswith("cannot create the run directory: File name too long\n")
    assert not (tmp_path / "new").exists()


def test_the_byte_scan_for_spaces_never_misses_a_field_that_stripping_would_change():
    """columns.spaces_around lets read_csv skip stripping (columns.tidy) in files without spaces at a field's
    edge; the plain form strips every field. The shortcut must never skip a file where stripping would change a
    field: any kind of space (a no-break one, an ideographic one, a tab, a vertical tab), quoted or not."""
    from nnfit.columns import spaces_around

    rng = np.random.default_rng(0)
    alphabet = list("ab1.") + [" ", "\t", "\xa0", "\u3000", "\x0b", "\x0c", "é"]
    for sep in (",", ";", "\t"):
        for _ in range(700):
            rows = [["".join(rng.choice(alphabet, rng.integers(0, 4))).replace(sep, "") for _ in range(3)]
                    for _ in range(3)]
            quoted = rng.random() < 0.5
            text = "\n".join(sep.join(f'"{f}"' if quoted else f for f in row) for row in rows) + "\n"
            if spaces_around(text.encode("utf-8"), sep) == (False, False):
                assert all(f == f.strip() for row in rows for f in row), repr(text)


def test_small_messages_say_what_fits_the_file():
    """Unix times (seconds or milliseconds) get no 'codes' note, large ids still do; a lone '%' is a missing
    value, not a percentage; the parse hint names decimal commas only in a file of commas."""
    from nnfit.columns import declared, parse_problem
    from nnfit.datanotes import column_notes

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"t": 1.7e9 + np.arange(300.0), "ms": 1.7e12 + np.arange(300.0),
                          "sku": rng.integers(10**8, 10**9, 300).astype(float)})
    notes = column_notes(frame, ["t", "ms", "sku"], [], {}, ".", "f.csv")
    assert [n.split("'")[1] for n in notes] == ["sku"] and "distinct whole numbers" in notes[0]
    values, as_percent, _ = declared(pd.Series(["%", "78%"]), "numeric", ".", "f.csv: column 'r'")
    assert np.isnan(values[0]) and values[1] == pytest.approx(0.78) and as_percent
    said = "Error tokenizing data. C error: Expected 2 fields in line 3, saw 3"
    assert "decimal comma" in parse_problem(said, ",") and "decimal comma" not in parse_problem(said, ";")
