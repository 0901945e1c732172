"""What `nnfit plot SWEEP` shows, without matplotlib: a sweep folder's results.csv and sweep.yaml read back (the
swept parameters, the ranking metric and its direction), and the run directories of the best trials."""

from __future__ import annotations

import csv
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import ArtifactError, display_path
from .plotdata import RunView, read_run

RESULTS, SPEC = "results.csv", "sweep.yaml"  # as sweepdir.py writes them
BEST_SHOWN = 5  # the best trials whose learning curves are drawn together


@dataclass
class SweepView:
    path: Path
    name: str
    metric: str
    minimize: bool
    parameters: list[str]  # the swept config keys, in the sweep file's order
    folds: int | None
    rows: list[dict]  # results.csv, in trial order: parameter values as YAML read them, the metric a float or None

    @property
    def ranked(self) -> list[dict]:
        """The finished trials with a metric, best first (a tie goes to the earlier trial, as in `best`)."""
        scored = [r for r in self.rows if r["state"] == "finished" and r[self.metric] is not None]
        return sorted(scored, key=lambda r: (r[self.metric] if self.minimize else -r[self.metric], _number_of(r)))

    def best_runs(self, count: int = BEST_SHOWN) -> list[RunView]:
        """The run directories of the best `count` trials; with folds, each trial's first fold."""
        runs = []
        for row in self.ranked[:count]:
            folder = self.path / row["run_dir"]
            if self.folds:  # named by its trial in the legend, not "fold-1" five times
                runs.append(dataclasses.replace(read_run(folder / "fold-1"), name=f"{row['trial']} fold 1"))
            else:
                runs.append(read_run(folder))
        return runs


def is_sweep(path) -> bool:
    """Whether path is a folder `nnfit sweep` wrote (its results.csv and sweep.yaml)."""
    return (Path(path) / RESULTS).is_file() and (Path(path) / SPEC).is_file()


def read_sweep(path) -> SweepView:
    """A sweep folder's results, as they are now (a running sweep's finished trials so far)."""
    path = Path(path)
    try:
        spec = yaml.safe_load((path / SPEC).read_text(encoding="utf-8"))
        with open(path / RESULTS, newline="", encoding="utf-8") as f:
            raw = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, csv.Error) as e:
        raise ArtifactError(f"{display_path(path)}: cannot read the sweep's {SPEC} and {RESULTS}: "
                            f"{getattr(e, 'strerror', None) or e}") from None
    if not isinstance(spec, dict) or spec.get("goal") not in ("minimize", "maximize") or not spec.get("metric"):
        raise ArtifactError(f"{display_path(path / SPEC)}: not a resolved sweep (no metric and goal); "
                            "run `nnfit sweep` into this folder again to rewrite it")
    metric, parameters = str(spec["metric"]), [str(k) for k in (spec.get("parameters") or {})]
    needed = {"trial", "state", "run_dir", metric, *parameters}
    if raw and not needed <= set(raw[0]):
        missing = ", ".join(sorted(needed - set(raw[0])))
        raise ArtifactError(f"{display_path(path / RESULTS)}: no column {missing}; it does not match {SPEC}")
    rows = [{**r, metric: _number(r[metric]), **{k: _value(r[k]) for k in parameters}} for r in raw]
    return SweepView(path, path.resolve().name, metric, spec["goal"] == "minimize", parameters, spec.get("folds"),
                     rows)


def _number_of(row: dict) -> tuple:
    """A trial's number, from its name (001-...): results.csv lists trials as they end while a sweep runs."""
    head = row["trial"].partition("-")[0]
    return (int(head), "") if head.isdigit() else (math.inf, row["trial"])


def _number(text: str | None) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _value(text: str | None):
    """A parameter's cell as the value it was: results.csv writes numbers as Python does (1e-05, which YAML 1.1
    reads as a word), lists and mappings as flow YAML."""
    if text in (None, ""):
        return None
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text
