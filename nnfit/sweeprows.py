"""results.csv's rows: a trial's row from its runs (the mean and spread over folds, each error once), and the
trials ranked by the sweep's metric."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from .files import read_json
from .metrics import mean_std
from .sweep import Sweep, Trial


def columns(sweep: Sweep) -> list[str]:
    """results.csv's header: trial, state, each parameter, the metric (and its std over folds), the kept
    epoch, the seconds, the run directory (relative to the sweep folder) and the error of a failed trial."""
    metric = sweep.spec.metric
    spread = [f"{metric}_std"] if sweep.spec.folds else []
    return ["trial", "state", *sweep.spec.parameters, metric, *spread, "epoch", "seconds", "run_dir", "error"]


def trial_row(sweep: Sweep, trial: Trial, folder: Path, outcomes: dict[str, dict]) -> dict:
    """A trial's results.csv row, from its run directories' summary.json and, for runs that did not finish,
    the outcome of their job ({'state', 'error'}). A trial finished when every run (fold) did."""
    metric = sweep.spec.metric
    values, epochs, seconds, states, errors, unscored = [], [], 0.0, [], [], []
    for run, _ in trial.runs():
        outcome = outcomes.get(run, {"state": "finished"})  # runs kept from an earlier session finished
        summary = read_json(folder / run / "summary.json")
        state = "finished" if summary.get("state") == "finished" else outcome["state"]
        if state == "finished" and outcome["state"] != "finished":
            state = outcome["state"]
        states.append(state)
        if outcome.get("error"):
            errors.append((run.rpartition("/")[2] if len(trial.configs) > 1 else "", outcome["error"]))
        if state == "finished":
            best = summary.get("best") or {}
            values.append(_number(best.get(metric)))
            epochs.append(summary.get("epoch_kept", 0))
            if values[-1] is None:
                unscored.append(run.rpartition("/")[2])
        seconds += _number(summary.get("wall_seconds")) or 0.0
    state = ("failed" if "failed" in states else "interrupted" if "interrupted" in states or "new" in states
             else "finished")
    if unscored:  # roc_auc on validation rows of one class, say: the trial cannot be ranked, and says why
        where = f"the validation rows of {', '.join(unscored)}" if len(trial.configs) > 1 else "its validation rows"
        errors.append(("", f"no {metric}: undefined on {where}"))
    said: dict[str, list[str]] = {}  # each message once: 'fold-1, fold-2: x', not x once per fold
    for fold, message in errors:
        said.setdefault(message, []).append(fold)
    row = {"trial": trial.name, "state": state, **{k: _cell(v) for k, v in trial.values.items()},
           "seconds": round(seconds, 3), "run_dir": f"trials/{trial.name}",
           "error": "; ".join(", ".join(f for f in folds if f) + ": " * any(folds) + m for m, folds in said.items())}
    if state == "finished":
        mean, std = mean_std(values) if None not in values else (None, None)
        row[metric] = mean
        if sweep.spec.folds:
            row[f"{metric}_std"] = std
        row["epoch"] = epochs[0] if len(epochs) == 1 else mean_std(epochs)[0]
    return row


def ranked(sweep: Sweep, rows: list[dict]) -> list[dict]:
    """Finished trials with a metric, best first; a tie goes to the earlier trial."""
    order = {t.name: t.number for t in sweep.trials}
    sign = 1 if sweep.minimize else -1
    scored = [r for r in rows if r["state"] == "finished" and r.get(sweep.spec.metric) is not None]
    return sorted(scored, key=lambda r: (sign * r[sweep.spec.metric], order[r["trial"]]))


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _cell(value):
    """A parameter's value as results.csv shows it: numbers and words as they are, lists as YAML ([128, 64])."""
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()  # the file's order
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return value

