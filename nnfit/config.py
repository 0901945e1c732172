"""The YAML config: every key, its default and what it allows, in one place; strict validation.

load_config(path, overrides) -> Config reads the file with a safe YAML loader, applies `--set KEY=VALUE`
overrides, rejects unknown keys (with a "did you mean"), wrong types, out-of-range values and impossible
combinations, and fills defaults. It imports neither numpy nor pandas, so `nnfit check` starts fast.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import ConfigError, closest, did_you_mean

TASKS = ("regression", "binary", "multiclass")
ACTIVATION_NAMES = ("relu", "leaky_relu", "tanh", "sigmoid", "identity")  # keys of activations.ACTIVATIONS
TASK_LOSSES = {  # the losses that fit each task's output unit; keys of losses.LOSSES
    "regression": ("mse", "mae", "huber"),
    "binary": ("binary_cross_entropy",),
    "multiclass": ("cross_entropy",),
}
DEFAULT_LOSS = {"regression": "mse", "binary": "binary_cross_entropy", "multiclass": "cross_entropy"}
OPTIMIZER_NAMES = ("sgd", "momentum", "adam")  # keys of optimizers.OPTIMIZERS


class _Bad(Exception):
    """A value does not pass a check; carries what is allowed, or the whole complaint."""

    def __init__(self, allowed: str, complaint: str | None = None):
        self.allowed = allowed
        self.complaint = complaint


# ---- checks: each takes the YAML value and returns the value to store, or raises _Bad(allowed) ----


def _int(lo: int) -> Callable:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise _Bad(f"an integer >= {lo}")
        return v

    return check


def _float(lo: float, hi: float | None = None, lo_open=False, hi_open=False) -> Callable:
    left, right = ("> " if lo_open else ">= "), ("< " if hi_open else "<= ")
    allowed = f"a number {left}{lo}" + (f" and {right}{hi}" if hi is not None else " (not .inf)")

    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise _Bad(allowed)
        if v < lo or (lo_open and v == lo) or (hi is not None and (v > hi or (hi_open and v == hi))):
            raise _Bad(allowed)
        return float(v)

    return check


def _choice(*names: str) -> Callable:
    def check(v):
        if not isinstance(v, str) or v not in names:
            match = closest(v, names) if isinstance(v, str) else None
            hint = f"; did you mean '{match}'?" if match else ""
            raise _Bad("", f"unknown {_show(v)} (choose from: {', '.join(names)}{hint})")
        return v

    return check


def _bool(v):
    if not isinstance(v, bool):
        raise _Bad("true or false")
    return v


def _optional(check: Callable) -> Callable:
    return lambda v: None if v is None else check(v)


def _path(v):
    if not isinstance(v, str) or not v.strip():
        raise _Bad("a file path")
    return v


def _column(v):
    # YAML reads a column named 1 as an int; CSV headers are always text
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _Bad("a column name")
    return str(v)


def _columns(v):
    if not isinstance(v, list):
        raise _Bad("a list of column names, e.g. [id, name]")
    return [_column(c) for c in v]


def _hidden(v):
    if not isinstance(v, list) or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in v):
        raise _Bad("a list of layer widths (integers >= 1), e.g. [64, 64], or [] for no hidden layer")
    return list(v)


def _int_or(word: str) -> Callable:
    """An integer >= 1, or the keyword `word` ("full" batches, "auto" checkpoints)."""
    def check(v):
        if v == word:
            return v
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _Bad(f'an integer >= 1 or "{word}"')
        return v

    return check


def _label(v):
    if isinstance(v, (list, dict)) or v is None:
        raise _Bad("a class label (a number or a string)")
    return v


def _class_weight(v):
    if v == "balanced":
        return v
    if not isinstance(v, dict) or not v:
        raise _Bad('null, "balanced", or a mapping {label: weight}')
    for label, weight in v.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise _Bad(f"a weight > 0 for every label (label {label!r} has {weight!r})")
    return {label: float(w) for label, w in v.items()}


def _opt(default: Any, check: Callable, doc: str):
    """A key with a default; `doc` is its one-line description (shown by `nnfit check`)."""
    factory = (lambda: list(default)) if isinstance(default, list) else None
    kw = {"default_factory": factory} if factory else {"default": default}
    return field(metadata={"check": check, "doc": doc}, **kw)


def _req(check: Callable, doc: str):
    """A required key."""
    return field(metadata={"check": check, "doc": doc})


# ---- the config: every key, its default, what it allows ----


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    train: str = _req(_path, "training CSV; relative paths are relative to the config file's folder")
    valid: str | None = _opt(None, _optional(_path), "validation CSV; null = split it off the training file")
    valid_fraction: float = _opt(0.2, _float(0, 1, hi_open=True), "share of training rows held out for validation when valid is null (stratified for classification); 0 = none")
    test: str | None = _opt(None, _optional(_path), "held-out CSV, evaluated once at the end")
    target: str = _req(_column, "the column to predict")
    features: list[str] | None = _opt(None, _optional(_columns), "feature columns; null = every column except target and ignore")
    ignore: list[str] = _opt([], _columns, "columns to drop (ids, free text, ...)")
    missing: str = _opt("impute", _choice("impute", "drop", "error"), "missing feature values: impute (train mean / most frequent), drop the rows, or error")
    standardize: bool = _opt(True, _bool, "numeric features -> zero mean, unit variance, fitted on the training split")
    scale_target: bool = _opt(True, _bool, "regression: fit on a standardized target, predict in original units")
    positive: Any = _opt(None, _optional(_label), "binary: the positive class; null = the last label in sorted order")
    cache: bool = _opt(False, _bool, "keep the prepared arrays in .nnfit-cache/ beside the run directory; a repeated run skips CSV parsing")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    hidden: list[int] = _opt([64, 64], _hidden, "hidden layer widths; [] = no hidden layer (a linear / logistic / softmax regression)")
    activation: str = _opt("relu", _choice(*ACTIVATION_NAMES), "hidden-unit activation")
    init: str = _opt("auto", _choice("auto", "he", "glorot"), "weight init; auto = glorot (measured better than he on tabular data)")


@dataclass(frozen=True, kw_only=True)
class EarlyStoppingConfig:
    patience: int = _opt(10, _int(1), "epochs without improvement of the validation loss before stopping")
    min_delta: float = _opt(0.0, _float(0), "smallest decrease of the validation loss that counts as an improvement")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    epochs: int = _opt(100, _int(1), "passes over the training data")
    batch_size: int | str = _opt(32, _int_or("full"), 'rows per gradient step, or "full" for full-batch gradient descent')
    optimizer: str = _opt("sgd", _choice(*OPTIMIZER_NAMES), "sgd (plain mini-batch gradient descent), momentum, or adam")
    learning_rate: float = _opt(0.01, _float(0, lo_open=True), "step size")
    momentum: float = _opt(0.9, _float(0, 1, hi_open=True), "momentum optimizer: classical (heavy-ball) momentum coefficient")
    weight_decay: float = _opt(0.0, _float(0), "L2 penalty (weight_decay / 2) * ||W||^2 on the weights, not the biases")
    early_stopping: EarlyStoppingConfig | None = _opt(None, None, "null, or {patience, min_delta} on the validation loss")
    class_weight: Any = _opt(None, _optional(_class_weight), 'classification: null, "balanced", or {label: weight}')
    seed: int = _opt(0, _int(0), "seeds the split, the initial weights and the shuffling")
    dtype: str = _opt("float32", _choice("float32", "float64"), "floating-point precision of training")
    checkpoint_every: int | str = _opt("auto", _int_or("auto"), 'epochs between checkpoints for --resume; "auto" = after the epoch that ends 2 s or more after the last one')


@dataclass(frozen=True, kw_only=True)
class Config:
    task: str = _req(_choice(*TASKS), "regression, binary or multiclass")
    data: DataConfig = _req(None, "where the data is and how to prepare it")
    model: ModelConfig = _opt(None, None, "the network")
    loss: str = _opt("auto", _choice("auto", *sorted({n for ls in TASK_LOSSES.values() for n in ls})), "auto = by task: mse, binary_cross_entropy, cross_entropy")
    train: TrainConfig = _opt(None, None, "how to train")


_SECTIONS = {  # fields whose value is a nested section, and whether null is allowed
    (Config, "data"): (DataConfig, False),
    (Config, "model"): (ModelConfig, False),
    (Config, "train"): (TrainConfig, False),
    (TrainConfig, "early_stopping"): (EarlyStoppingConfig, True),
}


def _build(cls, raw: Any, prefix: str):
    """Validate the mapping `raw` against dataclass `cls`; errors name the dotted key."""
    where = prefix.rstrip(".") or "the config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, found {_show(raw)}", prefix.rstrip(".") or None)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise ConfigError(f"{prefix}{key}: unknown key{did_you_mean(key, fields)}", f"{prefix}{key}")
    values = {}
    for name, f in fields.items():
        key = f"{prefix}{name}"
        section = _SECTIONS.get((cls, name))
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key}: missing required key ({f.metadata['doc']})", key)
            if section and not section[1]:
                values[name] = _build(section[0], {}, key + ".")
            continue
        value = raw[name]
        if section:
            sub_cls, nullable = section
            if value is None and nullable:
                values[name] = None
            else:  # an empty section (`model:` with nothing below) means all defaults
                values[name] = _build(sub_cls, {} if value is None else value, key + ".")
            continue
        try:
            values[name] = f.metadata["check"](value)
        except _Bad as bad:
            complaint = bad.complaint or f"expected {bad.allowed}, found {_show(value)}"
            raise ConfigError(f"{key}: {complaint}", key) from None
    return cls(**values)


def _show(value: Any) -> str:
    """A value as the user wrote it in YAML, shortened."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return f"a list {value!r}" if len(repr(value)) < 60 else "a list"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}...' ({len(str(value))} characters)"


