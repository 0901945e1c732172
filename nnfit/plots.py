"""`nnfit plot`: draw a run's pictures, or several runs' learning curves overlaid, and write them as files.

    plot(["runs/sine"])                   -> [runs/sine/plots/learning-curves.png, ...]
    plot(["runs/a", "runs/b"], out="cmp") -> [cmp/learning-curves.png]

matplotlib is imported on the first call, here and in the modules that draw (figures.py, curves.py), never by
the other commands; without it, MissingDependency says how to install it. Figures are drawn on matplotlib's
Agg canvas, never on a display, with matplotlib's defaults plus style.RC (a user's matplotlibrc does not
apply), and saved without a date or a software version, so the same run gives the same file, byte for byte.
"""

from __future__ import annotations

import io
import os
import shlex
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Callable

from . import runlock
from .errors import MissingDependency, UsageError, closest, display_path
from .files import atomic_write
from .plotdata import MAIN_METRIC, compare, load_fit, read_run
from .rundir import PLOTS
from .style import DPI, PALETTE, RC
from .sweepview import is_sweep, read_sweep

FORMATS = ("png", "svg", "pdf")
METADATA = {  # what each format would otherwise stamp with the date or matplotlib's version
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "Creator": None, "Producer": None},
}


def _ignore(_message: str) -> None:
    pass


def plot(paths, out=None, data=None, fmt: str = "png", warn: Callable[[str], None] = _ignore) -> list[Path]:
    """Draw and write the pictures; returns the files written, in order.

    One run directory: its learning curves and the pictures of its fit (figures.FIGURES) on the rows of the
    CSV `data`, by default the run's validation rows, into out or RUN/plots/. Several runs: their learning
    curves overlaid (figures.COMPARISONS), into out or plots/ in the folder that holds them. Every picture
    is drawn before the first file is written, so an error leaves nothing half-done.
    """
    fmt = fmt.lower() if fmt.lower() in FORMATS else fmt  # PNG, as file names often write it
    if fmt not in FORMATS:
        match = closest(fmt, FORMATS)
        raise UsageError(f"--format: unknown '{fmt}' (choose from: {', '.join(FORMATS)}"
                         f"{f'; did you mean {match!r}?' if match else ''})")
    paths = [Path(p) for p in paths]
    if not paths:
        raise UsageError("no run directory given: nnfit plot RUN [RUN ...]")
    if out is not None and not str(out).strip():
        raise UsageError("--out: an empty path; give the folder for the pictures, or leave --out out (RUN/plots)")
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder; give a folder for the pictures")
    if data is not None and str(data) in ("", "-"):
        raise UsageError(f"--data: {'an empty path' if not str(data) else 'standard input is not read here'}; give a "
                         "CSV file that holds the target")
    figures = _figures()
    folder, jobs = _plan(paths, out, data, warn, figures)
    drawn = render_all([(picture, subject) for _, picture, subject in jobs], fmt)
    files = {folder / f"{name}.{fmt}": content for (name, _, _), content in zip(jobs, drawn)}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for path, content in files.items():
            atomic_write(path, content)
    except OSError as e:
        hint = "" if out is not None else "; choose another folder with --out"
        raise UsageError(f"{display_path(folder)}: cannot write the pictures: {e.strerror or e}{hint}") from None
    return list(files)


def _figures():
    """The drawing modules, once matplotlib is known to be there."""
    try:
        import matplotlib  # noqa: F401  (the optional extra 'plot')
    except ImportError:
        raise MissingDependency("nnfit plot needs matplotlib: pip install 'nnfit[plot]'") from None
    from . import figures

    return figures


