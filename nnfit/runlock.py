"""The lock that keeps two nnfit processes out of one run directory: `flock` on `.RUN.lock` beside it."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .errors import UsageError
from .files import UMASK

ATTEMPTS = 100  # tries at opening and locking the lock file while other processes remove it under us


def lock_file(run: Path) -> Path:
    """The lock file of the run directory `run`."""
    # beside the directory, not in it: creating a run replaces the directory as a whole
    return run.parent / f".{run.name}.lock"


@contextlib.contextmanager
def hold(run: Path):
    """Hold the run directory for one nnfit process: a second train, --force or --resume on it is refused
    while this one runs. The kernel releases the lock when the process ends, however it ends, so a killed
    run never blocks the next one. (Where locks are not supported, nothing is held.)

    The lock file is removed when the holder finishes, so no `.RUN.lock` is left beside finished runs.
    Removing it is safe because a process that locks a file checks that the name still leads to that
    file, and starts again if the holder removed it in between."""
    import fcntl

    made = [p for p in [run.parent, *run.parent.parents] if not p.exists()]
    fd = None
    for _ in range(ATTEMPTS):
        try:
            run.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_file(run), os.O_RDWR | os.O_CREAT, 0o666 & ~UMASK)
        except FileNotFoundError:
            continue  # another process removed the empty folder it had made, between our mkdir and open
        except OSError:
            break  # an unwritable folder, a name too long: creating the run will say so
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise UsageError(f"{run}: in use by another nnfit process{f' (pid {holder})' if holder else ''}; "
                             "wait for it to finish, or choose another --out") from None
        except OSError:
            break  # a filesystem without locks
        if _same_file(fd, lock_file(run)):
            break
        os.close(fd)  # the previous holder removed it between our open and our lock: take a fresh one
        fd = None
    try:
        if fd is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        yield
    finally:
        if fd is not None:
            lock_file(run).unlink(missing_ok=True)  # while still held, so nobody can be waiting on this file
            os.close(fd)
        if not run.exists():  # the run was never created (bad data, say): leave nothing behind
            for folder in made:
                with contextlib.suppress(OSError):
                    folder.rmdir()


def in_use(run: Path) -> bool:
    """Whether an nnfit process is training in this run directory right now."""
    return held(lock_file(run))


def held(lock: Path) -> bool:
    """Whether a process holds the lock file (a run's, or a sweep driver's .sweep/lock) right now."""
    import fcntl

    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
