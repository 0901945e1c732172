"""data.cache: the prepared training arrays, saved as .npy so that a repeated run skips CSV parsing.

An entry lives in <folder of the run directory>/.nnfit-cache/<key>/, where the key hashes everything the
arrays depend on: the task, the data section, the dtype, the seed (it draws the validation split), the class
weights, whether early stopping is on (it refuses a split without validation rows), and each CSV file's size
and modification time. The entry also records each file's sha256, and is
used only when the files' sha256 match: change the settings, a file's size, its time or its bytes, and the
entry is not read. Reading a file to hash it is most of what a cached run costs, so the
entry also records each file's stat fingerprint (size, modification and change times, inode) as it was when
hashed; a later run that finds the same fingerprint uses the recorded sha256 without reading the file, as git
does for its index. Any write to a file changes its change time (ctime), even one that puts the old
modification time back, and ctime cannot be set by hand; a fingerprint is recorded only when the file had
not changed for RECENT_SECONDS, so a change within the same clock tick cannot hide either, and only on local
Linux filesystems (LOCAL_FILESYSTEMS), where ctime is kept by the kernel that answers stat.

Entries are written to a temporary folder and renamed into place, so a reader never sees half of one, and
never rewritten in place, so a run maps its arrays read-only straight from the page cache instead of copying
them. An entry whose arrays do not fit together (an edited or damaged file) is not used and gets replaced;
the arrays' bytes themselves are trusted, as they were written whole and fsynced (hashing them on every run
would cost as much as the mapping saves). A folder keeps the KEEP most recently used entries.

A process that trains many runs (a sweep's worker) can also keep the Datasets it prepared in memory, under
the same key, and hand one to a later run whose files show the same fingerprints (recall, keep): a sweep's
trials mostly share their data settings and seed, and reading and preparing a small CSV costs more than
training it for a few epochs. A kept Dataset's arrays are made read-only, as a mapped entry's are, since
every run that recalls it shares them. It keeps the parsed CSV files too (recall_parsed, keep_parsed), for
runs that differ only in their seed or fold, which split the same rows another way.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

import numpy as np

from .config import Config, config_to_dict
from .dataset import Dataset, Split
from .preprocess import Preprocessor

_ARRAYS = ("X", "Y", "target", "w")
KEEP = 8  # entries kept per cache folder, the most recently used; older ones are deleted when one is added
RECENT_SECONDS = 2.0  # a file changed more recently than this is hashed on every run until it is older
MEMORY_BYTES = 256 * 2**20  # the arrays one process keeps for its next runs (keep), the most recently used


# Linux filesystems whose stat comes from the local kernel and whose ctime changes on every write. Network and
# FUSE filesystems are left out: sshfs and s3fs report ctime = mtime, and NFS answers stat from a cache.
LOCAL_FILESYSTEMS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "zfs", "f2fs", "overlay", "jfs", "reiserfs"}


def fingerprint(path: str, st: os.stat_result, now: float) -> list | None:
    """What shows, without reading it, that the file is unchanged since `st` was taken at time `now`; None
    when nothing can (changed too recently, or not on a local Linux filesystem whose ctime follows writes)."""
    if now - st.st_ctime < RECENT_SECONDS or _filesystem(os.path.realpath(path)) not in LOCAL_FILESYSTEMS:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _filesystem(path: str) -> str | None:
    """The type of the filesystem holding an absolute path, from /proc/self/mountinfo; None off Linux."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return None
    best, kind = "", None
    for fields in mounts:  # id parent dev root MOUNT_POINT options [optional...] - TYPE source super-options
        try:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # a space is \040
            kind_here = fields[fields.index("-") + 1]
        except (IndexError, ValueError):
            continue
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, kind_here
    return kind


