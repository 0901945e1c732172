"""The `nnfit` command: a thin click layer over nnfit.commands.

It parses arguments, attaches the progress bar, prints results on stdout and messages on stderr, and turns an
NnfitError into one line `Error: ...` with the error's exit code (see errors.py). Anything else is a bug and
keeps its traceback. numpy and pandas are imported only by the commands that need them, so `--help` is quick.
"""

from __future__ import annotations

import os
import sys

import click

from . import __version__
from .cliutil import NnfitGroup, json_line, stop_on_signals, warner
from .clisweep import sweep
from .errors import EXIT_FAILURE

SEPARATORS = ["auto", ",", ";", "tab", "|"]  # --sep of predict and evaluate, as data.sep takes them


def _as_written(command):
    """predict's and evaluate's --sep and --decimal: for a file written otherwise than the training files."""
    command = click.option("--decimal", type=click.Choice([".", ","]), metavar="MARK",
                           help="INPUT.csv's decimal mark ('.' or ',') when not the training files'.")(command)
    return click.option("--sep", type=click.Choice(SEPARATORS), metavar="SEP",
                        help="INPUT.csv's field separator (',', ';', tab, '|' or auto) when not the training "
                             "files'.")(command)


@click.group(cls=NnfitGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="nnfit")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
def cli(debug):
    """Train feed-forward neural networks on tabular data, from a YAML config.

    \b
    Example:
      nnfit train configs/digits.yaml            # writes runs/digits/
      nnfit predict runs/digits data/digits_test.csv > predictions.csv
      nnfit evaluate runs/digits data/digits_test.csv
      nnfit plot runs/digits                     # pictures in runs/digits/plots/
    """


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--out", "-o", type=click.Path(file_okay=False), help="Run directory [default: runs/<config name>].")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key; VALUE is YAML. Repeatable.")
@click.option("--force", is_flag=True, help="Overwrite an existing run directory.")
@click.option("--resume", is_flag=True,
              help="Continue the unfinished run in the run directory (same config and data); with none, start it.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no warnings.")
def train(config, out, overrides, force, resume, quiet):
    """Train the network described by CONFIG and write a run directory.

    Prints one line of JSON on stdout: the run directory, the epoch whose weights were kept and its metrics.
    Progress goes to stderr (only when it is a terminal). Ctrl-C or SIGTERM stops after the current mini-batch,
    saves a checkpoint and the best weights so far, and exits 130; --resume continues from there, to the same
    result as a run that never stopped. A second Ctrl-C quits at once (every file is written atomically).

    \b
    Example:
      nnfit train configs/digits.yaml --set train.epochs=20 --set model.hidden=[32]
      nnfit train configs/digits.yaml --out runs/try2 --quiet | jq .accuracy
      nnfit train configs/digits.yaml --out runs/long --resume
    """
    from . import commands

    bar = None
    show_bar = not quiet and sys.stderr.isatty()
    folder = out if out is not None else commands.default_run_dir(config)
    # a script's "continue or start": said, in case --out was mistyped
    fresh = resume and _nothing_in(folder)

    def on_start(cfg, trainer):
        nonlocal bar
        if fresh:  # once the config and the data are known to be good
            warner(quiet)(f"{folder}: no run there to resume; starting a new one")
        if show_bar:
            from tqdm import tqdm

            bar = tqdm(total=cfg.train.epochs, initial=trainer.epoch, unit="epoch", file=sys.stderr,
                       dynamic_ncols=True, leave=False)  # a resumed run counts from where it was

    def on_epoch(row):
        if bar is not None:
            losses = {"train": f"{row['train_loss']:.4g}"}
            if row["valid_loss"] is not None:
                losses["valid"] = f"{row['valid_loss']:.4g}"
            bar.set_postfix(losses, refresh=False)
            bar.update(1)

    stop_requested = stop_on_signals(quiet)
    try:
        line = commands.train(config, out, overrides, force, resume, on_epoch=on_epoch, warn=warner(quiet),
                              on_start=on_start, should_stop=stop_requested)
    finally:
        if bar is not None:
            bar.close()
    click.echo(json_line(line))


def _nothing_in(folder) -> bool:
    """Whether folder is missing or an empty folder (one that cannot be read: no)."""
    try:
        return not os.path.exists(folder) or os.path.isdir(folder) and next(os.scandir(folder), None) is None
    except OSError:
        return False


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("input_csv", metavar="[INPUT.csv | -]", required=False, default="-")
@click.option("--output", "-o", default="-", metavar="FILE", help="Where to write the CSV [default: stdout].")
@click.option("--proba", is_flag=True, help="Add one probability column per class (proba_<label>).")
@click.option("--keep", multiple=True, metavar="COL", help="Copy this input column to the output (an id). Repeatable.")
@_as_written
@click.option("--quiet", "-q", is_flag=True, help="No warnings.")
def predict(run_dir, input_csv, output, proba, keep, sep, decimal, quiet):
    """Predict every row of a CSV with the model in RUN_DIR.

    Reads INPUT.csv, or stdin when it is '-' or left out. Writes CSV with one row per input row, in the same
    order: the --keep columns, `prediction` (in the original labels or units), then the probabilities.

    \b
    Example:
      nnfit predict runs/digits data/digits_test.csv --keep label --proba
      cat new.csv | nnfit predict runs/digits - -o predictions.csv
    """
    from . import commands
    from .errors import UsageError

    if input_csv == "-":
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("no input: give INPUT.csv, or pipe CSV into stdin")
        source = sys.stdin.buffer
    else:
        source = input_csv
    frame = commands.predict(run_dir, source, proba=proba, keep=keep, warn=warner(quiet), sep=sep, decimal=decimal)
    text = commands.csv_text(frame)
    if output == "-":
        click.echo(text, nl=False)
    else:
        from pathlib import Path

        from .files import atomic_write

        try:
            atomic_write(Path(output), text)
        except OSError as e:
            raise UsageError(f"--output {output}: cannot write: {e.strerror or e}") from None