def _check_combinations(cfg: Config) -> Config:
    """Reject settings that contradict each other; resolve 'auto' choices."""
    task, data, train = cfg.task, cfg.data, cfg.train
    loss = DEFAULT_LOSS[task] if cfg.loss == "auto" else cfg.loss
    if loss not in TASK_LOSSES[task]:
        raise ConfigError(f"loss: '{loss}' does not fit task '{task}' (choose from: auto, {', '.join(TASK_LOSSES[task])})", "loss")
    if data.positive is not None and task != "binary":
        raise ConfigError(f"data.positive: only used by task 'binary', but task is '{task}'", "data.positive")
    if train.class_weight is not None and task == "regression":
        raise ConfigError("train.class_weight: only used by classification, but task is 'regression'", "train.class_weight")
    if train.early_stopping is not None and data.valid is None and data.valid_fraction == 0:
        raise ConfigError("train.early_stopping: needs a validation set (set data.valid or data.valid_fraction > 0)", "train.early_stopping")
    if data.features is not None:
        if data.target in data.features:
            raise ConfigError(f"data.features: contains the target column '{data.target}'", "data.features")
        overlap = sorted(set(data.features) & set(data.ignore))
        if overlap:
            raise ConfigError(f"data.ignore: column '{overlap[0]}' is also listed in data.features", "data.ignore")
        if not data.features:
            raise ConfigError("data.features: expected at least one column, found []", "data.features")
    if data.target in data.ignore:
        raise ConfigError(f"data.ignore: contains the target column '{data.target}'", "data.ignore")
    # auto = glorot for every activation, He included: on tabular data (9 data sets, 10 seeds, against
    # scikit-learn's MLP) He's larger initial weights cost 2.5 accuracy points on average; see README
    init = "glorot" if cfg.model.init == "auto" else cfg.model.init
    return dataclasses.replace(cfg, loss=loss, model=dataclasses.replace(cfg.model, init=init))


