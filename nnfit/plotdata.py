"""What the pictures show, read from run directories; no matplotlib here (figures.py draws, plots.py writes).

  read_run(path) -> RunView   metrics.csv as it is now (a run may still be training), summary.json, the config
  load_fit(run, data) -> Fit  the kept model, the rows to draw its fit on, and its outputs for them
  outputs_at(fit, inputs)     the model's outputs at points given in the input columns' own units (a grid)

The rows default to the run's validation rows: data.valid's file, or the hold-out of the training file rebuilt
exactly as training drew it (the same seed, and a training file with the same sha256). A run without
validation rows gets its training rows.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .config import Config, config_to_dict, load_config
from .data import load_features, load_training_data
from .errors import ArtifactError, DataError, NnfitError, count, display_path, run_hint
from .metrics import METRICS, predicted_classes
from .commands import run_warnings
from .model import Model
from .rundir import RunDir
from .training import Streams

MAIN_METRIC = {"regression": "r2", "binary": "accuracy", "multiclass": "accuracy"}  # the learning curves' 2nd panel
MAX_POINTS = 5000  # scatter plots draw a random sample of this many rows at most; every row counts in the numbers
SAMPLE_SEED = 0  # the sample's generator: the same rows give the same picture


@dataclass
class RunView:
    """A run directory as the pictures see it."""

    path: Path
    name: str  # the directory's name, which titles and legends show
    cfg: Config  # its config.yaml
    history: pd.DataFrame  # metrics.csv: one row per finished epoch (none yet, while the first one runs)
    summary: dict  # summary.json ({} when unreadable)
    epoch_kept: int  # whose weights model.npz holds (0 = the initial ones)
    training_now: bool = False  # an nnfit process holds the run (state 'running' without one: it was killed)

    @property
    def task(self) -> str:
        return self.cfg.task

    @property
    def state(self) -> str:
        return self.summary.get("state", "running")

    @property
    def stop_reason(self) -> str | None:
        return self.summary.get("stop_reason") if self.state != "running" else None

    @property
    def has_validation(self) -> bool:
        return bool(self.history["valid_loss"].notna().any())


def read_run(path) -> RunView:
    """The run directory at path; ArtifactError naming the file when it is not one."""
    path = Path(path)
    shown = display_path(path)
    if not path.is_dir():
        raise ArtifactError(f"{shown}: " + ("is a file, not a run directory" if path.exists() else "run directory not found"))
    for name in ("config.yaml", "metrics.csv", "model.json"):
        if not (path / name).is_file():
            raise ArtifactError(f"{shown}: {name} not found; is this an nnfit run directory?{run_hint(path)}")
    cfg = load_config(path / "config.yaml")
    columns = ["epoch", "train_loss", "valid_loss", *METRICS[cfg.task]]
    try:
        history = pd.read_csv(path / "metrics.csv")
    except (ValueError, OSError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{shown}/metrics.csv: unreadable ({' '.join(str(e).split())})") from None
    if history.empty:  # the header alone, while the first epoch runs: no numbers to type the columns by
        history = history.astype(np.float64)
    missing = [c for c in columns if c not in history.columns]
    if missing or not all(pd.api.types.is_numeric_dtype(history[c]) for c in columns):
        found = ", ".join(map(str, history.columns[:8]))
        raise ArtifactError(f"{shown}/metrics.csv: expected the columns {', '.join(columns)} of a {cfg.task} run with "
                            f"numbers in them (found: {found})")
    try:
        summary = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    try:
        epoch_kept = int(json.loads((path / "model.json").read_text(encoding="utf-8"))["epoch_kept"])
    except (OSError, ValueError, KeyError, TypeError):
        raise ArtifactError(f"{shown}/model.json: unreadable or incomplete") from None
    summary = summary if isinstance(summary, dict) else {}
    return RunView(path, path.resolve().name, cfg, history, summary, epoch_kept, RunDir(path).in_use())


@dataclass
class Comparison:
    """Several runs to overlay, each with a legend label that says what sets it apart."""

    runs: list[RunView]
    labels: list[str]  # per run: its name (its path where names repeat), then its values of the differences
    differences: list[str]  # the dotted config keys whose values differ between the runs
    title: str | None = None  # what the title calls the runs [default: their names, or how many]
    metric: str | None = None  # the second panel's [default: MAIN_METRIC]; a sweep's, the one that ranked them


def compare(runs: list[RunView]) -> Comparison:
    """The runs, labelled by name and by the values of the config keys that differ between them."""
    flat = [_flatten(config_to_dict(run.cfg)) for run in runs]
    keys = [k for k in flat[0] if k != "train.checkpoint_every" and len({repr(f.get(k)) for f in flat}) > 1]
    keys += [k for f in flat[1:] for k in f if k not in flat[0] and k not in keys]
    names = [run.name for run in runs]
    if len(set(names)) < len(names):
        names = [display_path(run.path) for run in runs]
    shown = _telling(keys, flat)  # a legend label holds a few values; the title names every key that differs
    values = [", ".join(f"{k.rsplit('.', 1)[-1]} {_value(f.get(k))}" for k in shown) for f in flat]
    labels = [f"{name} ({v})" if v else name for name, v in zip(names, values)]
    return Comparison(runs, labels, keys)


def _telling(keys: list[str], flat: list[dict], most: int = 3) -> list[str]:
    """At most `most` of the keys that differ, for the legend labels: first, one at a time, the key that
    tells the most runs apart given those chosen (so a key that only some runs change does not crowd out the
    one that separates them all), then the others in the config's order."""
    def kinds(chosen):
        return len({tuple(repr(f.get(k)) for k in chosen) for f in flat})

    chosen = []
    while len(chosen) < min(most, len(keys)) and kinds(chosen) < len(flat):
        best = max((k for k in keys if k not in chosen), key=lambda k: kinds(chosen + [k]))
        if kinds(chosen + [best]) == kinds(chosen):
            break
        chosen.append(best)
    return chosen + [k for k in keys if k not in chosen][:most - len(chosen)]


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _value(value) -> str:
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return Path(value).name  # a data file: its name says enough
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


