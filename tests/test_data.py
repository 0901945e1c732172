"""Data preparation: encoding, imputation, scaling fitted on the training split only, splits, labels."""

import re

import numpy as np
import pandas as pd
import pytest

from nnfit.config import load_config
from nnfit.data import load_training_data
from nnfit.splits import stratified_split

from conftest import blobs, run_cli, write_config, write_csv


def load(tmp_path, frame, data=None, task="multiclass", **train):
    write_csv(tmp_path / "d.csv", frame)
    cfg = load_config(write_config(tmp_path / "c.yaml", {
        "task": task, "data": {"train": "d.csv", "target": "y", **(data or {})}, "train": train}))
    return load_training_data(cfg, np.random.default_rng(0))


def test_numeric_and_categorical_features(tmp_path):
    frame = pd.DataFrame({"num": [1.0, 2.0, 3.0, 4.0, np.nan, 6.0], "color": ["red", "blue", None, "red", "red", "green"],
                          "flag": ["true", "false", "true", "true", "false", "true"], "y": list("ababab")})
    data = load(tmp_path, frame, {"valid_fraction": 0})
    prep = data.prep
    assert prep.numeric == ["num"] and prep.categorical == ["color", "flag"]
    assert prep.feature_names == ["num", "color=blue", "color=green", "color=red", "flag=false", "flag=true"]
    X = data.train.X
    assert prep.fill == [pytest.approx(3.2)]  # mean of the present values
    np.testing.assert_allclose(X[:, 0].mean(), 0, atol=1e-6)  # standardized, the imputed row at the mean
    assert X[4, 0] == 0.0
    np.testing.assert_array_equal(X[2, 1:4], [0, 0, 1])  # missing color -> most frequent, 'red'
    np.testing.assert_array_equal(X[:, 4:].sum(axis=1), 1)
    assert any("imputed 1 missing values in 'num'" in n for n in data.notes)
    unseen, notes = prep.transform(pd.DataFrame({"num": [1.0], "color": ["purple"], "flag": ["true"]}), "new.csv")
    np.testing.assert_array_equal(unseen[0, 1:4], 0)
    assert "1 rows have categories not seen in training ('purple')" in notes[0]


def test_scaling_is_fitted_on_the_training_split_only(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(5, 3, 100), "y": rng.normal(0, 1, 100)})
    data = load(tmp_path, frame, {"valid_fraction": 0.3}, task="regression")
    train_rows, _ = stratified_split(100, None, 0.3, np.random.default_rng(0))  # the split load() made
    assert len(data.train.X) == 70 and len(data.valid.X) == 30
    assert data.prep.center[0] == pytest.approx(frame["x"][train_rows].mean(), rel=1e-5)
    assert data.prep.scale[0] == pytest.approx(frame["x"][train_rows].std(ddof=0), rel=1e-5)
    assert data.prep.center[0] != pytest.approx(frame["x"].mean(), rel=1e-5)
    assert data.prep.target_center == pytest.approx(np.mean(data.train.target))
    np.testing.assert_allclose(data.train.Y[:, 0].std(), 1, rtol=1e-5)  # scale_target


def test_stratified_split_keeps_class_shares():
    labels = np.r_[np.zeros(80, int), np.ones(20, int)]
    train, valid = stratified_split(100, labels, 0.25, np.random.default_rng(0))
    assert len(valid) == 25 and np.sum(labels[valid] == 1) == 5
    assert sorted(np.r_[train, valid].tolist()) == list(range(100))


def test_labels_and_positive_class(tmp_path):
    frame = pd.DataFrame({"x": [0.0, 1, 2, 3], "y": ["no", "yes", "no", "yes"]})
    assert load(tmp_path, frame, {"valid_fraction": 0}, task="binary").prep.classes == ["no", "yes"]
    data = load(tmp_path, frame, {"valid_fraction": 0, "positive": "no"}, task="binary")
    assert data.prep.classes == ["yes", "no"]  # [negative, positive]
    np.testing.assert_array_equal(data.train.Y[:, 0], [1, 0, 1, 0])
    numeric = pd.DataFrame({"x": [0.0, 1, 2, 3, 4, 5], "y": [10, 2, 1, 10, 2, 1]})
    assert load(tmp_path, numeric, {"valid_fraction": 0}).prep.classes == [1, 2, 10]  # sorted as numbers


