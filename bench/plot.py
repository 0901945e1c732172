"""How long `nnfit plot` takes on the digits example, from the start of its process to the last file written.

    python -m bench.plot               # trains configs/digits.yaml once, then runs `nnfit plot` 5 times
    python -m bench.plot --repeat 10 --config configs/sine.yaml

Needs the 'plot' extra. Each timed run is a new process (`python -m nnfit plot RUN --out DIR`, the `nnfit`
program), so Python's start, the imports (numpy, pandas, matplotlib) and reading the run count, as they do for a
user; the first, untimed run warms the disk cache and matplotlib's font cache. Between the runs, a process that
only imports pandas and matplotlib, then ends, is timed too: the floor that no change to nnfit can go below.
Then, in this process, the same work is timed phase by phase (medians), to show where the time goes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What `nnfit plot` cannot do without: the imports. It then ends as the `nnfit` program does (nnfit/__main__.py),
# without Python's slow ending.
FLOOR = "import pandas, matplotlib.figure, matplotlib.backends.backend_agg, os; os._exit(0)"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.plot", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs/digits.yaml"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    from nnfit import commands

    with tempfile.TemporaryDirectory() as folder:
        run, out = Path(folder) / "run", Path(folder) / "plots"
        commands.train(args.config, out=run)
        command = [sys.executable, "-m", "nnfit", "plot", str(run), "--out", str(out)]
        seconds, floor = [], []
        for attempt in range(args.repeat + 1):
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
            if done.returncode:
                sys.exit(done.stderr)
            if attempt:
                seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", FLOOR], check=True)
            if attempt:
                floor.append(time.perf_counter() - started)
        files = done.stdout.split()
        print(f"`nnfit plot` on {Path(args.config).name} ({len(files)} files: "
              f"{', '.join(Path(f).name for f in files)}), {args.repeat} runs, each a new process "
              f"({time.strftime('%Y-%m-%d')}, load average {os.getloadavg()[0]:.1f}):")
        print(f"  median {statistics.median(seconds):.2f} s, min {min(seconds):.2f} s, max {max(seconds):.2f} s")
        print(f"the floor, a process that only imports what it needs ({FLOOR!r}), interleaved with those runs: "
              f"median {statistics.median(floor):.2f} s, min {min(floor):.2f} s, max {max(floor):.2f} s")
        phases = _phases(run, out, args.repeat)
        print("in one process (medians): " + ", ".join(f"{name} {s:.3f} s" for name, s in phases.items()))


def _phases(run: Path, out: Path, repeat: int) -> dict[str, float]:
    """Seconds per phase: importing matplotlib (once, so no median), reading the run and its rows, each figure,
    then all of them at once as `nnfit plot` draws them."""
    started = time.perf_counter()
    import matplotlib.figure  # noqa: F401

    times = {"import matplotlib": [time.perf_counter() - started]}
    from nnfit import figures, plotdata
    from nnfit.plots import render, render_all

    for _ in range(repeat):
        t0 = time.perf_counter()
        fit = plotdata.load_fit(plotdata.read_run(run))
        times.setdefault("read the run and its rows", []).append(time.perf_counter() - t0)
        pictures = [picture for picture in figures.FIGURES.values() if picture.shows(fit)]
        for name, picture in figures.FIGURES.items():
            if picture.shows(fit):
                t0 = time.perf_counter()
                render(picture, fit)
                times.setdefault(name, []).append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        render_all([(picture, fit) for picture in pictures])  # as `nnfit plot` does: at once, in forked copies
        times.setdefault("all of them at once (render_all)", []).append(time.perf_counter() - t0)
    return {name: statistics.median(values) for name, values in times.items()}


if __name__ == "__main__":
    main()
