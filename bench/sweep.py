"""What nnfit sweep costs and gains: `python -m bench.sweep` (needs distributed: pip install '.[dask]').

    python -m bench.sweep            # 16 trials of about 2 s, 3 interleaved repetitions (about 5 minutes)
    python -m bench.sweep --quick    # 8 trials of about 0.5 s, 1 repetition, for a smoke test

It measures, on the handwritten-digits data (configs/digits.yaml: a 64-64-64-10 network, about 9,000 weights):
  - the same sweep with 2 workers against 1: the speed-up on 2 cores;
  - nnfit's own time per trial outside training: the 1-worker sweep's wall time minus its trials' training
    loops (epochs and their validation passes), per trial: the command's start and imports and its worker's
    (once per sweep), reading and preparing the CSV, writing the run directory, the driver;
  - the same 2-worker sweep on a distributed.LocalCluster (2 worker processes of 1 thread, whose nannies
    start them with one BLAS thread, as the pool does), against the default pool.
Each sweep is an `nnfit sweep` command in a new process, as a user runs it, into a new folder; the repetitions
are interleaved (1 worker, 2 workers, Dask, again) and the median is reported, with the load average, since a
busy machine moves every number.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.run import machine
from nnfit.sweep import load_sweep
from nnfit.sweeprun import run_sweep

REPO = Path(__file__).resolve().parent.parent


def sweep_file(folder: Path, trials: int, epochs: int) -> Path:
    """`trials` trials of one cost: learning rates x seeds on digits' 64-64 network, for `epochs` epochs."""
    seeds = trials // 4
    spec = {"base": str(REPO / "configs" / "digits.yaml"),
            "parameters": {"train.learning_rate": [0.01, 0.02, 0.05, 0.1], "train.seed": list(range(seeds))}}
    path = folder / f"sweep-{trials}-{epochs}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def timed(path: Path, out: Path, epochs: int, workers: int | None = None, scheduler: str | None = None,
          command: bool = True) -> tuple[float, list[dict]]:
    """(wall seconds, each trial's summary.json) of one sweep: as a user runs it, `nnfit sweep` in a new process
    (its start and imports count), or with command=False, run_sweep in this process."""
    where = ["--workers", str(workers)] if workers else ["--scheduler", scheduler]
    started = time.perf_counter()
    if command:
        subprocess.run([sys.executable, "-m", "nnfit", "sweep", str(path), "--out", str(out), "--quiet", *where,
                        "--set", f"train.epochs={epochs}", "--set", "data.test=null"], check=True, cwd=REPO,
                       stdout=subprocess.DEVNULL)
    else:
        result = run_sweep(load_sweep(path, [f"train.epochs={epochs}", "data.test=null"]), out, workers, scheduler)
        assert not result.problems and not result.stopped, result.problems
    wall = time.perf_counter() - started
    summaries = [json.loads((p / "summary.json").read_text()) for p in sorted((out / "trials").iterdir())]
    return wall, summaries


