"""Every config key: its default, what it allows and what it does, in one place.

Each key is a dataclass field whose metadata holds its check (YAML value -> stored value, or Bad) and its
one-line doc. The config reference (docs/config.md, `nnfit explain`) is generated from these fields by
reference.py, so the two cannot drift. Imports neither numpy nor pandas, so `nnfit check` and `--help` start fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .checks import (Bad, allows, auto_or, boolean, choice, column_name, file_path, int_or, integer, key, number,
                     optional, required_key, show)
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


@allows("a list of column names")
def _columns(v):
    if not isinstance(v, list):
        raise Bad("a list of column names, e.g. [id, name]")
    return [column_name(c) for c in v]


@allows("a list of texts")
def _missing_values(v):
    # what a field holds, as written: -999 and '-999' both mean the text -999; a float would be ambiguous (-999.0)
    if isinstance(v, list) and {None: None} in v:  # what YAML makes of [?]
        raise Bad("", "? means something to YAML: quote it, e.g. ['?', '-']")
    if not isinstance(v, list) or any(isinstance(x, (bool, float)) or not isinstance(x, (str, int)) for x in v):
        raise Bad("a list of texts that mean a missing value, e.g. ['?', '-', -999]")
    if any(not str(x).strip() for x in v):
        raise Bad("", "an empty text is missing already; list only the other texts")
    return [str(x).strip() for x in v]


@allows("a list of integers >= 1")
def _hidden(v):
    if not isinstance(v, list) or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in v):
        raise Bad("a list of layer widths (integers >= 1), e.g. [64, 64], or [] for no hidden layer")
    return list(v)


@allows("a class label")
def _label(v):
    if isinstance(v, (list, dict)) or v is None:
        raise Bad("a class label (a number or a string)")
    return v


@allows("balanced | {label: weight > 0, ...}")
def _class_weight(v):
    if v == "balanced":
        return v
    if isinstance(v, str):
        raise Bad("", f"unknown {show(v)} (choose from: null, balanced, or a mapping {{label: weight}}"
                      f"{'; did you mean ' + repr('balanced') + '?' if closest(v, ['balanced']) else ''})")
    if not isinstance(v, dict) or not v:
        raise Bad('null, "balanced", or a mapping {label: weight}')
    for label, weight in v.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
            raise Bad(f"a weight > 0 for every label (label {label!r} has {weight!r})")
    return {label: float(w) for label, w in v.items()}


@allows("auto | , | ; | tab | |")
def _sep(v):
    if v in ("tab", "\t"):
        return "\t"
    if v not in ("auto", ",", ";", "|"):
        raise Bad("", f"unknown separator {show(v)} (choose from: auto, ',', ';', tab, '|')")
    return v


@allows("{column: numeric | categorical | date, ...}")
def _types(v):
    if not isinstance(v, dict):
        raise Bad("a mapping {column: numeric | categorical | date}, e.g. {amount: numeric, day: date}")
    check = choice("numeric", "categorical", "date")
    return {column_name(column): check(kind) for column, kind in v.items()}


# ---- the config: every key, its default, what it allows ----


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    train: str = required_key(file_path, "training CSV; relative paths are relative to the config file's folder")
    valid: str | None = key(None, optional(file_path), "validation CSV; null = hold out valid_fraction of the training rows")
    valid_fraction: float = key(0.1, number(0, 1, hi_open=True), "share of training rows held out for validation when valid is null (stratified for classification); 0 = none")
    test: str | None = key(None, optional(file_path), "held-out CSV, scored once at the end (summary.json)")
    folds: int | None = key(None, optional(integer(2)), "k-fold cross-validation: deal the training rows into k folds (stratified for classification, drawn from train.seed) and validate on fold data.fold instead of valid_fraction")
    fold: int | None = key(None, optional(integer(1)), "with data.folds: the fold (1 to k) that validates; the other k - 1 train")
    target: str = required_key(column_name, "the column to predict")
    features: list[str] | None = key(None, optional(_columns), "feature columns; null = every column except target and ignore")
    ignore: list[str] = key([], _columns, "columns to drop (ids, free text, ...)")
    missing_values: list[str] = key([], _missing_values, "texts that mean a missing value in any column, besides an empty field, NA, N/A, null and NaN; e.g. ['?', '-']")
    missing: str = key("impute", choice("impute", "drop", "error"), "missing feature values: impute (numeric: train mean; categorical: most frequent), drop the rows, or error")
    standardize: bool = key(True, boolean, "numeric features -> zero mean, unit variance, from the training split only")
    scale_target: bool = key(True, boolean, "regression: fit on a standardized target, predict in original units")
    positive: Any = key(None, optional(_label), "binary: the positive class; null = the last label in sorted order (1 of {-1, 1})")
    cache: bool = key(False, boolean, "keep the prepared arrays in .nnfit-cache/ beside the run directory; a repeated run with the same files and data settings skips CSV parsing")
    sep: str = key("auto", _sep, "the field separator; auto = whichever of , ; tab | the header line holds most often (with decimal: ',', a comma only when it holds none of the others)")
    decimal: str = key(".", choice(".", ","), "the decimal mark of numbers in the files (with ',', thousands may be written 1.234,5)")
    types: dict = key({}, _types, "declare columns' types: numeric accepts 1,234, 12% (= 0.12) and $5; date becomes days since 1970-01-01 (05/01/2023: day or month first as the column's values tell, the same in every row); categorical keeps numbers as codes")
    max_categories: int = key(100, integer(1), "a categorical column keeps its most frequent categories, this many at most; the rest share one 'other' input")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    hidden: list[int] = key([100], _hidden, "hidden layer widths; [] = no hidden layer (a linear / logistic / softmax regression)")
    activation: str = key("relu", choice(*ACTIVATION_NAMES), "hidden-unit activation")
    init: str = key("auto", choice("auto", "he", "glorot"), "initial weights; auto = glorot (weights and biases ~ U(+-sqrt(6 / (fan_in + fan_out)))); he: W ~ U(+-sqrt(6 / fan_in)), b = 0")
    dropout: float = key(0.0, number(0, 1, hi_open=True), "share of hidden units dropped at random in each training step (the others scaled by 1 / (1 - dropout)); none when predicting")


@dataclass(frozen=True, kw_only=True)
class EarlyStoppingConfig:
    patience: int = key(10, integer(1), "epochs without improvement of the validation loss before stopping")
    min_delta: float = key(0.0, number(0), "smallest decrease of the validation loss that counts as an improvement")


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    name: str = key("constant", choice("constant", "step", "cosine", "plateau"), "how the learning rate changes from epoch to epoch (metrics.csv shows each epoch's)")
    every: int = key(30, integer(1), "step: epochs between cuts")
    factor: float = key(0.1, number(0, 1, lo_open=True, hi_open=True), "step and plateau: each cut multiplies the rate by this")
    patience: int = key(5, integer(1), "plateau: epochs without a new lowest validation loss before a cut")
    min_rate: float = key(0.0, number(0), "cosine: the rate it ends at; plateau: the lowest rate")
    warmup: int = key(0, integer(0), "epochs at the start whose rate ramps up linearly to the schedule's")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    epochs: int = key(100, integer(1), "passes over the training data")
    batch_size: int | str = key(32, int_or("full"), 'rows per gradient step, or "full" for full-batch gradient descent')
    optimizer: str = key("adam", choice(*OPTIMIZER_NAMES), "adam, sgd (the lecture's plain mini-batch gradient descent), or momentum")
    learning_rate: float | str = key("auto", auto_or(number(0, lo_open=True)), "step size; auto = 0.001 for adam, 0.01 for sgd and momentum")
    schedule: ScheduleConfig = key(None, None, "the learning-rate schedule: constant, step, cosine or plateau")
    momentum: float = key(0.9, number(0, 1, hi_open=True), "momentum optimizer: classical momentum, v = mu v - lr g; theta += v")
    weight_decay: float = key(0.0, number(0), "L2 penalty (weight_decay / 2) ||W||^2 on the weights, not the biases")
    early_stopping: EarlyStoppingConfig | None = key(None, None, "null, or {patience, min_delta} on the validation loss")
    class_weight: Any = key(None, optional(_class_weight), "classification: per-row loss weights by class")
    seed: int = key(0, integer(0), "seeds the validation split, the initial weights and the shuffling")
    dtype: str = key("float32", choice("float32", "float64"), "floating-point precision of training and of the model")
    checkpoint_every: int | str = key("auto", int_or("auto"), "epochs between checkpoints for --resume; auto = after the epoch that ends 2 s or more after the last one")


@dataclass(frozen=True, kw_only=True)
class Config:
    task: str = required_key(choice(*TASKS), "what to predict: a number, one of two classes, or one of K classes")
    data: DataConfig = required_key(None, "where the data is and how to prepare it")
    model: ModelConfig = key(None, None, "the network")
    loss: str = key("auto", choice("auto", *sorted({n for ls in TASK_LOSSES.values() for n in ls})), "auto = by task: mse, binary_cross_entropy, cross_entropy")
    train: TrainConfig = key(None, None, "how to train")


SECTIONS = {  # fields whose value is a nested section, and whether null is allowed
    (Config, "data"): (DataConfig, False),
    (Config, "model"): (ModelConfig, False),
    (Config, "train"): (TrainConfig, False),
    (TrainConfig, "early_stopping"): (EarlyStoppingConfig, True),
    (TrainConfig, "schedule"): (ScheduleConfig, False),
}


# ---- the sweep file (nnfit sweep): its keys, checked the same way ----

DISTRIBUTIONS = ("uniform", "log_uniform", "int_uniform")


@allows("a file path | a mapping (the config itself)")
def _base(v):
    if isinstance(v, dict):
        return v
    return file_path(v)


@allows("valid_loss | a validation metric of the task")
def _metric(v):
    if not isinstance(v, str) or not v:
        raise Bad("valid_loss or a metric name such as accuracy or r2")
    return v


@allows("{dotted key: [value, ...] | {uniform | log_uniform | int_uniform: [low, high]}}")
def _parameters(v):
    if v is None:
        return {}
    if not isinstance(v, dict) or any(not isinstance(k, str) for k in v):
        raise Bad("a mapping of dotted config keys (train.learning_rate: [0.001, 0.01])")
    return dict(v)  # each entry is checked against the config's keys by sweep.py


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    base: Any = required_key(_base, "the train config every trial starts from: a path (relative to the sweep file's folder), or the config itself")
    method: str = key("grid", choice("grid", "random"), "grid: every combination of the parameters' values; random: `samples` trials drawn at random")
    samples: int | None = key(None, optional(integer(1)), "random: how many trials to draw (required with random)")
    seed: int = key(0, integer(0), "random: seeds the draws; the same seed gives the same trials, and more samples add trials after them")
    metric: str = key("valid_loss", _metric, "what ranks the trials: valid_loss, or a validation metric of the task (rmse, mae, r2; accuracy, precision, recall, f1, roc_auc; macro_f1), the mean over folds")
    goal: str = key("auto", choice("auto", "minimize", "maximize"), "auto = minimize valid_loss, rmse and mae, maximize the rest")
    folds: int | None = key(None, optional(integer(2)), "k: k-fold cross-validation inside every trial (data.folds, stratified for classification); null = the base config's validation rows")
    refit: bool = key(False, boolean, "true: retrain the best trial's config on all training rows, for its kept epoch (the mean over folds), into OUT/final")
    parameters: dict = key({}, _parameters, "dotted config keys, each with a list of values or (random only) a distribution {uniform | log_uniform | int_uniform: [low, high]}")
