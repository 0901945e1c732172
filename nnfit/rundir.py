"""The run directory: what training writes and what predict reads, from its creation to its summary.

  config.yaml     the fully resolved config; `nnfit train DIR/config.yaml` repeats the run
  model.npz       weights W0, b0, W1, ... as plain arrays (numpy.load(..., allow_pickle=False) reads them)
  model.json      everything predict needs (model.Model.info)
  metrics.csv     one row per epoch, appended and flushed as each epoch ends
  summary.json    state (running, finished, interrupted, failed), the kept epoch and its metrics, stop reason,
                  test metrics, timing, notes
  checkpoint.npz  weights, optimizer and generator state, for --resume (a finished run's final state, to
                  continue it with more epochs)
  plots/          pictures, when `nnfit plot` drew them (plots.py)

Every file is written atomically (files.atomic_write); metrics.csv only grows, a whole line per write. The
directory itself appears complete (create), so whenever it exists `predict` can read it, whatever instant the
training process was killed at. RunDir decides when to checkpoint and what goes in; the training loop only
reports each epoch.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from . import __version__, runlock
from .config import Config, config_difference, dump_config, load_config
from .dataset import Dataset
from .errors import ArtifactError, DataError, UsageError, display_path
from .files import UMASK, atomic_write, fsync_dir, npz_bytes, to_json, write_unseen
from .training import Trainer, history_columns

RUN_FILES = ("config.yaml", "model.npz", "model.json", "metrics.csv", "summary.json")
CHECKPOINT = "checkpoint.npz"  # while a run is unfinished: everything --resume needs
PLOTS = "plots"  # the folder `nnfit plot` draws a run's pictures into; --force replaces it with the run
CHECKPOINT_SECONDS = 2.0  # train.checkpoint_every: auto checkpoints once this much time has passed since the last


class RunDir:
    """One run directory, as `nnfit train` creates, fills, checkpoints and finishes it."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._log = None  # metrics.csv, open for appending while training
        self._last_checkpoint = 0.0

    def locked(self):
        """Hold the run directory for this process while it trains (see runlock.py)."""
        return runlock.hold(self.path)

    def in_use(self) -> bool:
        """Whether an nnfit process is training in this run directory right now."""
        return runlock.in_use(self.path)

    @property
    def started(self) -> bool:
        """Whether a run was ever created here (config.yaml is its first file)."""
        return (self.path / "config.yaml").exists()

    def check(self, force: bool, resume: bool) -> None:
        """Refuse to write into an existing non-empty folder unless --force (or --resume) was given, and to
        replace anything but an nnfit run."""
        path = self.path
        if path.exists() and not path.is_dir():
            raise UsageError(f"{path}: exists and is not a folder; choose another --out")
        if not path.is_dir() or not any(path.iterdir()):
            return
        if resume:
            if not self.started and any(not p.name.startswith(".") for p in path.iterdir()):
                raise UsageError(f"{path}: not an nnfit run (no config.yaml); nothing to resume")
            return
        if not force:
            raise UsageError(f"{path}: run directory exists and is not empty; pass --force to overwrite it, "
                             "--resume to continue it, or choose another --out")
        others = sorted(p.name for p in path.iterdir()
                        if p.name not in RUN_FILES + (CHECKPOINT, PLOTS) and not p.name.startswith("."))
        if others:
            raise UsageError(f"{path}: holds files that are not part of an nnfit run ({', '.join(others[:3])}); "
                             "--force only replaces run directories, so choose another --out")

    # ---- starting ----

    def create(self, cfg: Config, trainer: Trainer) -> None:
        """Make the directory hold a new run, all at once: its files are written to a new folder beside it,
        which is then renamed into place. An earlier run there is moved aside first and deleted after (only
        with --force; see check)."""
        files = {"config.yaml": dump_config(cfg), **trainer.kept_model().files(),
                 "metrics.csv": metrics_text(history_columns(cfg.task), []),
                 "summary.json": to_json({"state": "running", "nnfit_version": __version__})}
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
        except OSError as e:
            raise UsageError(f"{path}: cannot create the run directory: {e.strerror or e}") from None
        try:
            os.chmod(staging, 0o777 & ~UMASK)
            for name, data in files.items():
                write_unseen(staging / name, data)
            fsync_dir(staging)  # its entries on the disk before it becomes the run
            old = None
            if path.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
                os.replace(path, old / "run")
            os.replace(staging, path)
            fsync_dir(path.parent)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except OSError as e:
            raise UsageError(f"{path}: cannot create the run directory: {e.strerror or e}") from None
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def summary(self) -> dict:
        try:
            return json.loads((self.path / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def check_resumable(self, cfg: Config) -> dict:
        """The run's summary.json, after checking that it was started with this very config, but for
        train.checkpoint_every (when to checkpoint does not change the result) and train.epochs (more epochs
        continue the run; fewer than it has run are refused)."""
        difference = config_difference(load_config(self.path / "config.yaml"), cfg, epochs=False)
        if difference:
            key, before, after = difference
            raise UsageError(f"{self.path}: cannot resume: the config changed since the run started ({key} was "
                             f"{before!r}, is {after!r}); start a new run with --force or another --out")
        summary = self.summary()
        if cfg.train.epochs < (summary.get("epochs_run") or 0):
            raise UsageError(f"{self.path}: cannot resume with train.epochs {cfg.train.epochs}: the run has already "
                             f"run {summary['epochs_run']} epochs")
        return summary

    def resume(self, trainer: Trainer, data: Dataset) -> None:
        """Put the trainer where the checkpoint left the run (or at the start, when the run was killed before
        its first one), after checking that the training data is the same; metrics.csv then holds exactly
        the epochs the trainer has done, and config.yaml the config it goes on with (more epochs, say)."""
        arrays = self._load_checkpoint()
        if arrays is not None:
            started_with = json.loads(bytes(arrays["meta"]).decode("utf-8")).get("train_sha256")
        else:  # the weights model.json describes are the initial ones
            try:
                started_with = json.loads((self.path / "model.json").read_text(encoding="utf-8")).get("train_sha256")
            except (OSError, ValueError):
                started_with = data.train_sha256
        if started_with != data.train_sha256:
            raise DataError(f"{self.path}: cannot resume: the training data changed since the run started "
                            f"(sha256 of {display_path(trainer.cfg.data.train)} differs); start a new run with --force")
        if arrays is not None:
            trainer.load_state(arrays)
        for p in self.path.glob(".*.tmp"):  # temporary files a killed process left behind
            p.unlink(missing_ok=True)
        atomic_write(self.path / "metrics.csv", metrics_text(history_columns(trainer.cfg.task), trainer.history))
        atomic_write(self.path / "config.yaml", dump_config(trainer.cfg))

    def _load_checkpoint(self) -> dict[str, np.ndarray] | None:
        try:
            with np.load(self.path / CHECKPOINT, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except FileNotFoundError:
            return None
        except (ValueError, OSError, EOFError) as e:
            raise ArtifactError(f"{self.path / CHECKPOINT}: unreadable ({e}); start the run again with --force") from None

    # ---- while training ----

    def open_metrics(self, columns: list[str]) -> None:
        self._log = open(self.path / "metrics.csv", "a", encoding="utf-8", newline="")
        self._columns = columns
        self._last_checkpoint = time.perf_counter()

    def epoch_done(self, trainer: Trainer, row: dict, summary: Callable[[], dict]) -> None:
        """Append the epoch's line to metrics.csv (one write, flushed, so `tail -f` sees it and a killed process
        leaves whole lines only), then checkpoint when train.checkpoint_every says so. The lines reach the disk
        (fsync) before each checkpoint and at the end, before the files that vouch for them: an fsync per epoch
        would cost a small network a good share of its epoch, and after a crash of the machine itself --resume
        rewrites metrics.csv from the checkpoint anyway."""
        self._log.write(",".join(_cell(row.get(c)) for c in self._columns) + "\n")
        self._log.flush()
        every, now = trainer.cfg.train.checkpoint_every, time.perf_counter()
        if trainer.stop_reason is None and (now - self._last_checkpoint >= CHECKPOINT_SECONDS if every == "auto"
                                            else trainer.epoch % every == 0):
            self.checkpoint(trainer, summary())

    def checkpoint(self, trainer: Trainer, summary: dict) -> None:
        """First metrics.csv's lines, then the checkpoint, then the best weights so far, then the summary: each
        file whole."""
        self._sync_metrics()
        atomic_write(self.path / CHECKPOINT, npz_bytes(trainer.state()))
        trainer.kept_model().save(self.path)
        atomic_write(self.path / "summary.json", to_json(summary))
        self._last_checkpoint = time.perf_counter()

    def _sync_metrics(self) -> None:
        if self._log is not None:
            self._log.flush()
            os.fsync(self._log.fileno())

    def close_metrics(self) -> None:
        if self._log is not None:
            self._sync_metrics()
            self._log.close()
            self._log = None

    # ---- the end ----

    def finish(self, trainer: Trainer, summary: dict, started: float) -> None:
        """Save the kept weights and the summary. A finished run keeps its final state in checkpoint.npz, so
        `--resume` with a larger train.epochs can continue it."""
        t0 = time.perf_counter()
        self._sync_metrics()  # when the run failed, metrics.csv is still open
        if summary["state"] == "finished":
            atomic_write(self.path / CHECKPOINT, npz_bytes(trainer.state()))
        trainer.kept_model().save(self.path)
        summary["timing"]["write"] = time.perf_counter() - t0
        summary["wall_seconds"] = time.perf_counter() - started
        atomic_write(self.path / "summary.json", to_json(summary))


def metrics_text(columns: list[str], rows: list[dict]) -> str:
    """metrics.csv as text: a header and one line per epoch."""
    return "".join(",".join(line) + "\n" for line in
                   [columns] + [[_cell(row.get(c)) for c in columns] for row in rows])


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)