def calibrate(folder: Path, seconds: float) -> int:
    """Epochs for a trial of about `seconds`, from a 1-trial, 1-worker sweep (one BLAS thread, as in the pool)."""
    spec = {"base": str(REPO / "configs" / "digits.yaml"), "parameters": {"train.learning_rate": [0.05]}}
    path = folder / "calibrate.yaml"
    path.write_text(yaml.safe_dump(spec))
    _, (summary,) = timed(path, folder / "calibrate", 20, workers=1, command=False)
    return max(5, round(20 * seconds / summary["timing"]["loop"]))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 trials of about 0.5 s, one repetition")
    parser.add_argument("--reps", type=int, default=None, help="interleaved repetitions (default 3, quick 1)")
    args = parser.parse_args(argv)
    import distributed

    reps = args.reps or (1 if args.quick else 3)
    trials, seconds = (8, 0.5) if args.quick else (16, 2.0)
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="nnfit-bench-sweep-") as tmp:
        folder = Path(tmp)
        epochs = calibrate(folder, seconds)
        path = sweep_file(folder, trials, epochs)
        print(f"{trials} trials of {epochs} epochs (about {seconds:g} s each), {reps} repetitions ...", file=sys.stderr)
        started = time.perf_counter()
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        cluster_start = time.perf_counter() - started
        walls = {"1 worker": [], "2 workers": [], "LocalCluster": []}
        overhead, loops, inside, reading, outside, paired = [], [], [], [], [], []
        try:
            for rep in range(reps):
                wall, summaries = timed(path, folder / f"one-{rep}", epochs, workers=1)
                walls["1 worker"].append(wall)
                loop = sum(s["timing"]["loop"] for s in summaries)
                loops.append(loop / trials)
                overhead.append((wall - loop) / trials)
                # inside a trial's commands.train but outside its loop: reading, the run directory's files
                inside.append(sum(s["wall_seconds"] - s["timing"]["loop"] for s in summaries) / trials)
                reading.append(sum(s["timing"]["read"] + s["timing"]["preprocess"] for s in summaries) / trials)
                # outside commands.train: the worker process's start and imports, the job, the driver
                outside.append((wall - sum(s["wall_seconds"] for s in summaries)) / trials)
                wall, summaries = timed(path, folder / f"two-{rep}", epochs, workers=2)
                walls["2 workers"].append(wall)
                paired.append(sum(s["timing"]["loop"] for s in summaries) / trials)
                walls["LocalCluster"].append(timed(path, folder / f"dask-{rep}", epochs,
                                                   scheduler=cluster.scheduler_address)[0])
                load.append(os.getloadavg()[0])
                print(f"  repetition {rep + 1}/{reps}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in walls.items()),
                      file=sys.stderr)
        finally:
            cluster.close()
    median = {k: statistics.median(v) for k, v in walls.items()}
    trial = statistics.median(loops)
    print(f"\nnnfit sweep benchmark, {time.strftime('%Y-%m-%d')}, {machine()}; load average "
          f"{min(load):.1f}-{max(load):.1f} (1 min) during the run; median of {reps}")
    print(f"{trials} trials of {epochs} epochs: training loop {trial:.2f} s a trial\n")
    print("| measurement | result | target |\n|---|---:|---:|")
    print(f"| 1 worker, wall | {median['1 worker']:.1f} s | |")
    print(f"| 2 workers, wall | {median['2 workers']:.1f} s | |")
    print(f"| speed-up of 2 workers | {median['1 worker'] / median['2 workers']:.2f}x | >= 1.7x |")
    both = statistics.median(paired)
    print(f"| ... a trial's training loop, with the other worker busy too | {both:.2f} s, against {trial:.2f} s alone "
          f"({100 * (both / trial - 1):+.0f}%: the two cores' own speed-up is at most {2 * trial / both:.2f}x) | |")
    per_trial = statistics.median(overhead)
    print(f"| nnfit's time per trial outside training | {per_trial * 1000:.0f} ms = {100 * per_trial / seconds:.1f}% "
          f"of a {seconds:g}-s trial ({100 * per_trial / trial:.1f}% of these {trial:.2f}-s ones) | < 5% |")
    print(f"| ... of which reading and preparing the CSV | {statistics.median(reading) * 1000:.0f} ms | |")
    print(f"| ... of which the rest of commands.train (run directory files, scoring) | "
          f"{(statistics.median(inside) - statistics.median(reading)) * 1000:.0f} ms | |")
    print(f"| ... of which outside commands.train (the command's and its worker's start and imports; the driver) | "
          f"{statistics.median(outside) * 1000:.0f} ms | |")
    print(f"| LocalCluster (2 processes x 1 thread), wall | {median['LocalCluster']:.1f} s "
          f"({100 * (median['LocalCluster'] / median['2 workers'] - 1):+.1f}% against 2 workers) | within 10% |")
    print(f"| LocalCluster start (once, not in the sweep's wall) | {cluster_start:.1f} s | |")
    print(f"| LocalCluster, wall with its start | {median['LocalCluster'] + cluster_start:.1f} s "
          f"({100 * ((median['LocalCluster'] + cluster_start) / median['2 workers'] - 1):+.1f}%; the pool's wall "
          "includes starting its processes) | |")


if __name__ == "__main__":
    main()