def _plan(paths: list[Path], out, data, warn, figures) -> tuple[Path, list[tuple]]:
    """(the folder to write to, [(file name, picture, subject)]) for the paths given: one run's pictures, or
    the comparison of several runs, or a sweep's results. A new kind of subject is one more branch here."""
    if len(paths) == 1 and is_sweep(paths[0]):
        return _sweep_plan(paths[0], out, data, figures)
    if len(paths) == 1:
        run = read_run(paths[0])
        fit = load_fit(run, data, warn)
        folder = Path(out) if out is not None else paths[0] / PLOTS
        return folder, [(name, picture, fit) for name, picture in figures.FIGURES.items() if picture.shows(fit)]
    if data is not None:
        raise UsageError("--data: chooses the rows of one run's fit pictures; several runs get their learning "
                         "curves overlaid, which need no rows: leave --data out, or give one RUN")
    seen = {}
    for p in paths:
        key = os.path.realpath(p)
        if key in seen:
            same = f"{p}: given twice" if p == seen[key] else f"{seen[key]} and {p}: the same run, given twice"
            raise UsageError(f"{same}; give each run once")
        seen[key] = p
    runs = [read_run(p) for p in paths]
    for run in runs[1:]:
        if MAIN_METRIC[run.task] != MAIN_METRIC[runs[0].task]:
            raise UsageError(f"{display_path(runs[0].path)} is a {runs[0].task} run and {display_path(run.path)} a "
                             f"{run.task} one: their learning curves cannot share axes; draw them separately")
    if out is not None:
        folder = Path(out)
    else:
        common = os.path.commonpath([os.path.abspath(p) for p in paths])  # the folder holding the runs
        relative = not any(p.is_absolute() for p in paths)
        folder = Path(os.path.relpath(common) if relative else common) / PLOTS  # printed as the runs were given
    comparison = compare(runs)
    return folder, [(name, picture, comparison) for name, picture in figures.COMPARISONS.items()
                    if picture.shows(comparison)]


def _sweep_plan(path: Path, out, data, figures) -> tuple[Path, list[tuple]]:
    """A sweep folder: its metric against each swept key, and the best trials' learning curves overlaid."""
    from .sweepfigures import metric_picture

    if data is not None:
        raise UsageError(f"--data: chooses the rows of one run's fit pictures, and {display_path(path)} is a sweep; "
                         "leave --data out, or give the run directory of one of its trials (trials/NAME, or "
                         "trials/NAME/fold-1 with folds)")
    view = read_sweep(path)
    if not view.ranked:
        states = Counter(r["state"] for r in view.rows)
        what = f"no finished trial has a value of {view.metric}" if states["finished"] else "no trial has finished"
        if runlock.held(path / ".sweep" / "lock"):  # its driver is running
            raise UsageError(f"{display_path(path)}: {what} yet ({len(view.rows)} in results.csv): nothing to draw; "
                             "wait for a trial to finish")
        counts = ", ".join(f"{n} {state}" for state, n in states.items())
        if states["failed"]:
            then = " (a failed trial's error is in results.csv)"
        elif 0 < states["finished"] == len(view.rows):  # over: every trial finished, none with a value
            first = view.rows[0]["run_dir"] + ("/fold-1" if view.folds else "")
            then = (" (results.csv's error column says why); a trial's own pictures: "
                    + shlex.join(["nnfit", "plot", display_path(path / first)]))
        else:  # stopped before its trials finished
            then = "; continue it with " + shlex.join(["nnfit", "sweep", display_path(path / "sweep.yaml"), "--out",
                                                       display_path(path), "--resume"])
        raise UsageError(f"{display_path(path)}: {what} ({len(view.rows)} in results.csv{': ' if counts else ''}"
                         f"{counts}) and no nnfit sweep is running into it: nothing to draw{then}")
    folder = Path(out) if out is not None else path / PLOTS
    jobs = [(f"sweep-{view.metric.replace('_', '-')}", metric_picture(view), view)] if view.parameters else []
    best = view.best_runs()
    best = [run for run in best if MAIN_METRIC[run.task] == MAIN_METRIC[best[0].task]]  # a swept task: one kind
    if best:
        comparison = compare(best)
        comparison.labels = [f"{i}. {run.name}" for i, run in enumerate(best, 1)]  # a trial's name says its values
        comparison.title = f"{view.name}, the best {len(best)} trials" if len(best) > 1 else f"{view.name}, the best trial"
        if view.metric != "valid_loss" and all(view.metric in run.history for run in best):
            comparison.metric = view.metric  # the panel beside the loss shows what ranked them
        # one name whatever the count, so that drawing a running sweep again replaces the picture
        jobs += [(f"best-trials-{name}", picture, comparison) for name, picture in figures.COMPARISONS.items()]
    return folder, jobs