def test_missing_drop_and_missing_target(tmp_path):
    frame = pd.DataFrame({"x": [1.0, np.nan, 3, 4, 5, 6], "y": ["a", "b", None, "b", "a", "b"]})
    data = load(tmp_path, frame, {"valid_fraction": 0, "missing": "drop"})
    assert len(data.train.X) == 4
    assert any("dropped 1 row with a missing target 'y'" in n for n in data.notes)
    assert any("dropped 1 row with missing feature values" in n for n in data.notes)


def test_class_only_in_validation_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "train.csv", pd.DataFrame({"x": [0.0, 1, 2, 3], "y": list("abab")}))
    write_csv(tmp_path / "valid.csv", pd.DataFrame({"x": [0.0, 1], "y": ["a", "z"]}))
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "train.csv",
                                                                               "valid": "valid.csv", "target": "y"}})
    result = run_cli("train", config)
    assert result.exit_code == 2
    assert "valid.csv: column 'y' has a label that the model has never seen: 'z'" in result.stderr


def test_a_column_float32_would_blur_is_centred_in_float64_first(tmp_path):
    """Unix times in seconds (1.7e9) are 128 s apart in float32: an hour of them became 29 values and the
    network could not tell 2 minutes apart. Such a column is read in float64 and centred there, so the inputs
    are the float64 standardization rounded once; ordinary columns keep their float32 path bit for bit."""
    from nnfit.data import load_features
    from nnfit.preprocess import Preprocessor

    rng = np.random.default_rng(0)
    t = (1.7e9 + rng.uniform(0, 3600, 700)).round(3)
    frame = pd.DataFrame({"t": t, "u": rng.normal(5, 2, 700), "y": np.sin(t / 600)})
    frame.loc[[3, 10], "t"] = np.nan
    write_csv(tmp_path / "valid.csv", frame.iloc[500:])
    data = load(tmp_path, frame.iloc[:500], {"valid": "valid.csv"}, task="regression")
    prep, train = data.prep, frame.iloc[:500]
    mean, std = train["t"].mean(), train["t"].std(ddof=0)
    assert (prep.center[0], prep.scale[0]) == (pytest.approx(mean, abs=1e-3), pytest.approx(std, rel=1e-9))
    for split, rows in ((data.train, train), (data.valid, frame.iloc[500:])):
        z = ((rows["t"] - mean) / std).fillna(0).to_numpy()  # a missing value: the training mean
        np.testing.assert_allclose(split.X[:, 0], z, rtol=0, atol=2e-7)  # float32's own rounding of z
        assert len(np.unique(split.X[:, 0])) == rows["t"].nunique() + rows["t"].isna().any()
    u = train["u"].to_numpy(np.float32)  # an ordinary column: as before, float32 from the start
    old = (u - np.float32(prep.center[1])) * np.float32(1 / prep.scale[1])
    np.testing.assert_array_equal(data.train.X[:, 1], old)
    assert not any("whole numbers" in note for note in data.notes)

    # model.json keeps what was subtracted in float64; a model from before has none, and keeps its plain path
    assert prep.offset == [prep.center[0], 0.0] and prep.wide == ["t"]
    earlier = {k: v for k, v in prep.to_dict().items() if k != "offset"}
    assert Preprocessor.from_dict(earlier).offset == [] and Preprocessor.from_dict(earlier).wide == []
    with pytest.raises(ValueError, match="preprocessing.offset"):
        Preprocessor.from_dict({**prep.to_dict(), "offset": [1.0]})
    # predict and evaluate read the column the same way: the same inputs for the same rows, bit for bit
    _, X, _ = load_features(Preprocessor.from_dict(prep.to_dict()), tmp_path / "valid.csv", "valid.csv",
                            np.float32, need_target=True)
    np.testing.assert_array_equal(X, data.valid.X)
    # without standardizing, the inputs are the values as float32 holds them; float64 stays as it was
    raw = load(tmp_path, frame.iloc[:500], {"valid_fraction": 0, "standardize": False}, task="regression")
    np.testing.assert_array_equal(raw.train.X[:, 0], train["t"].fillna(mean).to_numpy(np.float32))
    wide = load(tmp_path, frame.iloc[:500], {"valid_fraction": 0}, task="regression", dtype="float64")
    np.testing.assert_array_equal(wide.train.X[:, 0], ((train["t"] - wide.prep.center[0]) * (1 / wide.prep.scale[0]))
                                  .fillna(0).to_numpy())


