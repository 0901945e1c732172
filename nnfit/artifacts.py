"""The run directory: what training writes and what predict reads, written atomically.

  config.yaml   the fully resolved config; `nnfit train DIR/config.yaml` repeats the run
  model.npz     weights W0, b0, W1, ... as plain arrays (numpy.load(..., allow_pickle=False) reads them)
  model.json    everything predict needs: format version, task, layer sizes, activations, preprocessing, classes
  metrics.csv   one row per epoch, appended and flushed as each epoch ends
  summary.json  state (running, finished, interrupted, failed), final and best metrics, the epoch kept,
                stop reason, wall time, test metrics
  checkpoint.npz  while the run is unfinished: weights, optimizer and generator state, for --resume

Every whole-file write goes to a temporary file in the same folder, is flushed and fsynced, then renamed into
place, so a reader sees either the old complete file or the new complete one; metrics.csv only grows, a whole
line per write. The directory itself appears complete (see create_run_dir), so whenever it exists, `predict`
can read it, whatever instant the training process was killed at.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ArtifactError, UsageError
from .network import Params
from .preprocess import Preprocessor

FORMAT_VERSION = 1  # of model.json / model.npz; bump when predict can no longer read older runs
RUN_FILES = ("config.yaml", "model.npz", "model.json", "metrics.csv", "summary.json")
CHECKPOINT = "checkpoint.npz"  # while a run is unfinished: everything --resume needs
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write a whole file so that no reader ever sees it half-written."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; a run's files are as readable as any other
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def to_json(obj, indent: int | None = 2) -> str:
    """JSON text ending in a newline, with NaN and infinity written as null (JSON has no NaN).

    Indented, a list of plain values stays on one line, so a confusion matrix reads as a matrix.
    """
    obj = _clean(obj)
    return (json.dumps(obj) if indent is None else _pretty(obj, indent, 0)) + "\n"


def _pretty(obj, indent: int, level: int) -> str:
    pad, inner = " " * (indent * level), " " * (indent * (level + 1))
    if isinstance(obj, dict) and obj:
        items = [f"{inner}{json.dumps(k)}: {_pretty(v, indent, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(obj, list) and any(isinstance(v, (list, dict)) for v in obj):
        items = [f"{inner}{_pretty(v, indent, level + 1)}" for v in obj]
        return "[\n" + ",\n".join(items) + f"\n{pad}]"
    return json.dumps(obj)


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


# ---- the run directory ----


def check_run_dir(path: Path, force: bool, resume: bool = False) -> None:
    """Refuse to write into an existing non-empty folder unless --force (or --resume) was given."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path}: exists and is not a folder; choose another --out")
    if not path.is_dir() or not any(path.iterdir()) or resume:
        return
    if not force:
        raise UsageError(f"{path}: run directory exists and is not empty; pass --force to overwrite it, "
                         "--resume to continue it, or choose another --out")
    others = sorted(p.name for p in path.iterdir() if p.name not in RUN_FILES + (CHECKPOINT,) and not p.name.startswith("."))
    if others:
        raise UsageError(f"{path}: holds files that are not part of an nnfit run ({', '.join(others[:3])}); "
                         "--force only replaces run directories, so choose another --out")


