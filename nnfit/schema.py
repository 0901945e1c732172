"""Every config key: its default, what it allows and what it does, in one place.

Each key is a dataclass field whose metadata holds its check (YAML value -> stored value, or _Bad) and its
one-line doc. The config reference (docs/config.md, `nnfit explain`) is generated from these fields by
reference.py, so the two cannot drift. Imports neither numpy nor pandas, so `nnfit check` and `--help` start fast.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import closest

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


def _allows(text: str) -> Callable:
    """Label a check with what it allows, for the reference and the error message."""
    def label(check: Callable) -> Callable:
        check.allowed = text
        return check

    return label


# ---- checks: each takes the YAML value and returns the value to store, or raises _Bad(allowed) ----


def _int(lo: int) -> Callable:
    @_allows(f"an integer >= {lo}")
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise _Bad(check.allowed)
        return v

    return check


def _float(lo: float, hi: float | None = None, lo_open=False, hi_open=False) -> Callable:
    left, right = ("> " if lo_open else ">= "), ("< " if hi_open else "<= ")

    @_allows(f"a number {left}{lo}" + (f" and {right}{hi}" if hi is not None else " (not .inf)"))
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise _Bad(check.allowed)
        if v < lo or (lo_open and v == lo) or (hi is not None and (v > hi or (hi_open and v == hi))):
            raise _Bad(check.allowed)
        return float(v)

    return check


def _auto_or(check: Callable) -> Callable:
    """The keyword "auto" (resolved by config.py from the other keys), or what check allows."""
    return _allows(f"auto | {check.allowed}")(lambda v: v if v == "auto" else check(v))


def _choice(*names: str) -> Callable:
    @_allows(" | ".join(names))
    def check(v):
        if not isinstance(v, str) or v not in names:
            match = closest(v, names) if isinstance(v, str) else None
            hint = f"; did you mean '{match}'?" if match else ""
            raise _Bad("", f"unknown {show(v)} (choose from: {', '.join(names)}{hint})")
        return v

    return check


@_allows("true | false")
def _bool(v):
    if not isinstance(v, bool):
        raise _Bad("true or false")
    return v


def _optional(check: Callable) -> Callable:
    return _allows(f"null | {check.allowed}")(lambda v: None if v is None else check(v))


@_allows("a file path")
def _path(v):
    if not isinstance(v, str) or not v.strip():
        raise _Bad("a file path")
    return v


@_allows("a column name")
def _column(v):
    # YAML reads a column named 1 as an int; CSV headers are always text
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise _Bad("a column name")
    return str(v)


@_allows("a list of column names")
def _columns(v):
    if not isinstance(v, list):
        raise _Bad("a list of column names, e.g. [id, name]")
    return [_column(c) for c in v]


@_allows("a list of integers >= 1")
def _hidden(v):
    if not isinstance(v, list) or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in v):
        raise _Bad("a list of layer widths (integers >= 1), e.g. [64, 64], or [] for no hidden layer")
    return list(v)


def _int_or(word: str) -> Callable:
    """An integer >= 1, or the keyword `word` ("full" batches, "auto" checkpoints)."""
    @_allows(f"an integer >= 1 | {word}")
    def check(v):
        if v == word:
            return v
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise _Bad(f'an integer >= 1 or "{word}"')
        return v

    return check


@_allows("a class label")
def _label(v):
    if isinstance(v, (list, dict)) or v is None:
        raise _Bad("a class label (a number or a string)")
    return v


@_allows("balanced | {label: weight > 0, ...}")
def _class_weight(v):
    if v == "balanced":
        return v
    if not isinstance(v, dict) or not v:
        raise _Bad('null, "balanced", or a mapping {label: weight}')
    for label, weight in v.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise _Bad(f"a weight > 0 for every label (label {label!r} has {weight!r})")
    return {label: float(w) for label, w in v.items()}


@_allows("auto | , | ; | tab | |")
def _sep(v):
    if v in ("tab", "\t"):
        return "\t"
    if v not in ("auto", ",", ";", "|"):
        raise _Bad("", f"unknown separator {show(v)} (choose from: auto, ',', ';', tab, '|')")
    return v


@_allows("{column: numeric | categorical | date, ...}")
def _types(v):
    if not isinstance(v, dict):
        raise _Bad("a mapping {column: numeric | categorical | date}, e.g. {amount: numeric, day: date}")
    check = _choice("numeric", "categorical", "date")
    return {_column(column): check(kind) for column, kind in v.items()}


def _opt(default: Any, check: Callable | None, doc: str):
    """A key with a default; `doc` is its one-line description."""
    factory = (lambda: type(default)(default)) if isinstance(default, (list, dict)) else None
    kw = {"default_factory": factory} if factory else {"default": default}
    return field(metadata={"check": check, "doc": doc}, **kw)


def _req(check: Callable | None, doc: str):
    """A required key."""
    return field(metadata={"check": check, "doc": doc})


# ---- the config: every key, its default, what it allows ----


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    train: str = _req(_path, "training CSV; relative paths are relative to the config file's folder")
    valid: str | None = _opt(None, _optional(_path), "validation CSV; null = hold out valid_fraction of the training rows")
    valid_fraction: float = _opt(0.2, _float(0, 1, hi_open=True), "share of training rows held out for validation when valid is null (stratified for classification); 0 = none")
    test: str | None = _opt(None, _optional(_path), "held-out CSV, scored once at the end (summary.json)")
    folds: int | None = _opt(None, _optional(_int(2)), "k-fold cross-validation: deal the training rows into k folds (stratified for classification, drawn from train.seed) and validate on fold data.fold instead of valid_fraction")
    fold: int | None = _opt(None, _optional(_int(1)), "with data.folds: the fold (1 to k) that validates; the other k - 1 train")
    target: str = _req(_column, "the column to predict")
    features: list[str] | None = _opt(None, _optional(_columns), "feature columns; null = every column except target and ignore")
    ignore: list[str] = _opt([], _columns, "columns to drop (ids, free text, ...)")
    missing: str = _opt("impute", _choice("impute", "drop", "error"), "missing feature values: impute (numeric: train mean; categorical: most frequent), drop the rows, or error")
    standardize: bool = _opt(True, _bool, "numeric features -> zero mean, unit variance, from the training split only")
    scale_target: bool = _opt(True, _bool, "regression: fit on a standardized target, predict in original units")
    positive: Any = _opt(None, _optional(_label), "binary: the positive class; null = the last label in sorted order (1 of {-1, 1})")
    cache: bool = _opt(False, _bool, "keep the prepared arrays in .nnfit-cache/ beside the run directory; a repeated run with the same files and data settings skips CSV parsing")
    sep: str = _opt("auto", _sep, "the field separator; auto = whichever of , ; tab | the header line holds most often")
    decimal: str = _opt(".", _choice(".", ","), "the decimal mark of numbers in the files (with ',', thousands may be written 1.234,5)")
    types: dict = _opt({}, _types, "declare columns' types: numeric accepts 1,234 and 12% (= 0.12); date becomes days since 1970-01-01; categorical keeps numbers as codes")
    max_categories: int = _opt(100, _int(1), "a categorical column keeps its most frequent categories, this many at most; the rest share one 'other' input")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    hidden: list[int] = _opt([64, 64], _hidden, "hidden layer widths; [] = no hidden layer (a linear / logistic / softmax regression)")
    activation: str = _opt("relu", _choice(*ACTIVATION_NAMES), "hidden-unit activation")
    init: str = _opt("auto", _choice("auto", "he", "glorot"), "initial weights; auto = glorot (weights and biases ~ U(+-sqrt(6 / (fan_in + fan_out)))); he: W ~ U(+-sqrt(6 / fan_in)), b = 0")
    dropout: float = _opt(0.0, _float(0, 1, hi_open=True), "share of hidden units dropped at random in each training step (the others scaled by 1 / (1 - dropout)); none when predicting")


@dataclass(frozen=True, kw_only=True)
class EarlyStoppingConfig:
    patience: int = _opt(10, _int(1), "epochs without improvement of the validation loss before stopping")
    min_delta: float = _opt(0.0, _float(0), "smallest decrease of the validation loss that counts as an improvement")


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    name: str = _opt("constant", _choice("constant", "step", "cosine", "plateau"), "how the learning rate changes from epoch to epoch (metrics.csv shows each epoch's)")
    every: int = _opt(30, _int(1), "step: epochs between cuts")
    factor: float = _opt(0.1, _float(0, 1, lo_open=True, hi_open=True), "step and plateau: each cut multiplies the rate by this")
    patience: int = _opt(5, _int(1), "plateau: epochs without a new lowest validation loss before a cut")
    min_rate: float = _opt(0.0, _float(0), "cosine: the rate it ends at; plateau: the lowest rate")
    warmup: int = _opt(0, _int(0), "epochs at the start whose rate ramps up linearly to the schedule's")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    epochs: int = _opt(100, _int(1), "passes over the training data")
    batch_size: int | str = _opt(32, _int_or("full"), 'rows per gradient step, or "full" for full-batch gradient descent')
    optimizer: str = _opt("adam", _choice(*OPTIMIZER_NAMES), "adam, sgd (the lecture's plain mini-batch gradient descent), or momentum")
    learning_rate: float | str = _opt("auto", _auto_or(_float(0, lo_open=True)), "step size; auto = 0.001 for adam, 0.01 for sgd and momentum")
    schedule: ScheduleConfig = _opt(None, None, "the learning-rate schedule: constant, step, cosine or plateau")
    momentum: float = _opt(0.9, _float(0, 1, hi_open=True), "momentum optimizer: classical momentum, v = mu v - lr g; theta += v")
    weight_decay: float = _opt(0.0, _float(0), "L2 penalty (weight_decay / 2) ||W||^2 on the weights, not the biases")
    early_stopping: EarlyStoppingConfig | None = _opt(None, None, "null, or {patience, min_delta} on the validation loss")
    class_weight: Any = _opt(None, _optional(_class_weight), "classification: per-row loss weights by class")
    seed: int = _opt(0, _int(0), "seeds the validation split, the initial weights and the shuffling")
    dtype: str = _opt("float32", _choice("float32", "float64"), "floating-point precision of training and of the model")
    checkpoint_every: int | str = _opt("auto", _int_or("auto"), "epochs between checkpoints for --resume; auto = after the epoch that ends 2 s or more after the last one")


@dataclass(frozen=True, kw_only=True)
class Config:
    task: str = _req(_choice(*TASKS), "what to predict: a number, one of two classes, or one of K classes")
    data: DataConfig = _req(None, "where the data is and how to prepare it")
    model: ModelConfig = _opt(None, None, "the network")
    loss: str = _opt("auto", _choice("auto", *sorted({n for ls in TASK_LOSSES.values() for n in ls})), "auto = by task: mse, binary_cross_entropy, cross_entropy")
    train: TrainConfig = _opt(None, None, "how to train")


SECTIONS = {  # fields whose value is a nested section, and whether null is allowed
    (Config, "data"): (DataConfig, False),
    (Config, "model"): (ModelConfig, False),
    (Config, "train"): (TrainConfig, False),
    (TrainConfig, "early_stopping"): (EarlyStoppingConfig, True),
    (TrainConfig, "schedule"): (ScheduleConfig, False),
}


# ---- the sweep file (nnfit sweep): its keys, checked the same way ----

DISTRIBUTIONS = ("uniform", "log_uniform", "int_uniform")


@_allows("a file path | a mapping (the config itself)")
def _base(v):
    if isinstance(v, dict):
        return v
    return _path(v)


@_allows("valid_loss | a validation metric of the task")
def _metric(v):
    if not isinstance(v, str) or not v:
        raise _Bad("valid_loss or a metric name such as accuracy or r2")
    return v


@_allows("{dotted key: [value, ...] | {uniform | log_uniform | int_uniform: [low, high]}}")
def _parameters(v):
    if v is None:
        return {}
    if not isinstance(v, dict) or any(not isinstance(k, str) for k in v):
        raise _Bad("a mapping of dotted config keys (train.learning_rate: [0.001, 0.01])")
    return dict(v)  # each entry is checked against the config's keys by sweep.py


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    base: Any = _req(_base, "the train config every trial starts from: a path (relative to the sweep file's folder), or the config itself")
    method: str = _opt("grid", _choice("grid", "random"), "grid: every combination of the parameters' values; random: `samples` trials drawn at random")
    samples: int | None = _opt(None, _optional(_int(1)), "random: how many trials to draw (required with random)")
    seed: int = _opt(0, _int(0), "random: seeds the draws; the same seed gives the same trials, and more samples add trials after them")
    metric: str = _opt("valid_loss", _metric, "what ranks the trials: valid_loss, or a validation metric of the task (rmse, mae, r2; accuracy, precision, recall, f1, roc_auc; macro_f1), the mean over folds")
    goal: str = _opt("auto", _choice("auto", "minimize", "maximize"), "auto = minimize valid_loss, rmse and mae, maximize the rest")
    folds: int | None = _opt(None, _optional(_int(2)), "k: k-fold cross-validation inside every trial (data.folds, stratified for classification); null = the base config's validation rows")
    refit: bool = _opt(False, _bool, "true: retrain the best trial's config on all training rows, for its kept epoch (the mean over folds), into OUT/final")
    parameters: dict = _opt({}, _parameters, "dotted config keys, each with a list of values or (random only) a distribution {uniform | log_uniform | int_uniform: [low, high]}")


def show(value: Any) -> str:
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
