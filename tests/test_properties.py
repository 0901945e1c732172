"""Property tests: random valid configs, random messy data, random row subsets."""

import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnfit import commands as api
from nnfit.config import load_config
from nnfit.schema import ACTIVATION_NAMES, OPTIMIZER_NAMES, TASK_LOSSES

from conftest import blobs, run_cli, write_config, write_csv

pytestmark = pytest.mark.slow  # hypothesis: many examples each

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def configs(draw):
    task = draw(st.sampled_from(sorted(TASK_LOSSES)))
    data = {"train": draw(st.sampled_from(["train.csv", "../data/x.csv", "/abs/path/y.csv"])), "target": "label"}
    if draw(st.booleans()):
        data["valid_fraction"] = draw(st.floats(0.05, 0.9))
    for key, strategy in [("missing", st.sampled_from(["impute", "drop", "error"])), ("standardize", st.booleans()),
                          ("scale_target", st.booleans()), ("ignore", st.lists(st.sampled_from(["id", "name", "7"]), unique=True)),
                          ("test", st.sampled_from(["test.csv", None])), ("cache", st.booleans())]:
        if draw(st.booleans()):
            data[key] = draw(strategy)
    if task == "binary" and draw(st.booleans()):
        data["positive"] = draw(st.sampled_from([1, "yes", -1]))
    model = {"hidden": draw(st.lists(st.integers(1, 300), max_size=4)),
             "activation": draw(st.sampled_from(ACTIVATION_NAMES)),
             "init": draw(st.sampled_from(["auto", "he", "glorot"]))}
    train = {"epochs": draw(st.integers(1, 10_000)), "batch_size": draw(st.one_of(st.integers(1, 4096), st.just("full"))),
             "optimizer": draw(st.sampled_from(OPTIMIZER_NAMES)),
             "learning_rate": draw(st.floats(1e-6, 10, exclude_min=False)),
             "momentum": draw(st.floats(0, 0.999)), "weight_decay": draw(st.floats(0, 1)),
             "seed": draw(st.integers(0, 2**31)), "dtype": draw(st.sampled_from(["float32", "float64"])),
             "checkpoint_every": draw(st.one_of(st.just("auto"), st.integers(1, 50)))}
    if draw(st.booleans()):
        train["early_stopping"] = {"patience": draw(st.integers(1, 100)), "min_delta": draw(st.floats(0, 1))}
    if task != "regression" and draw(st.booleans()):
        train["class_weight"] = draw(st.one_of(st.just("balanced"), st.dictionaries(st.sampled_from([0, 1, "a"]),
                                                                                    st.floats(0.1, 10), min_size=1)))
    config = {"task": task, "data": data, "model": model, "train": train}
    if draw(st.booleans()):
        config["loss"] = draw(st.sampled_from(["auto", *TASK_LOSSES[task]]))
    return config


@PROPERTY
@given(configs())
def test_random_valid_configs_validate_and_round_trip_through_check(config):
    with tempfile.TemporaryDirectory() as folder:
        path = write_config(Path(folder) / "random.yaml", config)
        result = run_cli("check", path, "--no-data")
        assert result.exit_code == 0, result.stderr
        (Path(folder) / "resolved.yaml").write_text(result.stdout)
        assert load_config(Path(folder) / "resolved.yaml") == load_config(path)


@st.composite
def messy_frames(draw):
    """Small frames with random column types, missing and infinite values, categories, and a random target."""
    n = draw(st.integers(1, 40))
    columns = {}
    for i in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["float", "int", "text", "bool", "mostly_missing"]))
        if kind == "float":
            values = draw(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(np.nan), st.just(np.inf)), min_size=n, max_size=n))
        elif kind == "int":
            values = draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n))
        elif kind == "text":
            values = draw(st.lists(st.sampled_from(["red", "green", "blue", None, "1", ""]), min_size=n, max_size=n))
        elif kind == "bool":
            values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        else:
            values = [np.nan] * (n - 1) + [1.0]
        columns[f"c{i}"] = values
    target_kind = draw(st.sampled_from(["numbers", "two", "labels", "missing"]))
    target = {"numbers": st.floats(-100, 100), "two": st.sampled_from([-1, 1]),
              "labels": st.sampled_from(["a", "b", "c"]), "missing": st.sampled_from([1.0, np.nan])}[target_kind]
    columns["label"] = draw(st.lists(target, min_size=n, max_size=n))
    return pd.DataFrame(columns), draw(st.sampled_from(sorted(TASK_LOSSES))), draw(st.sampled_from(["impute", "drop", "error"]))


@PROPERTY
@given(messy_frames())
def test_random_data_trains_or_fails_with_one_clean_line(case):
    frame, task, missing = case
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        write_csv(folder / "train.csv", frame)
        config = write_config(folder / "c.yaml", {"task": task, "data": {"train": "train.csv", "target": "label",
                                                                         "missing": missing},
                                                  "model": {"hidden": [3]}, "train": {"epochs": 2}})
        result = run_cli("train", config, "--out", folder / "run", "--quiet")  # a traceback fails the test
        if result.exit_code == 0:
            predicted = run_cli("predict", folder / "run", folder / "train.csv")
            assert predicted.exit_code in (0, 2), predicted.stderr
            if predicted.exit_code == 0:
                assert len(pd.read_csv(io.StringIO(predicted.stdout))) == len(frame)
        else:
            assert result.exit_code in (1, 2)
            assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
            if result.exit_code == 2:
                assert not (folder / "run").exists()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("subsets")
    frame = blobs(n=400, seed=9, classes=("x", "y", "z"), d=3)
    frame["color"] = np.random.default_rng(0).choice(["red", "blue", None], 400)
    frame.loc[::7, "x1"] = np.nan
    frame.insert(0, "id", np.arange(400))
    write_csv(folder / "all.csv", frame)
    config = write_config(folder / "c.yaml", {"task": "multiclass", "data": {"train": "all.csv", "target": "label",
                                                                             "ignore": ["id"]},
                                              "model": {"hidden": [12]}, "train": {"epochs": 5}})
    api.train(config, out=folder / "run")
    everything = api.predict(folder / "run", str(folder / "all.csv"), proba=True, keep=["id"])
    return folder, frame, everything


@PROPERTY
@given(st.lists(st.integers(0, 399), min_size=1, max_size=60, unique=True).map(sorted))
def test_predicting_any_row_subset_equals_those_rows_of_the_whole_file(trained, rows):
    folder, frame, everything = trained
    text = frame.iloc[rows].to_csv(index=False).encode()
    part = api.predict(folder / "run", io.BytesIO(text), proba=True, keep=["id"])
    pd.testing.assert_frame_equal(part.reset_index(drop=True), everything.iloc[rows].reset_index(drop=True),
                                  check_exact=True)