def test_placeholders_for_missing_values_are_named_by_a_note_and_read_as_missing(tmp_path):
    """UCI's files write '?' for a missing value, others '-': the column then reads as text categories, and
    the note names data.missing_values; with it, the column is numeric and the placeholders imputed, in
    training and in predict (model.json keeps the setting)."""
    from nnfit.data import load_features
    from nnfit.preprocess import Preprocessor

    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 20, 200).astype(object), (rng.integers(0, 20, 200) / 4).astype(object)
    a[::7], b[1::9] = "-", " ?"
    frame = pd.DataFrame({"a": a, "b": b, "y": np.where(rng.normal(size=200) > 0, "yes", "no")})
    data = load(tmp_path, frame, {"valid_fraction": 0}, task="binary")
    assert data.prep.categorical == ["a", "b"]
    assert any("column 'a' is treated as text categories because of 29 value(s) that are not numbers ('-' in row "
               "1); if they mean a missing value, set data.missing_values: ['-']" in note for note in data.notes)
    assert any("set data.missing_values: ['?']" in note for note in data.notes)
    data = load(tmp_path, frame.assign(y=frame["y"].where(frame.index != 198, "?")),
                {"valid_fraction": 0, "missing_values": ["?", "-"]}, task="binary")
    assert data.prep.numeric == ["a", "b"] and data.prep.missing_values == ["?", "-"]
    assert any(note.endswith("dropped 1 row with a missing target 'y' (empty, or one of data.missing_values ('?', "
                             "'-'))") for note in data.notes)  # it applies to the target too
    assert data.prep.fill[0] == pytest.approx(np.mean([v for i, v in enumerate(a) if v != "-" and i != 198]))
    assert any("imputed 52 missing values in 'a', 'b' with the training mean" in note for note in data.notes)
    write_csv(tmp_path / "new.csv", frame.iloc[:8])
    _, X, notes = load_features(Preprocessor.from_dict(data.prep.to_dict()), tmp_path / "new.csv", "new.csv",
                                np.float32)
    np.testing.assert_array_equal(X, data.train.X[:8])
    assert notes == ["new.csv: imputed 3 missing values in 'a', 'b' with the training mean"]


@pytest.mark.parametrize("value,says", [
    ([1.5], "data.missing_values: expected a list of texts that mean a missing value"),
    (["?", " "], "data.missing_values: an empty text is missing already"),
    ("?", "data.missing_values: expected a list of texts"),
    ([{None: None}], "? means something to YAML: quote it, e.g. ['?', '-']"),  # what YAML makes of [?]
])
def test_missing_values_must_be_a_list_of_texts(tmp_path, value, says):
    from nnfit.errors import ConfigError

    with pytest.raises(ConfigError, match=re.escape(says)):
        load(tmp_path, blobs(n=20, seed=1).rename(columns={"label": "y"}), {"missing_values": value})


def test_spaces_around_names_and_values_are_not_part_of_them(tmp_path):
    """'yes ' is the label 'yes', ' red' the category 'red', ' y ' the column 'y', ' ?' the placeholder '?'
    (a file written with ', ' between fields, as UCI's adult.data); a model from before reads as it did."""
    from nnfit.data import load_features
    from nnfit.preprocess import Preprocessor

    (tmp_path / "d.csv").write_text('x , color, y \n1, red ,yes \n2,red,no\n3," blue",yes\n4,blue , no\n5, ?, yes\n'
                                    "6,red\t, no\n")
    cfg = load_config(write_config(tmp_path / "c.yaml", {"task": "binary", "data": {
        "train": "d.csv", "target": "y", "valid_fraction": 0, "missing_values": ["?"]}}))
    data = load_training_data(cfg, np.random.default_rng(0))
    prep = data.prep
    assert (prep.numeric, prep.categorical, prep.classes) == (["x"], ["color"], ["no", "yes"])
    assert prep.categories == {"color": ["blue", "red"]} and prep.strip
    assert any(note.endswith("d.csv: imputed 1 missing values in 'color' with 'red'") for note in data.notes)
    (tmp_path / "new.csv").write_text("x,color\n1, red\n2,blue \n")
    _, X, notes = load_features(Preprocessor.from_dict(prep.to_dict()), tmp_path / "new.csv", "new.csv", np.float32)
    np.testing.assert_array_equal(X[:, 1:], [[0, 1], [1, 0]])
    assert notes == []
    earlier = Preprocessor.from_dict({k: v for k, v in prep.to_dict().items() if k != "strip"})
    _, X, notes = load_features(earlier, tmp_path / "new.csv", "new.csv", np.float32)
    np.testing.assert_array_equal(X[:, 1:], 0)  # ' red' and 'blue ' were other categories then
    assert "2 rows have categories not seen in training (' red', 'blue ')" in notes[0]