@dataclass
class Fit:
    """The kept model of a run and its outputs on the rows the fit pictures draw."""

    run: RunView
    model: Model
    source: str  # where the rows come from, for titles: "80 validation rows (the hold-out) of sine.csv"
    X: np.ndarray  # (n, d) the model's inputs
    target: np.ndarray  # (n,) the target: regression values in the target's units, or class indices
    inputs: np.ndarray  # (n, p) the numeric feature columns in their own units (a missing value at its fill)
    outputs: np.ndarray  # regression: (n,) predicted values; binary: (n, 1) P(positive); multiclass: (n, K)

    @property
    def numeric(self) -> list[str]:
        return self.model.prep.numeric

    @property
    def only_numeric_inputs(self) -> bool:
        """Whether every input column is numeric, so points can be placed by their values alone."""
        return not self.model.prep.categorical

    @property
    def predicted(self) -> np.ndarray:
        """(n,) predicted values, or predicted class indices."""
        return self.outputs if self.model.task == "regression" else predicted_classes(self.outputs)

    def sample(self) -> np.ndarray:
        """Indices of at most MAX_POINTS rows, the same ones for the same rows."""
        n = len(self.target)
        if n <= MAX_POINTS:
            return np.arange(n)
        return np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, MAX_POINTS, replace=False))


def load_fit(run: RunView, data=None, warn: Callable[[str], None] = lambda message: None) -> Fit:
    """The run's model and its outputs on the rows of the CSV `data` (which must hold the target), or by
    default on the run's validation rows (its training rows when it has none)."""
    model = Model.load(run.path)
    for note in run_warnings(display_path(run.path), model):  # untrained weights, an unfinished run: as predict says
        warn(note)
    if data is not None:
        X, target, source = _file_rows(model, data, display_path(data), warn)
    else:
        X, target, source = _run_rows(run, model, warn)
    if len(X) == 0:
        raise DataError(f"{source}: no rows to draw")
    prep = model.prep
    p = len(prep.numeric)  # the numeric columns come first among the network's inputs
    inputs = X[:, :p].astype(np.float64) * np.asarray(prep.scale) + np.asarray(prep.center)
    return Fit(run, model, source, X, target, inputs, model.outputs(model.logits(X)))


def _file_rows(model: Model, path, name: str, warn):
    df, X, notes = load_features(model.prep, path, name, model.dtype, need_target=True)
    for note in notes:
        warn(note)
    return X, model.prep.encode_target(df[model.prep.target], name), f"{count(len(X), 'row')} of {Path(path).name}"


def _run_rows(run: RunView, model: Model, warn):
    """The rows the run validated on (the training rows when it had none): rebuilt, never guessed."""
    cfg, where = run.cfg, display_path(run.path)
    hint = "choose the rows to draw with --data CSV"
    if cfg.data.valid is not None:
        try:
            X, target, _ = _file_rows(model, cfg.data.valid, display_path(cfg.data.valid), warn)
        except DataError as e:
            raise DataError(f"{where}: its validation file (data.valid) cannot be read: {e}; {hint}") from None
        return X, target, f"{count(len(X), 'validation row')} ({Path(cfg.data.valid).name})"
    # the hold-out depends only on the training file and the seed's split stream: the test file plays no part
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, test=None, cache=False))
    try:
        data = load_training_data(cfg, Streams.from_seed(cfg.train.seed).split)
    except NnfitError as e:
        raise DataError(f"{where}: its training file cannot be read again: {e}; {hint}") from None
    if model.train_sha256 and data.train_sha256 != model.train_sha256:
        raise DataError(f"{where}: the training file {display_path(cfg.data.train)} changed since the run (its sha256 "
                        f"differs from model.json's), so the rows the run {'validated' if data.valid else 'trained'} "
                        f"on cannot be rebuilt; {hint}")
    split = data.valid if data.valid is not None else data.train
    what = count(len(split.X), "validation row") + " (the hold-out)" if data.valid is not None else \
        count(len(split.X), "training row")
    # the file's name, not its path from here: the same run, the same picture, wherever it is drawn from
    return split.X, split.target, f"{what} of {Path(cfg.data.train).name}"


def outputs_at(fit: Fit, inputs: np.ndarray) -> np.ndarray:
    """The model's outputs (as Fit.outputs) at points in the numeric input columns' own units, (m, p)."""
    prep = fit.model.prep
    frame = pd.DataFrame(np.asarray(inputs, np.float64), columns=prep.numeric)
    X, _ = prep.transform(frame, "<grid>", fit.model.dtype)
    return fit.model.outputs(fit.model.logits(X))


def log_scale(values) -> bool:
    """Whether values span more than two decades, so that a log axis shows them better (never with a 0 in them,
    which a log axis cannot show)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return len(v) > 1 and v.min() > 0 and v.max() > 100 * v.min()