def cache_key(cfg: Config, files: dict[str, dict]) -> str:
    """files[role] = {'size', 'mtime_ns'} for each configured CSV file."""
    settings = config_to_dict(cfg)
    payload = {
        "task": cfg.task, "data": settings["data"], "dtype": cfg.train.dtype, "seed": cfg.train.seed,
        "class_weight": settings["train"]["class_weight"], "files": files, "format": 4,
        "early_stopping": cfg.train.early_stopping is not None,  # refuses data without validation rows
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def load(folder: Path, key: str) -> tuple[Dataset, dict, dict] | None:
    """(the cached Dataset for key, the sha256 of each file it was made from, their fingerprints when hashed),
    or None when there is no entry (or it cannot be read)."""
    entry = Path(folder) / key
    try:
        meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
        splits = {}
        for role, info in meta["splits"].items():
            arrays = {name: _map(entry / f"{role}_{name}.npy")
                      for name in _ARRAYS if (entry / f"{role}_{name}.npy").exists()}
            splits[role] = Split(arrays["X"], arrays["Y"], arrays["target"], info["name"], arrays.get("w"))
        prep = Preprocessor.from_dict(meta["preprocessing"])
        hashes, fingerprints = meta["files_sha256"], meta.get("files_stat", {})
        for split in splits.values():
            _check_shapes(split, prep)
        os.utime(entry / "meta.json")  # used now: the last entries to be pruned
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Dataset(splits["train"], splits.get("valid"), splits.get("test"), prep, meta["train_sha256"],
                   meta["notes"], outlier=meta.get("outlier")), hashes, fingerprints


def remember(folder: Path, key: str, fingerprints: dict) -> None:
    """Record the files' fingerprints in the entry once their sha256 have been checked again (a file that
    was new when the entry was made, or touched since), so the next run need not read them."""
    meta_path = Path(folder) / key / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["files_stat"] = fingerprints
        handle, tmp = tempfile.mkstemp(prefix=".meta.", dir=meta_path.parent)  # one per writer
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as f:
                f.write(json.dumps(meta))
            os.replace(tmp, meta_path)  # readers see the old file or the new one, never half of one
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except (OSError, ValueError):
        pass


def _check_shapes(split: Split, prep: Preprocessor) -> None:
    """ValueError unless the arrays fit together and fit the preprocessing (an edited or damaged entry)."""
    n = len(split.target)
    expected = {"X": (n, prep.n_features), "Y": (n, prep.n_outputs), "target": (n,), "w": (n,)}
    for name, shape in expected.items():
        value = getattr(split, name)
        if value is not None and value.shape != shape:
            raise ValueError(f"{name}: shape {value.shape}, expected {shape}")
    if split.X.dtype != split.Y.dtype or split.X.dtype.kind != "f":
        raise ValueError(f"X and Y: dtypes {split.X.dtype} and {split.Y.dtype}")


def _map(path: Path) -> np.ndarray:
    """A read-only array over the .npy file's pages in the page cache, mapped in one call (MAP_POPULATE):
    no copy, and no fresh memory to touch. Object arrays are refused, as allow_pickle=False does."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(f)
        if dtype.hasobject:
            raise ValueError(f"{path}: object arrays are not loaded")
        offset = f.tell()
        count = int(np.prod(shape))
        if count == 0 or not hasattr(mmap, "MAP_SHARED"):  # nothing to map, or not a POSIX system
            return np.load(path, allow_pickle=False)
        pages = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0), prot=mmap.PROT_READ)
    array = np.frombuffer(pages, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran_order else "C")


def save(folder: Path, key: str, data: Dataset, hashes: dict, fingerprints: dict) -> None:
    """Store data under key, made from files whose sha256 are `hashes` ({role: sha256}) and whose fingerprints
    were `fingerprints` before hashing. An entry made from the same bytes is left as it is; one made from other
    bytes (a file rewritten with the same size and time) is replaced."""
    try:  # a cache that cannot be written (read-only folder, full disk) only costs time
        _write(Path(folder), key, data, hashes, fingerprints)
        _prune(Path(folder), KEEP)
    except OSError:
        pass


def _prune(folder: Path, keep: int) -> None:
    """Delete all but the `keep` most recently used entries (a CSV edited between runs leaves one behind each
    time). Folders being written (their names start with a dot) are left alone."""
    def last_used(entry: Path) -> float:
        try:
            return (entry / "meta.json").stat().st_mtime
        except OSError:
            return 0.0

    entries = sorted((e for e in folder.iterdir() if e.is_dir() and not e.name.startswith(".")), key=last_used)
    for entry in entries[:-keep]:
        shutil.rmtree(entry, ignore_errors=True)


def _write(folder: Path, key: str, data: Dataset, hashes: dict, fingerprints: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / key).exists():
        found = load(folder, key)
        if found is not None and found[1] == hashes:
            return
        shutil.rmtree(folder / key, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder))
    try:
        splits = {}
        for role in ("train", "valid", "test"):
            split = getattr(data, role)
            if split is None:
                continue
            splits[role] = {"name": split.name}
            for name in _ARRAYS:
                value = getattr(split, name)
                if value is not None:
                    np.save(tmp / f"{role}_{name}.npy", value, allow_pickle=False)
        meta = {"splits": splits, "preprocessing": data.prep.to_dict(), "train_sha256": data.train_sha256,
                "files_sha256": hashes, "files_stat": fingerprints, "notes": data.notes, "outlier": data.outlier}
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        for f in tmp.iterdir():
            with open(f, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, folder / key)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


_memory: OrderedDict[str, tuple[dict, object, int]] = OrderedDict()  # key -> (fingerprints, what, bytes)
_memory_lock = threading.Lock()  # a Dask worker may run several runs at once, in threads


def recall(key: str, fingerprints: dict) -> Dataset | None:
    """The Dataset this process kept under key, if the files' fingerprints still match those it was made from;
    a copy of it whose arrays are shared, with its own notes and timing."""
    found = _recall(key, fingerprints)
    return None if found is None else replace(found, notes=list(found.notes), timing={})


def keep(key: str, fingerprints: dict, data: Dataset) -> None:
    """Keep data in this process for recall, unless a file's fingerprint cannot show it unchanged later, or
    the arrays exceed MEMORY_BYTES; older Datasets are dropped to stay within it."""
    arrays = [a for split in (data.train, data.valid, data.test) if split is not None
              for a in (split.X, split.Y, split.target, split.w) if a is not None]
    size = sum(a.nbytes for a in arrays)
    if None in fingerprints.values() or size > MEMORY_BYTES:
        return
    for a in arrays:
        a.flags.writeable = False  # every run that recalls it shares these: none may write to them
    _keep(key, fingerprints, data, size)


def parse_key(paths: dict, options: dict, files: dict) -> str:
    """The key of the parsed CSV files themselves: their paths, sizes and times, and how they are read; not the
    seed or the fold, which only the preparing that follows uses."""
    payload = {"paths": paths, "options": options, "files": files, "format": 1}
    return "parsed:" + hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def recall_parsed(key: str, fingerprints: dict) -> tuple[dict, dict] | None:
    """({role: (frame, name)}, {role: sha256}) this process kept under key, if the files' fingerprints still
    match: a sweep's trials that differ only in their seed or fold parse each file once per process. The frames
    are shared; nothing writes to a parsed frame (prepare_dataset copies what it needs out of it)."""
    found = _recall(key, fingerprints)
    return None if found is None else (dict(found[0]), dict(found[1]))


def keep_parsed(key: str, fingerprints: dict, frames: dict, hashes: dict) -> None:
    size = sum(int(frame.memory_usage(deep=True).sum()) for frame, _ in frames.values())
    _keep(key, fingerprints, (dict(frames), dict(hashes)), size)


def _recall(key: str, fingerprints: dict):
    if None in fingerprints.values():
        return None
    with _memory_lock:
        found = _memory.get(key)
        if found is None or found[0] != fingerprints:
            return None
        _memory.move_to_end(key)
    return found[1]


def _keep(key: str, fingerprints: dict, what, size: int) -> None:
    """Keep what (size bytes) under key, the most recently used within MEMORY_BYTES in all; nothing that a
    file's fingerprint cannot show unchanged later, or that alone exceeds MEMORY_BYTES."""
    if None in fingerprints.values() or size > MEMORY_BYTES:
        return
    with _memory_lock:
        _memory[key] = (fingerprints, what, size)
        _memory.move_to_end(key)
        while sum(entry[2] for entry in _memory.values()) > MEMORY_BYTES:
            _memory.popitem(last=False)
