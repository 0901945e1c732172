"""`nnfit sweep` on the command line: the progress bar over trials, and the exit code of a sweep that was
stopped or had a trial fail. The sweep itself is nnfit.sweeprun's."""

from __future__ import annotations

import shlex
import sys

import click

from .cliutil import echo_result, json_line, stop_on_signals
from .errors import EXIT_FAILURE, EXIT_INTERRUPTED


@click.command()
@click.argument("sweep_file", metavar="SWEEP.yaml", type=click.Path(dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="The sweep folder.")
@click.option("--workers", "-j", type=click.IntRange(1), help="Runs at once on this machine [default: one per core].")
@click.option("--scheduler", metavar="ADDRESS", help="Run on this Dask cluster (tcp://HOST:8786); needs nnfit[dask].")
@click.option("--resume", is_flag=True, help="Continue the sweep in --out, which must hold one.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a base config key. Repeatable.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no warnings.")
def sweep(sweep_file, out, workers, scheduler, resume, overrides, quiet):
    """Train every trial of SWEEP.yaml (grid or random search, k-fold cross-validation) into --out.

    Writes OUT/trials/NAME/ (run directories), OUT/results.csv (a row per trial as it ends), OUT/best and
    OUT/sweep.yaml; prints one JSON line: the best trial, its parameters and metric, the trials finished and
    failed. Exit 1 when a trial failed. Ctrl-C: no new trial, the running ones checkpoint, exit 130. Running
    it again (or with --resume) keeps the finished trials and resumes the rest. See docs/sweep.md.

    \b
    Example:
      nnfit sweep search.yaml --out sweeps/search --set train.epochs=20
      nnfit sweep search.yaml --out sweeps/search --scheduler tcp://10.0.0.1:8786
    """
    from .errors import UsageError
    from .pools import LocalPool, default_workers

    if scheduler is not None and workers is not None:
        raise UsageError("--workers: the Dask cluster's workers run the trials with --scheduler; leave one out")
    # A second Ctrl-C ends this process at once, and multiprocessing's resource tracker then removes the pool's
    # semaphores itself, with a warning that would be the last line the user sees; it gets these -W options.
    quiet_tracker = "ignore::UserWarning:multiprocessing.resource_tracker"
    if quiet_tracker not in sys.warnoptions:
        sys.warnoptions.append(quiet_tracker)
    # The pool's processes start first, so that their imports (numpy, pandas, the training code) run while this
    # process does its own and reads the sweep file, not after.
    pool = LocalPool(workers or default_workers()).start() if scheduler is None else None
    try:
        _sweep(sweep_file, out, scheduler, resume, overrides, quiet, pool)
    finally:
        if pool is not None:
            pool.close()


def _sweep(sweep_file, out, scheduler, resume, overrides, quiet, pool):
    from .sweep import load_sweep
    from .sweeprun import run_sweep

    plan = load_sweep(sweep_file, overrides)
    bar = None
    if not quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(plan.trials), unit="trial", file=sys.stderr, dynamic_ncols=True, leave=False)

    def on_trial(row, best, ended, total):
        if bar is not None:
            if best is not None:
                bar.set_postfix_str(f"best {best['trial'][:40]} {plan.spec.metric} {best[plan.spec.metric]:.4g}", False)
            bar.update(ended - bar.n)

    def warn(message):
        if not quiet:
            if bar is not None:  # above the bar; tqdm's write goes to stdout unless told
                bar.write(f"Warning: {message}", file=sys.stderr)
            else:
                click.echo(f"Warning: {message}", err=True)

    stop_requested = stop_on_signals(quiet, "Stopping: no new trials; the running ones save a checkpoint")
    try:
        result = run_sweep(plan, out, None, scheduler, resume, on_trial, warn, stop_requested, pool)
    finally:
        if bar is not None:
            bar.close()
    printed = echo_result(json_line(result.line))
    if result.stopped:
        where = ["--scheduler", scheduler] if scheduler else []
        again = ["nnfit", "sweep", sweep_file, "--out", out, "--resume", *where,
                 *[part for override in overrides for part in ("--set", override)]]  # the same sweep, or it differs
        click.echo(f"Error: interrupted; continue with: {shlex.join(again)}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if result.problems:
        click.echo("Error: " + " ".join("; ".join(result.problems).split()) + f"; see {out}/results.csv", err=True)
        sys.exit(EXIT_FAILURE)
    if not printed:
        sys.exit(EXIT_FAILURE)  # as any command whose output could not be written (click's own exit status then)
