"""Bad input: every config and data error exits 2 with one `Error:` line naming the file, key or column,
no traceback, and no run directory left behind."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from nnfit.errors import display_path

from conftest import run_cli, write_config, write_csv

GOOD = {
    "task": "binary",
    "data": {"train": "train.csv", "target": "label"},
    "model": {"hidden": [4]},
    "train": {"epochs": 2},
}

# (name, --set overrides or a config text, what the one line must say)
CONFIG_ERRORS = [
    ("unknown key", ["train.epocs=3"], "train.epocs: unknown key (did you mean 'epochs'?)"),
    ("unknown section", ["modle.hidden=[3]"], "modle: unknown key (did you mean 'model'?)"),
    ("unknown key, nothing close", ["model.neurons=[3]"], "model.neurons: unknown key (the keys here: hidden, "
                                                         "activation, init, dropout)"),
    ("epochs not a number", ["train.epochs=ten"], "train.epochs: expected an integer >= 1, found 'ten'"),
    ("epochs a bool", ["train.epochs=true"], "train.epochs: expected an integer >= 1, found true"),
    ("hidden not a list", ["model.hidden=64"], "model.hidden: expected a list of layer widths"),
    ("hidden width 0", ["model.hidden=[8, 0]"], "model.hidden: expected a list of layer widths"),
    ("batch size 0", ["train.batch_size=0"], "train.batch_size: expected an integer >= 1 or \"full\", found 0"),
    ("negative learning rate", ["train.learning_rate=-0.1"], "train.learning_rate: expected a number > 0 (not .inf), found -0.1"),
    ("infinite weight decay", ["train.weight_decay=.inf"], "train.weight_decay: expected a number >= 0 (not .inf), found inf"),
    ("valid fraction 1.5", ["data.valid_fraction=1.5"], "data.valid_fraction: expected a number >= 0 and < 1, found 1.5"),
    ("momentum 1", ["train.momentum=1"], "train.momentum: expected a number >= 0 and < 1"),
    ("unknown optimizer", ["train.optimizer=sgdd"], "train.optimizer: unknown 'sgdd' (choose from: sgd, momentum, adam; did you mean 'sgd'?)"),
    ("unknown activation", ["model.activation=relu6"], "model.activation: unknown 'relu6'"),
    ("unknown task", ["task=regresion"], "task: unknown 'regresion'"),
    ("loss does not fit task", ["loss=cross_entropy"], "loss: 'cross_entropy' does not fit task 'binary'"),
    ("mse for classification", ["task=multiclass", "loss=mse"], "loss: 'mse' does not fit task 'multiclass'"),
    ("positive for multiclass", ["task=multiclass", "data.positive=1"], "data.positive: only used by task 'binary'"),
    ("class weight for regression", ["task=regression", "train.class_weight=balanced"], "train.class_weight: only used by classification"),
    ("bad class weight", ["train.class_weight={1: -2}"], "train.class_weight: expected a weight > 0"),
    ("early stopping without validation", ["data.valid_fraction=0", "train.early_stopping={patience: 3}"], "train.early_stopping: needs a validation set"),
    ("early stopping typo", ["train.early_stopping={patiense: 3}"], "train.early_stopping.patiense: unknown key (did you mean 'patience'?)"),
    ("dtype", ["train.dtype=float16"], "train.dtype: unknown 'float16' (choose from: float32, float64"),
    ("target in ignore", ["data.ignore=[label]"], "data.ignore: contains the target column 'label'"),
    ("missing policy", ["data.missing=zero"], "data.missing: unknown 'zero'"),
    ("malformed --set", ["train.epochs"], "--set 'train.epochs': expected KEY=VALUE"),
]


@pytest.mark.parametrize("overrides,expected", [c[1:] for c in CONFIG_ERRORS], ids=[c[0] for c in CONFIG_ERRORS])
def test_config_errors_from_set(tmp_path, overrides, expected, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "train.csv", pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "label": [-1, 1, -1, 1]}))
    write_config(tmp_path / "run.yaml", GOOD)
    args = ["train", "run.yaml"]
    for item in overrides:
        args += ["--set", item]
    assert_clean_error(run_cli(*args), expected, tmp_path)


CONFIG_FILES = [
    ("typo in the file", yaml.safe_dump({**GOOD, "train": {"epocs": 3}}), "run.yaml: train.epocs: unknown key (did you mean 'epochs'?)"),
    ("missing task", yaml.safe_dump({"data": GOOD["data"]}), "run.yaml: task: missing required key"),
    ("missing target", yaml.safe_dump({"task": "binary", "data": {"train": "train.csv"}}), "run.yaml: data.target: missing required key"),
    ("yaml syntax", "task: binary\ndata: {train: train.csv, target: label\n", "run.yaml:3:1: YAML syntax error"),
    ("python tag", "task: !!python/object/apply:os.system ['touch pwned']\n", "run.yaml:1:7: tag '!!python/object/apply:os.system' is not allowed"),
    ("duplicate key", "task: binary\ntask: multiclass\n", "run.yaml: line 2: duplicate key 'task'"),
    ("a list", "- task\n- data\n", "run.yaml: expected a mapping of keys"),
    ("a scalar", "hello\n", "run.yaml: expected a mapping of keys"),
    ("data not a mapping", "task: binary\ndata: [1, 2]\n", "run.yaml: data: expected a mapping of keys, found a list"),
]


@pytest.mark.parametrize("text,expected", [c[1:] for c in CONFIG_FILES], ids=[c[0] for c in CONFIG_FILES])
def test_config_file_errors(tmp_path, text, expected, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "train.csv", pd.DataFrame({"x": [0.0, 1.0], "label": [-1, 1]}))
    (tmp_path / "run.yaml").write_text(text)
    assert_clean_error(run_cli("train", "run.yaml"), expected, tmp_path)
    assert not (tmp_path / "pwned").exists()


def test_missing_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_clean_error(run_cli("train", "nope.yaml"), "nope.yaml: config file not found", tmp_path)


# (name, training CSV text, --set overrides, expected)
DATA_ERRORS = [
    ("missing file", None, ["data.train=absent.csv"], "absent.csv: file not found (data.train in the config)"),
    ("missing target column", "x,lable\n1,1\n2,-1\n", [], "train.csv: target column 'label' not found (did you mean 'lable'?"),
    ("missing feature column", "x,label\n1,1\n2,-1\n", ["data.features=[x, y]"], "train.csv: feature column 'y' not found"),
    ("text regression target", "x,label\n1,1.5\n2,abc\n", ["task=regression"], "train.csv: target column 'label' must be numeric for task 'regression', found 'abc' in row 2"),
    ("binary with three classes", "x,label\n1,a\n2,b\n3,c\n", [], "task 'binary' needs exactly 2 classes in 'label', found 3: 'a', 'b', 'c'"),
    ("binary written two ways", "x,label\n1,Yes\n2,yes\n3,No\n4,no\n", [], "task 'binary' needs exactly 2 classes in "
     "'label', found 4: 'No', 'Yes', 'no', 'yes', 2 words written in more than one way: write each class one way"),
    ("binary with one class", "x,label\n1,a\n2,a\n", [], "target column 'label' has only one class ('a')"),
    ("constant regression target", "x,label\n1,3\n2,3\n", ["task=regression"], "target column 'label' is constant"),
    ("empty file", "", [], "train.csv: file is empty"),
    ("header only", "x,label\n", [], "train.csv: has a header but no data rows"),
    ("duplicate column", "x,x,label\n1,2,1\n3,4,-1\n", [], "train.csv: column 'x' appears twice in the header"),
    ("unnamed column", ",x,label\n0,2,1\n1,4,-1\n", [], "train.csv: column 1 has no name in the header; name it (a "
     "row index that pandas' to_csv wrote? write the file with index=False"),
    ("infinite value", "x,label\n1,1\ninf,-1\n3,1\n-1,-1\n", ["data.valid_fraction=0"], "train.csv: column 'x' holds infinite values"),
    ("all-missing feature", "a,x,label\n,1,1\n,2,-1\n,3,1\n,4,-1\n", ["data.valid_fraction=0"],
     "train.csv: column 'a' has no values (all 4 training rows are missing)"),
    ("all-missing target", "x,label\n1,\n2,\n", [], "target column 'label' has no values"),
    ("missing values with missing: error", "x,label\n1,1\n,-1\n3,1\n4,-1\n", ["data.missing=error", "data.valid_fraction=0"], "column 'x' has 1 missing values (first in row 2); data.missing is 'error'"),
    ("positive not a label", "x,label\n1,1\n2,-1\n", ["data.positive=yes"], "data.positive is 'yes', which is not a label"),
    ("decimal-comma regression target", "x;label\n1;7,6143\n2;2,5\n", ["task=regression"],
     "found '7,6143' in row 1 (they look like numbers: set data.decimal: \",\")"),
    ("decimal comma read as numeric", "x;label\n1;7,6143\n2;2,5\n", ["task=regression", "data.types={label: numeric}"],
     "column 'label' (data.types: numeric) has '7,6143' in row 1, which is not a number with data.decimal: '.' (if "
     "its decimal mark is ',', set data.decimal: ',')"),
    ("thousands under data.decimal ','", "x;label\n1;1.234,5\n2;2,5\n", ["task=regression", "data.decimal=,"],
     "found '1.234,5' in row 1 (they look like numbers: set data.types: {label: numeric})"),
    ("comma file read with ';' and decimal commas", "x,label\n1,1\n2,-1\n", ["data.sep=;", "data.decimal=,"],
     "the header is one column, x,label, so the fields look separated by ',', not ';' (set data.sep: ',', or auto)"),
    ("an unquoted decimal comma in a file of commas", "x,label\n1,1\n7,6143,-1\n", [],
     "train.csv: cannot parse CSV: line 3 has 3 fields where the lines before it have 2 (a separator inside a "
     "value that is not quoted? a number with a decimal comma in a file of commas?)"),
    ("percentages and plain numbers", "rate,label\n78%,1\n9,-1\n", ["data.types={rate: numeric}"],
     "column 'rate' (data.types: numeric) holds percentages ('78%') and plain numbers ('9' in row 2), which read "
     "as 0.78 and 9: write them one way"),
    ("unix time as a date", "when,label\n1700115937.6,1\n1700115938.6,-1\n", ["data.types={when: date}"],
     "(a number, such as a unix time, is a feature as it is: leave the column out of data.types)"),
]


@pytest.mark.parametrize("csv,overrides,expected", [c[1:] for c in DATA_ERRORS], ids=[c[0] for c in DATA_ERRORS])
def test_data_errors(tmp_path, csv, overrides, expected, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if csv is not None:
        (tmp_path / "train.csv").write_text(csv)
    write_config(tmp_path / "run.yaml", GOOD)
    args = ["train", "run.yaml"]
    for item in overrides:
        args += ["--set", item]
    assert_clean_error(run_cli(*args), expected, tmp_path)


def test_binary_and_non_utf8_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path / "run.yaml", GOOD)
    (tmp_path / "train.csv").write_bytes(b"PK\x03\x04\x00\x00binary")
    assert_clean_error(run_cli("train", "run.yaml"), "train.csv: looks like a binary file", tmp_path)
    (tmp_path / "train.csv").write_bytes("x,label\n1,1\n2,caf\u00e9\n".encode("latin-1"))
    assert_clean_error(run_cli("train", "run.yaml"), "train.csv: not UTF-8 text (byte 0xe9 on line 3)", tmp_path)


def test_predict_and_evaluate_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "train.csv", pd.DataFrame({"x": [0.0, 1, 2, 3, 4, 5], "z": list("abcabc"),
                                                    "label": [-1, 1, -1, 1, -1, 1]}))
    write_config(tmp_path / "run.yaml", GOOD)
    assert run_cli("train", "run.yaml", "--out", "run").exit_code == 0
    cases = [
        (["predict", "run", "-"], "z,label\na,1\n", "<stdin>: feature column 'x' not found"),
        (["predict", "run", "-"], "x,z\nabc,a\n", "<stdin>: column 'x' was numeric in training but holds text here ('abc' in row 1)"),
        (["predict", "run", "-"], "x,z\n?,a\n", "holds text here ('?' in row 1); a missing value? leave the field "
                                               "empty (or train with data.missing_values)"),
        (["predict", "run", "-", "--keep", "id"], "x,z\n1,a\n", "<stdin>: column (in --keep) 'id' not found"),
        (["predict", "run", "-", "--proba", "--keep", "x"], "x,z\n1,a\n", None),
        (["predict", "missing_run", "-"], "x,z\n1,a\n", "missing_run: run directory not found"),
        (["evaluate", "run", "-"], "x,z,label\n1,a,7\n", "<stdin>: column 'label' has a label that the model has never seen: 7 (known: -1, 1)"),
        (["evaluate", "run", "-"], "x,z\n1,a\n", "<stdin>: target column 'label' not found"),
    ]
    # a model of decimal commas (fields separated by ';') given decimal points
    (tmp_path / "comma.csv").write_text("x;z;label\n0,5;a;-1\n1,5;b;1\n2,5;c;-1\n3,5;a;1\n")
    assert run_cli("train", "run.yaml", "--out", "comma", "--set", "data.train=comma.csv",
                   "--set", "data.decimal=,").exit_code == 0
    (tmp_path / "semi.csv").write_text("x;z;label\n0.5;a;-1\n1.5;b;1\n2.5;c;-1\n3.5;a;1\n")
    assert run_cli("train", "run.yaml", "--out", "semi", "--set", "data.train=semi.csv", "--set", "data.sep=;"
                   ).exit_code == 0
    cases += [
        (["predict", "comma", "-"], "x;z\n1.5;a\n", "<stdin>: column 'x' was numeric in training, and here its numbers "
                                                   "are written another way ('1.5' in row 1): write them as the training "
                                                   "files did (their data.decimal and data.types)"),
        (["predict", "comma", "-"], "x,z\n1.5,a\n", "so the fields look separated by ',', and the model reads them "
                                                   "separated by ';', as its training files were"),
        (["predict", "semi", "-"], "x,z\n1,a\n", "so the fields look separated by ',', and the model reads them "
                                                 "separated by ';', as its training files were"),
    ]
    for args, stdin, expected in cases:
        result = run_cli(*args, input=stdin)
        if expected is None:
            assert result.exit_code == 0, result.stderr
            continue
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
        assert expected in result.stderr, result.stderr


def test_existing_run_is_not_overwritten_without_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "train.csv", pd.DataFrame({"x": [0.0, 1, 2, 3], "label": [-1, 1, -1, 1]}))
    write_config(tmp_path / "run.yaml", GOOD)
    assert run_cli("train", "run.yaml").exit_code == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "runs" / "run").iterdir()}
    result = run_cli("train", "run.yaml", "--set", "train.seed=5")
    assert result.exit_code == 2 and "runs/run: run directory exists and is not empty; pass --force" in result.stderr
    assert {p.name: p.read_bytes() for p in (tmp_path / "runs" / "run").iterdir()} == before
    # a forced run with a bad config still leaves the good run alone
    result = run_cli("train", "run.yaml", "--force", "--set", "data.target=nope")
    assert result.exit_code == 2
    assert {p.name: p.read_bytes() for p in (tmp_path / "runs" / "run").iterdir()} == before
    assert run_cli("train", "run.yaml", "--force", "--set", "train.seed=5").exit_code == 0
    assert (tmp_path / "runs" / "run" / "model.npz").read_bytes() != before["model.npz"]


def assert_clean_error(result, expected: str, folder):
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.stdout)
    assert result.stdout == ""
    assert result.stderr.startswith("Error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr  # one line, no traceback
    assert expected in result.stderr, result.stderr
    assert not (folder / "runs").exists(), "a failed run left a run directory behind"


def test_messages_found_by_trying_nnfit_as_a_new_user(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # yes / no are labels, not YAML 1.1 booleans
    (tmp_path / "buy.csv").write_text("x,bought\n1,yes\n2,no\n3,yes\n4,no\n5,yes\n6,no\n")
    write_config(tmp_path / "buy.yaml", {"task": "binary", "data": {"train": "buy.csv", "target": "bought", "valid_fraction": 0.2},
                                         "model": {"hidden": [2]}, "train": {"epochs": 1}})
    text = (tmp_path / "buy.yaml").read_text().replace("target: bought", "target: bought\n  positive: no")
    (tmp_path / "buy.yaml").write_text(text)
    result = run_cli("train", "buy.yaml", "--out", "run")
    assert result.exit_code == 0, result.stderr
    assert json.loads((tmp_path / "run/model.json").read_text())["preprocessing"]["classes"] == ["yes", "no"]
    # a trailing comma on every row is not a shifted index column
    (tmp_path / "trail.csv").write_text("x,bought,\n1,yes,\n2,no,\n")
    out = run_cli("predict", "run", "trail.csv")
    assert out.exit_code == 0 and out.stdout.splitlines()[0] == "prediction", out.stderr
    (tmp_path / "extra.csv").write_text("x,bought\n1,yes,oops\n")
    assert_clean_error(run_cli("predict", "run", "extra.csv"), "extra.csv: some rows have more fields than the header",
                       tmp_path)
    # a CSV given as the config: one short line
    result = run_cli("train", "buy.csv")
    assert result.exit_code == 2 and len(result.stderr) < 200, result.stderr
    # unwritable outputs are errors, not tracebacks
    result = run_cli("predict", "run", "buy.csv", "-o", tmp_path / "missing_dir" / "p.csv")
    assert result.exit_code == 2 and result.stderr.startswith("Error: --output") and result.stderr.count("\n") == 1
    result = run_cli("predict", "run", "buy.csv", "-o", tmp_path / "run")
    assert result.exit_code == 2 and result.stderr.startswith("Error: --output")
    (tmp_path / "blocker").write_text("a file")
    result = run_cli("train", "buy.yaml", "--out", tmp_path / "blocker" / "run")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    # --keep may not clash with the output columns
    (tmp_path / "clash.csv").write_text("x,prediction\n1,a\n")
    result = run_cli("predict", "run", "clash.csv", "--keep", "prediction")
    assert result.exit_code == 2 and "--keep prediction: the output has its own 'prediction' column" in result.stderr
    # case-insensitive suggestions, and --resume with --force
    result = run_cli("train", "buy.yaml", "--set", "model.activation=RELU")
    assert "did you mean 'relu'?" in result.stderr
    result = run_cli("train", "buy.yaml", "--out", "run", "--resume", "--force")
    assert result.exit_code == 2 and "--resume and --force" in result.stderr


def test_continuous_target_under_a_classification_task(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    write_csv(tmp_path / "train.csv", pd.DataFrame({"x": rng.normal(size=100), "label": rng.normal(size=100)}))
    write_config(tmp_path / "run.yaml", GOOD)
    assert_clean_error(run_cli("train", "run.yaml"), "looks like a quantity to predict, not classes (use task: regression)",
                       tmp_path)


def test_a_stray_word_in_a_number_column_is_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = pd.DataFrame({"x": [str(v) for v in range(40)], "label": [-1, 1] * 20})
    frame.loc[7, "x"] = "abc"
    write_csv(tmp_path / "train.csv", frame)
    write_config(tmp_path / "run.yaml", GOOD)
    result = run_cli("train", "run.yaml")
    assert result.exit_code == 0
    assert "column 'x' is treated as text categories because of 1 value(s) that are not numbers ('abc' in row 8)" in result.stderr


def test_set_merges_a_mapping_into_a_section(tmp_path):
    from nnfit.config import load_config

    path = write_config(tmp_path / "c.yaml", {**GOOD, "train": {"epochs": 2, "learning_rate": 0.3}})
    cfg = load_config(path, ["train={epochs: 5}"])
    assert cfg.train.epochs == 5 and cfg.train.learning_rate == 0.3


def test_check_names_a_missing_column_as_train_does(tmp_path):
    """`check` lists every problem, each in the words `train` uses for it (with its did-you-mean)."""
    write_csv(tmp_path / "t.csv", pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1.0, 2.0, 3.0, 5.0]}))
    config = write_config(tmp_path / "c.yaml", {"task": "regression", "data": {"train": "t.csv", "target": "Y",
                                                                                "features": ["X"]}})
    trained = run_cli("train", config, "--out", tmp_path / "run")
    checked = run_cli("check", config)
    assert trained.exit_code == checked.exit_code == 2
    csv_path = display_path(tmp_path / "t.csv")  # as nnfit shows it: relative to here when that is shorter
    assert trained.stderr == f"Error: {csv_path}: target column 'Y' not found (did you mean 'y'? columns: x, y)\n"
    assert checked.stderr.splitlines() == [
        trained.stderr.strip(), f"Error: {csv_path}: feature column 'X' not found (did you mean 'x'? columns: x, y)"]


def test_resume_where_there_is_no_run_starts_one_and_says_so(tmp_path, monkeypatch):
    """--resume continues or starts (a script's loop), and says which, in case --out was mistyped."""
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "train.csv", pd.DataFrame({"x": [0.0, 1, 2, 3], "label": [-1, 1, -1, 1]}))
    write_config(tmp_path / "run.yaml", GOOD)
    started = run_cli("train", "run.yaml", "--out", "runs/typo", "--resume")
    assert started.exit_code == 0 and "Warning: runs/typo: no run there to resume; starting a new one" in started.stderr
    again = run_cli("train", "run.yaml", "--out", "runs/typo", "--resume")
    assert again.exit_code == 0 and "no run there to resume" not in again.stderr
    (tmp_path / "runs" / "empty").mkdir()
    assert "runs/empty: no run there to resume" in run_cli("train", "run.yaml", "--out", "runs/empty", "--resume").stderr
