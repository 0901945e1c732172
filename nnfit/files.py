"""Writing files so that no reader ever sees half of one, and JSON as nnfit writes it.

Every whole-file write goes to a temporary file in the same folder, is flushed and fsynced, then renamed into
place, so a reader sees either the old complete file or the new complete one. A new run's files are written
straight into its staging folder instead (write_unseen), which no reader sees until it is renamed into place.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

UMASK = os.umask(0)
os.umask(UMASK)


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write a whole file so that no reader ever sees it half-written."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~UMASK)  # mkstemp makes 0600; a run's files are as readable as any other
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_unseen(path: Path, data: bytes | str) -> None:
    """Write a new file, fsynced, in a folder that no reader sees yet (a run's staging folder, renamed into
    place once every file in it is on the disk): no temporary file and no rename are needed there."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for any new file
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(folder: Path) -> None:
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


def file_sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()  # through one reused buffer


def read_json(path: Path) -> dict:
    """A JSON file nnfit wrote, or {} when it is missing or unreadable (a run killed before writing it)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


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


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz file's content: plain arrays, which numpy.load(..., allow_pickle=False) reads."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()
