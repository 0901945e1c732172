"""One run of a sweep, where a worker runs it: commands.train into the run directory, stopping when the driver
says so, and the outcome as a small dict. The same function runs in the local pool's processes and in Dask
workers' threads; nothing here prints.

The driver and its jobs share only files in the sweep folder's .sweep/, which every worker must see anyway:
  session            the running driver's id, or 'stop ID' once it must stop. A job polls it twice a second and
                     stops (checkpoint, as `nnfit train` does on Ctrl-C) when it no longer reads its own id: the
                     driver was interrupted, or a new driver took over from one that was killed.
  runs/RUN/starts    a line per start of the run in each session; a third start in one session means the
                     workers running it died twice, and the run fails instead of being tried again.
  runs/RUN/lock      held (flock) while the run trains, so that a killed driver's job still finishing its
                     mini-batch and a new session's job never write one run directory at once.
"""

from __future__ import annotations

import atexit
import fcntl
import multiprocessing
import os
import signal
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .config import Config
from .errors import EXIT_INTERRUPTED, Interrupted, NnfitError

# Each process of the local pool gets these in its environment when it is started, before it imports numpy:
# OpenBLAS (and OpenMP, MKL, Accelerate, numexpr) read them once, when the library loads.
BLAS_THREADS = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "VECLIB_MAXIMUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1"}
FINAL = "final"  # the refit's run directory in the sweep folder
POLL_SECONDS = 0.5  # how often a training job reads the session file
SIGNAL_GRACE_SECONDS = 2.0  # how long a process whose run a signal stopped waits for its driver's stop
LOCK_SECONDS = 120.0  # how long a job waits for a run directory that another process still writes
SHARED_FILESYSTEM = ("the workers need the data files and the sweep folder at the same paths as the machine "
                     "running nnfit sweep (a shared filesystem)")


@dataclass(frozen=True)
class Job:
    run: str  # the run directory relative to the sweep folder: trials/NAME, trials/NAME/fold-2 or final
    cfg: Config
    folder: str  # the sweep folder, absolute
    session: str  # the id of the driver's session that submitted it


_process = {"signalled": False, "orphaned": False, "parent": None, "busy": False}  # a local pool process's state


def init_worker(parent: int) -> None:
    """Start of a local pool process. SIGINT / SIGTERM (Ctrl-C reaches the whole process group) stop the run
    in progress with a checkpoint, and a second one quits at once, which the atomic writes make safe. An idle
    process stays (its next run waits for the driver's stop, see _await_stop): were it to quit, the pool would
    break, and Python's pool sends SIGTERM to its other processes, a second signal to a busy one, which would
    then quit without its checkpoint; the driver's stop closes the pool. A process whose driver died (kill -9)
    stops its run the same way, then quits: it would otherwise wait for work forever, since it holds its queue's
    pipe open itself."""
    os.environ.update(BLAS_THREADS)  # also for a library loaded later; the pool set them before numpy loaded
    _process["parent"] = parent

    def handler(signum, frame):
        if _process["signalled"]:
            os._exit(EXIT_INTERRUPTED)
        _process["signalled"] = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # held back while it started (pools.py)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    # When the pool closes, a spawned process ends with sys.exit, and tearing down numpy's and pandas' modules
    # takes longer than a short trial, while the driver waits. Nothing is left to do by then: the runs' files
    # are written and fsynced, and multiprocessing has flushed stdout and stderr. So the first exit handler ends
    # the process at once.
    if multiprocessing.parent_process() is not None:  # only ever in a pool's own process
        atexit.register(os._exit, 0)
    # What a run needs (numpy, pandas, the training code), before the first job arrives: `nnfit sweep` starts
    # its pool before it reads the sweep file, so these imports and its own run at the same time.
    from . import commands  # noqa: F401


def ready() -> int:
    """A job that does nothing: LocalPool.start submits one per process, which makes the pool start them."""
    return os.getpid()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(POLL_SECONDS)
        if os.getppid() != parent:
            _process["orphaned"] = _process["signalled"] = True
            if not _process["busy"]:
                os._exit(EXIT_INTERRUPTED)