def create_run_dir(path: Path, files: dict[str, bytes | str]) -> None:
    """Make `path` hold exactly `files`, all at once: they are written to a new folder beside it, which is
    then renamed into place, so no reader ever sees a run directory with some files missing. An earlier run
    there (or an empty folder) is moved aside first and deleted after (only with --force; see check_run_dir)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
    try:
        os.chmod(staging, 0o777 & ~_UMASK)
        for name, data in files.items():
            atomic_write(staging / name, data)
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
            os.replace(path, old / "run")
        os.replace(staging, path)
        _fsync_dir(path.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def remove_stale_temporaries(path: Path) -> None:
    """Temporary files an earlier, killed process left behind (never a run file itself)."""
    for p in Path(path).glob(".*.tmp"):
        p.unlink(missing_ok=True)


def metrics_text(columns: list[str], rows: list[dict]) -> str:
    """metrics.csv as text: a header and one line per epoch."""
    return "".join(",".join(line) + "\n" for line in
                   [columns] + [[_cell(row.get(c)) for c in columns] for row in rows])


class MetricsLog:
    """Appends rows to an existing metrics.csv, one write per row, flushed and fsynced, so `tail -f` sees
    each epoch at once and a killed process leaves whole lines only."""

    def __init__(self, path: Path, columns: list[str]):
        self.columns = columns
        self._file = open(path, "a", encoding="utf-8", newline="")

    def append(self, row: dict) -> None:
        self._file.write(",".join(_cell(row.get(c)) for c in self.columns) + "\n")  # one write() call
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def model_files(params: Params, info: dict) -> dict[str, bytes | str]:
    """model.npz (the weights) and model.json (info plus format and version), as file contents."""
    buffer = io.BytesIO()
    np.savez(buffer, **params.to_arrays())
    info = {"format_version": FORMAT_VERSION, "nnfit_version": __version__, **info}
    return {"model.npz": buffer.getvalue(), "model.json": to_json(info)}


def save_checkpoint(run_dir: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(run_dir / CHECKPOINT, buffer.getvalue())


def load_checkpoint(run_dir: Path) -> dict[str, np.ndarray] | None:
    """The arrays of checkpoint.npz, or None when the run has none."""
    try:
        with np.load(Path(run_dir) / CHECKPOINT, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except FileNotFoundError:
        return None
    except (ValueError, OSError, EOFError) as e:
        raise ArtifactError(f"{Path(run_dir) / CHECKPOINT}: unreadable ({e}); start the run again with --force") from None


def save_model(run_dir: Path, params: Params, info: dict) -> None:
    """model.npz and model.json, each replaced atomically."""
    for name, data in model_files(params, info).items():
        atomic_write(run_dir / name, data)


def load_model(run_dir: str | os.PathLike) -> tuple[Params, dict, Preprocessor]:
    """The kept weights, model.json and the fitted preprocessing of a finished run."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ArtifactError(f"{run_dir}: run directory not found")
    try:
        info = json.loads((run_dir / "model.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{run_dir}: model.json not found; is this a finished nnfit run?") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{run_dir / 'model.json'}: not valid JSON ({e})") from None
    if not isinstance(info, dict) or info.get("format_version") != FORMAT_VERSION:
        found = info.get("format_version") if isinstance(info, dict) else None
        raise ArtifactError(f"{run_dir / 'model.json'}: model format {found!r} (from nnfit "
                            f"{info.get('nnfit_version', '?') if isinstance(info, dict) else '?'}); this nnfit "
                            f"{__version__} reads format {FORMAT_VERSION}: retrain the model")
    try:
        with np.load(run_dir / "model.npz", allow_pickle=False) as arrays:
            params = Params.from_arrays(info["layer_sizes"], arrays, np.dtype(info["dtype"]))
    except FileNotFoundError:
        raise ArtifactError(f"{run_dir}: model.npz not found; the run did not finish") from None
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise ArtifactError(f"{run_dir / 'model.npz'}: holds a pickled object; nnfit never unpickles "
                                "(it could run arbitrary code)") from None
        raise ArtifactError(f"{run_dir / 'model.npz'}: does not match model.json: {e}") from None
    except (KeyError, OSError, EOFError) as e:
        raise ArtifactError(f"{run_dir / 'model.npz'}: unreadable or incomplete ({e})") from None
    try:
        prep = Preprocessor.from_dict(info["preprocessing"])
    except (KeyError, TypeError) as e:
        raise ArtifactError(f"{run_dir / 'model.json'}: preprocessing is incomplete ({e})") from None
    return params, info, prep
