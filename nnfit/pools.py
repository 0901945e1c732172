"""Where a sweep's runs go: a pool of processes on this machine, or an existing Dask cluster.

Both hand out futures with the same few methods (submit, wait, unstarted), so one driver loop (sweeprun.py)
serves both; scheduling, queues and transport are theirs, not nnfit's.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import tempfile
import uuid
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path

from . import __version__
from .errors import UsageError
from .sweepjob import BLAS_THREADS, SHARED_FILESYSTEM, Job, init_worker, probe, ready, run_job

CONNECT_SECONDS = 10  # to reach a Dask scheduler


def default_workers() -> int:
    """One per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def _starting_processes():
    """For the processes started meanwhile: BLAS_THREADS in their environment (this process's own BLAS, loaded
    already, keeps its threads; the variables are restored after), and Ctrl-C and SIGTERM held back. A new
    process inherits the blocked signals, which wait until init_worker has its handlers, instead of raising
    KeyboardInterrupt with a traceback in the middle of the process's imports, or ending it unannounced; here
    they are held for the instant of the start only, then delivered."""
    saved = {k: os.environ.get(k) for k in BLAS_THREADS}
    os.environ.update(BLAS_THREADS)
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # last: a signal held back is delivered here


class LocalPool:
    """Worker processes on this machine, each with a BLAS of one thread: the processes are started (spawned:
    a new interpreter, so nothing of this one's numpy is inherited) by start, or else inside the first submit,
    with BLAS_THREADS in the environment they start with. A process that dies breaks the pool; the next submit
    starts a new one."""

    infrastructure = (BrokenProcessPool,)

    def __init__(self, workers: int):
        self.workers = workers
        self._pool = None
        self._owner = {}  # future -> the pool it came from
        self._used = False  # whether a run was ever submitted

    def start(self) -> LocalPool:
        """Start the processes now, one per core at most (the rest, if any, start with the runs that need them):
        each imports what a run needs while this process goes on, reading the sweep file (sweepjob.init_worker)."""
        self._executor()
        with _starting_processes():
            # a spawn-context pool starts a process in each submit while none is idle
            for _ in range(min(self.workers, default_workers())):
                try:
                    self._pool.submit(ready)
                except BrokenProcessPool:  # one ended already (a Ctrl-C): the runs' submits will see to it
                    break
        return self

    def _executor(self):
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=init_worker,
                initargs=(os.getpid(),))
        return self._pool

    def check_workers(self, paths: list[str], folder: Path) -> None:
        pass  # the same machine sees the same files

    def submit(self, job: Job, attempt: int):
        # a spawn-context ProcessPoolExecutor starts its processes in submit (tests/test_sweep_run.py reads a
        # worker's /proc/PID/environ to keep it so)
        with _starting_processes():
            try:
                future = self._executor().submit(run_job, job)
            except BrokenProcessPool as e:  # its processes ended before this run was handed over (a Ctrl-C, say):
                future = concurrent.futures.Future()  # lost like the runs it held; the driver decides what next
                future.set_exception(e)
        self._used = True
        self._owner[future] = self._pool
        return future

    def wait(self, futures, timeout: float) -> set:
        return concurrent.futures.wait(futures, timeout, concurrent.futures.FIRST_COMPLETED)[0]

    def unstarted(self, futures) -> list:
        """The futures whose runs no process has taken yet, which the driver need not wait for once it stops:
        should one be taken after all, its job reads the stop in the session file and returns at once, and
        close cancels the rest. They are not cancelled here: a pool that breaks (Ctrl-C ends its idle processes)
        fails its pending futures, and failing one that was cancelled kills the pool's own thread on Python
        3.11 (CPython gh-107219), leaving the runs still out unfinished forever."""
        return [f for f in futures if not f.running() and not f.done()]

    def lost(self, future) -> None:
        """The future's pool broke: the next submit starts a new one (once, however many futures it failed)."""
        broken = self._owner.pop(future, None)
        if broken is not None and broken is self._pool:
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Wait for the processes to end. A pool that never got a run (the sweep file was refused, say) ends
        its processes at once instead of after their imports: they have nothing to save."""
        if self._pool is None:
            return
        if not self._used:
            for process in list((self._pool._processes or {}).values()):
                process.kill()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None


def _check_address(address: str) -> None:
    """A scheduler's address as Dask writes it, checked before a Client is made of it: a Client that fails on
    a malformed one is left half-made, and its clean-up then waits 20 s and prints a traceback."""
    from distributed.comm import parse_address, registry
    from distributed.comm.addressing import parse_host_port

    try:
        scheme, location = parse_address(address)
        try:
            registry.get_backend(scheme)  # Dask's own schemes, and those its plugins add
        except ValueError:
            raise ValueError(f"unknown scheme '{scheme}://'; Dask's are "
                             f"{', '.join(s + '://' for s in registry.backends)}") from None
        if scheme != "inproc":
            parse_host_port(location)
    except ValueError as e:
        raise UsageError(f"--scheduler {address}: not a Dask scheduler's address ({' '.join(str(e).split())}); "
                         "expected tcp://HOST:PORT, e.g. tcp://10.0.0.1:8786") from None


class DaskPool:
    """An existing Dask cluster, reached through its scheduler's address. Its workers need nnfit installed and
    the same files at the same paths; `dask worker` (with its nanny, the default) starts worker processes with
    one BLAS thread already (distributed's distributed.nanny.pre-spawn-environ)."""

    def __init__(self, address: str):
        try:
            import distributed
        except ImportError:
            raise UsageError("--scheduler: needs Dask's distributed, which nnfit's dask extra installs: "
                             "pip install 'nnfit[dask]'") from None
        self._distributed = distributed
        self.infrastructure = (distributed.KilledWorker,)
        _check_address(address)
        try:
            self.client = distributed.Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise UsageError(f"--scheduler {address}: cannot reach a Dask scheduler there "
                             f"({' '.join(str(e).split()) or type(e).__name__})") from None

    def check_workers(self, paths: list[str], folder: Path) -> None:
        """Every connected worker must see the data files and the folder that will hold the sweep, and run this
        nnfit version; checked with a token file written beside the sweep folder, then removed."""
        near = next(p for p in [folder, *folder.parents] if p.is_dir())
        try:
            fd, token = tempfile.mkstemp(prefix=".nnfit-probe-", dir=near)
        except OSError as e:
            raise UsageError(f"{folder}: cannot write there: {e.strerror or e}") from None
        content = uuid.uuid4().hex
        try:
            os.write(fd, content.encode())
            os.close(fd)
            answers = self.client.run(probe, paths, (token, content))
        finally:
            os.unlink(token)
        for address, answer in sorted(answers.items()):
            if answer["version"] != __version__:
                raise UsageError(f"Dask worker {address} ({answer['host']}) runs nnfit {answer['version']}, this "
                                 f"machine nnfit {__version__}; install the same version on the workers")
            if answer["missing"]:
                raise UsageError(f"Dask worker {address} ({answer['host']}) cannot see {answer['missing'][0]}: "
                                 f"{SHARED_FILESYSTEM}")

    def submit(self, job: Job, attempt: int):
        key = f"nnfit-{job.session[:8]}-{job.run}-{attempt}".replace("/", ":")
        return self.client.submit(run_job, job, key=key, pure=False)

    def wait(self, futures, timeout: float) -> set:
        try:
            with self.client.as_current():
                self._distributed.wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            pass
        return {f for f in futures if f.done()}

    def unstarted(self, futures) -> list:
        """None: Dask cannot tell a queued task from a running one, and cancelling a running one would lose its
        outcome. A queued run starts, reads the stop in the session file and returns at once."""
        return []

    def lost(self, future) -> None:
        pass  # the scheduler replaces lost workers itself

    def close(self) -> None:
        self.client.close()
