"""The `nnfit` program (and `python -m nnfit`). It only sets up the signals, then hands over to nnfit.cli.

SIGINT and SIGTERM both become KeyboardInterrupt from the first instant, which the commands turn into one line,
`Error: interrupted`, and exit 130. Set any later, a Ctrl-C while click and nnfit are being imported would end
in a traceback, and a SIGTERM before a command sets its own handlers (cliutil.stop_on_signals) would end the
process with no word at all. Nothing is written before a command starts, so quitting then loses nothing."""

import os
import signal


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
    run()


if __name__ == "__main__":
    main()