@cli.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.argument("input_csv", metavar="INPUT.csv")
@_as_written
@click.option("--quiet", "-q", is_flag=True, help="No warnings.")
def evaluate(run_dir, input_csv, sep, decimal, quiet):
    """Loss and metrics of the model in RUN_DIR on a labelled CSV, as one JSON object.

    Reads INPUT.csv, or stdin when it is '-'. The names are those of metrics.csv (loss, accuracy, macro_f1,
    rmse, r2, ...), plus n_rows and, for classification, the confusion matrix (rows: true class, columns:
    predicted class, in `classes` order).

    \b
    Example:
      nnfit evaluate runs/digits data/digits_test.csv | jq .accuracy
      cat test.csv | nnfit evaluate runs/digits -
    """
    from . import commands

    source = sys.stdin.buffer if input_csv == "-" else input_csv
    click.echo(json_line(commands.evaluate(run_dir, source, warn=warner(quiet), sep=sep, decimal=decimal)))


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key. Repeatable.")
@click.option("--no-data", is_flag=True, help="Check the config only, not the CSV files.")
def check(config, overrides, no_data):
    """Validate CONFIG, print it fully resolved, and check its data without training.

    The data report follows as YAML comments, so the output is still a valid config. Exits 2 and lists
    every problem found (missing columns, column types, target classes versus the task, ...).

    \b
    Example:
      nnfit check configs/digits.yaml
      nnfit check configs/digits.yaml --no-data --set train.optimizer=adam > resolved.yaml
    """
    from .config import dump_config, load_config

    cfg = load_config(config, overrides)
    click.echo(dump_config(cfg), nl=False)
    if no_data:
        return
    from .commands import check_data

    report, problems = check_data(cfg)
    for line in report:
        click.echo(f"# {line}")
    if problems:
        for problem in problems:
            click.echo("Error: " + " ".join(problem.split()), err=True)
        sys.exit(2)


@cli.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN [RUN ...]")
@click.option("--out", "-o", metavar="DIR", help="Folder to write to [default: RUN/plots/, or plots/ beside the RUNs].")
@click.option("--data", metavar="CSV", help="Rows for the fit pictures, target included [default: validation rows].")
@click.option("--format", "fmt", default="png", show_default=True, metavar="png|svg|pdf", help="File format.")
@click.option("--quiet", "-q", is_flag=True, help="No warnings.")
def plot(runs, out, data, fmt, quiet):
    """Draw the learning curves and the fit of the run in RUN; with several RUNs, overlay their learning curves.
    Given a sweep's folder: its metric against each swept parameter, and its best trials' learning curves.

    Prints each file's path, one per line. Needs matplotlib: pip install 'nnfit[plot]'.

    \b
    Example:
      nnfit plot runs/sine                     # learning curves, predicted vs actual, residuals, fitted curve
      nnfit plot runs/digits --data data/digits_test.csv --format svg
      nnfit plot runs/lr-0.01 runs/lr-0.1 --out comparison/
      nnfit plot sweeps/search                 # sweeps/search/plots/sweep-valid-loss.png, ...
    """
    from .plots import plot as draw

    for path in draw(runs, out=out, data=data, fmt=fmt, warn=warner(quiet)):
        click.echo(str(path))


@cli.command()
@click.argument("key", required=False)
def explain(key):
    """Print the config reference: every key, its default, what it allows and what it does.

    With KEY (a dotted key such as train.batch_size, or a section such as train), only that key.

    \b
    Example:
      nnfit explain train.optimizer
      nnfit explain > config-reference.md
    """
    from .reference import explain as text

    click.echo(text(key), nl=False)


@cli.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key. Repeatable.")
@click.option("--rows", default=8, show_default=True, type=click.IntRange(1), help="Training rows to use.")
def gradcheck(config, overrides, rows):
    """Compare backprop gradients with finite differences for CONFIG's network and loss.

    Uses float64 and central differences on a few training rows; prints the relative error of each
    parameter array and exits 1 when the largest exceeds 1e-6.

    \b
    Example:
      nnfit gradcheck configs/digits.yaml --set model.activation=tanh
    """
    from .commands import gradcheck as run
    from .config import load_config
    from .gradcheck import TOLERANCE

    result = run(load_config(config, overrides), rows)
    for name, error in result["errors"].items():
        click.echo(f"{name:>6}  relative error {error:.3e}")
    worst = result["max_relative_error"]
    verdict = "ok" if worst <= TOLERANCE else "FAILED"
    click.echo(f"max relative error {worst:.3e} on {result['rows']} rows: {verdict} (tolerance {TOLERANCE:g})")
    if worst > TOLERANCE:
        sys.exit(EXIT_FAILURE)


cli.add_command(sweep)


def main() -> None:
    cli(prog_name="nnfit")


if __name__ == "__main__":
    main()
