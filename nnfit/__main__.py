"""The `nnfit` program (and `python -m nnfit`): signals first, then nnfit.cli, then a quick ending.

SIGINT and SIGTERM both become KeyboardInterrupt from the first instant, which the commands turn into one line,
`Error: interrupted`, and exit 130. Set any later, a Ctrl-C while click and nnfit are being imported would end
in a traceback, and a SIGTERM before a command sets its own handlers (cliutil.stop_on_signals) would end the
process with no word at all. Nothing is written before a command starts, so quitting then loses nothing.

When a command has ended, its files are whole and on disk (files.atomic_write), and Python's ending runs as
usual up to its last exit handler: other threads are waited for, and the exit handlers close what a sweep
opened (its pool's processes and semaphores, a Dask client). The last handler, this module's, then ends the
process at once, once stdout and stderr are flushed: what Python would still do is free every object of
numpy, pandas and matplotlib one by one, which took longer than some commands' work (see
docs/performance.md). Under a profiler or coverage, which may write their results after it, it does nothing."""

import atexit
import os
import signal
import sys

_ended = {}  # 'code': the command's exit status, once it has ended


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    atexit.register(_end_at_once)  # the first registered, so the last to run
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        os.write(2, b"Error: interrupted\n")
        raise SystemExit(130) from None  # errors.EXIT_INTERRUPTED, which is not imported yet
    try:
        run()  # click ends with SystemExit, whatever happened
    except SystemExit as ended:
        if ended.code is None or isinstance(ended.code, int):
            _ended["code"] = ended.code or 0
        raise


def _end_at_once() -> None:
    """The last exit handler: end the process with the command's status, skipping the rest of Python's ending;
    unless the command did not end (a traceback: nnfit's bug, ended the usual way), a profiler or coverage
    watches, or stdout or stderr cannot be flushed (a closed pipe: Python's ending reports it as before)."""
    watched = sys.getprofile() is not None or sys.gettrace() is not None
    if "code" not in _ended or watched or any(m in sys.modules for m in ("cProfile", "profile", "coverage")):
        return
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(_ended["code"])


if __name__ == "__main__":
    main()