def test_a_file_of_commas_with_quoted_decimal_commas_is_read(tmp_path):
    """data.decimal ',' in a file whose fields are separated by commas: its numbers are quoted, and read."""
    (tmp_path / "d.csv").write_text('x,y\n1,1\n"7,6143",2\n"2,5",1\n"-3,25",2\n')
    cfg = load_config(write_config(tmp_path / "c.yaml", {"task": "regression", "data": {
        "train": "d.csv", "target": "y", "valid_fraction": 0, "decimal": ","}}))
    data = load_training_data(cfg, np.random.default_rng(0))
    assert data.prep.sep == "," and data.prep.fill == [pytest.approx(np.mean([1, 7.6143, 2.5, -3.25]))]


def test_an_unnamed_index_column_is_refused_in_the_training_file_only(tmp_path):
    """pandas' to_csv writes its index first, without a name: a feature nobody could name, in the training file;
    in a validation or test file (as at predict) the model's columns are all that is read."""
    from nnfit.errors import DataError

    frame = blobs(n=40, seed=3).rename(columns={"label": "y"})
    frame.to_csv(tmp_path / "valid.csv")  # the index too
    data = load(tmp_path, frame, {"valid": "valid.csv", "test": "valid.csv"})
    assert data.prep.numeric == ["x0", "x1"] and len(data.valid.X) == len(data.test.X) == 40
    with pytest.raises(DataError, match="valid.csv: column 1 has no name in the header; name it \\(a row index"):
        load(tmp_path, frame, {"train": "valid.csv"})


@pytest.mark.parametrize("header,row", [
    ("x0,x1,label", "1,2,a"), ("\ufeffx0,x1,label", "1,2,a"), ("x0;x1;label", "1;2;a"), ("x0\tx1\tlabel", "1\t2\ta"),
    ("x0|x1|label", "1|2|a"), (" x0 , x1 ,label ", "1,2,a"), ('"x0","a, b",label', "1,2,a"),
    ('"say ""hi""",x1,label', "1,2,a"), ("x0,x1,label\r", "1,2,a\r"), ("\n\nx0,x1,label", "1,2,a"),
    ("x0,,label", "1,2,a"), ("x0;x1,5;label", "1;2;a"),
])
def test_header_names_reads_a_header_as_training_does(tmp_path, header, row):
    """A sweep checks its trials' columns from header_names before any starts: a name it read otherwise than
    training does would refuse a good sweep (or pass a bad one on to every trial)."""
    from nnfit.csvfiles import read_csv
    from nnfit.headers import header_names

    path = tmp_path / "h.csv"
    path.write_bytes(f"{header}\n{row}\n".encode())
    for sep in ("auto", ","):
        frame = read_csv(str(path), "h.csv", sep=sep, strip=True, named=False)
        assert header_names(str(path), sep) == list(frame.columns)


@pytest.mark.parametrize("content", [b'"two\nlines",x1,label\n1,2,a\n', b"x0,x1,label", b"x0,\xe9,label\n1,2,a\n", b"",
                                     b"x0,x1,label\r1,2,a\r3,4,b\n"])  # the last: lines ended by a lone \r
def test_header_names_leaves_what_it_cannot_tell_to_the_full_read(tmp_path, content):
    from nnfit.headers import header_names

    path = tmp_path / "h.csv"
    path.write_bytes(content)
    assert header_names(str(path)) is None
    assert header_names(str(tmp_path / "nothere.csv")) is None


def test_classes_that_differ_only_in_capitals_get_a_note():
    from nnfit.labels import Target

    labels = Target.fit(pd.Series(["Red", "red", "blue", "blue", "Red", "red"]), "multiclass", "colour", "c.csv")
    notes = labels.notes(np.array([2, 2, 2]), "c.csv")
    assert notes == ["c.csv: classes 'Red', 'red' of 'colour' differ only in capitals; if they are one class, write "
                     "it one way"]


def test_a_column_with_a_value_per_row_is_named_as_an_id_to_ignore(tmp_path):
    frame = blobs(n=300).assign(ticket=[f"T-{i:05d}" for i in range(300)])
    write_csv(tmp_path / "t.csv", frame)
    config = write_config(tmp_path / "c.yaml", {"task": "multiclass", "data": {"train": "t.csv", "target": "label"},
                                                "train": {"epochs": 1}})
    result = run_cli("train", config, "--out", tmp_path / "run")
    assert result.exit_code == 0 and "column 'ticket' has 270 categories" in result.stderr
    assert "a value per row, as an id or free text has: list it in data.ignore" in result.stderr
