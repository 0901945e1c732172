"""Shared helpers: write CSVs and configs into a temporary folder, run the CLI in-process or as a process."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from nnfit.cli import cli
from nnfit.model import Model

REPO = Path(__file__).resolve().parent.parent


def write_csv(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


class Result:
    def __init__(self, code, stdout, stderr):
        self.exit_code, self.stdout, self.stderr = code, stdout, stderr

    def json(self):
        return json.loads(self.stdout)


def run_cli(*args, input=None) -> Result:
    """nnfit in-process (fast) with stdout and stderr kept apart."""
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=True, prog_name="nnfit")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Result(result.exit_code, result.stdout, result.stderr)


def run_process(*args, input=None, cwd=None) -> Result:
    """nnfit as a real process, the way a shell script runs it."""
    p = subprocess.run([sys.executable, "-m", "nnfit", *map(str, args)], input=input, capture_output=True,
                       cwd=cwd, text=isinstance(input, str) or input is None)
    return Result(p.returncode, p.stdout, p.stderr)


def model_of(cfg, data, result) -> Model:
    """The Model of an in-memory training run (what its run directory would hold)."""
    return Model(result.params, cfg.task, cfg.loss, cfg.model.activation, data.prep)


def blobs(n=200, seed=0, classes=("a", "b", "c"), noise=0.5, d=2):
    """Gaussian blobs, one per class, with string labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, size=(len(classes), d))
    label = rng.integers(0, len(classes), n)
    X = centers[label] + rng.normal(0, noise, size=(n, d))
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(d)])
    frame["label"] = np.asarray(classes, dtype=object)[label]
    return frame


@pytest.fixture
def tiny(tmp_path):
    """A small multiclass problem as a CSV plus a quick config; returns (config path, csv path)."""
    csv = write_csv(tmp_path / "train.csv", blobs())
    config = write_config(tmp_path / "tiny.yaml", {
        "task": "multiclass",
        "data": {"train": "train.csv", "target": "label"},
        "model": {"hidden": [8]},
        "train": {"epochs": 5, "batch_size": 16, "optimizer": "sgd", "learning_rate": 0.1},
    })
    return config, csv