def run_job(job: Job) -> dict:
    """Train one run (resuming it when it has started) and say how it went: {'run', 'state' (finished, failed,
    interrupted), 'error' (one line), 'line' (what `nnfit train` prints), 'warnings', 'host', 'seconds'}."""
    from .advice import NO_VALIDATION
    from .commands import train  # numpy and pandas: this module is light, for the driver's sake (LocalPool.start)

    folder = Path(job.folder)
    if _process["orphaned"]:  # the driver died during this process's last run: like an idle process, it quits
        os._exit(EXIT_INTERRUPTED)
    if _process["signalled"]:  # a signal stopped this process's last run
        _await_stop(folder, job.session)
        _process["signalled"] = False
    started = time.perf_counter()
    outcome = {"run": job.run, "state": "failed", "error": None, "line": None, "warnings": [],
               "host": socket.gethostname(), "seconds": 0.0}
    session = read_session(folder)
    if session is None:
        outcome["error"] = f"{outcome['host']} cannot see {folder / '.sweep' / 'session'}: {SHARED_FILESYSTEM}"
        return outcome
    if session != job.session:  # a newer driver took over, or this one is stopping: start nothing
        outcome["state"] = "new"
        return outcome
    unseen = _unseen_data(job)
    if unseen is not None:
        outcome["error"] = f"{outcome['host']} cannot see {unseen}: {SHARED_FILESYSTEM}"
        return outcome
    if _count_start(folder, job) > 2:
        outcome["error"] = "the workers running it died twice (killed, or out of memory?)"
        return outcome
    stop = _stopper(folder, job.session)
    _process["busy"] = True
    try:
        with _run_lock(folder, job.run, stop):
            def warn(message: str) -> None:
                if not (job.run == FINAL and message == NO_VALIDATION):  # the refit has no validation on purpose
                    outcome["warnings"].append(message)

            outcome["line"] = train(job.cfg, out=folder / job.run, resume=True, warn=warn,
                                    should_stop=stop, keep_data=_process["parent"] is not None)
            # a pool process keeps the data for its next trials, which mostly share it; a Dask worker's memory
            # is Dask's to manage, and the worker outlives the sweep
        outcome["state"] = "finished"
    except Interrupted:  # before the run directory was made, the run has not started
        outcome["state"] = "interrupted" if (folder / job.run / "config.yaml").exists() else "new"
    except NnfitError as e:
        outcome["error"] = " ".join(str(e).split())
    except MemoryError:
        outcome["error"] = "out of memory: a smaller network or batch, or fewer trials at once (--workers)"
    finally:
        _process["busy"] = False
    outcome["seconds"] = time.perf_counter() - started
    return outcome


def _unseen_data(job: Job) -> str | None:
    """On a Dask worker: the first of the run's data files it cannot see. The driver checked the workers that
    were there when the sweep began; one that joins later is checked here, so that its runs fail saying why
    (and with the whole path, not one relative to the worker's folder). A local pool process sees what the
    driver saw."""
    if _process["parent"] is not None:
        return None
    data = job.cfg.data
    return next((p for p in (data.train, data.valid, data.test) if p and not os.path.exists(p)), None)


def _await_stop(folder: Path, session: str) -> None:
    """After a signal. Ctrl-C reaches the driver too, which then writes its stop to the session file within a
    quarter of a second: wait for that, so that no new run starts meanwhile (the next one could get as far as
    its run directory first). A signal to this process alone brings no stop, and the process goes on."""
    deadline = time.monotonic() + SIGNAL_GRACE_SECONDS
    while time.monotonic() < deadline and read_session(folder) == session:
        time.sleep(0.05)


def read_session(folder: Path) -> str | None:
    try:
        return (folder / ".sweep" / "session").read_text(encoding="utf-8").strip()
    except OSError:
        return None


def starts(folder: Path, run: str, session: str) -> int:
    """How often the run started in this session."""
    try:
        lines = (folder / ".sweep" / "runs" / run / "starts").read_text(encoding="utf-8").split()
    except OSError:
        return 0
    return lines.count(session)


def _count_start(folder: Path, job: Job) -> int:
    path = folder / ".sweep" / "runs" / job.run / "starts"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(job.session + "\n")
    return starts(folder, job.run, job.session)


def _stopper(folder: Path, session: str):
    """should_stop for train: after a signal or the driver's death (init_worker), or once the session file no
    longer holds this session's id; the file is read every POLL_SECONDS at most, because should_stop runs after
    every mini-batch."""
    state = {"next": 0.0, "stop": False}

    def should_stop() -> bool:
        if _process["signalled"] or state["stop"]:
            return True
        now = time.monotonic()
        if now >= state["next"]:
            state["next"] = now + POLL_SECONDS
            state["stop"] = read_session(folder) != session
        return state["stop"]

    return should_stop


@contextmanager
def _run_lock(folder: Path, run: str, stop):
    path = folder / ".sweep" / "runs" / run / "lock"
    with open(path, "a") as f:
        waited = time.monotonic() + LOCK_SECONDS
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if stop():
                    raise Interrupted("stopped while waiting for the run directory") from None
                if time.monotonic() > waited:
                    raise NnfitError(f"{folder / run}: another process has been writing it for "
                                     f"{LOCK_SECONDS:.0f} s; stop it, then continue the sweep") from None
                time.sleep(0.1)
        yield


def probe(paths: list[str], token: tuple[str, str]) -> dict:
    """Run on every Dask worker before the sweep starts: the files it cannot see (a token file the driver just
    wrote beside the sweep folder proves the folder is the same one), and its nnfit version."""
    missing = [p for p in paths if not os.path.exists(p)]
    try:
        seen = Path(token[0]).read_text(encoding="utf-8")
    except OSError:
        seen = None
    if seen != token[1]:
        missing.append(str(Path(token[0]).parent))
    return {"missing": missing, "version": __version__, "host": socket.gethostname()}
