"""The config: defaults, path resolution, overrides parsed as YAML, round trip through the resolved YAML."""

import dataclasses

import pytest

from nnfit.config import Config, dump_config, load_config, parse_yaml
from nnfit.errors import ConfigError

from conftest import REPO, run_cli, write_config

MINIMAL = {"task": "regression", "data": {"train": "d/train.csv", "target": "y"}}


def test_defaults_are_the_documented_ones(tmp_path):
    cfg = load_config(write_config(tmp_path / "c.yaml", MINIMAL))
    assert cfg.model.hidden == [100] and cfg.model.activation == "relu" and cfg.model.init == "glorot"
    assert cfg.loss == "mse" and cfg.model.dropout == 0.0
    t = cfg.train
    assert (t.epochs, t.batch_size, t.optimizer, t.learning_rate, t.momentum) == (100, 32, "adam", 0.001, 0.9)
    assert t.schedule.name == "constant"
    sgd = load_config(write_config(tmp_path / "s.yaml", {**MINIMAL, "train": {"optimizer": "sgd"}}))
    assert sgd.train.learning_rate == 0.01  # auto: each optimizer's usual rate
    assert (t.weight_decay, t.early_stopping, t.class_weight, t.seed, t.dtype) == (0.0, None, None, 0, "float32")
    d = cfg.data
    assert (d.valid, d.valid_fraction, d.test, d.features, d.ignore) == (None, 0.1, None, None, [])
    assert (d.missing, d.standardize, d.scale_target, d.positive) == ("impute", True, True, None)


def test_paths_are_relative_to_the_config_folder(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write_config(tmp_path / "sub" / "c.yaml", MINIMAL))
    assert cfg.data.train == str(tmp_path / "sub" / "d" / "train.csv")


@pytest.mark.parametrize("task,loss", [("binary", "binary_cross_entropy"), ("multiclass", "cross_entropy")])
def test_auto_choices_are_resolved(tmp_path, task, loss):
    cfg = load_config(write_config(tmp_path / "c.yaml", {**MINIMAL, "task": task, "model": {"activation": "tanh"}}))
    assert cfg.loss == loss and cfg.model.init == "glorot"
    cfg = load_config(write_config(tmp_path / "c.yaml", {**MINIMAL, "task": task, "model": {"init": "he"}}))
    assert cfg.model.init == "he"


def test_init_schemes():
    import numpy as np

    from nnfit.network import init_params

    glorot = init_params([100, 50, 10], "glorot", np.random.default_rng(0), np.float64)
    he = init_params([100, 50, 10], "he", np.random.default_rng(0), np.float64)
    a = np.sqrt(6 / 150)
    assert np.abs(glorot.W[0]).max() <= a and np.abs(glorot.W[0]).max() > 0.95 * a
    assert np.abs(glorot.b[0]).max() <= a and np.abs(glorot.b[0]).std() > 0  # random biases
    assert np.abs(he.W[0]).max() <= np.sqrt(6 / 100) and np.abs(he.W[0]).max() > 0.95 * np.sqrt(6 / 100)
    assert not he.b[0].any()  # zero biases
    assert abs(glorot.W[0].std() - a / np.sqrt(3)) < 0.01


def test_overrides_are_yaml_values(tmp_path):
    path = write_config(tmp_path / "c.yaml", MINIMAL)
    cfg = load_config(path, ["train.learning_rate=1e-3", "model.hidden=[32, 16]", "train.batch_size=full",
                             "train.early_stopping={patience: 3}", "data.valid=null", "model.activation=tanh"])
    assert cfg.train.learning_rate == 0.001 and cfg.model.hidden == [32, 16] and cfg.train.batch_size == "full"
    assert cfg.train.early_stopping.patience == 3 and cfg.train.early_stopping.min_delta == 0.0
    assert cfg.model.activation == "tanh"
    # a separator or a decimal mark as typed, though YAML reads ',' and '|' as syntax
    cfg = load_config(path, ["data.sep=|", "data.decimal=,"])
    assert (cfg.data.sep, cfg.data.decimal) == ("|", ",")
    assert load_config(path, ["data.sep= ; "]).data.sep == ";"
    # a mapping merges into the config's (one key changed), and an empty one empties it
    typed = write_config(tmp_path / "t.yaml", {**MINIMAL, "data": {**MINIMAL["data"], "types": {"a": "numeric"}}})
    assert load_config(typed, ["data.types={b: date}"]).data.types == {"a": "numeric", "b": "date"}
    assert load_config(typed, ["data.types={}"]).data.types == {}