# ---- YAML: safe loading only, duplicate keys refused, 1e-3 read as a number ----


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and reads YAML 1.2 floats such as 1e-3."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, (str, int, float, bool)) and key in seen:
                mark = key_node.start_mark
                raise ConfigError(f"line {mark.line + 1}: duplicate key '{key}'")
            seen.add(key) if isinstance(key, (str, int, float, bool)) else None
        return super().construct_mapping(node, deep)


# YAML 1.2 booleans: only true / false. YAML 1.1 also reads yes, no, on, off, y, n as booleans, which turns a
# class label `positive: yes` into True.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def parse_yaml(text: str, source: str) -> Any:
    """Parse YAML text safely; errors become ConfigError naming `source`, line and column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None
    except yaml.constructor.ConstructorError as e:
        mark = e.problem_mark
        tag = re.search(r"tag '([^']*)'", str(e.problem))
        what = f"tag '{tag.group(1).replace('tag:yaml.org,2002:', '!!')}'" if tag else "this value"
        raise ConfigError(
            f"{source}:{mark.line + 1}:{mark.column + 1}: {what} is not allowed "
            "(nnfit reads YAML with a safe loader: plain values only)"
        ) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ConfigError(f"{where}: YAML syntax error: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: YAML error: {e}") from None


def apply_overrides(raw: dict, overrides) -> list[str]:
    """Set each 'a.b.c=VALUE' (VALUE parsed as YAML) in the nested dict; returns the keys set."""
    keys = []
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not p for p in key.split(".")):
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.learning_rate=0.001")
        value = parse_yaml(text, f"--set {key}") if text.strip() else None
        node = raw
        *parents, last = key.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        if isinstance(value, dict) and isinstance(node.get(last), dict):
            node[last] = {**node[last], **value}  # --set train={epochs: 5} changes epochs, not the whole section
        else:
            node[last] = value
        keys.append(key)
    return keys


def display_path(path: str | os.PathLike) -> str:
    """The shorter of the path relative to the working folder and the absolute path."""
    path = os.path.abspath(path)
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return rel if len(rel) < len(path) else path


def load_config(path: str | os.PathLike, overrides=()) -> Config:
    """Read, override, validate and resolve a config file. Relative data paths become absolute."""
    source = display_path(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a folder, expected a YAML config file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{source}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})") from None
    except OSError as e:
        raise ConfigError(f"{source}: cannot read: {e.strerror}") from None
    raw = parse_yaml(text, source)
    return from_dict({} if raw is None else raw, source, overrides, base=Path(path).resolve().parent)


def from_dict(raw: Any, source: str = "config", overrides=(), base: str | os.PathLike = ".") -> Config:
    """Validate a config given as a dict (what a YAML file holds); data paths are taken relative to `base`."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of keys (task:, data:, ...), found {_show(raw)}")
    raw = copy.deepcopy(raw)
    set_keys = apply_overrides(raw, overrides)
    try:
        cfg = _check_combinations(_build(Config, raw, ""))
    except ConfigError as e:
        from_set = e.key is not None and any(e.key == k or e.key.startswith(k + ".") or k.startswith(e.key + ".") for k in set_keys)
        raise ConfigError(f"--set {e}" if from_set else f"{source}: {e}", e.key) from None
    base = Path(base).resolve()
    absolute = {k: str((base / v).resolve()) if isinstance(v, str) else v
                for k, v in (("train", cfg.data.train), ("valid", cfg.data.valid), ("test", cfg.data.test))}
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, **absolute))


def config_to_dict(cfg: Config) -> dict:
    """The resolved config as plain YAML-ready values."""
    return dataclasses.asdict(cfg)


class _Dumper(yaml.SafeDumper):
    """Sections as blocks, lists of plain values on one line: `hidden: [64, 64]`."""

    def represent_list(self, data):
        flat = all(not isinstance(v, (list, dict)) for v in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(list, _Dumper.represent_list)


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML text that load_config reads back to the same Config."""
    return yaml.dump(config_to_dict(cfg), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True)