def render_all(pictures: list[tuple], fmt: str = "png") -> list[bytes]:
    """Each (picture, subject)'s file bytes, in order. Where the operating system forks (Linux) and there is
    more than one core, the pictures after the first are drawn at the same time in forked copies of this
    process, which hold everything read and imported already: drawing is single-threaded Python and Agg, so
    this takes about as long as the slowest picture instead of them all. The bytes are the same either way. A
    picture whose copy could not start or failed is drawn by this process, which so raises any error itself,
    as without copies. Only a process of one thread forks: a copy of a threaded one (a notebook's) could wait
    forever for a lock that another thread held at the fork."""
    import threading

    if (len(pictures) < 2 or sys.platform != "linux" or len(os.sched_getaffinity(0)) < 2
            or threading.active_count() > 1):
        return [render(picture, subject, fmt)[0] for picture, subject in pictures]
    import matplotlib.backends.backend_agg  # noqa: F401  (imported once, here, for every copy)
    import matplotlib.figure  # noqa: F401

    copies = {}  # process id -> the reading end of its pipe, until it is collected
    try:
        started = [_draw_in_copy(picture, subject, fmt, copies) for picture, subject in pictures[1:]]
        drawn = [render(*pictures[0], fmt)[0]]
        for pid, (picture, subject) in zip(started, pictures[1:]):
            content, status = b"", None
            if pid is not None:
                chunks = []
                while chunk := os.read(copies[pid], 1 << 20):
                    chunks.append(chunk)
                _, status = os.waitpid(pid, 0)
                os.close(copies.pop(pid))
                content = b"".join(chunks)
            drawn.append(content if status == 0 and content else render(picture, subject, fmt)[0])
        return drawn
    finally:
        for pid, reading in copies.items():  # an error or a Ctrl-C meanwhile: the copies go too
            os.close(reading)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:  # collected already, just before the Ctrl-C
                pass


def _draw_in_copy(picture, subject, fmt: str, copies: dict) -> int | None:
    """Start a forked copy of this process that draws the picture into a pipe; record it in copies (its process
    id -> the pipe's reading end) and return its id, or None when no copy could start. SIGINT and SIGTERM are
    held back meanwhile: one raised inside Python's own after-fork hooks would be printed and then forgotten,
    and the copy must not inherit this process's handlers (it quits at once on a signal)."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        try:
            reading, writing = os.pipe()
        except OSError:  # out of file descriptors: this process draws it
            return None
        try:
            pid = os.fork()
        except OSError:  # out of processes or memory: this process draws it
            os.close(reading)
            os.close(writing)
            return None
        if pid == 0:
            _copy(picture, subject, fmt, reading, writing, held)
        os.close(writing)
        copies[pid] = reading
        return pid
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)  # last: a signal held back is delivered here


def _copy(picture, subject, fmt: str, reading: int, writing: int, held) -> None:
    """The forked copy: draw, write the bytes into the pipe, end at once (os._exit: nothing of the process's
    ending runs twice). A signal ends it quietly; the process that forked it reports the interruption."""
    code = 1
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        os.close(reading)
        with os.fdopen(writing, "wb") as pipe:
            pipe.write(render(picture, subject, fmt)[0])
        code = 0
    finally:
        os._exit(code)


def render(picture, subject, fmt: str = "png"):
    """(the file's bytes, the matplotlib Figure): the picture drawn and saved in memory, in the format fmt."""
    import matplotlib
    import matplotlib.style
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    buffer = io.BytesIO()
    with matplotlib.style.context("default"), matplotlib.rc_context({**RC, "axes.prop_cycle":
                                                                      matplotlib.cycler(color=PALETTE)}):
        fig = Figure(figsize=picture.inches(subject), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)  # the non-interactive canvas: no display, no pyplot and its global state
        picture.draw(fig, subject)
        if fmt == "png":
            # savefig would draw the whole figure twice: once, with drawing switched off, for the layout to
            # measure every piece of text, then for real. Laying out here, on the same Agg canvas at the same
            # dpi, and saving with the layout fixed gives the same pixels with one draw.
            fig.get_layout_engine().execute(fig)
            fig.set_layout_engine(None)
        fig.savefig(buffer, format=fmt, dpi=DPI, metadata=METADATA[fmt])
    return buffer.getvalue(), fig
