"""The run directory: what training writes and what predict reads, written atomically.

  config.yaml   the fully resolved config; `nnfit train DIR/config.yaml` repeats the run
  model.npz     weights W0, b0, W1, ... as plain arrays (numpy.load(..., allow_pickle=False) reads them)
  model.json    everything predict needs: format version, task, layer sizes, activations, preprocessing, classes
  metrics.csv   one row per epoch, appended and flushed as each epoch ends
  summary.json  state, final and best metrics, the epoch kept, stop reason, wall time, test metrics

Every whole-file write goes to a temporary file in the same folder, is flushed and fsynced, then renamed into
place, so a reader sees either the old complete file or the new complete one.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from . import __version__
from .errors import ArtifactError, UsageError
from .network import Params
from .preprocess import Preprocessor

FORMAT_VERSION = 1  # of model.json / model.npz; bump when predict can no longer read older runs
RUN_FILES = ("config.yaml", "model.npz", "model.json", "metrics.csv", "summary.json")
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


def check_run_dir(path: Path, force: bool) -> None:
    """Refuse to write into an existing non-empty folder unless --force was given."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path}: exists and is not a folder; choose another --out")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise UsageError(f"{path}: run directory exists and is not empty; pass --force to overwrite it, "
                         "or choose another --out")


def start_run_dir(path: Path, force: bool) -> None:
    """Create the run directory, removing an earlier run's files when forced (nothing else is touched)."""
    check_run_dir(path, force)
    path.mkdir(parents=True, exist_ok=True)
    for name in RUN_FILES:
        (path / name).unlink(missing_ok=True)


class MetricsLog:
    """metrics.csv, one row per epoch; each row is flushed and fsynced, so `tail -f` sees it at once."""

    def __init__(self, path: Path, columns: list[str]):
        self.columns = columns
        self._file = open(path, "w", encoding="utf-8", newline="")
        self._write(",".join(columns))

    def append(self, row: dict) -> None:
        self._write(",".join(_cell(row.get(c)) for c in self.columns))

    def _write(self, line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def save_model(run_dir: Path, params: Params, info: dict) -> None:
    """model.npz (the weights) and model.json (info plus format and version)."""
    buffer = io.BytesIO()
    np.savez(buffer, **params.to_arrays())
    atomic_write(run_dir / "model.npz", buffer.getvalue())
    info = {"format_version": FORMAT_VERSION, "nnfit_version": __version__, **info}
    atomic_write(run_dir / "model.json", to_json(info))


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