def test_yaml_reads_exponent_floats_and_empty_sections(tmp_path):
    assert parse_yaml("a: 1e-3\nb: 2E5\nc: 1.5e+2", "x") == {"a": 0.001, "b": 200000.0, "c": 150.0}
    path = tmp_path / "c.yaml"
    path.write_text("task: binary\ndata:\n  train: t.csv\n  target: y\nmodel:\ntrain:\n")
    cfg = load_config(path)
    assert cfg.model.hidden == [100] and cfg.train.epochs == 100


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(write_config(tmp_path / "c.yaml", {
        **MINIMAL, "task": "binary", "data": {**MINIMAL["data"], "positive": "yes", "ignore": ["id", 7]},
        "train": {"class_weight": {"yes": 2, "no": 1}, "early_stopping": {"patience": 4, "min_delta": 0.01}}}))
    assert cfg.data.ignore == ["id", "7"]  # column names are text
    (tmp_path / "resolved.yaml").write_text(dump_config(cfg))
    assert load_config(tmp_path / "resolved.yaml") == cfg


def test_config_is_frozen(tmp_path):
    cfg = load_config(write_config(tmp_path / "c.yaml", MINIMAL))
    assert isinstance(cfg, Config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.task = "binary"


def test_errors_carry_the_key(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path / "c.yaml", {**MINIMAL, "train": {"epochs": 0}}))
    assert info.value.key == "train.epochs"
    assert str(info.value) == "c.yaml: train.epochs: expected an integer >= 1, found 0" or \
        str(info.value).endswith("c.yaml: train.epochs: expected an integer >= 1, found 0")


def test_docs_config_md_is_the_reference_generated_from_the_schema():
    """One source of truth: regenerate with `python -m nnfit.reference > docs/config.md`."""
    from nnfit.reference import reference
    from nnfit.reference import keys

    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    assert text == reference(), "docs/config.md is stale: python -m nnfit.reference > docs/config.md"
    for key, f, _ in keys():  # every key, its default and its doc are in it
        assert f"`{key}`" in text and f.metadata["doc"][:30].lower() in text.lower()


def test_explain_prints_the_reference_or_one_key(tmp_path):
    from nnfit.reference import reference

    assert run_cli("explain").stdout == reference()
    one = run_cli("explain", "train.batch_size")
    assert one.exit_code == 0
    assert one.stdout.splitlines() == ['train.batch_size: rows per gradient step, or "full" for full-batch gradient descent',
                                       "  default: 32", "  allowed: an integer >= 1 | full"]
    typo = run_cli("explain", "train.epocs")
    assert typo.exit_code == 2 and typo.stderr == "Error: train.epocs: unknown key (did you mean 'train.epochs'?)\n"


@pytest.mark.parametrize("example", ["digits", "sine", "xor", "linear"])
def test_config_yaml_is_the_same_text_with_pyyamls_own_emitter(example, tmp_path):
    """dump_config uses libyaml's emitter when PyYAML has it; a run's config.yaml must not depend on that."""
    import yaml

    from nnfit import config

    class PurePython(yaml.SafeDumper):
        pass

    assert issubclass(config._Dumper, getattr(yaml, "CSafeDumper", ())) == yaml.__with_libyaml__  # libyaml's, where PyYAML has it
    PurePython.add_representer(list, config._Dumper.represent_list)
    cfg = load_config(REPO / "configs" / f"{example}.yaml", ["model.hidden=[64, 32]", "train.learning_rate=1e-3"])
    text = dump_config(cfg)
    assert text == yaml.dump(config.config_to_dict(cfg), Dumper=PurePython, sort_keys=False,
                             default_flow_style=False, allow_unicode=True)
    assert "hidden: [64, 32]" in text
    (tmp_path / "resolved.yaml").write_text(text)
    assert load_config(tmp_path / "resolved.yaml") == cfg
