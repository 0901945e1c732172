"""The sweep folder: what `nnfit sweep` writes there, and what a second run into it keeps.

  sweep.yaml    the resolved sweep (Sweep.resolved): a sweep file that needs nothing else
  results.csv   one row per trial, appended (a whole line per write, fsynced) as each trial ends, and
                rewritten whole, in trial order, when a session starts and when it ends
  trials/NAME/  each trial's run directory; with folds, a folder of run directories fold-1/, fold-2/, ...
  best          a symbolic link to the best trial's folder so far (trials/NAME)
  final/        with refit: the best trial's config trained on every training row
  .sweep/       the driver's lock, the session file, each run's lock and start count (see sweepjob.py)

The folder is the source of truth. A new session reads every run directory's config.yaml and summary.json
and matches runs to the planned ones by config (renaming a run whose trial got another number): a finished run
is kept (after checking that its training data did not change), an unfinished one resumed from its checkpoint;
a finished run that no trial matches any more stops the sweep, an unfinished one is deleted.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .config import config_difference, config_to_dict, load_config
from .errors import NnfitError, UsageError, display_path
from .files import atomic_write, file_sha256, fsync_dir, read_json
from .sweep import Sweep
from .sweeprows import columns

RESULTS = "results.csv"


@dataclass
class Plan:
    status: dict[str, str]  # each planned run: finished, resume or new
    moves: list[tuple[Path, str]]  # run directories kept under another name: (where it is, the planned run)
    stale: list[Path]  # unfinished run directories that no planned run has the config of: started again


class SweepDir:
    def __init__(self, path):
        self.path = Path(path)
        self.state = self.path / ".sweep"
        self._lock = None

    def check(self, sweep: Sweep) -> Plan:
        """What to do with each planned run and each run directory found; refuses a folder that is no sweep,
        and any change to a finished run. A run directory whose config is a planned run's under another name
        (a grid that grew renumbers its trials) is kept and moved there. Reads only."""
        path = self.path
        if path.exists() and not path.is_dir():
            raise UsageError(f"{path}: exists and is not a folder; choose another --out")
        if path.is_dir() and any(not p.name.startswith(".") for p in path.iterdir()) \
                and not (path / "sweep.yaml").is_file():
            raise UsageError(f"{path}: exists and is not an nnfit sweep folder (no sweep.yaml); choose another --out")
        planned = {run: cfg for t in sweep.trials for run, cfg in t.runs()}
        keys = {run: _key(cfg) for run, cfg in planned.items()}
        plan = Plan({run: "new" for run in planned}, [], [])
        found = {}  # run directory -> (its config or None when unreadable, finished)
        for run_dir in self._run_dirs():
            try:
                saved = load_config(run_dir / "config.yaml")
            except NnfitError:
                saved = None
            found[run_dir] = (saved, read_json(run_dir / "summary.json").get("state") == "finished")
        kept = {d for d, (saved, _) in found.items()
                if saved is not None and keys.get(d.relative_to(path).as_posix()) == _key(saved)}
        free: dict[str, list[str]] = {}  # config -> the planned runs that have no directory yet
        for run_dir in kept:
            plan.status[run_dir.relative_to(path).as_posix()] = "finished" if found[run_dir][1] else "resume"
        for run, key in keys.items():
            if plan.status[run] == "new":
                free.setdefault(key, []).append(run)
        for run_dir, (saved, finished) in sorted(found.items(), key=lambda item: not item[1][1]):  # finished first
            if run_dir in kept:
                continue
            run = run_dir.relative_to(path).as_posix()
            if saved is not None and free.get(_key(saved)):
                target = free[_key(saved)].pop(0)
                plan.moves.append((run_dir, target))
                plan.status[target] = "finished" if finished else "resume"
            elif not finished:
                plan.stale.append(run_dir)
            elif run in planned and saved is not None:
                key, before, after = config_difference(saved, planned[run])
                raise UsageError(f"{path}: cannot continue: the sweep changes {run}, which finished ({key} was "
                                 f"{before!r}, is {after!r}); start the sweep in another --out")
            else:
                raise UsageError(f"{path}: cannot continue: {run} finished, but no trial of this sweep has its "
                                 "config (did the parameters change?); start the sweep in another --out")
        hashes = {}
        for run_dir, run in [(d, d.relative_to(path).as_posix()) for d in kept] + plan.moves:
            if found[run_dir][1]:  # finished: on the same training data?
                train = planned[run].data.train
                if train not in hashes:
                    hashes[train] = file_sha256(train) if os.path.isfile(train) else None
                if read_json(run_dir / "model.json").get("train_sha256") != hashes[train]:
                    raise UsageError(f"{path}: cannot continue: {display_path(train)} changed since {run} finished "
                                     "(its sha256 differs); start the sweep in another --out")
        return plan

    def _run_dirs(self) -> list[Path]:
        """Every run directory under trials/ (a trial's, or its folds')."""
        runs = []
        for trial in sorted((self.path / "trials").glob("[!.]*")):
            if (trial / "config.yaml").exists():
                runs.append(trial)
            runs += [p for p in sorted(trial.glob("[!.]*")) if (p / "config.yaml").exists()]
        return runs

    # ---- a session ----

    def start(self, sweep: Sweep, session: str) -> None:
        """Take the folder (one driver at a time), write sweep.yaml and the session."""
        try:
            self.state.mkdir(parents=True, exist_ok=True)
            (self.path / "trials").mkdir(exist_ok=True)
            self._lock = open(self.state / "lock", "a")
        except OSError as e:
            raise UsageError(f"{self.path}: cannot create the sweep folder: {e.strerror or e}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.close()
            raise UsageError(f"{self.path}: another nnfit sweep is running into this folder; wait for it, or "
                             "choose another --out") from None
        atomic_write(self.path / "sweep.yaml", sweep.resolved())
        self.set_session(session)

    def set_session(self, text: str) -> None:
        """The session file: the running driver's id, which every job compares with its own, or 'stop ID'."""
        atomic_write(self.state / "session", text + "\n")

    def rewrite(self, sweep: Sweep, rows: list[dict]) -> None:
        order = {t.name: t.number for t in sweep.trials}
        rows = sorted(rows, key=lambda r: order[r["trial"]])
        atomic_write(self.path / RESULTS, "".join(_line(c) for c in [columns(sweep)] + [[r.get(c) for c in
                                                                                          columns(sweep)] for r in rows]))

    def append(self, sweep: Sweep, row: dict) -> None:
        """One whole line per write, fsynced: a killed driver leaves whole lines only."""
        with open(self.path / RESULTS, "a", encoding="utf-8", newline="") as f:
            f.write(_line([row.get(c) for c in columns(sweep)]))
            f.flush()
            os.fsync(f.fileno())

    def set_best(self, name: str | None) -> None:
        """Point `best` at trials/NAME, replacing the link at once (a reader never finds it missing)."""
        link = self.path / "best"
        if name is None:
            return
        tmp = self.path / ".best.tmp"
        tmp.unlink(missing_ok=True)
        os.symlink(f"trials/{name}", tmp)
        os.replace(tmp, link)
        fsync_dir(self.path)

    def apply(self, plan: Plan, session: str, warn) -> None:
        """Delete the stale runs, then move the kept ones to their planned names, through a temporary name
        each (two may swap); a killed move leaves a run directory that the next session matches again."""
        for run_dir in plan.stale:
            warn(f"{run_dir}: started with a config that is no longer in the sweep; deleted")
            self.remove(run_dir)
        staged = []
        for k, (run_dir, target) in enumerate(plan.moves):
            temporary = self.path / "trials" / f"moving-{session[:8]}-{k}"
            os.replace(run_dir, temporary)
            self._prune(run_dir.parent)
            staged.append((run_dir, temporary, target))
        said = set()
        for run_dir, temporary, target in staged:
            (self.path / target).parent.mkdir(parents=True, exist_ok=True)
            os.replace(temporary, self.path / target)
            old, new = (run_dir.parent, Path(target).parent) if run_dir.name.startswith("fold-") else (run_dir, target)
            if (old, new) not in said:  # a trial's folds move together: said once
                said.add((old, new))
                warn(f"{old.relative_to(self.path)}: kept as {new}, the trial with its config now")
        fsync_dir(self.path / "trials")

    def remove(self, folder: Path) -> None:
        """Delete an unfinished run folder that this sweep no longer plans, and its trial folder if emptied."""
        shutil.rmtree(folder, ignore_errors=True)
        self._prune(folder.parent)

    def _prune(self, folder: Path) -> None:
        if folder != self.path / "trials" and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None


def _key(cfg) -> str:
    """A config as text, for matching runs: everything that changes the result (checkpoint_every does not)."""
    settings = config_to_dict(cfg)
    settings["train"].pop("checkpoint_every", None)
    return json.dumps(settings, sort_keys=True, default=str)


def finished_with(run_dir: Path, cfg) -> bool:
    """Whether the run directory holds a finished run of this very config."""
    return read_json(run_dir / "summary.json").get("state") == "finished" and _difference(run_dir, cfg) is None


def _difference(run_dir: Path, cfg):
    """(key, saved, planned) for the first config key where the run directory's config differs; None if same."""
    try:
        return config_difference(load_config(run_dir / "config.yaml"), cfg)
    except NnfitError:
        return ("config.yaml", "unreadable", "a config")



def _line(cells: list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(["" if c is None else repr(c) if isinstance(c, float) else c
                                                   for c in cells])
    return out.getvalue()
