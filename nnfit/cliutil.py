"""What the `nnfit` commands share on the command line: the group that turns an NnfitError, or a wrong
option, into one `Error:` line (and accepts --debug anywhere), warnings on stderr, Ctrl-C as a request to
stop, and the JSON line."""

from __future__ import annotations

import click

from .errors import EXIT_INTERRUPTED, NnfitError


class NnfitGroup(click.Group):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """--debug is accepted anywhere on the line, as users put it: `nnfit train x.yaml --debug`."""
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end]:
            args = ["--debug"] + [a for i, a in enumerate(args) if not (a == "--debug" and i < end)]
        return super().parse_args(ctx, args)

    def make_context(self, info_name, args, parent=None, **extra):
        """An error in nnfit's own options (`nnfit --bogus`) gets one line too: see _one_line."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as e:
            if "--debug" in args:
                raise
            _one_line(e, info_name)

    def invoke(self, ctx: click.Context):
        import warnings

        try:
            with warnings.catch_warnings():
                if not ctx.params.get("debug"):  # messages are nnfit's own; a library's warning is noise here
                    warnings.simplefilter("ignore")
                return super().invoke(ctx)
        except NnfitError as e:
            if ctx.params.get("debug"):
                raise
            click.echo("Error: " + " ".join(str(e).split()), err=True)
            ctx.exit(e.exit_code)
        except click.UsageError as e:
            if ctx.params.get("debug"):
                raise
            _one_line(e, e.ctx.command_path if e.ctx else f"{ctx.command_path} {ctx.invoked_subcommand or ''}".strip())
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                raise
            click.echo("Error: interrupted", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def _one_line(error: click.UsageError, command: str):
    """A wrong option or argument: one `Error:` line, and where the right ones are, instead of click's usage
    text; exit status 2, as for any bad input."""
    click.echo(f"Error: {' '.join(error.format_message().split())} (see: {command} --help)", err=True)
    raise click.exceptions.Exit(error.exit_code)


def warner(quiet: bool):
    return (lambda message: None) if quiet else (lambda message: click.echo(f"Warning: {message}", err=True))


def stop_on_signals(quiet: bool, message: str = "Stopping after this mini-batch and saving a checkpoint"):
    """The first SIGINT / SIGTERM asks training to stop after the current mini-batch; a second exits at once."""
    import os
    import signal
    import sys

    requested = [False]

    def handler(signum, frame):
        if requested[0]:
            try:
                os.write(2, b"Error: interrupted at once\n")  # stderr may be a pipe that the same Ctrl-C closed
            finally:
                os._exit(EXIT_INTERRUPTED)  # safe: every run file is replaced atomically, never written in place
        requested[0] = True
        if not quiet:
            fresh = "\n" if sys.stderr.isatty() else ""  # past the ^C a terminal shows, and any progress bar
            click.echo(f"{fresh}{message} (again to quit at once) ...", err=True)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
    return lambda: requested[0]


def echo_result(text: str) -> bool:
    """The result's line on stdout; False when its reader has gone (`| head`, or a `| jq` that the same Ctrl-C
    stopped), so that what follows still happens: the hint on stderr and the exit status."""
    import os
    import sys

    try:
        click.echo(text)
        return True
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit would fail too
        return False


def json_line(obj) -> str:
    from .files import to_json

    return to_json(obj, indent=None).strip()
