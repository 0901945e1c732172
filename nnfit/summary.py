"""summary.json, and the line of JSON `nnfit train` prints.

summary.json: state (running, finished, interrupted, failed), stop_reason, epochs_run, epoch_kept, the kept
('best') and the last ('final') epochs' metrics.csv rows, the kept weights' scores on the test set (and on the
training rows when there is no validation set), timing, and notes.
"""

from __future__ import annotations

import time

from . import __version__
from .config import Config
from .dataset import Dataset
from .training import FitResult, Trainer


def summarize(cfg: Config, data: Dataset, trainer: Trainer, result: FitResult, state: str, started: float,
              notes: list[str], scores: bool = False) -> dict:
    """summary.json. With scores, the kept weights are scored on the test set, and on the training rows when
    there is no validation set (timing.evaluate)."""
    by_epoch = {row["epoch"]: row for row in result.history}
    summary = {
        "state": state, "nnfit_version": __version__, "task": cfg.task, "stop_reason": result.stop_reason,
        "epochs_run": len(result.history), "epoch_kept": result.epoch_kept,
        "best": by_epoch.get(result.epoch_kept) if data.valid is not None else None,
        "final": result.history[-1] if result.history else None,
        "train": None,  # metrics of the kept weights on the training rows, when there is no validation set
        "test": None,
        "wall_seconds": time.perf_counter() - started,
        "timing": {**data.timing, "train": result.seconds},  # seconds: read (hash, parse), preprocess, train, ...
        "notes": [*data.notes, *notes],
    }
    if scores:
        t0 = time.perf_counter()
        model = trainer.kept_model()
        if data.test is not None:
            summary["test"] = {"n_rows": len(data.test.X), **model.score(data.test, confusion=True)}
        if data.valid is None:
            summary["train"] = model.score(data.train)
        summary["timing"]["evaluate"] = time.perf_counter() - t0
    return summary


def result_line(run_dir, summary: dict) -> dict:
    """What `nnfit train` prints: the run directory, the epoch kept and how many ran, the kept epoch's
    metrics.csv row (its validation metrics), without a validation set the kept weights' metrics on the
    training rows (train_accuracy, ...), the test metrics (test_accuracy, ...), and the run's wall time."""
    line = {"run_dir": str(run_dir), "epoch_kept": summary["epoch_kept"], "epochs_run": summary["epochs_run"],
            "stop_reason": summary["stop_reason"]}
    row = summary["best"] or summary["final"] or {}
    line.update({k: v for k, v in row.items() if v is not None and k not in ("epoch", "seconds")})
    line.update({"train_" + k: v for k, v in (summary["train"] or {}).items() if k != "loss"})
    if summary["test"]:
        line.update({"test_" + k: v for k, v in summary["test"].items() if k not in ("confusion_matrix", "classes")})
    line["seconds_total"] = summary["wall_seconds"]
    return line
