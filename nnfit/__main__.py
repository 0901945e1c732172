"""The `nnfit` program (and `python -m nnfit`): signals first, then nnfit.cli, then a quick ending.

SIGINT and SIGTERM both become KeyboardInterrupt from the first instant, which the commands turn into one line,
`Error: interrupted`, and exit 130. Set any later, a Ctrl-C while click and nnfit are being imported would end
in a traceback, and a SIGTERM before a command sets its own handlers (cliutil.stop_on_signals) would end the
process with no word at all. Nothing is written before a command starts, so quitting then loses nothing.

When a command has ended, its files are whole and on disk (files.atomic_write), so the process ends at once
once stdout and stderr are flushed: Python's own ending frees every object of numpy, pandas and matplotlib one
by one, which took longer than some commands' work (see docs/performance.md). A command that leaves anything
running (a sweep's pool or Dask client, another thread) ends the usual way, so that those end cleanly too, and
so does a program run under a profiler or coverage, which write their results then."""

import os
import signal
import sys


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        os.write(2, b"Error: interrupted\n")
        raise SystemExit(130) from None  # errors.EXIT_INTERRUPTED, which is not imported yet
    try:
        run()  # click ends with SystemExit, whatever happened
    except SystemExit as ended:
        if (ended.code is None or isinstance(ended.code, int)) and _alone() and _flushed():
            os._exit(ended.code or 0)
        raise


def _alone() -> bool:
    """Whether this thread is all that ran: no other thread that Python would wait for, and neither
    multiprocessing (a sweep's pool, whose exit handlers release its semaphores) nor Dask (whose close its
    connections), nor a profiler or coverage, which write their results at Python's ending."""
    import threading

    watched = sys.getprofile() is not None or sys.gettrace() is not None
    if watched or any(m in sys.modules for m in ("multiprocessing", "distributed", "cProfile", "profile", "coverage")):
        return False
    return not any(t is not threading.current_thread() and not t.daemon for t in threading.enumerate())


def _flushed() -> bool:
    """stdout and stderr flushed; when that fails (a closed pipe), Python's usual ending reports it as before."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return False
    return True


if __name__ == "__main__":
    main()
